/* GPTQ (trainer/gptq.h): on random data with correlated inputs its layer reconstruction error
 * ||W X - W_hat X||^2 is below RTN's with the same quantizer and steps (per row and group-wise,
 * with and without act-order); with H = I it is RTN bit for bit; dead inputs give zero columns;
 * the lazy block size and the thread count change nothing beyond rounding / no bit; bad settings
 * and an indefinite Hessian are refused. */
#include "tests/test_util.h"

#include <math.h>
#include <omp.h>

#include "trainer/gptq.h"
#include "trainer/wquant.h"

enum { OUT = 48, IN = 160, N = 600, K = 12 };

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static double urand(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (double)(rs >> 11) * (1.0 / 9007199254740992.0);
}
static double gauss(void) { return sqrt(-2.0 * log(urand() + 1e-300)) * cos(6.283185307179586 * urand()); }

/* X = Z A + 0.05 noise: inputs strongly correlated through K latent factors, some channels large. */
static void make_data(float *W, float *X, double *H)
{
    static double A[K * IN];
    for (int i = 0; i < K * IN; i++)
        A[i] = gauss();
    for (int r = 0; r < N; r++) {
        double z[K];
        for (int k = 0; k < K; k++)
            z[k] = gauss();
        for (int i = 0; i < IN; i++) {
            double v = 0.05 * gauss();
            for (int k = 0; k < K; k++)
                v += z[k] * A[k * IN + i];
            X[(size_t)r * IN + i] = (float)(v * (i % 17 == 0 ? 4.0 : 1.0));
        }
    }
    for (int i = 0; i < OUT * IN; i++)
        W[i] = (float)(0.1 * gauss());
    memset(H, 0, sizeof(double) * IN * IN);
    floe_gptq_hessian_add(H, X, N, IN);
}

static float W[OUT * IN], X[N * IN], G[OUT * IN], R[OUT * IN], G2[OUT * IN];
static double H[IN * IN];

/* Direct ||(W - What) X||^2. */
static double direct_error(const float *a, const float *b)
{
    double e = 0.0;
    for (int r = 0; r < N; r++)
        for (int o = 0; o < OUT; o++) {
            double s = 0.0;
            for (int i = 0; i < IN; i++)
                s += ((double)a[o * IN + i] - b[o * IN + i]) * X[(size_t)r * IN + i];
            e += s * s;
        }
    return e;
}

static void test_beats_rtn(void **state)
{
    (void)state;
    floe_err err;
    make_data(W, X, H);
    /* the Hessian-form error is the direct one */
    floe_wquant q;
    assert_int_equal(floe_wquant_init(&q, OUT, IN, 4, 0, 0, &err), 0);
    floe_wquant_mse(&q, W);
    floe_wquant_forward(&q, W, R);
    double er = floe_gptq_output_error(W, R, OUT, IN, H), ed = direct_error(W, R);
    assert_true(fabs(er - ed) < 1e-6 * ed);
    for (int bits = 2; bits <= 4; bits++)
        for (int ao = 0; ao < 2; ao++) {
            /* chip format: symmetric, one MSE step per row, fixed before the loop; RTN with the same steps */
            floe_wquant_free(&q);
            assert_int_equal(floe_wquant_init(&q, OUT, IN, bits, 0, 0, &err), 0);
            floe_wquant_mse(&q, W);
            floe_wquant_forward(&q, W, R);
            memcpy(G, W, sizeof W);
            floe_gptq_cfg c = floe_gptq_defaults();
            c.act_order = ao;
            assert_int_equal(floe_gptq_layer(G, OUT, IN, H, &q, 0, &c, &err), 0);
            double eg = floe_gptq_output_error(W, G, OUT, IN, H);
            er = floe_gptq_output_error(W, R, OUT, IN, H);
            if (!(eg < 0.8 * er))
                fail_msg("W%d act-order %d: GPTQ error %g, RTN %g", bits, ao, eg, er);
            /* every GPTQ value is a code of the fixed grid */
            for (int o = 0; o < OUT; o++)
                for (int i = 0; i < IN; i++) {
                    float v = G[o * IN + i];
                    int code = floe_wquant_code1(&q, o, i, v);
                    assert_true(floe_wquant_dequant1(&q, o, i, code) == v);
                }
            /* group-wise asymmetric (fitted as the loop reaches each group) against min-max RTN */
            floe_wquant g;
            assert_int_equal(floe_wquant_init(&g, OUT, IN, bits, 32, 1, &err), 0);
            floe_wquant_minmax(&g, W);
            floe_wquant_forward(&g, W, R);
            er = floe_gptq_output_error(W, R, OUT, IN, H);
            memcpy(G, W, sizeof W);
            assert_int_equal(floe_gptq_layer(G, OUT, IN, H, &g, 1, &c, &err), 0);
            eg = floe_gptq_output_error(W, G, OUT, IN, H);
            if (!(eg < 0.8 * er))
                fail_msg("W%d g32 asym act-order %d: GPTQ error %g, RTN %g", bits, ao, eg, er);
            floe_wquant_free(&g);
        }
    /* the lazy block size changes only rounding; the thread count nothing */
    floe_gptq_cfg c = floe_gptq_defaults();
    memcpy(G, W, sizeof W);
    assert_int_equal(floe_gptq_layer(G, OUT, IN, H, &q, 0, &c, &err), 0);
    c.block = 7;
    memcpy(G2, W, sizeof W);
    assert_int_equal(floe_gptq_layer(G2, OUT, IN, H, &q, 0, &c, &err), 0);
    double e1 = floe_gptq_output_error(W, G, OUT, IN, H), e2 = floe_gptq_output_error(W, G2, OUT, IN, H);
    assert_true(fabs(e1 - e2) < 1e-2 * e1);
    c.block = 128;
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    memcpy(G2, W, sizeof W);
    assert_int_equal(floe_gptq_layer(G2, OUT, IN, H, &q, 0, &c, &err), 0);
    omp_set_num_threads(nt);
    assert_memory_equal(G, G2, sizeof G);
    floe_wquant_free(&q);
}

