/* libFuzzer target: the QAT checkpoint and the weight-only E2E-QP state loaders (trainer/qat_run.c,
 * trainer/efficientqat.c, trainer/e2e_qp.c), which need no teacher to check a file. Any bytes must be
 * refused with an error naming the file, or:
 *   - as a QAT checkpoint: export to a quantized model (or be refused naming the file, when a step
 *     cannot quantize), which then loads (floe_qmodel_load);
 *   - as an E2E-QP state: load into a state of a model of the file's config, save again, and the saved
 *     file loads and saves to the same bytes (parse -> write -> parse). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/fuzz_file.h"
#include "models/qmodel_io.h"
#include "trainer/block_ap.h"
#include "trainer/e2e_qp.h"
#include "trainer/efficientqat.h"
#include "trainer/qat_run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require_names(const floe_err *err, const char *path)
{
    fuzz_require(strstr(err->msg, path) != NULL || strstr(err->msg, "out of memory") != NULL,
                 "error does not name the file", err->msg);
}

static void qat_checkpoint(const char *path)
{
    char teacher[256], out[128];
    floe_qconfig qc;
    floe_qat_cfg cfg;
    int step;
    floe_err err;
    if (floe_qat_ckpt_info(path, teacher, sizeof teacher, &qc, &cfg, &step, &err) != 0) {
        require_names(&err, path);
        return;
    }
    fuzz_path(out, sizeof out, "export.safetensors");
    if (floe_qat_export(path, out, &err) != 0) {
        require_names(&err, path);
        return;
    }
    floe_qmodel m;
    fuzz_require(floe_qmodel_load(&m, out, &err) == 0, "an exported model does not load", err.msg);
    floe_qmodel_free(&m);
}

/* A model of config mc (weights zero: the state holds the block linears' codes) and a state for it. */
static int e2e_state_for(floe_model *m, floe_e2eqp *st, const floe_model_config *mc, const floe_blockap_cfg *bap,
                         floe_err *err)
{
    if (floe_model_init(m, mc, 1, 1, err) != 0)
        return -1;
    const int n = FLOE_BLOCK_LINEARS * mc->n_layers;
    floe_wquant *wq = calloc((size_t)n, sizeof *wq);
    int rc = -1;
    if (wq && floe_wquants_init(wq, m, bap->bits, NULL, bap->group, bap->asym, err) == 0) {
        rc = floe_e2eqp_init(st, m, wq, err);
        floe_wquants_free(wq, n);
    }
    free(wq);
    if (rc != 0)
        floe_model_free(m);
    return rc;
}

static void e2e_state(const char *path)
{
    char teacher[256], a[128], b[128];
    floe_blockap_cfg bap;
    floe_e2eqp_cfg cfg;
    int step;
    floe_err err;
    if (floe_eqat_wonly_state_info(path, teacher, sizeof teacher, &bap, &cfg, &step, &err) != 0) {
        require_names(&err, path);
        return;
    }
    /* the config the file was checked against (floe_eqat_wonly_state_info parsed it) */
    floe_st_file f;
    fuzz_require(floe_st_open(&f, path, &err) == 0, "a checked state does not open", err.msg);
    const char *js = floe_st_meta_get(&f, "floe.config");
    floe_model_config mc;
    fuzz_require(js && floe_model_config_parse_json(js, strlen(js), path, &mc, &err) == 0,
                 "a checked state's config does not parse", err.msg);
    floe_st_close(&f);
    /* the embeddings are not in the state (they come from the teacher): keep the model small */
    if ((double)mc.vocab_size * mc.d_model > (double)(1 << 22))
        return;
    floe_model m, m2;
    floe_e2eqp st, st2;
    if (e2e_state_for(&m, &st, &mc, &bap, &err) != 0)
        return; /* out of memory */
    const char *extra[] = {"floe.teacher", teacher};
    if (floe_e2eqp_load(&st, &m, path, &err) != 0) {
        require_names(&err, path);
    } else {
        fuzz_path(a, sizeof a, "a.safetensors");
        fuzz_path(b, sizeof b, "b.safetensors");
        fuzz_require(floe_e2eqp_save(&st, &m, &cfg, a, extra, 1, &err) == 0, "a loaded state does not save", err.msg);
        if (e2e_state_for(&m2, &st2, &mc, &bap, &err) == 0) {
            fuzz_require(floe_e2eqp_load(&st2, &m2, a, &err) == 0, "a saved state does not load", err.msg);
            fuzz_require(floe_e2eqp_save(&st2, &m2, &cfg, b, extra, 1, &err) == 0, "a reloaded state does not save",
                         err.msg);
            size_t na, nb;
            uint8_t *x = fuzz_slurp(a, &na), *y = fuzz_slurp(b, &nb);
            fuzz_require(x && y && na == nb && memcmp(x, y, na) == 0, "save -> load -> save changed the bytes", NULL);
            free(x);
            free(y);
            floe_e2eqp_free(&st2);
            floe_model_free(&m2);
        }
    }
    floe_e2eqp_free(&st);
    floe_model_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[128];
    fuzz_write(path, sizeof path, "in.safetensors", data, size);
    qat_checkpoint(path);
    e2e_state(path);
    return 0;
}
