/* libFuzzer target: the machine description CSV (isa/machine.c over isa/machine_csv.c). Any text must
 * be refused with an error naming the file, or parse into a machine that validates, writes back, and
 * loads into the same machine (the same fingerprint, the same values). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/fuzz_file.h"
#include "isa/machine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    floe_machine m, r;
    floe_err err;
    if (floe_machine_parse("fuzz.csv", (const char *)data, size, &m, &err) != 0) {
        fuzz_require(strstr(err.msg, "fuzz.csv") != NULL, "error does not name the file", err.msg);
        return 0;
    }
    fuzz_require(floe_machine_validate(&m, &err) == 0, "a parsed machine does not validate", err.msg);
    floe_machine_derived d;
    floe_machine_derive(&m, &d);
    char path[128];
    fuzz_path(path, sizeof path, "m.csv");
    fuzz_require(floe_machine_write(path, &m, "fuzz", &err) == 0, "a parsed machine does not write", err.msg);
    fuzz_require(floe_machine_load(path, &r, &err) == 0, "a written machine does not load", err.msg);
    fuzz_require(memcmp(&m, &r, sizeof m) == 0 && floe_machine_fingerprint(&m) == floe_machine_fingerprint(&r),
                 "parse -> write -> load changed the machine", NULL);
    return 0;
}
