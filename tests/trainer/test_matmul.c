#include "tests/trainer/trainer_test.h"

#include "trainer/matmul.h"

typedef struct {
    int N, C, OC;
    double *inp, *w;
    const float *lw; /* loss weights = dout */
    double *out;
} mm_ctx;

static void ref_forward(double *out, const double *inp, const double *w, int N, int C, int OC)
{
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) {
            double s = 0;
            for (int c = 0; c < C; c++)
                s += inp[i * C + c] * w[o * C + c];
            out[i * OC + o] = s;
        }
}

static double mm_loss(void *p)
{
    mm_ctx *c = p;
    ref_forward(c->out, c->inp, c->w, c->N, c->C, c->OC);
    return dot_d(c->out, c->lw, (size_t)c->N * c->OC);
}

/* Odd shapes (no multiple of the 32-row split): forward and both gradients, accumulated onto
 * nonzero gradients. */
static void check_shape(int N, int C, int OC, int fd)
{
    floe_rng r;
    floe_rng_seed(&r, (uint64_t)(N * 1000 + C * 10 + OC));
    size_t ni = (size_t)N * C, nw = (size_t)OC * C, no = (size_t)N * OC;
    float *inp = falloc(ni), *w = falloc(nw), *out = falloc(no), *dout = falloc(no);
    float *dinp = falloc(ni), *dw = falloc(nw), *dinp0 = falloc(ni), *dw0 = falloc(nw);
    rand_fill(inp, ni, &r, 1.0);
    rand_fill(w, nw, &r, 0.5);
    rand_fill(dout, no, &r, 1.0);
    rand_fill(dinp0, ni, &r, 1.0);
    rand_fill(dw0, nw, &r, 1.0);
    memcpy(dinp, dinp0, ni * sizeof(float));
    memcpy(dw, dw0, nw * sizeof(float));

    floe_matmul_forward(out, inp, w, N, C, OC);
    floe_matmul_backward(dinp, dw, dout, inp, w, N, C, OC);

    mm_ctx c = {N, C, OC, to_double(inp, ni), to_double(w, nw), dout, dalloc(no)};
    ref_forward(c.out, c.inp, c.w, N, C, OC);
    assert_close("out", out, c.out, no, FLOE_RTOL);
    if (fd) {
        assert_grad("dinp", dinp, dinp0, c.inp, ni, mm_loss, &c);
        assert_grad("dw", dw, dw0, c.w, nw, mm_loss, &c);
    } else {
        /* Large shapes: the exact gradient formulas in double instead of finite differences (cost). */
        double *gi = dalloc(ni), *gw = dalloc(nw);
        for (int i = 0; i < N; i++)
            for (int o = 0; o < OC; o++)
                for (int k = 0; k < C; k++) {
                    gi[i * C + k] += (double)dout[i * OC + o] * w[o * C + k];
                    gw[o * C + k] += (double)dout[i * OC + o] * inp[i * C + k];
                }
        for (size_t i = 0; i < ni; i++)
            gi[i] += dinp0[i];
        for (size_t i = 0; i < nw; i++)
            gw[i] += dw0[i];
        assert_close("dinp", dinp, gi, ni, FLOE_RTOL);
        assert_close("dw", dw, gw, nw, FLOE_RTOL);
        free(gi);
        free(gw);
    }

    /* NULL gradients are skipped. */
    memcpy(dw, dw0, nw * sizeof(float));
    floe_matmul_backward(NULL, dw, dout, inp, w, N, C, OC);
    memcpy(dinp, dinp0, ni * sizeof(float));
    floe_matmul_backward(dinp, NULL, dout, inp, w, N, C, OC);
    free(c.inp), free(c.w), free(c.out);
    free(inp), free(w), free(out), free(dout), free(dinp), free(dw), free(dinp0), free(dw0);
}

static void test_small_fd(void **state)
{
    (void)state;
    check_shape(7, 5, 6, 1);
    check_shape(1, 3, 1, 1);
}

static void test_parallel_shape(void **state)
{
    (void)state;
    check_shape(130, 64, 40, 0); /* above the fork threshold: split among threads */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_fd),
        cmocka_unit_test(test_parallel_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
