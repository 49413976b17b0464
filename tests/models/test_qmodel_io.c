/* The quantized-model file: round trip, and every way a file can be wrong. */
#include "tests/test_util.h"

#include "tests/limit_util.h"
#include "tests/models/st_test_util.h"

#include <unistd.h>

#include "common/file_read.h"
#include "common/path.h"
#include "models/qmodel_io.h"
#include "models/qref.h"
#include "models/safetensors.h"
#include "isa/token.h"

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
    /* an integer past int's range is refused, not truncated (4294967300 once loaded as 4 bits) */
    assert_int_equal(floe_qmodel_save(&a, path, NULL, 0, &err), 0);
    char edited[4400];
    floe_path_join(edited, sizeof edited, dir, "wbits.safetensors");
    st_copy_with_meta(path, edited, "floe.wbits", "4294967300");
    assert_int_equal(floe_qmodel_load(&b, edited, &err), -1);
    assert_non_null(strstr(err.msg, "metadata 'floe.wbits' = '4294967300' is outside int's range"));
    /* truncation is the safetensors reader's business, but must surface with the path */
    assert_int_equal(floe_qmodel_save(&a, path, NULL, 0, &err), 0);
    assert_int_equal(truncate(path, 1000), 0);
    assert_int_equal(floe_qmodel_load(&b, path, &err), -1);
    assert_non_null(strstr(err.msg, path));
    floe_qmodel_free(&a);
}

/* Mixed precision: per-layer weight bits parse, format, allocate, save and load; every malformed
 * setting and a layer the model does not have are refused, naming the setting. */
