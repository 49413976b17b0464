/* trainer/ptq.h on a tiny trained model (grouped-query attention: 4 query heads over 2 KV heads):
 * SmoothQuant's folds leave the FP function unchanged and do move scale; GPTQ on the chip path
 * leaves a student whose own quantization is GPTQ's model (floe_ptq_gptq checks it; here: it
 * changed the weights, kept calib's steps, is the same for 1 and 2 threads and for both Hessian
 * sources it runs); weight-only RTN/GPTQ put every block weight on its group's grid and leave the
 * rest FP; SmoothQuant at the norms gives a model with per-channel RMSNorm multipliers whose
 * batched integer forward equals the reference forward and which survives a save/load round trip;
 * bad settings are refused. Calibration's 16-bit steps: the residual stream's covers res_headroom
 * times its largest value, every other one headroom times its own. */
#include "tests/test_util.h"

#include <math.h>
#include <omp.h>

#include "models/qmodel_io.h"
#include "models/qref.h"
#include "trainer/ptq.h"
#include "trainer/train.h"

static floe_tokens TRAIN, VAL;
static floe_trainer TR;
static floe_model_config MC;

static int setup(void **state)
{
    (void)state;
    floe_err err;
    if (floe_train_data("generated:300", &TRAIN, &VAL, &err) != 0 || floe_model_config_builtin("tiny", &MC, &err) != 0)
        return -1;
    floe_train_cfg tc = floe_train_defaults(&MC);
    tc.steps = 20;
    tc.batch = 4;
    tc.context = 32;
    tc.warmup = 5;
    if (floe_trainer_init(&TR, &MC, &tc, &err) != 0)
        return -1;
    for (int i = 0; i < tc.steps; i++)
        if (floe_trainer_step(&TR, &TRAIN, NULL, &err) != 0)
            return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    floe_trainer_free(&TR);
    floe_tokens_free(&TRAIN);
    floe_tokens_free(&VAL);
    return 0;
}

/* A copy of the trained model for batches of 4 x 32. */
static void copy_model(floe_model *m)
{
    floe_err err;
    assert_int_equal(floe_model_init(m, &MC, 4, 32, &err), 0);
    memcpy(m->params, TR.model.params, sizeof(float) * m->table.total);
}

static float *P(floe_model *m, floe_param_kind k, int l) { return m->params + floe_param_get(&m->table, k, l)->offset; }

static void test_smoothquant_exact(void **state)
{
    (void)state;
    floe_err err;
    floe_model m;
    copy_model(&m);
    int32_t tok[4 * 32];
    for (int i = 0; i < 4 * 32; i++)
        tok[i] = (int32_t)((i * 37 + 11) % MC.vocab_size);
    size_t nl = (size_t)4 * 32 * MC.vocab_size;
    float *l0 = malloc(sizeof(float) * nl);
    floe_model_forward(&m, tok, NULL, 4, 32);
    memcpy(l0, floe_model_logits(&m), sizeof(float) * nl);
    float v0 = P(&m, FLOE_P_V, 0)[0], u0 = P(&m, FLOE_P_UP, 1)[0], q0 = P(&m, FLOE_P_Q, 0)[0];
    assert_int_equal(floe_smoothquant_fold(&m, &TRAIN, 0.5, 2, 1, &err), 0);
    assert_true(P(&m, FLOE_P_V, 0)[0] != v0 && P(&m, FLOE_P_UP, 1)[0] != u0); /* scale moved */
    assert_true(P(&m, FLOE_P_Q, 0)[0] == q0);                                 /* q untouched */
    floe_model_forward(&m, tok, NULL, 4, 32);
    const float *l1 = floe_model_logits(&m);
    double amax = 0.0, dmax = 0.0;
    for (size_t i = 0; i < nl; i++) {
        amax = fmax(amax, fabsf(l0[i]));
        dmax = fmax(dmax, fabsf(l0[i] - l1[i]));
    }
    if (!(dmax < 1e-4 * amax + 1e-5))
        fail_msg("SmoothQuant fold changed the logits by %g (max |logit| %g)", dmax, amax);
    /* refusals */
    const double bad[] = {0.0, -0.5, 1.01, NAN};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(floe_smoothquant_fold(&m, &TRAIN, bad[k], 2, 1, &err), -1);
        assert_non_null(strstr(err.msg, "alpha"));
    }
    free(l0);
    floe_model_free(&m);
}

