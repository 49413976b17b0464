/* What both fuzzers check about any program they manage to build: it serialises, loads back, and
 * disassembles into text that assembles to the same bytes. A violation aborts (a fuzzer finding). */
#ifndef FLOE_FUZZ_ROUNDTRIP_H
#define FLOE_FUZZ_ROUNDTRIP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isa/asm.h"
#include "isa/container.h"

static void fuzz_check(int ok, const char *what, const floe_err *err)
{
    if (!ok) {
        fprintf(stderr, "round-trip violated: %s: %s\n", what, err ? err->msg : "");
        abort();
    }
}

/* Returns the canonical bytes of p (caller frees) after checking the round trips. */
static uint8_t *fuzz_roundtrip(const floe_program *p, size_t *n)
{
    floe_err err;
    uint8_t *b, *b2;
    size_t n2;
    fuzz_check(floe_program_write(p, &b, n, &err) == 0, "write", &err);
    floe_program *q;
    fuzz_check(floe_program_read(b, *n, &p->fingerprint, &q, &err) == 0, "read back", &err);
    char *text = NULL;
    size_t tlen = 0;
    FILE *f = open_memstream(&text, &tlen);
    fuzz_check(f != NULL, "open_memstream", NULL);
    fuzz_check(floe_disasm(q, f, &err) == 0, "disasm", &err);
    fclose(f);
    floe_program *r;
    fuzz_check(floe_asm(text, tlen, "disasm.s", NULL, &r, &err) == 0, "reassemble", &err);
    fuzz_check(floe_program_write(r, &b2, &n2, &err) == 0, "write reassembled", &err);
    fuzz_check(n2 == *n && memcmp(b, b2, n2) == 0, "bytes differ after disasm + asm", NULL);
    free(text);
    free(b2);
    floe_program_free(q);
    floe_program_free(r);
    return b;
}

#endif
