/* EfficientQAT on the float path: Block-AP lowers every block's reconstruction MSE (calibration and
 * held-out) and its report means what it says (recomputed here from the returned weights and
 * quantizers); weight-only E2E-QP lowers the cross-entropy with the codes frozen; an interrupted and
 * resumed E2E-QP run ends in the same bits; both give the same bits on 1 and 2 threads; the
 * weight-only model file loads as an ordinary checkpoint with its metadata.
 *
 * The model is a small random one (2 blocks, d 32, FFN 40 so the last group of down_proj is ragged)
 * whose matrices have std 1/sqrt(fan_in) and gains 1 +- 0.3 (folding has something to fold); the data
 * is a deterministic pattern stream, so there is something to predict. */
#include "tests/trainer/trainer_test.h"

#include <omp.h>
#include <stdio.h>
#include <unistd.h>

#include "models/safetensors.h"
#include "trainer/block_ap.h"
#include "trainer/e2e_qp.h"
#include "trainer/train.h"

static void random_params(const floe_model *m, uint64_t seed)
{
    floe_rng r;
    floe_rng_seed(&r, seed);
    for (size_t i = 0; i < m->table.count; i++) {
        const floe_param *p = &m->table.params[i];
        float *x = m->params + p->offset;
        if (p->ndim == 1) {
            for (size_t j = 0; j < p->numel; j++)
                x[j] = (float)(1.0 + 0.3 * floe_rng_normal(&r));
        } else {
            double sd = p->kind == FLOE_P_EMBED ? 0.3 : 1.0 / sqrt((double)p->shape[1]);
            rand_fill(x, p->numel, &r, sd);
        }
    }
}

/* A stream with structure: runs of an arithmetic pattern with occasional random tokens. */
static floe_tokens pattern_stream(size_t n, uint64_t seed)
{
    floe_tokens s = {0};
    s.n = n;
    s.ids = malloc(n * sizeof(int32_t));
    assert_non_null(s.ids);
    floe_rng r;
    floe_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        s.ids[i] = floe_rng_below(&r, 8) == 0 ? (int32_t)floe_rng_below(&r, 48) : (int32_t)((i * 5 + i / 7) % 48);
    return s;
}

typedef struct {
    floe_blockap_report rep[8];
    int n;
} reports;

static void collect(void *ctx, const floe_blockap_report *r)
{
    reports *R = ctx;
    R->rep[R->n++] = *r;
}

static floe_blockap_cfg test_cfg(void)
{
    floe_blockap_cfg c = floe_blockap_defaults(3);
    c.group = 16;
    c.samples = 12;
    c.heldout = 6;
    c.epochs = 2;
    c.batch = 2;
    c.lr_qparams = 3e-3f;
    c.lr_weights = 1e-3f;
    c.seed = 5;
    return c;
}

/* teacher fp (random), student q = folded copy */
static void make_models(floe_model *fp, floe_model *q, int maxB)
{
    floe_model_config cfg = floe_test_small_config(1);
    floe_err err;
    assert_int_equal(floe_model_init(fp, &cfg, maxB, 16, &err), 0);
    assert_int_equal(floe_model_init(q, &cfg, maxB, 16, &err), 0);
    random_params(fp, 11);
    memcpy(q->params, fp->params, fp->table.total * sizeof(float));
    floe_model_fold_block_norms(q);
}