static void test_layer_wbits(void **state)
{
    (void)state;
    floe_err err;
    floe_qconfig q = floe_qconfig_default();
    assert_false(floe_qconfig_has_layer_wbits(&q));
    assert_int_equal(floe_qconfig_parse_layer_wbits(&q, "1=8", "--wbits-layer", &err), 0);
    assert_true(floe_qconfig_has_layer_wbits(&q));
    assert_int_equal(floe_qconfig_wbits_of(&q, 0), 4);
    assert_int_equal(floe_qconfig_wbits_of(&q, 1), 8);
    char buf[64];
    assert_int_equal(floe_qconfig_format_layer_wbits(&q, buf, sizeof buf), 0);
    assert_string_equal(buf, "1=8");
    assert_int_equal(floe_qconfig_format_layer_wbits(&q, buf, 3), -1); /* too small: refused, not cut */
    static const char *const bad[][2] = {{"1=3", "1=3"}, {"0=8,0=4", "twice"}, {"x=8", "LAYER=BITS"},
                                         {"0=", "bits missing"}, {"0=8;1=8", "bits missing"}, {"1024=8", "0..1023"},
                                         {"-1=8", "LAYER=BITS"}, {"0=8,", "LAYER=BITS"}, {" 0=8", "LAYER=BITS"},
                                         {"0=+8", "bits missing"}, {"0=8, 1=8", "LAYER=BITS"}, {"0=8=8", "bits missing"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        floe_qconfig r = floe_qconfig_default();
        assert_int_equal(floe_qconfig_parse_layer_wbits(&r, bad[i][0], "--wbits-layer", &err), -1);
        if (!strstr(err.msg, bad[i][1]) || !strstr(err.msg, "--wbits-layer"))
            fail_msg("'%s': %s", bad[i][0], err.msg);
    }
    /* allocation: the layer's seven linears at its width; a layer beyond the model refused */
    floe_model_config c;
    assert_int_equal(floe_model_config_builtin("tiny", &c, &err), 0);
    floe_qconfig q2 = floe_qconfig_default();
    q2.wbits = 2;
    assert_int_equal(floe_qconfig_parse_layer_wbits(&q2, "0=8", "x", &err), 0);
    floe_qmodel a, b;
    assert_int_equal(floe_qmodel_random(&a, &c, &q2, 9, &err), 0);
    assert_int_equal(a.layers[0].down.bits, 8);
    assert_int_equal(a.layers[0].q.bits, 8);
    assert_int_equal(a.layers[1].up.bits, 2);
    int wide = 0; /* the random codes use the 8-bit range */
    for (int i = 0; i < a.layers[0].down.in * a.layers[0].down.out; i++)
        wide |= a.layers[0].down.w[i] > 1 || a.layers[0].down.w[i] < -2;
    assert_true(wide);
    const char *dir = floe_test_tmpdir("qmodel_io_lw");
    char path[4300];
    floe_path_join(path, sizeof path, dir, "m.safetensors");
    assert_int_equal(floe_qmodel_save(&a, path, NULL, 0, &err), 0);
    floe_st_file sf; /* a mixed file is version 2: a reader without mixed precision refuses it by version */
    assert_int_equal(floe_st_open(&sf, path, &err), 0);
    assert_string_equal(floe_st_meta_get(&sf, "floe.qmodel_version"), FLOE_QMODEL_VERSION_MIXED);
    assert_string_equal(floe_st_meta_get(&sf, "floe.wbits_layers"), "0=8");
    floe_st_close(&sf);
    assert_int_equal(floe_qmodel_load(&b, path, &err), 0);
    assert_int_equal(b.layers[0].gate.bits, 8);
    assert_int_equal(b.layers[1].gate.bits, 2);
    assert_int_equal(floe_qconfig_wbits_of(&b.q, 0), 8);
    assert_memory_equal(b.layers[0].down.w, a.layers[0].down.w, (size_t)c.ffn_dim * c.d_model);
    floe_qmodel_free(&b);
    floe_qmodel_free(&a);
    floe_qconfig q3 = floe_qconfig_default();
    assert_int_equal(floe_qconfig_parse_layer_wbits(&q3, "2=8", "x", &err), 0);
    assert_int_equal(floe_qmodel_alloc(&a, &c, &q3, &err), -1);
    assert_non_null(strstr(err.msg, "layer 2"));
    assert_non_null(strstr(err.msg, "2 layers"));
    /* a file naming a layer its model does not have: refused, naming the file and the field */
    make_model(&a, 3);
    const char *extra[2] = {"floe.wbits_layers", "5=8"};
    assert_int_equal(floe_qmodel_save(&a, path, extra, 1, &err), 0);
    floe_qmodel_free(&a);
    assert_int_equal(floe_qmodel_load(&b, path, &err), -1);
    if (!strstr(err.msg, path) || !strstr(err.msg, "floe.wbits_layers") || !strstr(err.msg, "layer 5"))
        fail_msg("%s", err.msg);
}

/* Per-linear weight bits: "L.NAME=B" items parse (a linear's entry wins over its layer's, in either
 * order), format back to the same widths, allocate each linear at its width, and save as version 3
 * and load; malformed items, an unknown linear and a layer the model does not have are refused,
 * naming the setting or the file's field. */
static void test_linear_wbits(void **state)
{
    (void)state;
    floe_err err;
    floe_qconfig q = floe_qconfig_default();
    assert_int_equal(
        floe_qconfig_parse_layer_wbits(&q, "1.down_proj=8,1=2,0.q_proj=2,0.k_proj=4", "--wbits-layer", &err), 0);
    assert_int_equal(floe_qconfig_wbits_of(&q, 1), 2);
    assert_int_equal(floe_qconfig_linear_wbits_of(&q, 1, FLOE_LIN_DOWN), 8); /* before its layer's item: still wins */
    assert_int_equal(floe_qconfig_linear_wbits_of(&q, 1, FLOE_LIN_UP), 2);
    assert_int_equal(floe_qconfig_linear_wbits_of(&q, 0, FLOE_LIN_Q), 2);
    assert_int_equal(floe_qconfig_linear_wbits_of(&q, 0, FLOE_LIN_V), 4);
    assert_true(floe_qconfig_has_linear_wbits(&q));
    char buf[256];
    assert_int_equal(floe_qconfig_format_layer_wbits(&q, buf, sizeof buf), 0);
    assert_string_equal(buf, "0.q_proj=2,1=2,1.down_proj=8"); /* 0.k_proj=4 is the layer's width: not repeated */
    floe_qconfig r = floe_qconfig_default();
    assert_int_equal(floe_qconfig_parse_layer_wbits(&r, buf, "x", &err), 0);
    for (int l = 0; l < 2; l++)
        for (int j = 0; j < FLOE_LAYER_LINEARS; j++)
            assert_int_equal(floe_qconfig_linear_wbits_of(&r, l, j), floe_qconfig_linear_wbits_of(&q, l, j));
    floe_qconfig h = floe_qconfig_default(); /* the Hugging Face tensor names' tails name them too */
    assert_int_equal(floe_qconfig_parse_layer_wbits(&h, "0.self_attn.v_proj=8,1.mlp.down_proj=2", "x", &err), 0);
    assert_int_equal(floe_qconfig_linear_wbits_of(&h, 0, FLOE_LIN_V), 8);
    assert_int_equal(floe_qconfig_linear_wbits_of(&h, 1, FLOE_LIN_DOWN), 2);
    floe_qconfig u = floe_qconfig_default(); /* entries equal to the widths around them: no mix */
    assert_int_equal(floe_qconfig_parse_layer_wbits(&u, "0.up_proj=4,1=8,1.gate_proj=8", "x", &err), 0);
    assert_false(floe_qconfig_has_linear_wbits(&u));
    assert_true(floe_qconfig_has_layer_wbits(&u));
    floe_qconfig_clear_wbits(&u);
    assert_false(floe_qconfig_has_layer_wbits(&u));
    static const char *const bad[][2] = {{"0.q_proj=3", "layer 0's q_proj at 3 bits"},
                                         {"0.q_proj=8,0.q_proj=4", "layer 0's q_proj is given twice"},
                                         {"0.qproj=8", "unknown linear 'qproj'"},
                                         {"0.=8", "unknown linear ''"},
                                         {"0.q_proj", "LAYER.LINEAR=BITS"},
                                         {"0.q_proj=", "bits missing"},
                                         {"q_proj=8", "LAYER.LINEAR=BITS"},
                                         {"1024.q_proj=8", "0..1023"},
                                         {"0.Q_PROJ=8", "unknown linear"},
                                         {"0.mlp.q_proj=8", "unknown linear 'mlp.q_proj'"},
                                         {"0.down_proj=8,", "after the last ','"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        floe_qconfig b = floe_qconfig_default();
        assert_int_equal(floe_qconfig_parse_layer_wbits(&b, bad[i][0], "--wbits-layer", &err), -1);
        if (!strstr(err.msg, bad[i][1]) || !strstr(err.msg, "--wbits-layer"))
            fail_msg("'%s': %s", bad[i][0], err.msg);
    }
    floe_qconfig v = floe_qconfig_default();
    v.linear_wbits[1][FLOE_LIN_O] = 3;
    assert_int_equal(floe_qconfig_validate(&v, &err), -1);
    assert_non_null(strstr(err.msg, "layer 1's o_proj"));
    /* allocation, save and load */
    floe_model_config c;
    assert_int_equal(floe_model_config_builtin("tiny", &c, &err), 0);
    floe_qconfig q2 = floe_qconfig_default();
    q2.wbits = 2;
    assert_int_equal(floe_qconfig_parse_layer_wbits(&q2, "0=8,0.down_proj=2,1.gate_proj=8,1.v_proj=4", "x", &err), 0);
    floe_qmodel a, b;
    assert_int_equal(floe_qmodel_random(&a, &c, &q2, 11, &err), 0);
    assert_int_equal(a.layers[0].q.bits, 8);
    assert_int_equal(a.layers[0].down.bits, 2);
    assert_int_equal(a.layers[1].gate.bits, 8);
    assert_int_equal(a.layers[1].up.bits, 2);
    assert_int_equal(a.layers[1].v.bits, 4);
    int wide = 0; /* 1's gate at the 8-bit range, its up within the 2-bit one */
    for (int i = 0; i < a.layers[1].gate.in * a.layers[1].gate.out; i++) {
        wide |= a.layers[1].gate.w[i] > 1 || a.layers[1].gate.w[i] < -2;
        assert_true(a.layers[1].up.w[i] <= 1 && a.layers[1].up.w[i] >= -2);
    }
    assert_true(wide);
    const char *dir = floe_test_tmpdir("qmodel_io_linw");
    char path[4300];
    floe_path_join(path, sizeof path, dir, "m.safetensors");
    assert_int_equal(floe_qmodel_save(&a, path, NULL, 0, &err), 0);
    floe_st_file sf; /* a per-linear file is version 3: a reader of per-layer widths only refuses it by version */
    assert_int_equal(floe_st_open(&sf, path, &err), 0);
    assert_string_equal(floe_st_meta_get(&sf, "floe.qmodel_version"), FLOE_QMODEL_VERSION_LINEAR);
    assert_string_equal(floe_st_meta_get(&sf, "floe.wbits_layers"), "0=8,0.down_proj=2,1.v_proj=4,1.gate_proj=8");
    floe_st_close(&sf);
    assert_int_equal(floe_qmodel_load(&b, path, &err), 0);
    assert_int_equal(b.layers[0].down.bits, 2);
    assert_int_equal(b.layers[0].up.bits, 8);
    assert_int_equal(b.layers[1].gate.bits, 8);
    assert_int_equal(b.layers[1].v.bits, 4);
    assert_memory_equal(b.layers[1].gate.w, a.layers[1].gate.w, (size_t)c.ffn_dim * c.d_model);
    char again[4300], out[256]; /* load -> save writes the same bytes (what fuzz_qmodel asks of any file) */
    floe_path_join(again, sizeof again, dir, "again.safetensors");
    assert_int_equal(floe_qmodel_save(&b, again, NULL, 0, &err), 0);
    assert_int_equal(floe_test_run(out, sizeof out, "cmp '%s' '%s'", path, again), 0);
    floe_qmodel_free(&b);
    floe_qmodel_free(&a);
    /* the shared random model: a layer borrows only from one whose every linear has its width */
    assert_int_equal(floe_qmodel_random_shared(&a, &c, &q2, 11, &err), 0);
    assert_false(a.layers[1].q.borrowed);
    floe_qmodel_free(&a);
    /* files naming a linear of a layer the model does not have, or a linear at a width the chip does
       not run: refused, naming the file and the field */
    static const char *const bad_meta[][2] = {{"5.q_proj=8", "layer 5's q_proj"}, {"0.up_proj=5", "5 bits"}};
    for (int i = 0; i < 2; i++) {
        make_model(&a, 3);
        const char *extra[2] = {"floe.wbits_layers", bad_meta[i][0]};
        assert_int_equal(floe_qmodel_save(&a, path, extra, 1, &err), 0);
        floe_qmodel_free(&a);
        assert_int_equal(floe_qmodel_load(&b, path, &err), -1);
        if (!strstr(err.msg, path) || !strstr(err.msg, "floe.wbits_layers") || !strstr(err.msg, bad_meta[i][1]))
            fail_msg("%s", err.msg);
    }
    /* a per-linear width the file's codes exceed: refused naming the tensor */
    floe_qconfig q4 = floe_qconfig_default();
    q4.wbits = 8;
    assert_int_equal(floe_qmodel_random(&a, &c, &q4, 5, &err), 0);
    const char *extra[2] = {"floe.wbits_layers", "1.o_proj=2"};
    assert_int_equal(floe_qmodel_save(&a, path, extra, 1, &err), 0);
    floe_qmodel_free(&a);
    assert_int_equal(floe_qmodel_load(&b, path, &err), -1);
    if (!strstr(err.msg, path) || !strstr(err.msg, "model.layers.1.self_attn.o_proj"))
        fail_msg("%s", err.msg);
}

/* The activation-scaling flag (docs/quantized-model.md): a per-token model round-trips with its K
 * and gives the same integers; inconsistent metadata is refused naming the field. */
static void test_act_scaling(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("qmodel_io_tok");
    char path[4300];
    floe_path_join(path, sizeof path, dir, "q.safetensors");
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &c, &err), 0);
    floe_qconfig q = floe_qconfig_default();
    assert_int_equal(floe_qconfig_set_scaling(&q, "per-token", 0, &err), 0);
    assert_int_equal(q.act_kmax, FLOE_TOKEN_K_DEFAULT);
    assert_int_equal(floe_qconfig_set_scaling(&q, "per-token", 6, &err), 0);
    floe_qmodel a, b;
    assert_int_equal(floe_qmodel_random(&a, &c, &q, 9, &err), 0);
    assert_int_equal(floe_qmodel_save(&a, path, NULL, 0, &err), 0);
    assert_int_equal(floe_qmodel_load(&b, path, &err), 0);
    assert_int_equal(b.q.act_scaling, FLOE_ACT_PER_TOKEN);
    assert_int_equal(b.q.act_kmax, 6);
    int32_t tok[6] = {1, 20, 3, 40, 5, 60};
    size_t V = (size_t)c.vocab_size;
    int16_t *la = malloc(2 * 6 * V), *lb = malloc(2 * 6 * V);
    assert_int_equal(floe_qref_forward(&a, tok, 6, la, NULL, NULL, &err), 0);
    assert_int_equal(floe_qref_forward(&b, tok, 6, lb, NULL, NULL, &err), 0);
    assert_memory_equal(la, lb, 2 * 6 * V);
    floe_qmodel_free(&b);
    /* read as per-tensor, the same codes give other logits: the flag matters */
    a.q.act_scaling = FLOE_ACT_PER_TENSOR, a.q.act_kmax = 0;
    assert_int_equal(floe_qref_forward(&a, tok, 6, lb, NULL, NULL, &err), 0);
    assert_true(memcmp(la, lb, 2 * 6 * V) != 0);
    /* a per-tensor file (the default) says so and has no K */
    assert_int_equal(floe_qmodel_save(&a, path, NULL, 0, &err), 0);
    floe_st_file f;
    assert_int_equal(floe_st_open(&f, path, &err), 0);
    assert_string_equal(floe_st_meta_get(&f, "floe.act_scaling"), "per-tensor");
    assert_null(floe_st_meta_get(&f, "floe.act_kmax"));
    floe_st_close(&f);
    /* a per-tensor model with a K */
    const char *extra[2] = {"floe.act_kmax", "4"};
    assert_int_equal(floe_qmodel_save(&a, path, extra, 1, &err), 0);
    assert_int_equal(floe_qmodel_load(&b, path, &err), -1);
    print_message("%s\n", err.msg);
    assert_non_null(strstr(err.msg, "metadata 'floe.act_kmax' is 4 but 'floe.act_scaling' is per-tensor"));
    assert_non_null(strstr(err.msg, path));
    /* a per-token model with K out of range */
    a.q.act_scaling = FLOE_ACT_PER_TOKEN, a.q.act_kmax = 12;
    assert_int_equal(floe_qmodel_save(&a, path, NULL, 0, &err), 0);
    assert_int_equal(floe_qmodel_load(&b, path, &err), -1);
    print_message("%s\n", err.msg);
    assert_non_null(strstr(err.msg, "metadata 'floe.act_kmax' is '12': a per-token model needs K in 1..8"));
    /* the metadata rules themselves: unknown scaling, per token without K */
    floe_qconfig r = floe_qconfig_default();
    assert_int_equal(floe_qconfig_scaling_from_meta(&r, "per-row", NULL, "m.st", &err), -1);
    assert_non_null(strstr(err.msg, "m.st: metadata 'floe.act_scaling' is 'per-row'"));
    assert_int_equal(floe_qconfig_scaling_from_meta(&r, "per-token", NULL, "m.st", &err), -1);
    assert_non_null(strstr(err.msg, "metadata 'floe.act_kmax' is missing"));
    assert_int_equal(floe_qconfig_scaling_from_meta(&r, NULL, NULL, "m.st", &err), 0); /* older files */
    assert_int_equal(r.act_scaling, FLOE_ACT_PER_TENSOR);
    /* settings */
    assert_int_equal(floe_qconfig_set_scaling(&r, "per-tensor", 3, &err), -1);
    assert_non_null(strstr(err.msg, "act-kmax 3"));
    assert_int_equal(floe_qconfig_set_scaling(&r, "dynamic", 0, &err), -1);
    r.act_scaling = FLOE_ACT_PER_TOKEN, r.act_kmax = 0;
    assert_int_equal(floe_qconfig_validate(&r, &err), -1);
    free(la);
    free(lb);
    floe_qmodel_free(&a);
}

