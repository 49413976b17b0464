/* Per-token activation scaling (docs/numerics.md §10): the shift k_t of a row is exactly the
 * definition (checked by brute force against 128-bit arithmetic), the row never saturates when
 * k_t > 0, k_t is the largest such shift, and the consumer's shifted requantization is exactly
 * rounded for every total shift (63 and more included). */
#include "tests/test_util.h"

#include <math.h>

#include "common/rng.h"
#include "isa/recip.h"
#include "isa/rmsnorm.h"
#include "isa/token.h"

/* round_half_up(x * m / 2^s) in 128 bits (s may exceed 62). */
static __int128 ref_round(__int128 x, int64_t m, int s)
{
    __int128 p = x * m;
    if (s == 0)
        return p;
    __int128 d = (__int128)1 << s;
    __int128 q = p / d, r = p % d; /* truncation: make it a floor */
    if (r < 0)
        q -= 1, r += d;
    return q + (2 * r >= d ? 1 : 0);
}

static floe_requant_mult random_mult(floe_rng *r)
{
    floe_requant_mult q;
    double M = ldexp(1.0 + floe_rng_uniform(r), -(int)floe_rng_below(r, 40));
    assert_int_equal(floe_requant_mult_from_real(M, &q), 0);
    if (floe_rng_below(r, 8) == 0) /* small shifts: k is bounded by the shift */
        q = (floe_requant_mult){(int32_t)(floe_rng_below(r, 1u << 30) + (1u << 30)), (int32_t)floe_rng_below(r, 6)};
    return q;
}

static void test_k_is_the_definition(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 2026);
    int seen[FLOE_TOKEN_K_MAX + 1] = {0};
    for (int it = 0; it < 300000; it++) {
        floe_requant_mult M = random_mult(&r);
        int K = (int)floe_rng_below(&r, FLOE_TOKEN_K_MAX + 1);
        int32_t hi = floe_rng_below(&r, 2) ? 127 : 7;
        /* amax around where the requantized value crosses hi */
        double target = (hi + 1) * ldexp(1.0, -(int)floe_rng_below(&r, 10)) * (0.5 + floe_rng_uniform(&r));
        double a = target / floe_requant_mult_to_real(M);
        uint64_t amax = a >= 2147483648.0 ? ((uint64_t)1 << 31) : (uint64_t)a;
        if (floe_rng_below(&r, 50) == 0)
            amax = floe_rng_below(&r, 4) == 0 ? 0 : ((uint64_t)1 << 31);
        int want = 0;
        int kmax = K < M.shift ? K : M.shift;
        for (int k = kmax; k >= 1 && !want; k--)
            if (ref_round((__int128)amax, M.m, M.shift - k) <= hi)
                want = k;
        int got = floe_token_k(amax, M, K, hi);
        if (got != want)
            fail_msg("amax %llu M {%d, %d} K %d hi %d: k %d, definition %d", (unsigned long long)amax, M.m, M.shift, K,
                     hi, got, want);
        seen[got]++;
    }
    for (int k = 0; k <= FLOE_TOKEN_K_MAX; k++)
        assert_true(seen[k] > 0);
}

static void test_rows_never_saturate(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 7);
    enum { N = 97 };
    int32_t x[N], y[N];
    for (int it = 0; it < 20000; it++) {
        floe_requant_mult M = random_mult(&r);
        int K = 1 + (int)floe_rng_below(&r, FLOE_TOKEN_K_MAX);
        int32_t hi = floe_rng_below(&r, 2) ? 127 : 7, lo = -hi - 1;
        double span = (hi + 1) / floe_requant_mult_to_real(M) * ldexp(1.0, -(int)floe_rng_below(&r, 9));
        int64_t lim = span > 2147483647.0 ? 2147483647 : (int64_t)span + 1;
        for (int i = 0; i < N; i++)
            x[i] = (int32_t)floe_rng_range(&r, -lim, lim);
        int k = floe_token_requant_row(y, x, N, M, K, lo, hi);
        assert_in_range(k, 0, K);
        int64_t amax = 0;
        for (int i = 0; i < N; i++) {
            int64_t a = x[i] < 0 ? -(int64_t)x[i] : x[i];
            amax = a > amax ? a : amax;
            /* the codes are the requantization by M * 2^k */
            assert_int_equal(y[i], floe_requant(x[i], (floe_requant_mult){M.m, M.shift - k}, lo, hi));
            if (k > 0) { /* no saturation: the clamp did nothing */
                int64_t raw = floe_requant_raw(x[i], (floe_requant_mult){M.m, M.shift - k});
                assert_true(raw >= -hi && raw <= hi);
            }
        }
        /* maximal: one more shift would saturate the row's largest value (or is not allowed) */
        if (k < K && k < M.shift)
            assert_true(ref_round((__int128)amax, M.m, M.shift - k - 1) > hi);
    }
}

static void test_consumer_shift(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 99);
    for (int it = 0; it < 300000; it++) {
        floe_requant_mult q = {(int32_t)floe_rng_below(&r, 1u << 31), (int32_t)floe_rng_below(&r, 63)};
        int k = (int)floe_rng_below(&r, FLOE_TOKEN_K_MAX + 1);
        int32_t acc = (int32_t)floe_rng_range(&r, INT32_MIN, INT32_MAX);
        if (floe_rng_below(&r, 10) == 0)
            acc = floe_rng_below(&r, 2) ? INT32_MIN : INT32_MAX;
        __int128 want = ref_round(acc, q.m, q.shift + k);
        assert_true(floe_requant_raw_k(acc, q, k) == (int64_t)want);
    }
    /* a total shift past 62: exactly 0, ties (-0.5) included */
    assert_int_equal(floe_requant_raw_k(INT32_MIN, (floe_requant_mult){INT32_MAX, 62}, 1), 0);
    assert_int_equal(floe_requant_raw_k(INT32_MIN, (floe_requant_mult){1 << 30, 30}, 32), 0);
}

/* With K = 0 the per-token RMSNorm is the plain one; with K > 0 its rows do not saturate. */
static void test_rmsnorm_token(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 13);
    enum { D = 64 };
    int16_t q[D];
    int32_t y[D], y0[D];
    for (int it = 0; it < 5000; it++) {
        int mag = 1 << floe_rng_below(&r, 15);
        for (int i = 0; i < D; i++)
            q[i] = (int16_t)floe_rng_range(&r, -mag, mag - 1);
        floe_requant_mult c;
        floe_requant_mult_from_real(8.0 * (0.5 + 4.0 * floe_rng_uniform(&r)) * sqrt((double)D) / 4.0, &c);
        uint64_t eq = 1 + floe_rng_below(&r, 100);
        int32_t hi = floe_rng_below(&r, 2) ? 127 : 7;
        assert_int_equal(floe_rmsnorm_row_token(y, q, D, eq, c, 0, -hi - 1, hi), 0);
        floe_rmsnorm_row(y0, q, D, eq, &c, 0, -hi - 1, hi);
        assert_memory_equal(y, y0, sizeof y);
        int k = floe_rmsnorm_row_token(y, q, D, eq, c, 6, -hi - 1, hi);
        for (int i = 0; k > 0 && i < D; i++)
            assert_true(y[i] >= -hi); /* -hi - 1 only by saturation */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_k_is_the_definition),
        cmocka_unit_test(test_rows_never_saturate),
        cmocka_unit_test(test_consumer_shift),
        cmocka_unit_test(test_rmsnorm_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
