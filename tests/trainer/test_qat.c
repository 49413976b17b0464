/* SiLQ QAT (trainer/qat_*.h, lsq.h, distill.h): the student's forward is the reference integer
 * forward tensor for tensor (before and after training), the STE/LSQ gradients are wired right,
 * training lowers the distillation loss, resume and thread count change no bit, bad input is refused. */
#include "tests/test_util.h"

#include <math.h>
#include <omp.h>

#include "models/qref.h"
#include "models/safetensors.h"
#include "trainer/distill.h"
#include "trainer/grad_clip.h"
#include "trainer/lsq.h"
#include "trainer/qat_run.h"
#include "trainer/qeval.h"

/* ---- LSQ primitives --------------------------------------------------------------------------- */

/* The student's logits as floats (codes times s_logit), into out [N, V]; returns out. */
static float *qat_logits(const floe_qat *s, float *out)
{
    size_t n = (size_t)s->fwd.B * s->fwd.T * s->cfg.vocab_size;
    for (size_t i = 0; i < n; i++)
        out[i] = (float)s->fwd.logits[i] * s->qm.s_logit;
    return out;
}

static void test_lsq(void **state)
{
    (void)state;
    assert_int_equal(floe_lsq_code(0.25f, 0.5f, 4), 1);   /* 0.5 rounds half up */
    assert_int_equal(floe_lsq_code(-0.25f, 0.5f, 4), 0);  /* -0.5 rounds up to 0 */
    assert_int_equal(floe_lsq_code(100.0f, 0.5f, 4), 7);
    assert_int_equal(floe_lsq_code(-100.0f, 0.5f, 4), -8);
    assert_int_equal(floe_lsq_code(NAN, 1.0f, 8), -128);
    /* activations: one inside value, one above, one below; step 1, 4 bits */
    float v[3] = {2.3f, 9.0f, -12.0f}, g[3] = {1.0f, 1.0f, 1.0f}, dv[3];
    int8_t codes[3] = {2, 7, -8};
    double rows[1];
    double ds = floe_lsq_act_backward(dv, g, v, 1.0f, NULL, codes, NULL, 1, 3, 1.0f, 4, rows);
    assert_float_equal(dv[0], 1.0f, 0);
    assert_float_equal(dv[1], 0.0f, 0);
    assert_float_equal(dv[2], 0.0f, 0);
    double want = ((2.0 - 2.3) + 7.0 - 8.0) / sqrt(3.0 * 7.0);
    assert_true(fabs(ds - want) < 1e-6);
    /* weights: the same through the per-row entry point */
    float w[3] = {2.3f, 9.0f, -12.0f}, gw[3] = {1, 1, 1}, dw[3], s = 1.0f, dsw = 0.0f;
    int8_t c8[3] = {2, 7, -8};
    floe_lsq_weight_backward(dw, gw, w, &s, c8, 1, 3, 4, &dsw);
    assert_true(fabs(dsw - want) < 1e-6);
    assert_float_equal(dw[0], 1.0f, 0);
    assert_float_equal(dw[1] + dw[2], 0.0f, 0);
}

/* Per-token steps s_r = s * 2^-k_r (docs/numerics.md §10): the LSQ step gradient against finite
 * differences of the float view x_hat(s) = s_r * code(s) (the code held by the straight-through
 * estimator inside the range, saturated outside), row by row with k_r 0..4; k = 0 everywhere is
 * the per-tensor backward bit for bit. */
static void test_lsq_per_token(void **state)
{
    (void)state;
    enum { R = 5, W = 7 };
    const int bits = 4, hi = 7, lo = -8;
    const int8_t k[R] = {0, 1, 2, 3, 4};
    const float s = 0.37f;
    float v[R * W], g[R * W], dv[R * W], dv0[R * W];
    int8_t codes[R * W];
    double rows[R];
    for (int r = 0; r < R; r++)
        for (int j = 0; j < W; j++) {
            int i = r * W + j;
            float sr = ldexpf(s, -k[r]);
            v[i] = sr * (float)(j * 2.3 - 7.1); /* codes from below the range to above it */
            g[i] = 0.5f + 0.1f * (float)((i * 7) % 11);
            float x = floorf(v[i] / sr + 0.5f);
            codes[i] = (int8_t)(x < lo ? (float)lo : x > hi ? (float)hi : x);
        }
    double ds = floe_lsq_act_backward_tok(dv, g, v, 1.0f, NULL, codes, NULL, k, R, W, s, bits, rows);
    /* finite differences of L(s) = sum g x_hat(s) */
    const double h = 1e-4;
    double fd = 0.0;
    for (int r = 0; r < R; r++)
        for (int j = 0; j < W; j++) {
            int i = r * W + j;
            double u0 = (double)v[i] / ldexp(s, -k[r]);
            int inside = u0 >= lo && u0 <= hi;
            double res = codes[i] - u0; /* the STE holds round(u) - u */
            double f[2];
            for (int e = 0; e < 2; e++) {
                double sr = ldexp((double)s + (e ? h : -h), -k[r]);
                f[e] = inside ? sr * ((double)v[i] / sr + res) : sr * codes[i];
            }
            fd += g[i] * (f[1] - f[0]) / (2 * h);
            assert_float_equal(dv[i], inside ? g[i] : 0.0f, 0);
        }
    fd *= floe_lsq_grad_scale(W, bits);
    if (fabs(ds - fd) > 1e-4 * (1.0 + fabs(fd)))
        fail_msg("per-token step gradient %.8g, finite differences %.8g", ds, fd);
    /* the shifts matter: with k = 0 the same values give another gradient */
    double ds0 = floe_lsq_act_backward_tok(dv0, g, v, 1.0f, NULL, codes, NULL, NULL, R, W, s, bits, rows);
    assert_true(fabs(ds0 - ds) > 1e-3);
    const int8_t zero[R] = {0};
    double dsz = floe_lsq_act_backward_tok(dv0, g, v, 1.0f, NULL, codes, NULL, zero, R, W, s, bits, rows);
    double dsp = floe_lsq_act_backward(dv, g, v, 1.0f, NULL, codes, NULL, R, W, s, bits, rows);
    assert_true(dsz == dsp && ds0 == dsp);
}

