/* libFuzzer target: the quantized-model loader (models/qmodel_io.c). Any bytes must be refused with
 * an error naming the file, or load into a model that writes back to a file which loads into the same
 * model and writes the same bytes again (parse -> write -> parse). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/fuzz_file.h"
#include "models/qmodel_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[128], a[128], b[128];
    floe_qmodel m, r;
    floe_err err;
    fuzz_write(path, sizeof path, "in.safetensors", data, size);
    if (floe_qmodel_load(&m, path, &err) != 0) {
        fuzz_require(strstr(err.msg, path) != NULL || strstr(err.msg, "out of memory") != NULL,
                     "error does not name the file", err.msg);
        return 0;
    }
    fuzz_path(a, sizeof a, "a.safetensors");
    fuzz_path(b, sizeof b, "b.safetensors");
    fuzz_require(floe_qmodel_save(&m, a, NULL, 0, &err) == 0, "a loaded model does not save", err.msg);
    fuzz_require(floe_qmodel_load(&r, a, &err) == 0, "a saved model does not load", err.msg);
    fuzz_require(floe_qmodel_save(&r, b, NULL, 0, &err) == 0, "a reloaded model does not save", err.msg);
    size_t na, nb;
    uint8_t *x = fuzz_slurp(a, &na), *y = fuzz_slurp(b, &nb);
    fuzz_require(x && y && na == nb && memcmp(x, y, na) == 0, "save -> load -> save changed the bytes", NULL);
    free(x);
    free(y);
    floe_qmodel_free(&r);
    floe_qmodel_free(&m);
    return 0;
}
