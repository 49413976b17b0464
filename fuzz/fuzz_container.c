/* libFuzzer target: the binary program loader. Any bytes must be refused cleanly or load into a
 * program that writes back to exactly the same bytes (the layout is canonical) and survives a
 * disassemble/assemble round trip. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/roundtrip.h"
#include "isa/container.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rd(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes every checksum the structure allows, so mutations reach the checks behind them. */
static void fix_crcs(uint8_t *b, size_t len)
{
    if (len < 32)
        return;
    uint64_t nsec = rd(b + 12, 4);
    if (nsec <= (len - 32) / 32) {
        for (uint64_t s = 0; s < nsec; s++) {
            uint8_t *e = b + 32 + s * 32;
            uint64_t off = rd(e + 8, 8), n = rd(e + 16, 8);
            if (off <= len && n <= len - off)
                wr32(e + 28, floe_crc32(b + off, (size_t)n));
        }
        wr32(b + 24, floe_crc32(b + 32, (size_t)nsec * 32));
    }
    wr32(b + 28, floe_crc32(b, 28));
}

static void one(const uint8_t *data, size_t size)
{
    floe_program *p;
    floe_err err;
    if (floe_program_read(data, size, NULL, &p, &err) != 0)
        return;
    size_t n;
    uint8_t *b = fuzz_roundtrip(p, &n);
    fuzz_check(n == size && memcmp(b, data, size) == 0, "accepted input is not the canonical encoding", NULL);
    free(b);
    floe_program_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size);
    /* The same bytes with their checksums made right: exercises the structure checks. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    fix_crcs(copy, size);
    one(copy, size);
    free(copy);
    return 0;
}