/* t: a copy of the trained model; s: a default-width student for it; returns calibration settings
 * of 2 batches */
static floe_qinit_cfg new_student(floe_qat *s, floe_model *t)
{
    floe_err err;
    copy_model(t);
    floe_qconfig qc = floe_qconfig_default();
    assert_int_equal(floe_qat_init(s, &MC, &qc, 1, 1, &err), 0);
    floe_qinit_cfg ic = floe_qinit_defaults();
    ic.batches = 2;
    return ic;
}

static void run_gptq(floe_qat *s, floe_gptq_hsrc src, int threads)
{
    floe_err err;
    floe_model t;
    floe_qinit_cfg ic = new_student(s, &t);
    floe_gptq_cfg gc = floe_gptq_defaults();
    gc.block = 16;
    int nt = omp_get_max_threads();
    omp_set_num_threads(threads);
    if (floe_ptq_gptq(s, &t, &TRAIN, &ic, &gc, src, &err) != 0)
        fail_msg("%s", err.msg);
    omp_set_num_threads(nt);
    floe_model_free(&t);
}

static void test_gptq_chip(void **state)
{
    (void)state;
    floe_err err;
    floe_qat a, b, c, cal;
    run_gptq(&a, FLOE_GPTQ_H_STUDENT, 1);
    run_gptq(&b, FLOE_GPTQ_H_STUDENT, 2);
    run_gptq(&c, FLOE_GPTQ_H_TEACHER, 2);
    /* thread count: same model */
    assert_memory_equal(a.params, b.params, sizeof(float) * a.table.total);
    assert_memory_equal(a.steps, b.steps, sizeof(float) * a.n_steps);
    /* calib's steps are kept, its weights are not */
    floe_model t;
    copy_model(&t);
    floe_qconfig qc = floe_qconfig_default();
    assert_int_equal(floe_qat_init(&cal, &MC, &qc, 1, 1, &err), 0);
    floe_qinit_cfg ic = floe_qinit_defaults();
    ic.batches = 2;
    assert_int_equal(floe_qat_init_from_teacher(&cal, &t, &TRAIN, &ic, &err), 0);
    assert_memory_equal(a.steps, cal.steps, sizeof(float) * a.n_steps);
    for (int k = 0; k < a.n_lin - 1; k++) {
        const floe_qlinear *x = a.lin[k].q, *y = cal.lin[k].q;
        size_t n = (size_t)x->in * x->out, diff = 0;
        for (size_t i = 0; i < n; i++)
            diff += x->w[i] != y->w[i];
        if (diff == 0)
            fail_msg("linear %d: GPTQ left every calib code", k);
    }
    /* the LM head stays calib */
    const floe_qlinear *ha = a.lin[a.n_lin - 1].q, *hc = cal.lin[cal.n_lin - 1].q;
    assert_memory_equal(ha->w, hc->w, (size_t)ha->in * ha->out);
    /* the teacher source differs from the student one */
    assert_true(memcmp(a.lin[3].q->w, c.lin[3].q->w, (size_t)a.lin[3].in * a.lin[3].out) != 0);
    /* re-quantizing the student gives the same model */
    int8_t *w0 = malloc((size_t)a.lin[6].in * a.lin[6].out);
    memcpy(w0, a.lin[6].q->w, (size_t)a.lin[6].in * a.lin[6].out);
    assert_int_equal(floe_qat_quantize(&a, &err), 0);
    assert_memory_equal(w0, a.lin[6].q->w, (size_t)a.lin[6].in * a.lin[6].out);
    free(w0);
    /* bad damping */
    floe_gptq_cfg gc = floe_gptq_defaults();
    gc.damp = 0.0;
    assert_int_equal(floe_ptq_gptq(&cal, &t, &TRAIN, &ic, &gc, FLOE_GPTQ_H_STUDENT, &err), -1);
    assert_non_null(strstr(err.msg, "damping"));
    floe_model_free(&t);
    floe_qat_free(&a);
    floe_qat_free(&b);
    floe_qat_free(&c);
    floe_qat_free(&cal);
}

