/* The quantized-model file: round trip, and every way a file can be wrong. */
#include "tests/test_util.h"

#include <unistd.h>

#include "common/file_read.h"
#include "common/path.h"
#include "models/qmodel_io.h"
#include "models/qref.h"
#include "models/safetensors.h"

static void make_model(floe_qmodel *m, uint64_t seed)
{
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &c, &err), 0);
    floe_qconfig q = floe_qconfig_default();
    assert_int_equal(floe_qmodel_random(m, &c, &q, seed, &err), 0);
}

static void test_round_trip(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("qmodel_io");
    char path[4300];
    floe_path_join(path, sizeof path, dir, "q.safetensors");
    floe_qmodel a, b;
    floe_err err;
    make_model(&a, 5);
    const char *extra[2] = {"floe.method", "random"};
    assert_int_equal(floe_qmodel_save(&a, path, extra, 1, &err), 0);
    assert_int_equal(floe_qmodel_load(&b, path, &err), 0);
    assert_int_equal(b.cfg.n_layers, a.cfg.n_layers);
    assert_int_equal(b.q.wbits, 4);
    assert_memory_equal(b.embed, a.embed, 2 * (size_t)a.cfg.vocab_size * a.cfg.d_model);
    assert_memory_equal(b.layers[1].down.w, a.layers[1].down.w, (size_t)a.cfg.ffn_dim * a.cfg.d_model);
    assert_true(b.layers[1].s_kc == a.layers[1].s_kc);
    /* the same integers come out of both */
    int32_t tok[6] = {10, 200, 3, 44, 5, 6};
    size_t V = (size_t)a.cfg.vocab_size;
    int16_t *la = malloc(2 * 6 * V), *lb = malloc(2 * 6 * V);
    assert_int_equal(floe_qref_forward(&a, tok, 6, la, NULL, NULL, &err), 0);
    assert_int_equal(floe_qref_forward(&b, tok, 6, lb, NULL, NULL, &err), 0);
    assert_memory_equal(la, lb, 2 * 6 * V);
    floe_st_file f;
    assert_int_equal(floe_st_open(&f, path, &err), 0);
    assert_string_equal(floe_st_meta_get(&f, "floe.method"), "random");
    assert_string_equal(floe_st_meta_get(&f, "format"), "floe-qmodel");
    floe_st_close(&f);
    free(la);
    free(lb);
    floe_qmodel_free(&a);
    floe_qmodel_free(&b);
}

/* Rewrites byte `delta` bytes into tensor `name`'s data with `value`. */
static void poke(const char *path, const char *name, size_t delta, uint8_t value)
{
    floe_st_file f;
    floe_err err;
    assert_int_equal(floe_st_open(&f, path, &err), 0);
    int i = floe_st_find(&f, name);
    assert_true(i >= 0);
    uint64_t at = f.data_start + f.tensors[i].begin + delta;
    floe_st_close(&f);
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    fseek(fp, (long)at, SEEK_SET);
    fputc(value, fp);
    fclose(fp);
}

static void test_bad_files(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("qmodel_io_bad");
    char path[4300];
    floe_path_join(path, sizeof path, dir, "q.safetensors");
    floe_qmodel a, b;
    floe_err err;
    make_model(&a, 6);

    /* an edited multiplier: the integers no longer follow from the steps */
    assert_int_equal(floe_qmodel_save(&a, path, NULL, 0, &err), 0);
    poke(path, "model.layers.1.self_attn.k_proj.requant", 0, 0x55);
    assert_int_equal(floe_qmodel_load(&b, path, &err), -1);
    assert_non_null(strstr(err.msg, "'model.layers.1.self_attn.k_proj.requant' holds integer constants that differ"));

    /* an int4 code out of range */
    assert_int_equal(floe_qmodel_save(&a, path, NULL, 0, &err), 0);
    poke(path, "model.layers.0.mlp.up_proj.weight", 7, 9);
    assert_int_equal(floe_qmodel_load(&b, path, &err), -1);
    assert_non_null(strstr(err.msg, "code 9 at index 7 is outside the 4-bit range [-8, 7]"));

    /* an edited step: the stored constants no longer match */
    assert_int_equal(floe_qmodel_save(&a, path, NULL, 0, &err), 0);
    poke(path, "model.layers.0.act_scale.vc", 3, 0x3e);
    assert_int_equal(floe_qmodel_load(&b, path, &err), -1);
    assert_non_null(strstr(err.msg, "differ"));

    /* a float checkpoint is not a quantized model */
    const float one = 1.0f;
    floe_st_entry e = {"model.norm.weight", FLOE_ST_F32, 1, {1, 0}, &one};
    const char *meta[2] = {"format", "pt"};
    assert_int_equal(floe_st_write(path, &e, 1, meta, 1, &err), 0);
    assert_int_equal(floe_qmodel_load(&b, path, &err), -1);
    assert_non_null(strstr(err.msg, "not a Floe quantized model (metadata 'format' is 'pt'"));

    /* unsupported bit widths, a missing tensor, an unexpected one, a wrong shape */
    a.q.wbits = 3;
    assert_int_equal(floe_qmodel_save(&a, path, NULL, 0, &err), 0);
    assert_int_equal(floe_qmodel_load(&b, path, &err), -1);
    assert_non_null(strstr(err.msg, "weight bits 3"));
    a.q.wbits = 4;
    const char *extra[2] = {"floe.qmodel_version", "2"};
    assert_int_equal(floe_qmodel_save(&a, path, extra, 1, &err), -1); /* duplicate key refused by the writer */
    /* truncation is the safetensors reader's business, but must surface with the path */
    assert_int_equal(floe_qmodel_save(&a, path, NULL, 0, &err), 0);
    assert_int_equal(truncate(path, 1000), 0);
    assert_int_equal(floe_qmodel_load(&b, path, &err), -1);
    assert_non_null(strstr(err.msg, path));
    floe_qmodel_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
