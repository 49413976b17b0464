/* libFuzzer target: the energy table CSV (isa/energy_table.c over isa/machine_csv.c). Any text must be
 * refused with an error naming the file, or parse into a table that writes back and loads into the
 * same table. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/fuzz_file.h"
#include "isa/energy_table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    floe_energy_table e, r;
    floe_err err;
    if (floe_energy_table_parse("fuzz.csv", (const char *)data, size, &e, &err) != 0) {
        fuzz_require(strstr(err.msg, "fuzz.csv") != NULL, "error does not name the file", err.msg);
        return 0;
    }
    char path[128];
    fuzz_path(path, sizeof path, "e.csv");
    fuzz_require(floe_energy_table_write(path, &e, "fuzz", &err) == 0, "a parsed table does not write", err.msg);
    fuzz_require(floe_energy_table_load(path, &r, &err) == 0, "a written table does not load", err.msg);
    fuzz_require(memcmp(&e, &r, sizeof e) == 0, "parse -> write -> load changed the table", NULL);
    return 0;
}
