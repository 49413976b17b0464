/* Determinism: every layer's forward and backward give the same bits on repeated runs and with 1 or 2
 * OpenMP threads (docs/trainer.md lists the guarantee per layer). Shapes are config S's widths with
 * a short batch (uneven 32-row sgemm splits) and at config S's full batch (8 x 128). */
#include "tests/trainer/trainer_test.h"

#include <omp.h>

#include "trainer/adamw.h"
#include "trainer/attention.h"
#include "trainer/crossentropy.h"
#include "trainer/embedding.h"
#include "trainer/grad_clip.h"
#include "trainer/matmul.h"
#include "trainer/rmsnorm.h"
#include "trainer/rope.h"
#include "trainer/swiglu.h"

enum { C = 256, NH = 4, NKV = 2, HD = 64, F = 688, V = 256, NMAX = 8 * 128 };

/* Everything one run produces, in one flat buffer so runs compare with one memcmp. */
typedef struct {
    float *buf;
    size_t n, used;
} arena;

static float *take(arena *a, size_t n)
{
    float *p = a->buf + a->used;
    a->used += n;
    assert_true(a->used <= a->n);
    return p;
}

static void run_all(arena *out, int threads, int B, int T)
{
    const int N = B * T;
    omp_set_num_threads(threads);
    out->used = 0;
    memset(out->buf, 0, out->n * sizeof(float));
    floe_rng r;
    floe_rng_seed(&r, 2024);
    /* inputs (regenerated identically every run) */
    float *x = falloc((size_t)N * C), *w = falloc((size_t)F * C), *g = falloc(C), *dy = falloc((size_t)N * F);
    float *q = falloc((size_t)N * NH * HD), *k = falloc((size_t)N * NKV * HD), *v = falloc((size_t)N * NKV * HD);
    float *logits = falloc((size_t)N * V), *wte = falloc((size_t)V * C);
    int tok[NMAX];
    rand_fill(x, (size_t)N * C, &r, 1.0);
    rand_fill(w, (size_t)F * C, &r, 0.1);
    rand_fill(g, C, &r, 1.0);
    rand_fill(dy, (size_t)N * F, &r, 1.0);
    rand_fill(q, (size_t)N * NH * HD, &r, 1.0);
    rand_fill(k, (size_t)N * NKV * HD, &r, 1.0);
    rand_fill(v, (size_t)N * NKV * HD, &r, 1.0);
    rand_fill(logits, (size_t)N * V, &r, 3.0);
    rand_fill(wte, (size_t)V * C, &r, 1.0);
    for (int i = 0; i < N; i++)
        tok[i] = (int)floe_rng_below(&r, 40); /* many repeats */

    /* matmul */
    float *o = take(out, (size_t)N * F), *dx = take(out, (size_t)N * C), *dw = take(out, (size_t)F * C);
    floe_matmul_forward(o, x, w, N, C, F);
    floe_matmul_backward(dx, dw, dy, x, w, N, C, F);
    /* embedding */
    float *e = take(out, (size_t)N * C), *dwte = take(out, (size_t)V * C);
    floe_embedding_forward(e, tok, wte, N, C);
    floe_embedding_backward(dwte, x, tok, N, C);
    /* rmsnorm */
    float *y = take(out, (size_t)N * C), *rs = take(out, N), *dxn = take(out, (size_t)N * C), *dg = take(out, C);
    floe_rmsnorm_forward(y, rs, x, g, N, C);
    floe_rmsnorm_backward(dxn, dg, dy, x, g, rs, N, C);
    /* rope (on copies of q, k) */
    float *cs = falloc((size_t)T * HD / 2), *sn = falloc((size_t)T * HD / 2);
    floe_rope_tables(cs, sn, T, HD, FLOE_ROPE_THETA);
    float *qr = take(out, (size_t)N * NH * HD), *kr = take(out, (size_t)N * NKV * HD);
    memcpy(qr, q, (size_t)N * NH * HD * sizeof(float));
    memcpy(kr, k, (size_t)N * NKV * HD * sizeof(float));
    floe_rope_forward(qr, cs, sn, B, T, NH, HD);
    floe_rope_forward(kr, cs, sn, B, T, NKV, HD);
    /* attention */
    float *ao = take(out, (size_t)N * NH * HD), *att = take(out, floe_attention_stats_floats(B, T, NH));
    float *scratch = falloc(floe_attention_scratch_floats(B, T, NH));
    float *dq = take(out, (size_t)N * NH * HD), *dk = take(out, (size_t)N * NKV * HD);
    float *dv = take(out, (size_t)N * NKV * HD);
    floe_attention_forward(ao, att, scratch, qr, kr, v, B, T, NH, NKV, HD, 1.0f / sqrtf((float)HD));
    floe_attention_backward(dq, dk, dv, scratch, dy, att, qr, kr, v, B, T, NH, NKV, HD, 1.0f / sqrtf((float)HD));
    floe_rope_backward(dq, cs, sn, B, T, NH, HD);
    /* swiglu (gate = the matmul output, up = dy) */
    float *h = take(out, (size_t)N * F), *dgate = take(out, (size_t)N * F), *dup = take(out, (size_t)N * F);
    floe_swiglu_forward(h, o, dy, (size_t)N * F);
    floe_swiglu_backward(dgate, dup, h, o, dy, (size_t)N * F);
    /* cross-entropy */
    float *losses = take(out, N), *probs = take(out, (size_t)N * V), *dl = take(out, (size_t)N * V);
    float *loss = take(out, 1);
    int tg[NMAX];
    for (int i = 0; i < N; i++)
        tg[i] = (tok[i] * 7) % V;
    *loss = floe_crossentropy_forward(losses, probs, logits, tg, N, V);
    floe_crossentropy_backward(dl, probs, tg, N, V, 1.0f);
    /* clipping + AdamW on the matmul weight */
    float *norm = take(out, 1), *wp = take(out, (size_t)F * C), *m = take(out, (size_t)F * C);
    float *vv = take(out, (size_t)F * C);
    *norm = (float)floe_grad_clip(dw, (size_t)F * C, 1.0f);
    memcpy(wp, w, (size_t)F * C * sizeof(float));
    floe_adamw_update(wp, dw, m, vv, (size_t)F * C, 1, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f);

    free(x), free(w), free(g), free(dy), free(q), free(k), free(v), free(logits), free(wte), free(cs), free(sn);
    free(scratch);
}