static void test_block_ap_lowers_mse(void **state)
{
    (void)state;
    floe_model fp, q;
    make_models(&fp, &q, 4);
    floe_tokens train = pattern_stream(4000, 1);
    float *fp0 = falloc(fp.table.total), *q0 = falloc(q.table.total);
    memcpy(fp0, fp.params, fp.table.total * sizeof(float));
    memcpy(q0, q.params, q.table.total * sizeof(float));
    floe_blockap_cfg c = test_cfg();
    floe_wquant wq[2 * FLOE_BLOCK_LINEARS];
    reports R = {.n = 0};
    floe_err err;
    assert_int_equal(floe_block_ap(&fp, &q, wq, &train, &c, collect, &R, &err), 0);
    assert_int_equal(R.n, 2);
    for (int l = 0; l < 2; l++) {
        const floe_blockap_report *r = &R.rep[l];
        print_message("block %d: mse %.4e -> %.4e, held-out %.4e -> %.4e\n", l, r->mse_init, r->mse, r->mse_init_heldout,
                      r->mse_heldout);
        assert_int_equal(r->layer, l);
        assert_int_equal(r->steps, 12);
        assert_true(r->mse_init > 0);
        assert_true(r->mse < 0.9 * r->mse_init);
        assert_true(r->mse_heldout < r->mse_init_heldout);
    }
    /* the teacher is unchanged; the student's non-linear tensors too (gains stay 1) */
    assert_memory_equal(fp.params, fp0, fp.table.total * sizeof(float));
    for (size_t i = 0; i < q.table.count; i++) {
        const floe_param *p = &q.table.params[i];
        int linear = p->ndim == 2 && p->kind != FLOE_P_EMBED && p->kind != FLOE_P_LM_HEAD;
        if (!linear)
            assert_memory_equal(q.params + p->offset, q0 + p->offset, p->numel * sizeof(float));
        else
            assert_true(memcmp(q.params + p->offset, q0 + p->offset, p->numel * sizeof(float)) != 0);
    }
    /* block 0's reported calibration MSE, recomputed from the returned weights and quantizers */
    floe_model ev;
    floe_model_config cfg = floe_test_small_config(1);
    assert_int_equal(floe_model_init(&ev, &cfg, 1, 16, &err), 0);
    memcpy(ev.params, q.params, q.table.total * sizeof(float));
    floe_wquants_apply(wq, &ev);
    int32_t row[17];
    double ss = 0;
    const size_t NC = 16 * 32;
    float *want = falloc(NC);
    for (int i = 0; i < c.samples; i++) {
        assert_int_equal(floe_batch_sample(&train, c.seed, (uint64_t)i, 1, 16, row, &err), 0);
        floe_model_forward(&fp, row, NULL, 1, 16);
        memcpy(want, floe_model_residual(&fp, 1), NC * sizeof(float));
        floe_model_forward(&ev, row, NULL, 1, 16);
        const float *got = floe_model_residual(&ev, 1);
        for (size_t k = 0; k < NC; k++)
            ss += ((double)got[k] - want[k]) * ((double)got[k] - want[k]);
    }
    double mse0 = ss / ((double)c.samples * NC);
    print_message("block 0 recomputed: %.6e (reported %.6e)\n", mse0, R.rep[0].mse);
    assert_true(fabs(mse0 - R.rep[0].mse) <= 1e-4 * R.rep[0].mse);
    for (int i = 0; i < 2 * FLOE_BLOCK_LINEARS; i++) {
        size_t ns = (size_t)wq[i].out * wq[i].groups;
        for (size_t k = 0; k < ns; k++)
            assert_true(wq[i].s[k] > 0);
    }
    /* refusals */
    c.batch = 5;
    floe_wquant wq2[2 * FLOE_BLOCK_LINEARS];
    assert_int_equal(floe_block_ap(&fp, &q, wq2, &train, &c, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "batch 5"));
    c = test_cfg();
    c.bits = 9;
    assert_int_equal(floe_block_ap(&fp, &q, wq2, &train, &c, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "9 bits"));
    free(want);
    floe_model_free(&ev);
    floe_wquants_free(wq, 2 * FLOE_BLOCK_LINEARS);
    free(fp0);
    free(q0);
    floe_tokens_free(&train);
    floe_model_free(&fp);
    floe_model_free(&q);
}

/* Symmetric per-channel (the chip's format) and 1 vs 2 threads: same bits. */
static void test_block_ap_threads(void **state)
{
    (void)state;
    floe_tokens train = pattern_stream(4000, 2);
    floe_blockap_cfg c = test_cfg();
    c.asym = 0;
    c.group = 0;
    c.bits = 4;
    float *params[2];
    floe_wquant wq[2][2 * FLOE_BLOCK_LINEARS];
    reports R[2];
    floe_err err;
    size_t total = 0;
    for (int run = 0; run < 2; run++) {
        omp_set_num_threads(run + 1);
        floe_model fp, q;
        make_models(&fp, &q, 2);
        R[run].n = 0;
        assert_int_equal(floe_block_ap(&fp, &q, wq[run], &train, &c, collect, &R[run], &err), 0);
        total = q.table.total;
        params[run] = falloc(total);
        memcpy(params[run], q.params, total * sizeof(float));
        floe_model_free(&fp);
        floe_model_free(&q);
    }
    omp_set_num_threads(2);
    for (int l = 0; l < 2; l++) {
        assert_true(R[0].rep[l].mse < R[0].rep[l].mse_init);
        assert_memory_equal(&R[0].rep[l].mse, &R[1].rep[l].mse, sizeof(double));
    }
    assert_memory_equal(params[0], params[1], total * sizeof(float));
    for (int i = 0; i < 2 * FLOE_BLOCK_LINEARS; i++) {
        assert_int_equal(wq[0][i].groups, 1);
        assert_memory_equal(wq[0][i].s, wq[1][i].s, (size_t)wq[0][i].out * sizeof(float));
    }
    for (int run = 0; run < 2; run++) {
        floe_wquants_free(wq[run], 2 * FLOE_BLOCK_LINEARS);
        free(params[run]);
    }
    floe_tokens_free(&train);
}

