/* Helpers for the trainer's layer tests: random data, double-precision references, and gradient checks.
 *
 * Method: each test writes the layer's forward in double, compares the float forward to it, and
 * compares the float analytic gradient to central finite differences of the double forward under
 * loss = sum(out * w) (w random, so dout = w). In double, h = 1e-5 leaves truncation ~h^2 ~ 1e-10 and
 * rounding ~1e-16/h ~ 1e-11, so the finite differences are exact to far below the float errors
 * checked. Tolerances are relative to the largest reference magnitude of the tensor: float32 rounds
 * each op to 6e-8 relative and the reductions here have <= a few hundred terms, so errors stay below
 * ~1e-5; FLOE_RTOL = 1e-4 leaves a 10x margin yet catches any wrong term (errors of O(1)).
 */
#ifndef FLOE_TESTS_TRAINER_TEST_H
#define FLOE_TESTS_TRAINER_TEST_H

#include "tests/test_util.h"

#include <math.h>

#include "common/rng.h"
#include "models/model_config.h"

#define FLOE_RTOL 1e-4

static inline void rand_fill(float *x, size_t n, floe_rng *r, double scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(floe_rng_normal(r) * scale);
}

static inline double *to_double(const float *x, size_t n)
{
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = x[i];
    return d;
}

static inline float *falloc(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    assert_non_null(p);
    return p;
}

static inline double *dalloc(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof(double));
    assert_non_null(p);
    return p;
}

static inline void assert_close(const char *what, const float *got, const double *ref, size_t n, double rtol)
{
    double scale = 0.0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(ref[i]));
    if (scale == 0.0)
        scale = 1.0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - ref[i]);
        if (!(err <= rtol * scale))
            fail_msg("%s[%zu]: got %.9g, reference %.9g (|err| %.3g > %.3g)", what, i, (double)got[i], ref[i], err,
                     rtol * scale);
    }
}

/* loss = sum(out * w) of a double forward over the inputs held in ctx */
typedef double (*ref_loss_fn)(void *ctx);

/* Checks an accumulated float gradient (grad = grad0 + analytic) against central differences of f
 * with respect to x[i] (x is read by f through ctx). Large tensors are sampled at FD_MAX_POINTS
 * evenly spaced indices (first and last included) to keep the tests quick. */
#define FD_MAX_POINTS 96
static inline void assert_grad(const char *what, const float *grad, const float *grad0, double *x, size_t n,
                               ref_loss_fn f, void *ctx)
{
    const double h = 1e-5;
    size_t m = n < FD_MAX_POINTS ? n : FD_MAX_POINTS;
    double *fd = dalloc(m);
    float *g = falloc(m);
    for (size_t k = 0; k < m; k++) {
        size_t i = m == n ? k : (m > 1 ? k * (n - 1) / (m - 1) : 0);
        double save = x[i];
        x[i] = save + h;
        double lp = f(ctx);
        x[i] = save - h;
        double lm = f(ctx);
        x[i] = save;
        fd[k] = (lp - lm) / (2 * h);
        g[k] = grad0 ? (float)((double)grad[i] - grad0[i]) : grad[i];
    }
    assert_close(what, g, fd, m, FLOE_RTOL);
    free(g);
    free(fd);
}

static inline double dot_d(const double *a, const float *w, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * w[i];
    return s;
}

/* A small decoder for whole-model tests (2 layers, grouped-query attention, odd widths). */
static inline floe_model_config floe_test_small_config(int tied)
{
    floe_model_config c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "small-test");
    c.vocab_size = 48;
    c.d_model = 32;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 8;
    c.ffn_dim = 40;
    c.context = 16;
    c.rope_theta = 10000.0;
    c.rms_eps = 1e-5;
    c.tied_embeddings = tied;
    return c;
}

#endif
