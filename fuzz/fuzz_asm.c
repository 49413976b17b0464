/* libFuzzer target: the assembler. Any text must be refused with a message or assemble into a program
 * that survives write/read/disassemble/assemble unchanged. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t fp = 0x5eed;
    floe_program *p;
    floe_err err;
    if (floe_asm((const char *)data, size, "fuzz.s", &fp, &p, &err) != 0) {
        fuzz_check(strchr(err.msg, ':') != NULL, "error without a position", &err);
        return 0;
    }
    size_t n;
    free(fuzz_roundtrip(p, &n));
    floe_program_free(p);
    return 0;
}
