/* common/select_kth.h: every k of arrays with and without repeats, sorted, reversed and constant,
 * against the sorted array. */
#include "tests/test_util.h"

#include "common/rng.h"
#include "common/select_kth.h"

static int cmpf(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* kind: 0 random, 1 few distinct values, 2 ascending, 3 descending, 4 constant */
static void fill(float *a, size_t n, int kind, floe_rng *r)
{
    for (size_t i = 0; i < n; i++)
        a[i] = kind == 0   ? (float)floe_rng_uniform(r)
               : kind == 1 ? (float)floe_rng_below(r, 4)
               : kind == 2 ? (float)i
               : kind == 3 ? (float)(n - i)
                           : 1.5f;
}

static void test_every_k(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 5);
    static const size_t sizes[] = {1, 2, 3, 7, 64, 257};
    float a[257], sorted[257];
    for (int kind = 0; kind < 5; kind++)
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            size_t n = sizes[si];
            for (size_t k = 0; k < n; k++) {
                fill(a, n, kind, &r);
                memcpy(sorted, a, n * sizeof(float));
                qsort(sorted, n, sizeof(float), cmpf);
                float got = floe_select_kth(a, n, k);
                if (got != sorted[k])
                    fail_msg("kind %d, n %zu, k %zu: got %g, the sorted array has %g", kind, n, k, (double)got,
                             (double)sorted[k]);
            }
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_every_k)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
