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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small),
        cmocka_unit_test(test_long_positions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