/* ---- distillation: gradient against finite differences ----------------------------------------- */

static void test_distill_gradient(void **state)
{
    (void)state;
    enum { N = 3, V = 7 };
    float z[N * V], t[N * V], d[N * V], dd[N * V];
    int tgt[N] = {1, 4, 6};
    double rows[2 * N];
    for (int i = 0; i < N * V; i++) {
        z[i] = (float)sin(1.3 * i) * 2.0f;
        t[i] = (float)cos(0.7 * i) * 3.0f;
    }
    const float tau = 2.0f, alpha = 0.3f;
    floe_distill(d, z, t, tgt, N, V, tau, alpha, 1.0f, rows);
    for (int i = 0; i < N * V; i++) {
        float keep = z[i], h = 1e-2f;
        z[i] = keep + h;
        double lp = floe_distill(dd, z, t, tgt, N, V, tau, alpha, 1.0f, rows).loss;
        z[i] = keep - h;
        double lm = floe_distill(dd, z, t, tgt, N, V, tau, alpha, 1.0f, rows).loss;
        z[i] = keep;
        double fd = (lp - lm) / (2 * h);
        if (fabs(fd - d[i]) > 2e-4 + 1e-2 * fabs(fd))
            fail_msg("dlogit %d: analytic %g, finite difference %g", i, (double)d[i], fd);
    }
    /* identical logits: zero KL */
    floe_distill_result r = floe_distill(d, t, t, NULL, N, V, tau, 0.0f, 1.0f, rows);
    assert_true(fabs(r.kl) < 1e-9);
}

/* The two-pass distillation on int16 codes, in vocabulary slices into a narrower buffer: the loss and
 * every gradient value have floe_distill's bits on the float view of the codes. */
static void test_distill_slices(void **state)
{
    (void)state;
    enum { N = 4, V = 23, CN = 5 };
    int16_t zc[N * V];
    float z[N * V], t[N * V], d[N * V], slice[N * CN];
    int tgt[N] = {0, 22, 7, 13};
    double rows[2 * N], st[3 * N];
    const float zs = 0.0137f, tau = 1.7f, alpha = 0.4f, dloss = 0.5f;
    for (int i = 0; i < N * V; i++) {
        zc[i] = (int16_t)(300.0 * sin(0.9 * i));
        z[i] = (float)zc[i] * zs;
        t[i] = (float)cos(0.37 * i) * 4.0f;
    }
    for (int with_tgt = 0; with_tgt < 2; with_tgt++) {
        const int *tg = with_tgt ? tgt : NULL;
        const float a = with_tgt ? alpha : 0.0f;
        floe_distill_result w = floe_distill(d, z, t, tg, N, V, tau, a, dloss, rows);
        floe_distill_result r = floe_distill_rows(st, NULL, zc, zs, t, tg, N, V, tau, a, rows);
        assert_true(w.loss == r.loss && w.kl == r.kl && (with_tgt ? w.ce == r.ce : isnan(r.ce)));
        for (int c0 = 0; c0 < V; c0 += CN) {
            int cn = V - c0 < CN ? V - c0 : CN;
            floe_distill_cols(slice, cn, c0, cn, NULL, zc, zs, t + c0, V, tg, N, V, tau, a, dloss, st);
            for (int i = 0; i < N; i++)
                assert_memory_equal(slice + i * cn, d + i * V + c0, sizeof(float) * (size_t)cn);
        }
    }
}

