#include "tests/test_util.h"

#include <math.h>

#include "common/rng.h"
#include "isa/recip.h"

__extension__ typedef unsigned __int128 u128;

static void test_isqrt(void **state)
{
    (void)state;
    for (uint64_t x = 0; x < 1000000; x++) {
        uint64_t s = floe_isqrt64(x);
        assert_true(s * s <= x && (s + 1) * (s + 1) > x);
    }
    floe_rng r;
    floe_rng_seed(&r, 11);
    for (int i = 0; i < 200000; i++) {
        uint64_t x = floe_rng_u64(&r);
        x >>= floe_rng_range(&r, 0, 63);
        u128 s = floe_isqrt64(x);
        assert_true(s * s <= x && (s + 1) * (s + 1) > x);
    }
    assert_int_equal(floe_isqrt64(UINT64_MAX), 0xFFFFFFFFu);
    assert_int_equal(floe_isqrt64((uint64_t)0xFFFFFFFF * 0xFFFFFFFF), 0xFFFFFFFFu);
}

/* m * 2^-shift is the nearest (ties up) 31-bit-mantissa value to 1/x:
 * (2m - 1) / 2^(shift+1) <= 1/x < (2m + 1) / 2^(shift+1), i.e. (2m-1) x <= 2^(shift+1) < (2m+1) x */
static void check_recip(uint32_t x)
{
    floe_requant_mult q = floe_recip_u32(x);
    assert_true(q.m >= (1 << 30) && q.m < (int32_t)((1u << 31) - 1));
    u128 p = (u128)1 << (q.shift + 1);
    assert_true((u128)(2 * (uint64_t)q.m - 1) * x <= p);
    assert_true((u128)(2 * (uint64_t)q.m + 1) * x > p);
}

static void test_recip(void **state)
{
    (void)state;
    for (uint32_t x = 1; x <= (1u << 20); x++)
        check_recip(x);
    floe_rng r;
    floe_rng_seed(&r, 12);
    for (int i = 0; i < 300000; i++)
        check_recip((uint32_t)floe_rng_u64(&r) | 1u);
    check_recip(UINT32_MAX);
    for (int k = 0; k < 32; k++) { /* powers of two are exact */
        floe_requant_mult q = floe_recip_u32(1u << k);
        assert_int_equal(q.m, 1 << 30);
        assert_int_equal(q.shift, 30 + k);
    }
    floe_requant_mult z = floe_recip_u32(0);
    assert_int_equal(z.m, INT32_MAX);
    assert_int_equal(z.shift, 0);
}

/* nearest, ties up: (m - 1/2)^2 <= 2^(2 shift) / x < (m + 1/2)^2, checked exactly as
 * (2m - 1)^2 <= floor(2^(2 shift + 2) / x) < (2m + 1)^2 (integers on the left) */
static void check_rsqrt(uint64_t x)
{
    floe_requant_mult q = floe_rsqrt_u64(x);
    assert_true(q.m >= (1 << 30));
    assert_true(2 * q.shift + 2 <= 127);
    u128 t = ((u128)1 << (2 * q.shift + 2)) / x;
    u128 lo = 2 * (u128)q.m - 1, hi = 2 * (u128)q.m + 1;
    assert_true(lo * lo <= t);
    assert_true(hi * hi > t);
}

static void test_rsqrt(void **state)
{
    (void)state;
    for (uint64_t x = 1; x <= 300000; x++)
        check_rsqrt(x);
    floe_rng r;
    floe_rng_seed(&r, 13);
    for (int i = 0; i < 300000; i++) {
        uint64_t x = floe_rng_u64(&r);
        check_rsqrt((x >> floe_rng_range(&r, 0, 63)) | 1u);
    }
    check_rsqrt(UINT64_MAX);
    for (int k = 0; k < 32; k++) { /* powers of four are exact */
        floe_requant_mult q = floe_rsqrt_u64((uint64_t)1 << (2 * k));
        assert_int_equal(q.m, 1 << 30);
        assert_int_equal(q.shift, 30 + k);
    }
    assert_int_equal(floe_rsqrt_u64(0).m, INT32_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isqrt),
        cmocka_unit_test(test_recip),
        cmocka_unit_test(test_rsqrt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