static void test_weight_only(void **state)
{
    (void)state;
    floe_err err;
    for (int gptq = 0; gptq < 2; gptq++) {
        floe_model m;
        copy_model(&m);
        floe_wo_cfg c = {gptq, 3, 16, 1, floe_gptq_defaults(), 2, 1};
        assert_int_equal(floe_ptq_weight_only(&m, &TRAIN, &c, &err), 0);
        /* every group of every block linear holds at most 2^3 distinct values */
        const floe_param_kind kinds[7] = {FLOE_P_Q, FLOE_P_K, FLOE_P_V, FLOE_P_O, FLOE_P_GATE, FLOE_P_UP, FLOE_P_DOWN};
        for (int l = 0; l < MC.n_layers; l++)
            for (int k = 0; k < 7; k++) {
                const floe_param *p = floe_param_get(&m.table, kinds[k], l);
                const float *W = m.params + p->offset;
                int in = (int)p->shape[1];
                for (size_t r = 0; r < p->shape[0]; r++)
                    for (int c0 = 0; c0 < in; c0 += 16) {
                        float seen[16];
                        int ns = 0;
                        for (int i = c0; i < c0 + 16 && i < in; i++) {
                            float v = W[r * in + i];
                            int j = 0;
                            while (j < ns && seen[j] != v)
                                j++;
                            if (j == ns)
                                seen[ns++] = v;
                        }
                        assert_true(ns <= 8);
                    }
            }
        /* embeddings and norms stay FP */
        const floe_param *e = floe_param_get(&m.table, FLOE_P_EMBED, 0), *n = floe_param_get(&m.table, FLOE_P_ATTN_NORM, 1);
        assert_memory_equal(m.params + e->offset, TR.model.params + e->offset, sizeof(float) * e->shape[0] * e->shape[1]);
        assert_memory_equal(m.params + n->offset, TR.model.params + n->offset, sizeof(float) * n->shape[0]);
        floe_wo_cfg bad = c;
        bad.bits = 9;
        assert_int_equal(floe_ptq_weight_only(&m, &TRAIN, &bad, &err), -1);
        assert_non_null(strstr(err.msg, "bits"));
        floe_model_free(&m);
    }
}

static void test_smoothquant_norms(void **state)
{
    (void)state;
    floe_err err;
    floe_model t;
    copy_model(&t);
    floe_qconfig qc = floe_qconfig_default();
    floe_qat s;
    assert_int_equal(floe_qat_init(&s, &MC, &qc, 1, 1, &err), 0);
    floe_qinit_cfg ic = floe_qinit_defaults();
    ic.batches = 2;
    if (floe_ptq_smoothquant(&s, &t, &TRAIN, &ic, 0.5, 1, &err) != 0)
        fail_msg("%s", err.msg);
    const int C = MC.d_model, T = 20;
    int moved = 0;
    for (int l = 0; l < MC.n_layers; l++) {
        const floe_qlayer *L = &s.qm.layers[l];
        assert_non_null(L->smooth_attn);
        assert_non_null(L->mlp_norm_cj);
        for (int j = 0; j < C; j++)
            moved += L->smooth_attn[j] != 1.0f;
    }
    assert_true(moved > C / 2);
    /* the batched forward (trainer) equals the reference forward (models/qref) */
    int32_t tok[20];
    for (int i = 0; i < T; i++)
        tok[i] = (int32_t)((i * 53 + 7) % MC.vocab_size);
    floe_qfwd f;
    assert_int_equal(floe_qfwd_init(&f, &MC, 1, T, &err), 0);
    assert_int_equal(floe_qfwd_forward(&f, &s.qm, tok, 1, T, &err), 0);
    int16_t *ref = malloc(sizeof(int16_t) * (size_t)T * MC.vocab_size);
    assert_int_equal(floe_qref_forward(&s.qm, tok, T, ref, NULL, NULL, &err), 0);
    assert_memory_equal(ref, f.logits, sizeof(int16_t) * (size_t)T * MC.vocab_size);
    /* save / load: the same model, the same logits */
    char path[4300];
    snprintf(path, sizeof path, "%s/sq.safetensors", floe_test_tmpdir("smoothquant"));
    assert_int_equal(floe_qmodel_save(&s.qm, path, NULL, 0, &err), 0);
    floe_qmodel m2;
    if (floe_qmodel_load(&m2, path, &err) != 0)
        fail_msg("%s", err.msg);
    assert_memory_equal(m2.layers[1].smooth_mlp, s.qm.layers[1].smooth_mlp, sizeof(float) * (size_t)C);
    int16_t *ref2 = malloc(sizeof(int16_t) * (size_t)T * MC.vocab_size);
    assert_int_equal(floe_qref_forward(&m2, tok, T, ref2, NULL, NULL, &err), 0);
    assert_memory_equal(ref, ref2, sizeof(int16_t) * (size_t)T * MC.vocab_size);
    /* a bad factor is refused, naming the norm and channel */
    float *bad = malloc(sizeof(float) * (size_t)C);
    for (int j = 0; j < C; j++)
        bad[j] = 1.0f;
    bad[3] = 0.0f;
    assert_int_equal(floe_qmodel_set_smoothing(&m2, 0, 1, bad, &err), -1);
    assert_non_null(strstr(err.msg, "post_attention_layernorm"));
    assert_non_null(strstr(err.msg, "channel 3"));
    free(bad);
    free(ref);
    free(ref2);
    floe_qmodel_free(&m2);
    floe_qfwd_free(&f);
    floe_qat_free(&s);
    floe_model_free(&t);
}

