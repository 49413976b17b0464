#include "tests/trainer/trainer_test.h"

#include "trainer/crossentropy.h"

typedef struct {
    int N, V;
    double *logits;
    const int *targets;
} ce_ctx;

/* mean over positions of logsumexp(l) - l[target] */
static double ce_loss(void *p)
{
    ce_ctx *c = p;
    double total = 0;
    for (int i = 0; i < c->N; i++) {
        const double *l = c->logits + (size_t)i * c->V;
        double m = -INFINITY, s = 0;
        for (int v = 0; v < c->V; v++)
            m = fmax(m, l[v]);
        for (int v = 0; v < c->V; v++)
            s += exp(l[v] - m);
        total += m + log(s) - l[c->targets[i]];
    }
    return total / c->N;
}

static void check(int N, int V, double scale)
{
    floe_rng r;
    floe_rng_seed(&r, (uint64_t)(N * V));
    size_t n = (size_t)N * V;
    float *logits = falloc(n), *probs = falloc(n), *losses = falloc(N), *dl = falloc(n), *dl0 = falloc(n);
    int *tg = malloc((size_t)N * sizeof *tg);
    rand_fill(logits, n, &r, scale);
    rand_fill(dl0, n, &r, 0.01);
    for (int i = 0; i < N; i++)
        tg[i] = (int)floe_rng_below(&r, (uint64_t)V);
    memcpy(dl, dl0, n * sizeof(float));
    float loss = floe_crossentropy_forward(losses, probs, logits, tg, N, V);
    floe_crossentropy_backward(dl, probs, tg, N, V, 1.0f);
    ce_ctx c = {N, V, to_double(logits, n), tg};
    double ref = ce_loss(&c);
    assert_true(fabs(loss - ref) <= 1e-5 * fabs(ref));
    double sum = 0;
    for (int i = 0; i < N; i++)
        sum += losses[i];
    assert_true(fabs(sum / N - ref) <= 1e-5 * fabs(ref));
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int v = 0; v < V; v++)
            s += probs[(size_t)i * V + v];
        assert_true(fabs(s - 1.0) < 1e-5);
    }
    /* dloss = 1: the gradient of the mean loss itself */
    assert_grad("dlogits", dl, dl0, c.logits, n, ce_loss, &c);
    free(c.logits), free(logits), free(probs), free(losses), free(dl), free(dl0), free(tg);
}

static void test_small(void **state)
{
    (void)state;
    check(5, 7, 1.0);
    check(3, 256, 10.0); /* peaked distributions: exp underflows for most of the vocabulary */
}

static void test_parallel_shape(void **state)
{
    (void)state;
    check(300, 256, 2.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small),
        cmocka_unit_test(test_parallel_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