/* full: also a repeated 2-thread run and an uneven 3-thread split (the small shape); the config S
 * shape compares 2 threads with 1 only, to keep the sanitizer build quick. */
static void check_shape(int B, int T, int full)
{
    const size_t n = 48u << 20;
    arena a = {falloc(n), n, 0}, b = {falloc(n), n, 0};
    int saved = omp_get_max_threads();
    run_all(&a, 2, B, T);
    run_all(&b, 1, B, T);
    assert_int_equal(a.used, b.used);
    assert_memory_equal(a.buf, b.buf, a.used * sizeof(float));
    if (full) {
        run_all(&b, 2, B, T);
        assert_memory_equal(a.buf, b.buf, a.used * sizeof(float));
        run_all(&b, 3, B, T);
        assert_memory_equal(a.buf, b.buf, a.used * sizeof(float));
    }
    omp_set_num_threads(saved);
    /* A digest to compare builds by hand (compilers, -O levels, -march): see docs/trainer.md. */
    uint64_t h = 1469598103934665603ull;
    const unsigned char *p = (const unsigned char *)a.buf;
    for (size_t i = 0; i < a.used * sizeof(float); i++)
        h = (h ^ p[i]) * 1099511628211ull;
    printf("trainer layers digest (B %d, T %d): %016llx\n", B, T, (unsigned long long)h);
    free(a.buf), free(b.buf);
}

static void test_small_batch(void **state)
{
    (void)state;
    check_shape(2, 72, 1);
}

static void test_config_s(void **state)
{
    (void)state;
    check_shape(8, 128, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_batch),
        cmocka_unit_test(test_config_s),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
