/* `floe export --hf` (trainer/export_hf.h, models/hf_export.h): a quantized model written as a Hugging
 * Face folder of its dequantized weights loads back as a float model whose weights are exactly codes
 * times steps, and whose float forward agrees with the integer forward to within the activations'
 * rounding; a float checkpoint round-trips bit for bit. */
#include "tests/trainer/trainer_test.h"

#include <sys/stat.h>

#include "models/half.h"
#include "models/hf_export.h"
#include "models/qmodel_io.h"
#include "models/qref.h"
#include "trainer/export_hf.h"
#include "trainer/model.h"
#include "trainer/qat_init.h"
#include "trainer/qat_model.h"
#include "trainer/train.h"

static int exists(const char *dir, const char *name)
{
    char p[8700];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0;
}

/* A quantized model as PTQ makes one: a float model trained a few steps, then calibrated (random
 * codes and steps would saturate where the float model does not, and compare nothing). */
static void calibrated(floe_qat *s, floe_model_config *c)
{
    floe_err err;
    floe_tokens train, val;
    assert_int_equal(floe_train_data("generated:300", &train, &val, &err), 0);
    assert_int_equal(floe_model_config_builtin("tiny", c, &err), 0);
    floe_train_cfg tc = floe_train_defaults(c);
    tc.steps = 20;
    tc.batch = 4;
    tc.context = 32;
    tc.warmup = 5;
    floe_trainer tr;
    assert_int_equal(floe_trainer_init(&tr, c, &tc, &err), 0);
    for (int i = 0; i < tc.steps; i++)
        assert_int_equal(floe_trainer_step(&tr, &train, NULL, &err), 0);
    floe_qconfig q = floe_qconfig_default();
    assert_int_equal(floe_qat_init(s, c, &q, 1, 1, &err), 0);
    floe_qinit_cfg ic = floe_qinit_defaults();
    ic.batches = 2;
    /* the trainer's chunked head keeps no logits: calibration refuses it and takes a whole-head copy */
    assert_int_equal(floe_qat_init_from_teacher(s, &tr.model, &train, &ic, &err), -1);
    assert_non_null(strstr(err.msg, "chunked LM head"));
    floe_model t;
    assert_int_equal(floe_model_init(&t, c, tc.batch, tc.context, &err), 0);
    memcpy(t.params, tr.model.params, t.table.total * sizeof(float));
    assert_int_equal(floe_qat_init_from_teacher(s, &t, &train, &ic, &err), 0);
    floe_model_free(&t);
    floe_trainer_free(&tr);
    floe_tokens_free(&train);
    floe_tokens_free(&val);
}

/* The relative RMS difference between the float forward of f and the integer forward of m on T
 * tokens, and in *agree the positions whose most likely next token is the same. */
static double float_vs_integer(const floe_qmodel *m, floe_model *f, int T, int *agree)
{
    floe_err err;
    const int V = m->cfg.vocab_size;
    int32_t ids[64];
    assert_true(T <= 64);
    for (int t = 0; t < T; t++)
        ids[t] = (int32_t)((t * 37 + 11) % V);
    int16_t *ql = malloc(sizeof(int16_t) * (size_t)T * V);
    assert_int_equal(floe_qref_forward(m, ids, T, ql, NULL, NULL, &err), 0);
    floe_model_forward(f, ids, NULL, 1, T);
    const float *fl = floe_model_logits(f);
    double num = 0, den = 0;
    *agree = 0;
    for (int t = 0; t < T; t++) {
        int aq = 0, af = 0;
        for (int v = 0; v < V; v++) {
            size_t k = (size_t)t * V + v;
            double xq = ql[k] * (double)m->s_logit, xf = fl[k];
            num += (xq - xf) * (xq - xf);
            den += xf * xf;
            aq = ql[k] > ql[(size_t)t * V + aq] ? v : aq;
            af = fl[k] > fl[(size_t)t * V + af] ? v : af;
        }
        *agree += aq == af;
    }
    free(ql);
    double rel = sqrt(num / den);
    print_message("%s: dequantized float forward vs integer forward: relative RMS difference %.4f, top-1 "
                  "agreement %d/%d\n",
                  m->cfg.name, rel, *agree, T);
    return rel;
}