/* The teacher's logits served a vocabulary slice at a time (as floe_qat_step forms them from its
 * head): the online pass equals the whole-row one to double rounding, and the slices' gradient from
 * its row statistics equals floe_distill's to float rounding. */
typedef struct {
    const float *t;
    int N, V;
} teacher_src;

static void serve_cols(void *ctx, int c0, int cn, float *out)
{
    const teacher_src *s = ctx;
    for (int i = 0; i < s->N; i++)
        memcpy(out + (size_t)i * cn, s->t + (size_t)i * s->V + c0, sizeof(float) * (size_t)cn);
}

static void test_distill_online(void **state)
{
    (void)state;
    enum { N = 5, V = 37, CN = 8 };
    int16_t zc[N * V];
    float z[N * V], t[N * V], d[N * V], slice[N * CN], tbuf[N * CN];
    int tgt[N] = {0, 36, 7, 13, 20};
    double rows[2 * N], st[3 * N], rows2[2 * N], st2[3 * N];
    const float zs = 0.0213f, tau = 1.3f, alpha = 0.25f, dloss = 0.5f;
    for (int i = 0; i < N * V; i++) {
        zc[i] = (int16_t)(400.0 * sin(0.7 * i));
        z[i] = (float)zc[i] * zs;
        t[i] = (float)cos(0.29 * i) * (i % V < 9 ? 9.0f : 3.0f); /* the largest logits early: the max grows */
    }
    t[3 * V + 30] = 14.0f; /* and late in one row */
    teacher_src src = {t, N, V};
    for (int with_tgt = 0; with_tgt < 2; with_tgt++) {
        const int *tg = with_tgt ? tgt : NULL;
        const float a = with_tgt ? alpha : 0.0f;
        floe_distill_result w = floe_distill(d, z, t, tg, N, V, tau, a, dloss, rows);
        floe_distill_rows(st2, NULL, zc, zs, t, tg, N, V, tau, a, rows2);
        floe_distill_result r =
            floe_distill_rows_online(st, NULL, zc, zs, serve_cols, &src, tbuf, CN, tg, N, V, tau, a, rows);
        assert_true(fabs(r.loss - w.loss) <= 1e-12 * fabs(w.loss) && fabs(r.kl - w.kl) <= 1e-12 + 1e-10 * fabs(w.kl));
        assert_true(with_tgt ? r.ce == w.ce : isnan(r.ce));
        for (int i = 0; i < N; i++) {
            assert_true(fabs(st[3 * i] - st2[3 * i]) <= 1e-12 * fabs(st2[3 * i]) + 1e-14);
            assert_true(st[3 * i + 1] == st2[3 * i + 1]); /* the student's: the same bits */
            assert_true(with_tgt ? st[3 * i + 2] == st2[3 * i + 2] : isnan(st[3 * i + 2]));
        }
        for (int c0 = 0; c0 < V; c0 += CN) {
            int cn = V - c0 < CN ? V - c0 : CN;
            serve_cols(&src, c0, cn, tbuf);
            floe_distill_cols(slice, cn, c0, cn, NULL, zc, zs, tbuf, cn, tg, N, V, tau, a, dloss, st);
            for (int i = 0; i < N; i++)
                for (int j = 0; j < cn; j++)
                    assert_true(fabsf(slice[i * cn + j] - d[i * V + c0 + j]) <=
                                1e-6f * fabsf(d[i * V + c0 + j]) + 1e-9f);
        }
    }
}

/* ---- a tiny teacher ------------------------------------------------------------------------------ */

typedef struct {
    floe_model_config mc;
    floe_tokens train, val;
    char ckpt[4200];
} fixture;

/* A tiny FP model trained for a few steps on the generated corpus, saved as a checkpoint. */
static void fixture_make(fixture *fx, const char *dir)
{
    floe_err err;
    assert_int_equal(floe_train_data("generated:300", &fx->train, &fx->val, &err), 0);
    assert_int_equal(floe_model_config_builtin("tiny", &fx->mc, &err), 0);
    floe_train_cfg tc = floe_train_defaults(&fx->mc);
    tc.steps = 30;
    tc.batch = 4;
    tc.context = 32;
    tc.warmup = 5;
    floe_trainer tr;
    assert_int_equal(floe_trainer_init(&tr, &fx->mc, &tc, &err), 0);
    for (int i = 0; i < tc.steps; i++)
        assert_int_equal(floe_trainer_step(&tr, &fx->train, NULL, &err), 0);
    snprintf(fx->ckpt, sizeof fx->ckpt, "%s/teacher.safetensors", floe_test_tmpdir(dir));
    if (floe_trainer_save(&tr, fx->ckpt, NULL, 0, &err) != 0)
        fail_msg("%s", err.msg);
    floe_trainer_free(&tr);
}

static fixture FX; /* built once for the group: a trained tiny teacher */

static int group_setup(void **state)
{
    (void)state;
    fixture_make(&FX, "qat_teacher");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    floe_tokens_free(&FX.train);
    floe_tokens_free(&FX.val);
    return 0;
}

