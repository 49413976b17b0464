/* libFuzzer target: the binary program loader. Any bytes must be refused cleanly or load into a
 * program that writes back to exactly the same bytes (the layout is canonical) and survives a
 * disassemble/assemble round trip. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    floe_program *p;
    floe_err err;
    if (floe_program_read(data, size, NULL, &p, &err) != 0)
        return 0;
    size_t n;
    uint8_t *b = fuzz_roundtrip(p, &n);
    fuzz_check(n == size && memcmp(b, data, size) == 0, "accepted input is not the canonical encoding", NULL);
    free(b);
    floe_program_free(p);
    return 0;
}
