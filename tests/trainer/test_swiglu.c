#include "tests/trainer/trainer_test.h"

#include "trainer/residual.h"
#include "trainer/swiglu.h"

typedef struct {
    size_t n;
    double *gate, *up, *out;
    const float *lw;
} sw_ctx;

static double sw_loss(void *p)
{
    sw_ctx *c = p;
    for (size_t i = 0; i < c->n; i++)
        c->out[i] = c->gate[i] / (1.0 + exp(-c->gate[i])) * c->up[i];
    return dot_d(c->out, c->lw, c->n);
}

static void check_swiglu(size_t n, double gscale)
{
    floe_rng r;
    floe_rng_seed(&r, n);
    float *g = falloc(n), *u = falloc(n), *out = falloc(n), *dout = falloc(n);
    float *dg = falloc(n), *du = falloc(n), *dg0 = falloc(n), *du0 = falloc(n);
    rand_fill(g, n, &r, gscale);
    rand_fill(u, n, &r, 1.0);
    rand_fill(dout, n, &r, 1.0);
    rand_fill(dg0, n, &r, 1.0);
    rand_fill(du0, n, &r, 1.0);
    memcpy(dg, dg0, n * sizeof(float));
    memcpy(du, du0, n * sizeof(float));
    floe_swiglu_forward(out, g, u, n);
    floe_swiglu_backward(dg, du, dout, g, u, n);
    sw_ctx c = {n, to_double(g, n), to_double(u, n), dalloc(n), dout};
    sw_loss(&c);
    /* Elementwise: relative to each value, not to the tensor's largest (floe_expf: < 2e-7). */
    for (size_t i = 0; i < n; i++)
        assert_true(fabs(out[i] - c.out[i]) <= 1e-6 * fabs(c.out[i]) + 1e-30);
    assert_grad("dgate", dg, dg0, c.gate, n, sw_loss, &c);
    assert_grad("dup", du, du0, c.up, n, sw_loss, &c);
    free(c.gate), free(c.up), free(c.out);
    free(g), free(u), free(out), free(dout), free(dg), free(du), free(dg0), free(du0);
}

static void test_swiglu(void **state)
{
    (void)state;
    check_swiglu(37, 1.0);
    check_swiglu(50, 20.0); /* saturated sigmoid on both sides */
    check_swiglu(70000, 2.0); /* above the fork threshold */
}

static void test_residual(void **state)
{
    (void)state;
    const size_t n = 70001;
    floe_rng r;
    floe_rng_seed(&r, 3);
    float *a = falloc(n), *b = falloc(n), *o = falloc(n), *da = falloc(n), *db = falloc(n), *d = falloc(n);
    rand_fill(a, n, &r, 1.0);
    rand_fill(b, n, &r, 1.0);
    rand_fill(d, n, &r, 1.0);
    for (size_t i = 0; i < n; i++)
        da[i] = 1.0f, db[i] = 2.0f;
    floe_residual_forward(o, a, b, n);
    floe_residual_backward(da, db, d, n);
    for (size_t i = 0; i < n; i++) {
        assert_true(o[i] == a[i] + b[i]);
        assert_true(da[i] == 1.0f + d[i] && db[i] == 2.0f + d[i]);
    }
    float *a2 = falloc(n);
    memcpy(a2, a, n * sizeof(float));
    floe_residual_forward(a2, a2, b, n); /* in place */
    assert_memory_equal(a2, o, n * sizeof(float));
    free(a), free(b), free(o), free(da), free(db), free(d), free(a2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_swiglu),
        cmocka_unit_test(test_residual),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