static floe_qat_cfg small_qat(const floe_model_config *mc, int steps)
{
    floe_qat_cfg c = floe_qat_defaults(mc);
    c.steps = steps;
    c.batch = 3;
    c.context = 24;
    c.warmup = 2;
    c.alpha = 0.0f; /* pure distillation: the KL is the whole loss */
    c.init.batches = 2;
    return c;
}

/* ---- the student's forward is the reference forward ------------------------------------------- */

typedef struct {
    int32_t *data[64];
    size_t n[64];
    int count;
} trace_log;

static void record(void *ctx, const char *name, int layer, const int32_t *data, size_t rows, size_t width)
{
    (void)name, (void)layer;
    trace_log *t = ctx;
    int i = t->count++;
    t->n[i] = rows * width;
    t->data[i] = malloc(sizeof(int32_t) * t->n[i]);
    memcpy(t->data[i], data, sizeof(int32_t) * t->n[i]);
}

typedef struct {
    trace_log *ref;
    int next;
    long diffs;
} cmp_ctx;

static void compare(void *ctx, const char *name, int layer, const int32_t *data, size_t rows, size_t width)
{
    cmp_ctx *c = ctx;
    int i = c->next++;
    assert_int_equal(rows * width, c->ref->n[i]);
    for (size_t j = 0; j < rows * width; j++)
        if (data[j] != c->ref->data[i][j] && c->diffs++ < 3)
            print_error("layer %d %s index %zu: student %d, reference %d\n", layer, name, j, data[j],
                        c->ref->data[i][j]);
}

static void check_student_is_reference(floe_qat_trainer *tr)
{
    floe_err err;
    floe_qat *s = &tr->s;
    const int B = tr->cfg.batch, T = tr->cfg.context;
    assert_int_equal(floe_qat_forward(s, tr->inp, B, T, &err), 0);
    int16_t *logits = malloc(sizeof(int16_t) * (size_t)T * s->cfg.vocab_size);
    for (int b = 0; b < B; b++) {
        trace_log ref = {0};
        assert_int_equal(floe_qref_forward(&s->qm, tr->inp + (size_t)b * T, T, logits, record, &ref, &err), 0);
        cmp_ctx c = {&ref, 0, 0};
        assert_int_equal(floe_qfwd_trace(&s->fwd, &s->qm, b, compare, &c, &err), 0);
        assert_int_equal(c.next, ref.count);
        if (c.diffs)
            fail_msg("sequence %d: %ld integers of the QAT forward differ from the reference forward", b, c.diffs);
        for (int i = 0; i < ref.count; i++)
            free(ref.data[i]);
    }
    free(logits);
}

static void test_forward_is_reference(void **state)
{
    (void)state;
    fixture fx = FX;
    static const floe_qconfig mixes[] = {{4, 8, 8, 8, 0, 0, {0}, {{0}}},
                                         {4, 4, 4, 8, 0, 0, {0}, {{0}}},
                                         {2, 8, 8, 4, 0, 0, {0}, {{0}}},
                                         {8, 8, 8, 8, 0, 0, {0}, {{0}}},
                                         {4, 8, 8, 8, FLOE_ACT_PER_TOKEN, 4, {0}, {{0}}},
                                         {4, 4, 4, 8, FLOE_ACT_PER_TOKEN, 4, {0}, {{0}}}};
    for (size_t k = 0; k < sizeof mixes / sizeof mixes[0]; k++) {
        floe_err err;
        floe_qat_trainer tr;
        floe_qat_cfg c = small_qat(&fx.mc, 4);
        if (floe_qat_trainer_init(&tr, fx.ckpt, &mixes[k], &c, &fx.train, &err) != 0)
            fail_msg("%s", err.msg);
        for (int i = 0; i < 3; i++) /* train a little: codes, steps and multipliers move */
            assert_int_equal(floe_qat_step(&tr, &fx.train, NULL, &err), 0);
        check_student_is_reference(&tr);
        floe_qat_trainer_free(&tr);
    }
}

/* At W8A8KV8 the STE gradient of the cross-entropy must point where the FP gradient points. */
static double cosine(const float *a, const float *b, size_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++)
        ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return ab / sqrt(aa * bb + 1e-300);
}

/* teacher: a checkpoint or model folder (NULL: the fixture's); size: also compare each tensor's
 * gradient norm (within 25%), which a multiplier missing from the backward would scale */
