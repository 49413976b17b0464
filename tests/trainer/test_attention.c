#include "tests/trainer/trainer_test.h"

#include <cblas.h>
#include <omp.h>

#include "trainer/attention.h"
#include "trainer/vec.h"

typedef struct {
    int B, T, NH, NKV, hd;
    double *q, *k, *v, *out;
    const float *lw;
} at_ctx;

static void ref_forward(double *out, const double *q, const double *k, const double *v, int B, int T, int NH,
                        int NKV, int hd)
{
    int G = NH / NKV;
    double *s = malloc((size_t)T * sizeof *s);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const double *qt = q + (((size_t)b * T + t) * NH + h) * hd;
                double m = -INFINITY, sum = 0;
                for (int u = 0; u <= t; u++) {
                    const double *ku = k + (((size_t)b * T + u) * NKV + h / G) * hd;
                    double d = 0;
                    for (int j = 0; j < hd; j++)
                        d += qt[j] * ku[j];
                    s[u] = d / sqrt((double)hd);
                    m = fmax(m, s[u]);
                }
                for (int u = 0; u <= t; u++)
                    sum += (s[u] = exp(s[u] - m));
                double *o = out + (((size_t)b * T + t) * NH + h) * hd;
                for (int j = 0; j < hd; j++) {
                    double acc = 0;
                    for (int u = 0; u <= t; u++)
                        acc += s[u] / sum * v[(((size_t)b * T + u) * NKV + h / G) * hd + j];
                    o[j] = acc;
                }
            }
    free(s);
}

static double at_loss(void *p)
{
    at_ctx *c = p;
    ref_forward(c->out, c->q, c->k, c->v, c->B, c->T, c->NH, c->NKV, c->hd);
    return dot_d(c->out, c->lw, (size_t)c->B * c->T * c->NH * c->hd);
}

typedef struct {
    int B, T, NH, NKV, hd;
    size_t nq, nk, na;
    float *q, *k, *v, *out, *att, *dout, *dq, *dk, *dv, *dq0, *dk0, *dv0, *scratch;
} at_bufs;

static void bufs_init(at_bufs *a, int B, int T, int NH, int NKV, int hd, uint64_t seed)
{
    floe_rng r;
    floe_rng_seed(&r, seed);
    *a = (at_bufs){.B = B, .T = T, .NH = NH, .NKV = NKV, .hd = hd};
    a->nq = (size_t)B * T * NH * hd;
    a->nk = (size_t)B * T * NKV * hd;
    a->na = floe_attention_stats_floats(B, T, NH);
    a->q = falloc(a->nq), a->k = falloc(a->nk), a->v = falloc(a->nk), a->out = falloc(a->nq);
    a->att = falloc(a->na), a->scratch = falloc(floe_attention_scratch_floats(B, T, NH)), a->dout = falloc(a->nq);
    a->dq = falloc(a->nq), a->dk = falloc(a->nk), a->dv = falloc(a->nk);
    a->dq0 = falloc(a->nq), a->dk0 = falloc(a->nk), a->dv0 = falloc(a->nk);
    rand_fill(a->q, a->nq, &r, 1.0);
    rand_fill(a->k, a->nk, &r, 1.0);
    rand_fill(a->v, a->nk, &r, 1.0);
    rand_fill(a->dout, a->nq, &r, 1.0);
    rand_fill(a->dq0, a->nq, &r, 0.3);
    rand_fill(a->dk0, a->nk, &r, 0.3);
    rand_fill(a->dv0, a->nk, &r, 0.3);
}

static void bufs_run(at_bufs *a)
{
    memcpy(a->dq, a->dq0, a->nq * sizeof(float));
    memcpy(a->dk, a->dk0, a->nk * sizeof(float));
    memcpy(a->dv, a->dv0, a->nk * sizeof(float));
    float scale = 1.0f / sqrtf((float)a->hd);
    floe_attention_forward(a->out, a->att, a->scratch, a->q, a->k, a->v, a->B, a->T, a->NH, a->NKV, a->hd, scale);
    floe_attention_backward(a->dq, a->dk, a->dv, a->scratch, a->dout, a->att, a->q, a->k, a->v, a->B, a->T, a->NH,
                            a->NKV, a->hd, scale);
}

static void bufs_free(at_bufs *a)
{
    float *all[] = {a->q, a->k, a->v, a->out, a->att, a->scratch, a->dout, a->dq, a->dk, a->dv, a->dq0, a->dk0,
                    a->dv0};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        free(all[i]);
}