/* A random model whose layers share one layer's codes (floe_qmodel_random_shared): layers of the
 * same weight bits borrow the first one's codes and steps, keep their own multipliers, and the model
 * is an ordinary one to the reference forward and to a file (saved, it loads as a model with equal
 * layers, and computes the same logits). */
static void test_random_shared(void **state)
{
    (void)state;
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &c, &err), 0);
    c.n_layers = 3;
    for (int per_token = 0; per_token < 2; per_token++) {
        floe_qconfig q = floe_qconfig_default();
        assert_int_equal(floe_qconfig_parse_layer_wbits(&q, "1=8", "x", &err), 0);
        if (per_token)
            assert_int_equal(floe_qconfig_set_scaling(&q, "per-token", 0, &err), 0);
        floe_qmodel a, b;
        assert_int_equal(floe_qmodel_random_shared(&a, &c, &q, 3, &err), 0);
        const floe_qlayer *L = a.layers;
        assert_ptr_equal(L[2].gate.w, L[0].gate.w); /* 4-bit layers 0 and 2 */
        assert_ptr_equal(L[2].down.s_w, L[0].down.s_w);
        assert_true(L[2].q.borrowed && !L[0].q.borrowed && !L[1].q.borrowed);
        assert_ptr_not_equal(L[1].up.w, L[0].up.w); /* the 8-bit layer has its own */
        assert_int_equal(L[1].up.bits, 8);
        assert_ptr_not_equal(L[2].q.m, L[0].q.m); /* multipliers stay per layer */
        if (per_token) /* the random per-token steps differ by layer: so do the multipliers */
            assert_true(L[2].q.m[0].m != L[0].q.m[0].m || L[2].q.m[0].shift != L[0].q.m[0].shift);
        const char *dir = floe_test_tmpdir("qmodel_shared");
        char path[4300];
        floe_path_join(path, sizeof path, dir, "s.safetensors");
        assert_int_equal(floe_qmodel_save(&a, path, NULL, 0, &err), 0);
        assert_int_equal(floe_qmodel_load(&b, path, &err), 0);
        assert_false(b.layers[2].q.borrowed);
        assert_memory_equal(b.layers[2].up.w, a.layers[0].up.w, (size_t)c.ffn_dim * c.d_model);
        int32_t tok[6] = {1, 7, 42, 3, 99, 250};
        int16_t la[6 * 256], lb[6 * 256];
        assert_int_equal(floe_qref_forward(&a, tok, 6, la, NULL, NULL, &err), 0);
        assert_int_equal(floe_qref_forward(&b, tok, 6, lb, NULL, NULL, &err), 0);
        assert_memory_equal(la, lb, sizeof la);
        floe_qmodel_free(&b);
        floe_qmodel_free(&a); /* layer 0's arrays once */
    }
}