static void gradient_matches_fp_of(floe_qconfig q, const char *teacher, int size)
{
    fixture fx = FX;
    floe_err err;
    floe_qat_trainer tr;
    floe_qat_cfg c = small_qat(&fx.mc, 4);
    c.alpha = 1.0f; /* pure cross-entropy: comparable with the FP model's loss */
    if (floe_qat_trainer_init(&tr, teacher ? teacher : fx.ckpt, &q, &c, &fx.train, &err) != 0)
        fail_msg("%s", err.msg);
    const int V = tr.s.cfg.vocab_size;
    const int B = c.batch, T = c.context, N = B * T;
    int32_t *rows = malloc(sizeof(int32_t) * (size_t)B * (T + 1)), inp[72], tgt[72];
    assert_int_equal(floe_batch_sample(&fx.train, 77, 0, B, T, rows, &err), 0);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            inp[b * T + t] = rows[b * (T + 1) + t], tgt[b * T + t] = rows[b * (T + 1) + t + 1];
    /* FP gradient of the teacher (= the student's master weights), on a training model of its own:
     * the trainer's teacher is forward-only */
    floe_model fp, *m = &fp;
    assert_int_equal(floe_model_load(m, teacher ? teacher : fx.ckpt, B, T, &err), 0);
    floe_model_zero_grad(m);
    floe_model_forward(m, inp, tgt, B, T);
    assert_int_equal(floe_model_backward(m, 1.0f), 0);
    /* QAT gradient */
    floe_qat *s = &tr.s;
    assert_int_equal(floe_qat_forward(s, inp, B, T, &err), 0);
    double rb[2 * 72];
    float *dl = malloc(sizeof(float) * (size_t)N * V);
    floe_distill(dl, qat_logits(s, dl), floe_model_logits(m), tgt, N, V, 1.0f, 1.0f, 1.0f, rb); /* in place */
    floe_qat_zero_grad(s);
    floe_qat_backward(s, dl);
    for (size_t i = 0; i < s->table.count; i++) {
        const floe_param *p = &s->table.params[i];
        double cs = cosine(s->grads + p->offset, m->grads + p->offset, p->numel);
        if (cs < 0.9)
            fail_msg("%s: cosine of the QAT and FP gradients %.3f", p->name, cs);
        double r = sqrt(floe_sumsq(s->grads + p->offset, p->numel) / floe_sumsq(m->grads + p->offset, p->numel));
        if (size && !(r > 0.8 && r < 1.25))
            fail_msg("%s: the QAT gradient's norm is %.3f times the FP gradient's", p->name, r);
    }
    /* every learned step got a finite gradient, and most a non-zero one */
    size_t nz = 0;
    for (size_t i = 0; i < s->n_steps; i++) {
        assert_true(isfinite(s->dsteps[i]));
        nz += s->dsteps[i] != 0.0f;
    }
    assert_true(nz > s->n_steps / 2);
    free(dl);
    free(rows);
    floe_model_free(&fp);
    floe_qat_trainer_free(&tr);
}

static void test_gradient_matches_fp(void **state)
{
    (void)state;
    gradient_matches_fp_of((floe_qconfig){8, 8, 8, 8, 0, 0, {0}, {{0}}}, NULL, 0);
    gradient_matches_fp_of((floe_qconfig){8, 8, 8, 8, FLOE_ACT_PER_TOKEN, 4, {0}, {{0}}}, NULL, 0); /* per-token steps */
}

/* The Hugging Face fixtures (tests/fixtures/hf): a Granite, whose multipliers the integer forward
 * folds into its multipliers and embedding codes and the backward applies to the gradients, and a
 * Llama with llama3 RoPE (the backward rotates with the same angles as the integer tables). The QAT
 * forward is the reference forward, and its gradients are the FP model's in direction and size. */
static void test_hf_folders(void **state)
{
    (void)state;
    const char *src = getenv("FLOE_SOURCE_DIR");
    const char *names[2] = {"granite-tiny", "llama-tiny"};
    for (int i = 0; i < 2; i++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/tests/fixtures/hf/%s", src ? src : ".", names[i]);
        gradient_matches_fp_of((floe_qconfig){8, 8, 8, 8, 0, 0, {0}, {{0}}}, dir, 1);
        floe_err err;
        floe_qat_trainer tr;
        floe_qat_cfg c = small_qat(&FX.mc, 4);
        floe_qconfig q = {4, 8, 8, 8, 0, 0, {0}, {{0}}};
        if (floe_qat_trainer_init(&tr, dir, &q, &c, &FX.train, &err) != 0)
            fail_msg("%s: %s", names[i], err.msg);
        for (int k = 0; k < 2; k++)
            assert_int_equal(floe_qat_step(&tr, &FX.train, NULL, &err), 0);
        check_student_is_reference(&tr);
        floe_qat_trainer_free(&tr);
    }
}