/* calibrated with ic's headrooms */
static void calibrate(floe_qat *s, double headroom, double res_headroom)
{
    floe_err err;
    floe_model t;
    floe_qinit_cfg ic = new_student(s, &t);
    ic.headroom = headroom, ic.res_headroom = res_headroom;
    assert_int_equal(floe_qat_init_from_teacher(s, &t, &TRAIN, &ic, &err), 0);
    floe_model_free(&t);
}

static void test_residual_headroom(void **state)
{
    (void)state;
    floe_qinit_cfg d = floe_qinit_defaults();
    assert_true(d.headroom == 2.0 && d.res_headroom == 1.0);
    floe_qat a, b, c;
    calibrate(&a, 2.0, 1.0);
    calibrate(&b, 2.0, 2.0);
    calibrate(&c, 4.0, 1.0);
    /* the residual's step follows res_headroom alone (exactly: a power of two apart) */
    assert_true(b.qm.s_res == 2.0f * a.qm.s_res);
    assert_true(c.qm.s_res == a.qm.s_res);
    /* the other 16-bit steps follow headroom alone; the 8-bit ones neither */
    for (int l = 0; l < MC.n_layers; l++) {
        assert_true(b.qm.layers[l].s_q == a.qm.layers[l].s_q && b.qm.layers[l].s_silu == a.qm.layers[l].s_silu);
        assert_true(c.qm.layers[l].s_q == 2.0f * a.qm.layers[l].s_q);
        assert_true(c.qm.layers[l].s_u == 2.0f * a.qm.layers[l].s_u);
    }
    assert_true(c.qm.s_logit == 2.0f * a.qm.s_logit);
    assert_true(*floe_qat_act_step(&c, 0, FLOE_QAT_ATTN_IN) == *floe_qat_act_step(&a, 0, FLOE_QAT_ATTN_IN));
    floe_qat_free(&a), floe_qat_free(&b), floe_qat_free(&c);
    /* below 1 it would clip the calibration's own largest value: refused */
    floe_err err;
    floe_model t;
    floe_qinit_cfg ic = new_student(&a, &t);
    ic.res_headroom = 0.5;
    assert_int_equal(floe_qat_init_from_teacher(&a, &t, &TRAIN, &ic, &err), -1);
    assert_non_null(strstr(err.msg, "res_headroom >= 1"));
    floe_qat_free(&a);
    floe_model_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smoothquant_exact), cmocka_unit_test(test_gptq_chip),
        cmocka_unit_test(test_weight_only),       cmocka_unit_test(test_smoothquant_norms),
        cmocka_unit_test(test_residual_headroom),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
