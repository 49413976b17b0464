#include "tests/trainer/trainer_test.h"

#include "trainer/rope.h"

typedef struct {
    int B, T, NH, hd;
    double *x, *out;
    const float *lw;
} rope_ctx;

/* Hugging Face: q * cos + rotate_half(q) * sin, with cos/sin repeated over both halves. */
static void ref_forward(double *out, const double *x, int B, int T, int NH, int hd)
{
    int h = hd / 2;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int head = 0; head < NH; head++) {
                const double *a = x + (((size_t)b * T + t) * NH + head) * hd;
                double *o = out + (((size_t)b * T + t) * NH + head) * hd;
                for (int j = 0; j < hd; j++) {
                    double ang = t * pow(FLOE_ROPE_THETA, -2.0 * (j % h) / hd);
                    double rot = j < h ? -a[j + h] : a[j - h];
                    o[j] = a[j] * cos(ang) + rot * sin(ang);
                }
            }
}

static double rope_loss(void *p)
{
    rope_ctx *c = p;
    ref_forward(c->out, c->x, c->B, c->T, c->NH, c->hd);
    return dot_d(c->out, c->lw, (size_t)c->B * c->T * c->NH * c->hd);
}

static void check(int B, int T, int NH, int hd)
{
    floe_rng r;
    floe_rng_seed(&r, (uint64_t)(B + T + NH + hd));
    size_t n = (size_t)B * T * NH * hd, nt = (size_t)T * hd / 2;
    float *cs = falloc(nt), *sn = falloc(nt), *x = falloc(n), *y = falloc(n), *dy = falloc(n);
    floe_rope_tables(cs, sn, T, hd, FLOE_ROPE_THETA);
    rand_fill(x, n, &r, 1.0);
    rand_fill(dy, n, &r, 1.0);
    memcpy(y, x, n * sizeof(float));
    floe_rope_forward(y, cs, sn, B, T, NH, hd);
    rope_ctx c = {B, T, NH, hd, to_double(x, n), dalloc(n), dy};
    ref_forward(c.out, c.x, B, T, NH, hd);
    assert_close("out", y, c.out, n, 1e-5);
    /* Position 0 is the identity. */
    assert_memory_equal(y, x, (size_t)NH * hd * sizeof(float));
    float *dx = falloc(n);
    memcpy(dx, dy, n * sizeof(float));
    floe_rope_backward(dx, cs, sn, B, T, NH, hd);
    assert_grad("dx", dx, NULL, c.x, n, rope_loss, &c);
    /* A rotation: backward of forward gives the input back. */
    floe_rope_backward(y, cs, sn, B, T, NH, hd);
    double *xd = to_double(x, n);
    assert_close("inverse", y, xd, n, 1e-6);
    free(xd), free(c.x), free(c.out), free(cs), free(sn), free(x), free(y), free(dy), free(dx);
}

static void test_small(void **state)
{
    (void)state;
    check(2, 5, 3, 8);
    check(1, 3, 1, 2);
}

static void test_long_positions(void **state)
{
    (void)state;
    /* Angles up to 127 rad: the double-computed tables keep float accuracy. */
    check(2, 128, 2, 16);
}

/* Llama 3.1's rescaled frequencies against values computed from transformers' formula
 * (_compute_llama3_parameters) in Python (math, float64): the llama-tiny fixture's config (one
 * smoothed band, the rest divided by factor) and one with all three bands. */
static void test_llama3(void **state)
{
    (void)state;
    static const double fixture[8] = {0.57605640109551159,    0.02424034309358572,    0.0047007538663579916,
                                      0.00091158309215213856, 0.00017677669529663688, 3.4281021959525912e-05,
                                      6.6478698711812362e-06, 1.2891731721515574e-06};
    static const double bands[4] = {1.0, 0.025464790894703257, 0.0025, 0.00025};
    double got[8];
    floe_rope_llama3_inv_freq(got, 16, 500000.0, 8.0, 1.0, 4.0, 16);
    for (int i = 0; i < 8; i++)
        if (!(fabs(got[i] - fixture[i]) <= 1e-14 * fixture[i]))
            fail_msg("fixture frequency %d: %.17g, expected %.17g", i, got[i], fixture[i]);
    floe_rope_llama3_inv_freq(got, 8, 10000.0, 4.0, 1.0, 4.0, 64);
    for (int i = 0; i < 4; i++)
        if (!(fabs(got[i] - bands[i]) <= 1e-14 * bands[i]))
            fail_msg("frequency %d: %.17g, expected %.17g", i, got[i], bands[i]);

    /* the tables of a config: default RoPE is floe_rope_tables bit for bit; llama3 uses the frequencies */
    floe_model_config c;
    memset(&c, 0, sizeof c);
    c.head_dim = 8;
    c.rope_theta = 10000.0;
    enum { T = 40, H = 4 };
    float c1[T * H], s1[T * H], c2[T * H], s2[T * H];
    floe_rope_tables(c1, s1, T, 8, 10000.0);
    floe_rope_tables_cfg(c2, s2, T, &c);
    assert_memory_equal(c1, c2, sizeof c1);
    assert_memory_equal(s1, s2, sizeof s1);
    c.rope_scaling = FLOE_ROPE_LLAMA3;
    c.rope_factor = 4.0;
    c.rope_low_freq_factor = 1.0;
    c.rope_high_freq_factor = 4.0;
    c.rope_original_context = 64;
    floe_rope_tables_cfg(c2, s2, T, &c);
    for (int p = 0; p < T; p++)
        for (int i = 0; i < H; i++) {
            assert_true(fabs(c2[p * H + i] - cos(p * bands[i])) < 1e-7);
            assert_true(fabs(s2[p * H + i] - sin(p * bands[i])) < 1e-7);
        }
    assert_true(fabs(c2[39 * H + 1] - c1[39 * H + 1]) > 0.1); /* the scaling changed the mid band */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small),
        cmocka_unit_test(test_long_positions),
        cmocka_unit_test(test_llama3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