static void test_learns(void **state)
{
    (void)state;
    fixture fx = FX;
    floe_err err;
    floe_qat_trainer tr;
    floe_qconfig q = {2, 4, 4, 8, 0, 0, {0}, {{0}}}; /* a hard setting from a poor start (RTN): much to recover */
    floe_qat_cfg c = small_qat(&fx.mc, 40);
    c.init.method = FLOE_QINIT_RTN;
    c.lr = 1e-3f;
    assert_int_equal(floe_qat_trainer_init(&tr, fx.ckpt, &q, &c, &fx.train, &err), 0);
    double first = 0, last = 0;
    for (int i = 0; i < c.steps; i++) {
        floe_qat_stats st;
        assert_int_equal(floe_qat_step(&tr, &fx.train, &st, &err), 0);
        if (i < 10)
            first += st.kl;
        if (i >= c.steps - 10)
            last += st.kl;
    }
    print_message("KL: first 10 steps %.5f, last 10 %.5f\n", first / 10, last / 10);
    if (!(last < 0.7 * first))
        fail_msg("KL over the first 10 steps %.4f, last 10 %.4f: QAT did not learn", first / 10, last / 10);
    floe_qat_trainer_free(&tr);
}

/* 4 + save + load + 4 = 8 straight, bit for bit; 1 thread = 2 threads; with accum micro-batches;
 * with the moments as bfloat16 or 8-bit (a float trainer refuses that checkpoint, naming the tensor). */