/* A config of a few bytes' tensors (the file is 7.7 KB, mostly its header). */
static floe_model_config mini_config(void)
{
    floe_model_config c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "mini");
    c.vocab_size = 8, c.d_model = 8, c.n_layers = 1, c.n_heads = 2, c.n_kv_heads = 2, c.head_dim = 4;
    c.ffn_dim = 8, c.context = 4, c.rope_theta = 10000.0, c.rms_eps = 1e-5, c.tied_embeddings = 1;
    return c;
}

static int load_and_free(void *path, floe_err *err)
{
    floe_qmodel m;
    int rc = floe_qmodel_load(&m, (const char *)path, err);
    if (rc == 0)
        floe_qmodel_free(&m);
    return rc;
}

/* A small file whose floe.config declares a huge model: refused naming the first tensor the config
 * implies and the file does not hold, before anything sized by the config is allocated (seen: a
 * 7.6 KB file cost 1.06 GB and 9-22 s, other configs ended in "out of memory"). Each load runs
 * under an address-space limit far below what the config would allocate. */
static void test_config_larger_than_file(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("qmodel_io_huge");
    char path[4300], bad[4300], msg[2048];
    floe_path_join(path, sizeof path, dir, "mini.safetensors");
    floe_path_join(bad, sizeof bad, dir, "huge.safetensors");
    floe_model_config c = mini_config();
    floe_qconfig q = floe_qconfig_default();
    floe_qmodel m;
    floe_err err;
    assert_int_equal(floe_qmodel_random(&m, &c, &q, 3, &err), 0);
    assert_int_equal(floe_qmodel_save(&m, path, NULL, 0, &err), 0);
    floe_qmodel_free(&m);
    assert_int_equal(floe_test_run_limited(FLOE_TEST_AS_LIMIT, load_and_free, path, msg, sizeof msg), 0);
    struct {
        int vocab, d, heads, layers, ffn, context;
        const char *want;
    } cases[] = {
        /* 16M x 4096 embeddings: 128 GiB of codes */
        {1 << 24, 4096, 2, 1, 8, 4,
         "tensor 'model.embed_tokens.weight' is I16 with 2 dimension(s) [8, 8]; expected I16 [16777216, 4096]"},
        /* 1024 layers with 2^20-wide MLPs: 24 GiB of weight codes */
        {8, 8, 2, 1024, 1 << 20, 4,
         "tensor 'model.layers.0.mlp.gate_proj.weight' is I8 with 2 dimension(s) [8, 8]; expected I8 [1048576, 8]"},
        /* an 8192-wide model: its first tensor is already wrong; then 2^22 positions of RoPE tables */
        {8, 8192, 2, 1, 8, 1 << 22, "tensor 'model.embed_tokens.weight'"},
        {8, 8, 2, 1, 8, 1 << 22,
         "tensor 'model.rope.cos' is I16 with 2 dimension(s) [4, 2]; expected I16 [4194304, 2]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        floe_model_config h = c;
        h.vocab_size = cases[i].vocab, h.d_model = cases[i].d, h.n_heads = cases[i].heads;
        h.n_kv_heads = cases[i].heads, h.head_dim = h.d_model / h.n_heads, h.n_layers = cases[i].layers;
        h.ffn_dim = cases[i].ffn, h.context = cases[i].context;
        assert_int_equal(floe_model_config_validate(&h, "test", &err), 0);
        char *js = floe_model_config_to_json(&h);
        assert_non_null(js);
        st_copy_with_meta(path, bad, "floe.config", js);
        free(js);
        assert_int_equal(floe_test_run_limited(FLOE_TEST_AS_LIMIT, load_and_free, bad, msg, sizeof msg), -1);
        if (!strstr(msg, cases[i].want) || !strstr(msg, "huge.safetensors"))
            fail_msg("case %zu: error '%s' does not say '%s'", i, msg, cases[i].want);
    }
}

/* A Granite with llama3 RoPE: the file records nothing new (its floe.config carries the multipliers
 * and the scaling, from which the loader re-derives every constant and table), so an edit of either
 * in floe.config is refused naming the first stored constant that no longer matches, and a value out
 * of range naming the key. */
static void test_granite_llama3(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("qmodel_io_granite");
    char path[4300], bad[4300];
    floe_path_join(path, sizeof path, dir, "g.safetensors");
    floe_path_join(bad, sizeof bad, dir, "bad.safetensors");
    floe_model_config c = mini_config();
    c.family = FLOE_FAMILY_GRANITE;
    c.embedding_multiplier = 12.0, c.residual_multiplier = 0.22, c.attention_multiplier = 0.0625;
    c.logits_scaling = 8.0;
    c.context = 64;
    c.rope_scaling = FLOE_ROPE_LLAMA3;
    c.rope_factor = 8.0, c.rope_low_freq_factor = 1.0, c.rope_high_freq_factor = 4.0, c.rope_original_context = 16;
    floe_qconfig q = floe_qconfig_default();
    floe_qmodel m, r;
    floe_err err;
    assert_int_equal(floe_qmodel_random(&m, &c, &q, 5, &err), 0);
    assert_int_equal(floe_qmodel_save(&m, path, NULL, 0, &err), 0);
    if (floe_qmodel_load(&r, path, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(r.cfg.family, FLOE_FAMILY_GRANITE);
    assert_true(r.cfg.residual_multiplier == 0.22 && r.cfg.rope_factor == 8.0);
    assert_true(r.layers[0].m_score.m == m.layers[0].m_score.m && r.head.m[3].m == m.head.m[3].m);
    assert_memory_equal(r.rope.sin, m.rope.sin, sizeof(int16_t) * 64 * 2);
    floe_qmodel_free(&r);
    struct {
        double *field, value;
        const char *want;
    } cases[] = {
        {&c.residual_multiplier, 0.23, "model.layers.0.self_attn.o_proj.requant"},
        {&c.attention_multiplier, 0.125, "model.layers.0.const.score"},
        {&c.logits_scaling, 4.0, "lm_head.requant"},
        {&c.rope_factor, 4.0, "model.rope.cos"},
        {&c.logits_scaling, -1.0, "metadata 'floe.config': logits_scaling = -1"},
        {&c.embedding_multiplier, 1e7, "metadata 'floe.config': embedding_multiplier = 1e+07"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double keep = *cases[i].field;
        *cases[i].field = cases[i].value;
        char *js = floe_model_config_to_json(&c);
        *cases[i].field = keep;
        assert_non_null(js);
        st_copy_with_meta(path, bad, "floe.config", js);
        free(js);
        assert_int_equal(floe_qmodel_load(&r, bad, &err), -1);
        if (!strstr(err.msg, cases[i].want) || !strstr(err.msg, "bad.safetensors"))
            fail_msg("case %zu: error '%s' does not say '%s'", i, err.msg, cases[i].want);
    }
    floe_qmodel_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_act_scaling),
        cmocka_unit_test(test_layer_wbits),
        cmocka_unit_test(test_linear_wbits),
        cmocka_unit_test(test_random_shared),
        cmocka_unit_test(test_config_larger_than_file),
        cmocka_unit_test(test_granite_llama3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