static void check(int B, int T, int NH, int NKV, int hd)
{
    at_bufs a;
    bufs_init(&a, B, T, NH, NKV, hd, (uint64_t)(B * 7 + T * 5 + NH * 3 + NKV + hd));
    bufs_run(&a);
    at_ctx c = {B, T, NH, NKV, hd, to_double(a.q, a.nq), to_double(a.k, a.nk), to_double(a.v, a.nk),
                dalloc(a.nq), a.dout};
    ref_forward(c.out, c.q, c.k, c.v, B, T, NH, NKV, hd);
    assert_close("out", a.out, c.out, a.nq, FLOE_RTOL);
    /* Saved row stats: 1/sum(exp(S - m)) lies in [1/(t+1), 1] (the max term is exp(0) = 1). */
    for (size_t row = 0; row < (size_t)B * NH * T; row++) {
        int t = (int)(row % T);
        float inv = a.att[2 * row + 1];
        assert_true(inv <= 1.0f && inv >= 1.0f / (float)(t + 1) * (1.0f - 1e-6f));
    }
    assert_grad("dq", a.dq, a.dq0, c.q, a.nq, at_loss, &c);
    assert_grad("dk", a.dk, a.dk0, c.k, a.nk, at_loss, &c);
    assert_grad("dv", a.dv, a.dv0, c.v, a.nk, at_loss, &c);
    free(c.q), free(c.k), free(c.v), free(c.out);
    bufs_free(&a);
}

static void test_mha(void **state)
{
    (void)state;
    check(2, 5, 2, 2, 4);
}

static void test_gqa(void **state)
{
    (void)state;
    check(2, 6, 4, 2, 8);
    check(1, 4, 3, 1, 2); /* multi-query */
}

static void test_parallel_shape(void **state)
{
    (void)state;
    check(3, 33, 4, 2, 16);
}

/* Changing the token at position t0 (its k, v and q) leaves outputs before t0 unchanged, bit for bit,
 * and their gradients too when dout at positions >= t0 is zero. */
static void test_causality(void **state)
{
    (void)state;
    const int B = 2, T = 9, NH = 4, NKV = 2, hd = 8, t0 = 5;
    at_bufs a, b;
    bufs_init(&a, B, T, NH, NKV, hd, 11);
    bufs_init(&b, B, T, NH, NKV, hd, 11);
    for (int bb = 0; bb < B; bb++)
        for (int t = t0; t < T; t++) {
            for (int j = 0; j < NH * hd; j++) {
                b.q[((size_t)bb * T + t) * NH * hd + j] += 1.5f;
                a.dout[((size_t)bb * T + t) * NH * hd + j] = 0;
                b.dout[((size_t)bb * T + t) * NH * hd + j] = 0;
            }
            for (int j = 0; j < NKV * hd; j++) {
                b.k[((size_t)bb * T + t) * NKV * hd + j] -= 2.0f;
                b.v[((size_t)bb * T + t) * NKV * hd + j] *= 3.0f;
            }
        }
    bufs_run(&a);
    bufs_run(&b);
    for (int bb = 0; bb < B; bb++) {
        size_t oq = (size_t)bb * T * NH * hd, ok = (size_t)bb * T * NKV * hd;
        assert_memory_equal(a.out + oq, b.out + oq, (size_t)t0 * NH * hd * sizeof(float));
        assert_memory_equal(a.dq + oq, b.dq + oq, (size_t)t0 * NH * hd * sizeof(float));
        assert_memory_equal(a.dk + ok, b.dk + ok, (size_t)t0 * NKV * hd * sizeof(float));
        assert_memory_equal(a.dv + ok, b.dv + ok, (size_t)t0 * NKV * hd * sizeof(float));
    }
    bufs_free(&a);
    bufs_free(&b);
}

/* GQA equals MHA on KV heads repeated G times (repeat_kv); GQA's dk, dv are the sums of MHA's over
 * each group. */
static void test_gqa_equals_repeated_mha(void **state)
{
    (void)state;
    const int B = 2, T = 7, NH = 6, NKV = 2, hd = 4, G = NH / NKV;
    at_bufs g, m;
    bufs_init(&g, B, T, NH, NKV, hd, 5);
    bufs_init(&m, B, T, NH, NH, hd, 6);
    memcpy(m.q, g.q, g.nq * sizeof(float));
    memcpy(m.dout, g.dout, g.nq * sizeof(float));
    memset(g.dq0, 0, g.nq * sizeof(float)), memset(g.dk0, 0, g.nk * sizeof(float));
    memset(g.dv0, 0, g.nk * sizeof(float));
    memset(m.dq0, 0, m.nq * sizeof(float)), memset(m.dk0, 0, m.nk * sizeof(float));
    memset(m.dv0, 0, m.nk * sizeof(float));
    for (size_t bt = 0; bt < (size_t)B * T; bt++)
        for (int h = 0; h < NH; h++)
            for (int j = 0; j < hd; j++) {
                m.k[(bt * NH + h) * hd + j] = g.k[(bt * NKV + h / G) * hd + j];
                m.v[(bt * NH + h) * hd + j] = g.v[(bt * NKV + h / G) * hd + j];
            }
    bufs_run(&g);
    bufs_run(&m);
    assert_memory_equal(g.out, m.out, g.nq * sizeof(float));
    assert_memory_equal(g.att, m.att, g.na * sizeof(float));
    assert_memory_equal(g.dq, m.dq, g.nq * sizeof(float));
    double *sk = dalloc(g.nk), *sv = dalloc(g.nk);
    for (size_t bt = 0; bt < (size_t)B * T; bt++)
        for (int h = 0; h < NH; h++)
            for (int j = 0; j < hd; j++) {
                sk[(bt * NKV + h / G) * hd + j] += m.dk[(bt * NH + h) * hd + j];
                sv[(bt * NKV + h / G) * hd + j] += m.dv[(bt * NH + h) * hd + j];
            }
    assert_close("dk", g.dk, sk, g.nk, 1e-6);
    assert_close("dv", g.dv, sv, g.nk, 1e-6);
    free(sk), free(sv);
    bufs_free(&g);
    bufs_free(&m);
}

