/* libFuzzer target: a training checkpoint, the model file and its optimizer state (trainer/train.c:
 * floe_ckpt_read_cfg, floe_trainer_load, floe_model_load, floe_model_load_forward). The input is both
 * files: a 4-byte little-endian length, the model file's bytes, then the optimizer file's. Either is
 * refused with an error naming a file, or the checkpoint loads (the trainer's own batch and context are 1 x 1: the
 * loader, not a training run, is under test). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/fuzz_file.h"
#include "trainer/train.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    size_t n = (size_t)(data[0] | data[1] << 8 | data[2] << 16 | (uint32_t)data[3] << 24);
    if (n > size - 4)
        n = size - 4;
    char path[128], opath[128];
    fuzz_write(path, sizeof path, "c.safetensors", data + 4, n);
    fuzz_write(opath, sizeof opath, "c.optim.safetensors", data + 4 + n, size - 4 - n);
    floe_model_config mc;
    floe_train_cfg cfg;
    int step;
    floe_err err;
    if (floe_ckpt_read_cfg(path, &mc, &cfg, &step, &err) != 0) {
        fuzz_require(strstr(err.msg, path) != NULL || strstr(err.msg, opath) != NULL, "error does not name a file",
                     err.msg);
        return 0;
    }
    fuzz_require(step >= 0, "negative step", NULL);
    floe_train_cfg small = floe_train_defaults(&mc);
    small.batch = small.context = 1;
    floe_trainer tr;
    if (floe_trainer_init(&tr, &mc, &small, &err) == 0) {
        if (floe_trainer_load(&tr, path, &err) == 0)
            fuzz_require(tr.step == step, "the step differs from floe_ckpt_read_cfg's", NULL);
        floe_trainer_free(&tr);
    }
    floe_model m;
    if (floe_model_load(&m, path, 1, 1, &err) == 0)
        floe_model_free(&m);
    if (floe_model_load_forward(&m, path, 1, 1, &err) == 0) /* teachers' loader: the same checks */
        floe_model_free(&m);
    return 0;
}