static void resume_and_threads(int accum, int moments)
{
    fixture fx = FX;
    floe_err err;
    floe_qconfig q = floe_qconfig_default();
    floe_qat_cfg c = small_qat(&fx.mc, 8);
    c.accum = accum;
    c.moments = moments;
    floe_qat_trainer a, b;
    omp_set_num_threads(2);
    assert_int_equal(floe_qat_trainer_init(&a, fx.ckpt, &q, &c, &fx.train, &err), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(floe_qat_step(&a, &fx.train, NULL, &err), 0);
    omp_set_num_threads(1);
    assert_int_equal(floe_qat_trainer_init(&b, fx.ckpt, &q, &c, &fx.train, &err), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(floe_qat_step(&b, &fx.train, NULL, &err), 0);
    char path[4300];
    snprintf(path, sizeof path, "%s/qat-4.safetensors", floe_test_tmpdir("qat_resume_ckpt"));
    assert_int_equal(floe_qat_save(&b, path, &err), 0);
    floe_qat_trainer_free(&b);
    omp_set_num_threads(2);
    assert_int_equal(floe_qat_trainer_init(&b, fx.ckpt, &q, &c, &fx.train, &err), 0);
    if (floe_qat_load(&b, path, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(b.step, 4);
    char teacher[4096];
    floe_qconfig qc;
    floe_qat_cfg cc;
    int step;
    assert_int_equal(floe_qat_ckpt_info(path, teacher, sizeof teacher, &qc, &cc, &step, &err), 0);
    assert_int_equal(cc.accum, accum);
    assert_int_equal(cc.moments, moments);
    if (moments != FLOE_MOMENTS_F32) {
        floe_qat_trainer f;
        floe_qat_cfg cf = c;
        cf.moments = moments == FLOE_MOMENTS_Q8 ? FLOE_MOMENTS_BF16 : FLOE_MOMENTS_F32;
        assert_int_equal(floe_qat_trainer_init(&f, fx.ckpt, &q, &cf, &fx.train, &err), 0);
        assert_int_equal(floe_qat_load(&f, path, &err), -1);
        assert_non_null(strstr(err.msg, "optimizer.m.params"));
        assert_non_null(strstr(err.msg, moments == FLOE_MOMENTS_Q8 ? "I8" : "BF16"));
        floe_qat_trainer_free(&f);
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(floe_qat_step(&b, &fx.train, NULL, &err), 0);
    assert_memory_equal(a.s.params, b.s.params, sizeof(float) * a.s.table.total);
    assert_memory_equal(a.s.steps, b.s.steps, sizeof(float) * a.s.n_steps);
    /* export = the trainer's own model */
    char qpath[4400];
    snprintf(qpath, sizeof qpath, "%s.qmodel", path);
    assert_int_equal(floe_qat_export(path, qpath, &err), 0);
    floe_qat_trainer_free(&a);
    floe_qat_trainer_free(&b);
}

static void test_resume_and_threads(void **state)
{
    (void)state;
    resume_and_threads(1, FLOE_MOMENTS_F32);
    resume_and_threads(2, FLOE_MOMENTS_F32);
    resume_and_threads(1, FLOE_MOMENTS_BF16);
    resume_and_threads(1, FLOE_MOMENTS_Q8);
}

/* Two micro-batches of one sequence, each's loss scaled by 1/2, sum to the gradient of the batch of
 * both (parameters and steps), within float rounding. */
static void test_accum_equals_batch(void **state)
{
    (void)state;
    fixture fx = FX;
    floe_err err;
    floe_qconfig q = floe_qconfig_default();
    floe_qat_cfg c = small_qat(&fx.mc, 4);
    c.batch = 2;
    floe_qat_trainer tr;
    assert_int_equal(floe_qat_trainer_init(&tr, fx.ckpt, &q, &c, &fx.train, &err), 0);
    const int T = c.context, V = fx.mc.vocab_size;
    int32_t rows[2 * 25], inp[48], tgt[48];
    assert_int_equal(floe_batch_sample(&fx.train, 5, 0, 2, T, rows, &err), 0);
    for (int b = 0; b < 2; b++)
        for (int t = 0; t < T; t++)
            inp[b * T + t] = rows[b * (T + 1) + t], tgt[b * T + t] = rows[b * (T + 1) + t + 1];
    floe_qat *s = &tr.s;
    floe_model *m = &tr.teacher;
    float *dl = malloc(sizeof(float) * (size_t)2 * T * V);
    double rb[4 * 48];
    size_t np = s->table.total, ns = s->n_steps;
    float *g = malloc(sizeof(float) * (np + ns));
    floe_qat_zero_grad(s);
    floe_model_forward(m, inp, NULL, 2, T);
    assert_int_equal(floe_qat_forward(s, inp, 2, T, &err), 0);
    double full = floe_distill(dl, qat_logits(s, dl), floe_model_logits(m), tgt, 2 * T, V, 1.0f, 0.5f, 1.0f, rb).loss;
    floe_qat_backward(s, dl);
    memcpy(g, s->grads, sizeof(float) * np);
    memcpy(g + np, s->dsteps, sizeof(float) * ns);
    floe_qat_zero_grad(s);
    double sum = 0;
    for (int j = 0; j < 2; j++) {
        floe_model_forward(m, inp + j * T, NULL, 1, T);
        assert_int_equal(floe_qat_forward(s, inp + j * T, 1, T, &err), 0);
        sum +=
            floe_distill(dl, qat_logits(s, dl), floe_model_logits(m), tgt + j * T, T, V, 1.0f, 0.5f, 0.5f, rb).loss / 2;
        floe_qat_backward(s, dl);
    }
    assert_true(fabs(sum - full) <= 1e-5 * fabs(full));
    double dmax = 0, gmax = 0;
    for (size_t i = 0; i < np + ns; i++) {
        float a = i < np ? s->grads[i] : s->dsteps[i - np];
        dmax = fmax(dmax, fabs((double)a - g[i]));
        gmax = fmax(gmax, fabs((double)g[i]));
    }
    if (!(dmax <= 1e-4 * gmax))
        fail_msg("accumulated gradient differs from the batch's by %g (largest %g)", dmax, gmax);
    free(dl);
    free(g);
    floe_qat_trainer_free(&tr);
}

/* E2E-QP (codes frozen, steps only): the codes and the parameters never change, the loss falls,
 * the forward is still the reference forward, and a resumed run is the same bits. */
static void test_frozen_codes(void **state)
{
    (void)state;
    fixture fx = FX;
    floe_err err;
    floe_qconfig q = {2, 8, 8, 8, 0, 0, {0}, {{0}}};
    floe_qat_cfg c = small_qat(&fx.mc, 30);
    c.method = FLOE_QAT_EFFICIENTQAT;
    c.alpha = 1.0f; /* E2E-QP's next-token loss */
    c.lr = 0.0f; /* as floe qat --method efficientqat: the steps follow the schedule alone */
    c.lr_steps = 5e-2f;
    c.init.method = FLOE_QINIT_RTN;
    floe_qat_trainer tr, rb;
    assert_int_equal(floe_qat_trainer_init(&tr, fx.ckpt, &q, &c, &fx.train, &err), 0);
    if (floe_qat_freeze(&tr.s, &err) != 0)
        fail_msg("%s", err.msg);
    size_t P = tr.s.table.total;
    float *p0 = malloc(sizeof(float) * P);
    memcpy(p0, tr.s.params, sizeof(float) * P);
    const floe_qlinear *q0 = &tr.s.qm.layers[0].gate;
    size_t nw = (size_t)q0->in * q0->out;
    int8_t *c0 = malloc(nw);
    memcpy(c0, q0->w, nw);
    float s0 = q0->s_w[0];
    floe_qfwd ev;
    floe_eval_result before, after;
    assert_int_equal(floe_qfwd_init(&ev, &fx.mc, c.batch, c.context, &err), 0);
    assert_int_equal(floe_qmodel_evaluate(&ev, &tr.s.qm, &fx.val, 8, &before, &err), 0);
    double first = 0, last = 0;
    char path[4300];
    snprintf(path, sizeof path, "%s/e2e-15.safetensors", floe_test_tmpdir("qat_frozen"));
    for (int i = 0; i < c.steps; i++) {
        floe_qat_stats st;
        assert_int_equal(floe_qat_step(&tr, &fx.train, &st, &err), 0);
        first += i < 10 ? st.ce : 0;
        last += i >= c.steps - 10 ? st.ce : 0;
        if (i == 14)
            assert_int_equal(floe_qat_save(&tr, path, &err), 0);
    }
    print_message("E2E-QP CE: first 10 steps %.5f, last 10 %.5f\n", first / 10, last / 10);
    assert_memory_equal(tr.s.params, p0, sizeof(float) * P);
    assert_memory_equal(q0->w, c0, nw);
    assert_true(q0->s_w[0] != s0); /* the steps moved */
    assert_int_equal(floe_qat_quantize(&tr.s, &err), 0);
    assert_int_equal(floe_qmodel_evaluate(&ev, &tr.s.qm, &fx.val, 8, &after, &err), 0);
    floe_qfwd_free(&ev);
    print_message("E2E-QP validation loss %.5f -> %.5f\n", before.loss, after.loss);
    if (!(after.loss < before.loss - 0.005))
        fail_msg("E2E-QP: validation loss %.4f -> %.4f: did not learn", before.loss, after.loss);
    check_student_is_reference(&tr);
    /* resume from step 15: same codes (rebuilt from the frozen steps), same steps at the end */
    assert_int_equal(floe_qat_trainer_init(&rb, fx.ckpt, &q, &c, &fx.train, &err), 0);
    if (floe_qat_load(&rb, path, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(rb.s.frozen);
    for (int i = 15; i < c.steps; i++)
        assert_int_equal(floe_qat_step(&rb, &fx.train, NULL, &err), 0);
    assert_memory_equal(rb.s.steps, tr.s.steps, sizeof(float) * tr.s.n_steps);
    assert_memory_equal(rb.s.qm.layers[0].gate.w, c0, nw);
    /* the method travels with the checkpoint */
    char teacher[4096];
    floe_qconfig qc;
    floe_qat_cfg cc;
    int step;
    assert_int_equal(floe_qat_ckpt_info(path, teacher, sizeof teacher, &qc, &cc, &step, &err), 0);
    assert_int_equal(cc.method, FLOE_QAT_EFFICIENTQAT);
    free(p0);
    free(c0);
    floe_qat_trainer_free(&tr);
    floe_qat_trainer_free(&rb);
}

static void test_refusals(void **state)
{
    (void)state;
    fixture fx = FX;
    floe_err err;
    floe_qat_trainer tr;
    floe_qat_cfg c = small_qat(&fx.mc, 4);
    floe_qconfig bad = {3, 8, 8, 8, 0, 0, {0}, {{0}}};
    assert_int_not_equal(floe_qat_trainer_init(&tr, fx.ckpt, &bad, &c, &fx.train, &err), 0);
    assert_non_null(strstr(err.msg, "weight bits 3"));
    bad = (floe_qconfig){4, 6, 8, 8, 0, 0, {0}, {{0}}};
    assert_int_not_equal(floe_qat_trainer_init(&tr, fx.ckpt, &bad, &c, &fx.train, &err), 0);
    assert_non_null(strstr(err.msg, "activation bits 6"));
    /* a teacher whose shapes are not the student's config */
    floe_model_config other = fx.mc;
    other.ffn_dim += 8;
    assert_int_not_equal(floe_qat_check_teacher(&other, &fx.mc, &err), 0);
    assert_non_null(strstr(err.msg, "ffn_dim"));
    /* a missing teacher, and a QAT checkpoint of another teacher */
    floe_qconfig q = floe_qconfig_default();
    assert_int_not_equal(floe_qat_trainer_init(&tr, "/nonexistent/t.safetensors", &q, &c, &fx.train, &err), 0);
    assert_non_null(strstr(err.msg, "nonexistent"));
    assert_int_equal(floe_qat_trainer_init(&tr, fx.ckpt, &q, &c, &fx.train, &err), 0);
    char path[4300];
    snprintf(path, sizeof path, "%s/q.safetensors", floe_test_tmpdir("qat_refuse_ckpt"));
    assert_int_equal(floe_qat_save(&tr, path, &err), 0);
    tr.teacher_digest ^= 1;
    assert_int_not_equal(floe_qat_load(&tr, path, &err), 0);
    assert_non_null(strstr(err.msg, "another teacher"));
    /* exporting a file that is no QAT checkpoint */
    assert_int_not_equal(floe_qat_export(fx.ckpt, path, &err), 0);
    assert_non_null(strstr(err.msg, "not a QAT checkpoint"));
    floe_qat_trainer_free(&tr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lsq),
        cmocka_unit_test(test_lsq_per_token),
        cmocka_unit_test(test_distill_gradient),
        cmocka_unit_test(test_distill_slices),
        cmocka_unit_test(test_distill_online),
        cmocka_unit_test(test_forward_is_reference),
        cmocka_unit_test(test_gradient_matches_fp),
        cmocka_unit_test(test_hf_folders),
        cmocka_unit_test(test_learns),
        cmocka_unit_test(test_resume_and_threads),
        cmocka_unit_test(test_accum_equals_batch),
        cmocka_unit_test(test_frozen_codes),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