/* The recomputing backward equals the backward from given probabilities (P rebuilt from the saved row
 * stats with the forward's 32 x 32 score tiles, handed over row by row) up to float rounding: the
 * given path's dout v^T is one sgemm per row block, whose rounding may differ from the tiles'. */
typedef struct {
    const float *P;
    int NH, T;
} given_ctx;

/* Row t of the stored probabilities; tmp gets NaNs: the backward must not read its scratch back. */
static void given_row(void *ctx, int b, int h, int t, float *row, float *tmp)
{
    const given_ctx *g = ctx;
    memcpy(row, g->P + (((size_t)b * g->NH + h) * g->T + t) * g->T, sizeof(float) * (size_t)(t + 1));
    for (int s = 0; s < g->T; s++)
        tmp[s] = NAN;
}

static void test_recompute_equals_stored(void **state)
{
    (void)state;
    const int B = 2, T = 70, NH = 4, NKV = 2, hd = 16, G = NH / NKV, ldq = NH * hd, ldk = NKV * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    at_bufs a;
    bufs_init(&a, B, T, NH, NKV, hd, 23);
    bufs_run(&a);
    float *P = falloc((size_t)B * NH * T * T), *scr = falloc(2 * (size_t)T * T);
    float *dq = falloc(a.nq), *dk = falloc(a.nk), *dv = falloc(a.nk);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            float *Ph = P + ((size_t)b * NH + h) * T * T;
            const float *st = a.att + ((size_t)b * NH + h) * 2 * T;
            for (int i = 0; i < T; i += 32)
                for (int j = 0; j <= i; j += 32)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T - i < 32 ? T - i : 32,
                                T - j < 32 ? T - j : 32, hd, scale,
                                a.q + (size_t)b * T * ldq + (size_t)i * ldq + h * hd, ldq,
                                a.k + (size_t)b * T * ldk + (size_t)j * ldk + (h / G) * hd, ldk, 0.0f,
                                Ph + (size_t)i * T + j, T);
            for (int t = 0; t < T; t++)
                for (int s = 0; s < T; s++)
                    Ph[(size_t)t * T + s] =
                        s <= t ? floe_expf(Ph[(size_t)t * T + s] - st[2 * t]) * st[2 * t + 1] : 0.0f;
        }
    memcpy(dq, a.dq0, a.nq * sizeof(float));
    memcpy(dk, a.dk0, a.nk * sizeof(float));
    memcpy(dv, a.dv0, a.nk * sizeof(float));
    given_ctx gc = {P, NH, T};
    floe_attention_backward_given(dq, dk, dv, scr, a.dout, given_row, &gc, a.q, a.k, a.v, B, T, NH, NKV, hd, scale);
    const float *got[] = {a.dq, a.dk, a.dv}, *want[] = {dq, dk, dv};
    size_t n[] = {a.nq, a.nk, a.nk};
    for (int x = 0; x < 3; x++)
        for (size_t i = 0; i < n[x]; i++)
            assert_true(fabsf(got[x][i] - want[x][i]) <= 1e-5f * (1.0f + fabsf(want[x][i])));
    /* the probabilities-given backward: the same bits on 1 and 2 threads */
    float *dq1 = falloc(a.nq), *dk1 = falloc(a.nk), *dv1 = falloc(a.nk);
    memcpy(dq1, a.dq0, a.nq * sizeof(float));
    memcpy(dk1, a.dk0, a.nk * sizeof(float));
    memcpy(dv1, a.dv0, a.nk * sizeof(float));
    int nt = omp_get_max_threads();
    omp_set_num_threads(nt > 1 ? 1 : 2);
    floe_attention_backward_given(dq1, dk1, dv1, scr, a.dout, given_row, &gc, a.q, a.k, a.v, B, T, NH, NKV, hd, scale);
    omp_set_num_threads(nt);
    assert_memory_equal(dq, dq1, a.nq * sizeof(float));
    assert_memory_equal(dk, dk1, a.nk * sizeof(float));
    assert_memory_equal(dv, dv1, a.nk * sizeof(float));
    free(dq1), free(dk1), free(dv1);
    free(P), free(scr), free(dq), free(dk), free(dv);
    bufs_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mha),
        cmocka_unit_test(test_gqa),
        cmocka_unit_test(test_parallel_shape),
        cmocka_unit_test(test_causality),
        cmocka_unit_test(test_gqa_equals_repeated_mha),
        cmocka_unit_test(test_recompute_equals_stored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