static void test_identity_and_dead(void **state)
{
    (void)state;
    floe_err err;
    make_data(W, X, H);
    floe_wquant q;
    assert_int_equal(floe_wquant_init(&q, OUT, IN, 3, 0, 0, &err), 0);
    floe_wquant_mse(&q, W);
    /* H = I: nothing to compensate, GPTQ is RTN exactly */
    static double I[IN * IN];
    for (int i = 0; i < IN; i++)
        I[i * IN + i] = 1.0;
    floe_wquant_forward(&q, W, R);
    memcpy(G, W, sizeof W);
    floe_gptq_cfg c = floe_gptq_defaults();
    assert_int_equal(floe_gptq_layer(G, OUT, IN, I, &q, 0, &c, &err), 0);
    assert_memory_equal(G, R, sizeof G);
    /* dead inputs: columns 5 and 77 never see a nonzero input -> zero weights, finite result */
    for (int r = 0; r < N; r++)
        X[(size_t)r * IN + 5] = X[(size_t)r * IN + 77] = 0.0f;
    memset(H, 0, sizeof H);
    floe_gptq_hessian_add(H, X, N, IN);
    memcpy(G, W, sizeof W);
    c.act_order = 1;
    assert_int_equal(floe_gptq_layer(G, OUT, IN, H, &q, 0, &c, &err), 0);
    for (int o = 0; o < OUT; o++) {
        assert_true(G[o * IN + 5] == 0.0f && G[o * IN + 77] == 0.0f);
        for (int i = 0; i < IN; i++)
            assert_true(isfinite(G[o * IN + i]));
    }
    floe_wquant_free(&q);
}

static void test_refusals(void **state)
{
    (void)state;
    floe_err err;
    floe_wquant q;
    assert_int_equal(floe_wquant_init(&q, 2, 2, 4, 0, 0, &err), 0);
    float w[4] = {0.1f, -0.2f, 0.3f, 0.05f};
    double h[4] = {1.0, 0.5, 0.5, 1.0};
    const double bad[] = {0.0, -0.01, 1.5, NAN};
    for (int k = 0; k < 4; k++) {
        floe_gptq_cfg c = floe_gptq_defaults();
        c.damp = bad[k];
        assert_int_equal(floe_gptq_layer(w, 2, 2, h, &q, 0, &c, &err), -1);
        assert_non_null(strstr(err.msg, "damping"));
    }
    floe_gptq_cfg c = floe_gptq_defaults();
    c.block = 0;
    assert_int_equal(floe_gptq_layer(w, 2, 2, h, &q, 0, &c, &err), -1);
    assert_non_null(strstr(err.msg, "block"));
    /* an indefinite Hessian (eigenvalues 3 and -1) */
    double ind[4] = {1.0, 2.0, 2.0, 1.0};
    c = floe_gptq_defaults();
    assert_int_equal(floe_gptq_layer(w, 2, 2, ind, &q, 0, &c, &err), -1);
    assert_non_null(strstr(err.msg, "positive definite"));
    /* a quantizer of another shape */
    floe_wquant q3;
    assert_int_equal(floe_wquant_init(&q3, 3, 2, 4, 0, 0, &err), 0);
    assert_int_equal(floe_gptq_layer(w, 2, 2, h, &q3, 0, &c, &err), -1);
    assert_non_null(strstr(err.msg, "quantizer"));
    floe_wquant_free(&q3);
    floe_wquant_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_beats_rtn),
        cmocka_unit_test(test_identity_and_dead),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