static void test_quantized_export(void **state)
{
    (void)state;
    floe_model_config c;
    floe_err err;
    floe_qat s;
    calibrated(&s, &c);
    const floe_qmodel *m = &s.qm;
    const char *tmp = floe_test_tmpdir("export_hf");
    char qpath[4300], dir[4300], tok[4300];
    snprintf(qpath, sizeof qpath, "%s/q.safetensors", tmp);
    snprintf(dir, sizeof dir, "%s/hf", tmp);
    const char *src = getenv("FLOE_SOURCE_DIR");
    snprintf(tok, sizeof tok, "%s/tests/fixtures/hf/tok-llama3", src ? src : ".");
    assert_int_equal(floe_qmodel_save(m, qpath, NULL, 0, &err), 0);

    floe_export_hf_info info;
    if (floe_export_hf(qpath, dir, tok, 0, &info, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(info.quantized, 1);
    assert_true(exists(dir, "config.json") && exists(dir, "model.safetensors") && exists(dir, "tokenizer.json") &&
                exists(dir, "tokenizer_config.json"));

    floe_model f;
    int T = 16;
    if (floe_model_load(&f, dir, 1, T, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(f.cfg.tied_embeddings, 0);
    assert_int_equal(f.cfg.n_layers, c.n_layers);
    assert_int_equal(info.params, f.table.total);
    /* weights: codes times steps, exactly; gains 1 */
    const floe_param *pe = &f.table.params[floe_param_find(&f.table, "model.embed_tokens.weight")];
    for (size_t j = 0; j < pe->numel; j++)
        assert_true(f.params[pe->offset + j] == (float)m->embed[j] * m->s_res);
    const floe_param *pq = &f.table.params[floe_param_find(&f.table, "model.layers.1.self_attn.q_proj.weight")];
    const floe_qlinear *lq = &m->layers[1].q;
    for (int n = 0; n < lq->out; n++)
        for (int i = 0; i < lq->in; i++)
            assert_true(f.params[pq->offset + (size_t)n * lq->in + i] ==
                        (float)lq->w[(size_t)n * lq->in + i] * lq->s_w[n]);
    const floe_param *pn = &f.table.params[floe_param_find(&f.table, "model.norm.weight")];
    for (size_t j = 0; j < pn->numel; j++)
        assert_true(f.params[pn->offset + j] == 1.0f);

    /* the float forward against the integer forward: the same predictions, within the rounding */
    int agree;
    double rel = float_vs_integer(m, &f, T, &agree);
    assert_true(rel < 0.01);     /* measured 0.0008 */
    assert_true(agree >= T - 1); /* measured 16 of 16 */
    floe_model_free(&f);
    floe_qat_free(&s);
}

/* A Granite (tests/fixtures/hf/granite-tiny) quantized by PTQ exports with its multipliers: the folder's
 * embedding is the table's codes times s_res divided by embedding_multiplier (the table carries the
 * multiplier, docs/quantized-model.md), the other three stay in config.json as the integer model folds
 * them into its multipliers; the float forward of the folder is the integer forward's within the
 * rounding, as for a Llama. */
static void test_granite_export(void **state)
{
    (void)state;
    const char *src = getenv("FLOE_SOURCE_DIR");
    char in[4300], qpath[4300], dir[4300];
    snprintf(in, sizeof in, "%s/tests/fixtures/hf/granite-tiny", src ? src : ".");
    const char *tmp = floe_test_tmpdir("export_hf_granite");
    snprintf(qpath, sizeof qpath, "%s/q.safetensors", tmp);
    snprintf(dir, sizeof dir, "%s/hf", tmp);
    floe_err err;
    floe_tokens train, val;
    assert_int_equal(floe_train_data("generated:300", &train, &val, &err), 0);
    floe_model t;
    assert_int_equal(floe_model_load(&t, in, 2, 32, &err), 0);
    floe_qat s;
    floe_qconfig q = {8, 8, 8, 8, 0, 0, {0}, {{0}}};
    assert_int_equal(floe_qat_init(&s, &t.cfg, &q, 1, 1, &err), 0);
    floe_qinit_cfg ic = floe_qinit_defaults();
    ic.batches = 2;
    assert_int_equal(floe_qat_init_from_teacher(&s, &t, &train, &ic, &err), 0);
    assert_int_equal(floe_qmodel_save(&s.qm, qpath, NULL, 0, &err), 0);
    floe_export_hf_info info;
    if (floe_export_hf(qpath, dir, NULL, 0, &info, &err) != 0)
        fail_msg("%s", err.msg);
    floe_model f;
    if (floe_model_load(&f, dir, 1, 32, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(f.cfg.family, FLOE_FAMILY_GRANITE);
    assert_true(f.cfg.embedding_multiplier == 12.0 && f.cfg.residual_multiplier == 0.22 &&
                f.cfg.attention_multiplier == 0.0625 && f.cfg.logits_scaling == 8.0);
    const floe_param *pe = &f.table.params[floe_param_find(&f.table, "model.embed_tokens.weight")];
    assert_true(f.params[pe->offset + 3] == (float)((double)s.qm.embed[3] * s.qm.s_res / 12.0));
    int agree;
    double rel = float_vs_integer(&s.qm, &f, 32, &agree);
    assert_true(rel < 0.02);
    assert_true(agree >= 31);
    floe_model_free(&f);
    floe_qat_free(&s);
    floe_model_free(&t);
    floe_tokens_free(&train);
    floe_tokens_free(&val);
}

/* A float model exports as it is: loading the folder gives the same parameters bit for bit. */
static void test_float_round_trip(void **state)
{
    (void)state;
    const char *src = getenv("FLOE_SOURCE_DIR");
    char in[4300], dir[4300];
    snprintf(in, sizeof in, "%s/tests/fixtures/hf/granite-tiny", src ? src : ".");
    snprintf(dir, sizeof dir, "%s/granite", floe_test_tmpdir("export_hf_float"));
    floe_export_hf_info info;
    floe_err err;
    if (floe_export_hf(in, dir, NULL, 0, &info, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(info.quantized, 0);
    floe_model a, b;
    assert_int_equal(floe_model_load(&a, in, 1, 4, &err), 0);
    if (floe_model_load(&b, dir, 1, 4, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(b.cfg.family, FLOE_FAMILY_GRANITE);
    assert_true(b.cfg.logits_scaling == a.cfg.logits_scaling &&
                b.cfg.embedding_multiplier == a.cfg.embedding_multiplier);
    assert_int_equal(a.table.total, b.table.total);
    assert_memory_equal(a.params, b.params, a.table.total * sizeof(float));
    assert_false(exists(dir, "tokenizer.json"));
    floe_model_free(&a);
    floe_model_free(&b);
}

/* --dtype bf16: every tensor stored as BF16, each the float rounded to the nearest bfloat16 (ties to
 * even); the folder loads back as those values, and a forward-only model of it holds them as bfloat16. */
static void test_bf16_export(void **state)
{
    (void)state;
    const char *src = getenv("FLOE_SOURCE_DIR");
    char in[4300], dir[4300], st[4400];
    snprintf(in, sizeof in, "%s/tests/fixtures/hf/granite-tiny", src ? src : ".");
    snprintf(dir, sizeof dir, "%s/granite-bf16", floe_test_tmpdir("export_hf_bf16"));
    floe_export_hf_info info;
    floe_err err;
    if (floe_export_hf(in, dir, NULL, 1, &info, &err) != 0)
        fail_msg("%s", err.msg);
    snprintf(st, sizeof st, "%s/model.safetensors", dir);
    floe_st_file f;
    assert_int_equal(floe_st_open(&f, st, &err), 0);
    for (size_t i = 0; i < f.n_tensors; i++)
        assert_int_equal(f.tensors[i].dtype, FLOE_ST_BF16);
    floe_st_close(&f);
    floe_model a, b;
    assert_int_equal(floe_model_load(&a, in, 1, 4, &err), 0);
    if (floe_model_load_forward(&b, dir, 1, 4, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(a.table.total, b.table.total);
    int inexact = 0;
    for (size_t i = 0; i < a.table.total; i++) {
        float r = floe_bf16_to_f32(floe_f32_to_bf16(a.params[i]));
        assert_memory_equal(&r, &b.params[i], sizeof r);
        inexact += r != a.params[i];
    }
    assert_true(inexact > 0); /* the fixture's floats are not all bfloat16 values: rounding happened */
    assert_int_equal(floe_model_hold_bf16(&b, &err), 1);
    floe_model_free(&a);
    floe_model_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantized_export),
        cmocka_unit_test(test_granite_export),
        cmocka_unit_test(test_float_round_trip),
        cmocka_unit_test(test_bf16_export),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
