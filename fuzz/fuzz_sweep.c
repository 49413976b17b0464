/* libFuzzer target: sweep files (explore/sweep.c), with their machine, energy and area tables. Any
 * text must be refused with an error naming the file, or read into a sweep whose every point is
 * either made or refused naming that point, with value indices inside their axes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "explore/point.h"
#include "explore/sweep.h"
#include "fuzz/fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static floe_sweep s; /* large: not on the stack */
    floe_err err;
    if (floe_sweep_parse("fuzz.sweep", (const char *)data, size, &s, &err) != 0) {
        fuzz_require(strstr(err.msg, "fuzz.sweep") != NULL, "error does not name the file", err.msg);
        return 0;
    }
    fuzz_require(s.n_points >= 1, "a sweep without points", NULL);
    uint64_t step = s.n_points / 64 + 1; /* at most 64 points a run */
    for (uint64_t p = 0; p < s.n_points; p += step) {
        for (int a = 0; a < s.n_axes; a++) {
            int v = floe_sweep_value_index(&s, p, a);
            fuzz_require(v >= 0 && v < s.axes[a].n_values, "a value index outside its axis", NULL);
        }
        floe_explore_point pt;
        if (floe_explore_point_make(&s, p, &pt, &err) != 0)
            fuzz_require(strncmp(err.msg, "point ", 6) == 0, "a point's error does not name it", err.msg);
    }
    floe_sweep_free(&s);
    return 0;
}
