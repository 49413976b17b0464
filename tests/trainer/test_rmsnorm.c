#include "tests/trainer/trainer_test.h"

#include "trainer/rmsnorm.h"

typedef struct {
    int N, C;
    double *inp, *g, *out;
    const float *lw;
} rn_ctx;

static void ref_forward(double *out, const double *inp, const double *g, int N, int C)
{
    for (int i = 0; i < N; i++) {
        double ss = 0;
        for (int c = 0; c < C; c++)
            ss += inp[i * C + c] * inp[i * C + c];
        double r = 1.0 / sqrt(ss / C + (double)FLOE_RMSNORM_EPS);
        for (int c = 0; c < C; c++)
            out[i * C + c] = inp[i * C + c] * r * g[c];
    }
}

static double rn_loss(void *p)
{
    rn_ctx *c = p;
    ref_forward(c->out, c->inp, c->g, c->N, c->C);
    return dot_d(c->out, c->lw, (size_t)c->N * c->C);
}

static void check(int N, int C, double xscale)
{
    floe_rng r;
    floe_rng_seed(&r, (uint64_t)(N * 100 + C));
    size_t n = (size_t)N * C;
    float *inp = falloc(n), *g = falloc(C), *out = falloc(n), *rstd = falloc(N), *dout = falloc(n);
    float *dinp = falloc(n), *dinp0 = falloc(n), *dg = falloc(C), *dg0 = falloc(C);
    rand_fill(inp, n, &r, xscale);
    for (int c = 0; c < C; c++)
        g[c] = (float)(1.0 + 0.3 * floe_rng_normal(&r));
    rand_fill(dout, n, &r, 1.0);
    rand_fill(dinp0, n, &r, 1.0);
    rand_fill(dg0, C, &r, 1.0);
    memcpy(dinp, dinp0, n * sizeof(float));
    memcpy(dg, dg0, (size_t)C * sizeof(float));
    floe_rmsnorm_forward(out, rstd, inp, g, N, C);
    floe_rmsnorm_backward(dinp, dg, dout, inp, g, rstd, N, C);
    rn_ctx c = {N, C, to_double(inp, n), to_double(g, C), dalloc(n), dout};
    ref_forward(c.out, c.inp, c.g, N, C);
    assert_close("out", out, c.out, n, FLOE_RTOL);
    assert_grad("dinp", dinp, dinp0, c.inp, n, rn_loss, &c);
    assert_grad("dg", dg, dg0, c.g, C, rn_loss, &c);
    free(c.inp), free(c.g), free(c.out);
    free(inp), free(g), free(out), free(rstd), free(dout), free(dinp), free(dinp0), free(dg), free(dg0);
}

static void test_small(void **state)
{
    (void)state;
    check(6, 7, 1.0);
    check(3, 33, 1.0);
    check(4, 8, 3e-3); /* eps matters when mean(x^2) is close to it */
}

static void test_parallel_shape(void **state)
{
    (void)state;
    check(260, 256, 1.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small),
        cmocka_unit_test(test_parallel_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