/* Mean loss over a fixed set of windows of the validation stream. */
static double eval_loss(floe_model *m, const floe_tokens *val)
{
    floe_eval_result r;
    floe_err err;
    assert_int_equal(floe_model_evaluate(m, val, 16, &r, &err), 0);
    return r.loss;
}

/* A 2-bit student (min-max init) of the random teacher, E2E-QP state built on it. */
static void e2e_setup(floe_model *m, floe_e2eqp *st, int bits)
{
    floe_model fp;
    make_models(&fp, m, 4);
    floe_model_free(&fp);
    floe_wquant wq[2 * FLOE_BLOCK_LINEARS];
    floe_err err;
    assert_int_equal(floe_wquants_init(wq, m, bits, NULL, 16, 1, &err), 0);
    for (int i = 0; i < 2 * FLOE_BLOCK_LINEARS; i++)
        floe_wquant_minmax(&wq[i], floe_blockap_weight(m, i));
    assert_int_equal(floe_e2eqp_init(st, m, wq, &err), 0);
    floe_wquants_free(wq, 2 * FLOE_BLOCK_LINEARS);
    floe_e2eqp_apply(st, m);
}

static floe_e2eqp_cfg e2e_cfg(void)
{
    floe_e2eqp_cfg c = floe_e2eqp_defaults(2);
    c.steps = 30;
    c.batch = 4;
    c.lr = 1e-2f;
    c.min_lr = 1e-3f;
    c.warmup = 2;
    c.clip = 1.0f;
    return c;
}

static void test_e2eqp_lowers_loss(void **state)
{
    (void)state;
    floe_model m;
    floe_e2eqp st;
    e2e_setup(&m, &st, 2);
    floe_tokens train = pattern_stream(6000, 3), val = pattern_stream(600, 4);
    float *p0 = falloc(m.table.total);
    memcpy(p0, m.params, m.table.total * sizeof(float));
    int16_t *codes0 = malloc(32 * 32 * sizeof(int16_t));
    memcpy(codes0, st.codes[0], 32 * 32 * sizeof(int16_t));
    double before = eval_loss(&m, &val);
    floe_e2eqp_cfg c = e2e_cfg();
    floe_err err;
    assert_int_equal(floe_e2eqp_run(&st, &m, &train, &c, 0, NULL, NULL, &err), 0);
    assert_int_equal(st.step, 30);
    double after = eval_loss(&m, &val);
    print_message("E2E-QP: validation loss %.4f -> %.4f\n", before, after);
    assert_true(after < before - 0.01);
    /* codes frozen; only block linears changed; they are (code - round(z)) * s */
    assert_memory_equal(codes0, st.codes[0], 32 * 32 * sizeof(int16_t));
    for (size_t i = 0; i < m.table.count; i++) {
        const floe_param *p = &m.table.params[i];
        int linear = p->ndim == 2 && p->kind != FLOE_P_EMBED && p->kind != FLOE_P_LM_HEAD;
        if (!linear)
            assert_memory_equal(m.params + p->offset, p0 + p->offset, p->numel * sizeof(float));
    }
    const float *Wq = floe_blockap_weight(&m, 0);
    for (int k = 0; k < 32 * 32; k += 37) {
        int gi = floe_wquant_gi(&st.wq[0], k / 32, k % 32);
        float want = ((float)st.codes[0][k] - floorf(st.wq[0].z[gi] + 0.5f)) * st.wq[0].s[gi];
        assert_true(Wq[k] == want);
    }
    free(codes0);
    free(p0);
    floe_e2eqp_free(&st);
    floe_model_free(&m);
    floe_tokens_free(&train);
    floe_tokens_free(&val);
}

/* 10 steps straight = 4 steps, save, a fresh state loaded from the file, 6 more: same bits (s and
 * moments and the model); threads 1 vs 2 for the straight run; refusals of a mismatched file. */
