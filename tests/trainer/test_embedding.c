#include "tests/trainer/trainer_test.h"

#include "trainer/embedding.h"

/* Repeated tokens must sum their gradients; untouched rows keep their value. The backward is a sum
 * of selected rows, so it is checked against that sum in double, and forward must copy exactly. */
static void check(int N, int C, int V)
{
    floe_rng r;
    floe_rng_seed(&r, (uint64_t)(N + C + V));
    int *tok = malloc((size_t)N * sizeof *tok);
    for (int i = 0; i < N; i++)
        tok[i] = (int)floe_rng_below(&r, (uint64_t)V);
    tok[0] = tok[N - 1]; /* at least one repeat */
    size_t nw = (size_t)V * C, no = (size_t)N * C;
    float *wte = falloc(nw), *out = falloc(no), *dout = falloc(no), *dw = falloc(nw), *dw0 = falloc(nw);
    rand_fill(wte, nw, &r, 1.0);
    rand_fill(dout, no, &r, 1.0);
    rand_fill(dw0, nw, &r, 1.0);
    memcpy(dw, dw0, nw * sizeof(float));
    floe_embedding_forward(out, tok, wte, N, C);
    for (int i = 0; i < N; i++)
        assert_memory_equal(out + (size_t)i * C, wte + (size_t)tok[i] * C, (size_t)C * sizeof(float));
    floe_embedding_backward(dw, dout, tok, N, C);
    double *ref = to_double(dw0, nw);
    for (int i = 0; i < N; i++)
        for (int c = 0; c < C; c++)
            ref[(size_t)tok[i] * C + c] += dout[(size_t)i * C + c];
    assert_close("dwte", dw, ref, nw, 1e-6);
    free(ref), free(tok), free(wte), free(out), free(dout), free(dw), free(dw0);
}

static void test_small(void **state)
{
    (void)state;
    check(9, 5, 4);
}

static void test_parallel_shape(void **state)
{
    (void)state;
    check(300, 256, 7); /* above the fork threshold, many repeats */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small),
        cmocka_unit_test(test_parallel_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