static void test_e2eqp_resume(void **state)
{
    (void)state;
    floe_tokens train = pattern_stream(6000, 5);
    floe_e2eqp_cfg c = e2e_cfg();
    c.steps = 10;
    floe_err err;
    char path[] = "/tmp/floe-test-e2eqp-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);

    floe_model a, b, t;
    floe_e2eqp sa, sb, stt;
    omp_set_num_threads(1);
    e2e_setup(&a, &sa, 3);
    assert_int_equal(floe_e2eqp_run(&sa, &a, &train, &c, 0, NULL, NULL, &err), 0);
    omp_set_num_threads(2);
    e2e_setup(&t, &stt, 3);
    assert_int_equal(floe_e2eqp_run(&stt, &t, &train, &c, 0, NULL, NULL, &err), 0);

    e2e_setup(&b, &sb, 3);
    assert_int_equal(floe_e2eqp_run(&sb, &b, &train, &c, 4, NULL, NULL, &err), 0);
    assert_int_equal(sb.step, 4);
    assert_int_equal(floe_e2eqp_save(&sb, &b, &c, path, NULL, 0, &err), 0);
    floe_e2eqp_free(&sb);
    floe_model_free(&b);
    e2e_setup(&b, &sb, 3); /* the same base model and shapes; its s are overwritten by the load */
    assert_int_equal(floe_e2eqp_load(&sb, &b, path, &err), 0);
    assert_int_equal(sb.step, 4);
    assert_int_equal(floe_e2eqp_run(&sb, &b, &train, &c, 0, NULL, NULL, &err), 0);
    assert_int_equal(sb.step, 10);
    for (int i = 0; i < sa.n; i++) {
        size_t ns = (size_t)sa.wq[i].out * sa.wq[i].groups;
        assert_memory_equal(sa.wq[i].s, sb.wq[i].s, ns * sizeof(float));
        assert_memory_equal(sa.m[i], sb.m[i], ns * sizeof(float));
        assert_memory_equal(sa.v[i], sb.v[i], ns * sizeof(float));
        assert_memory_equal(sa.wq[i].s, stt.wq[i].s, ns * sizeof(float));
    }
    assert_memory_equal(a.params, b.params, a.table.total * sizeof(float));
    assert_memory_equal(a.params, t.params, a.table.total * sizeof(float));

    /* a 2-bit state refuses the 3-bit file */
    floe_model d;
    floe_e2eqp sd;
    e2e_setup(&d, &sd, 2);
    assert_int_equal(floe_e2eqp_load(&sd, &d, path, &err), -1);
    assert_non_null(strstr(err.msg, "floe.wbits"));
    assert_non_null(strstr(err.msg, path));
    floe_e2eqp_free(&sd);
    floe_model_free(&d);

    floe_e2eqp_free(&sa);
    floe_e2eqp_free(&sb);
    floe_e2eqp_free(&stt);
    floe_model_free(&a);
    floe_model_free(&b);
    floe_model_free(&t);
    floe_tokens_free(&train);
    unlink(path);
}

/* The weight-only file loads as an ordinary checkpoint, same bits, with its metadata. */
static void test_weight_only_file(void **state)
{
    (void)state;
    floe_model m;
    floe_e2eqp st;
    e2e_setup(&m, &st, 4);
    char path[] = "/tmp/floe-test-wo-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    floe_err err;
    const char *extra[] = {"floe.corpus", "pattern"};
    assert_int_equal(floe_weight_only_save(path, &m, "efficientqat", 4, 16, 1, "teacher.safetensors", extra, 1, &err), 0);
    floe_model l;
    assert_int_equal(floe_model_load(&l, path, 1, 0, &err), 0);
    assert_memory_equal(l.params, m.params, m.table.total * sizeof(float));
    floe_st_file f;
    assert_int_equal(floe_st_open(&f, path, &err), 0);
    assert_string_equal(floe_st_meta_get(&f, "floe.method"), "efficientqat");
    assert_string_equal(floe_st_meta_get(&f, "floe.weight_only"), "1");
    assert_string_equal(floe_st_meta_get(&f, "floe.wbits"), "4");
    assert_string_equal(floe_st_meta_get(&f, "floe.group"), "16");
    assert_string_equal(floe_st_meta_get(&f, "floe.asym"), "1");
    assert_string_equal(floe_st_meta_get(&f, "floe.teacher"), "teacher.safetensors");
    assert_string_equal(floe_st_meta_get(&f, "floe.corpus"), "pattern");
    floe_st_close(&f);
    floe_model_free(&l);
    floe_e2eqp_free(&st);
    floe_model_free(&m);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_ap_lowers_mse), cmocka_unit_test(test_block_ap_threads),
        cmocka_unit_test(test_e2eqp_lowers_loss),   cmocka_unit_test(test_e2eqp_resume),
        cmocka_unit_test(test_weight_only_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
