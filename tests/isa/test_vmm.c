#include "tests/test_util.h"

#include "common/rng.h"
#include "isa/saturate.h"
#include "isa/vmm.h"

static void test_every_int4_int8_product(void **state)
{
    (void)state;
    /* K = 1: the accumulator receives exactly x * w, for all 16 x 256 pairs, packed and unpacked */
    for (int w = -8; w <= 7; w++)
        for (int x = -128; x <= 127; x++) {
            int8_t xv = (int8_t)x, wv = (int8_t)w;
            uint8_t wp = floe_pack_i4(wv, 0);
            int32_t a4 = 0, a8 = 0;
            floe_vmm_i8_i4_ref(&a4, &xv, &wp, 1, 1);
            floe_vmm_i8_i8_ref(&a8, &xv, &wv, 1, 1);
            assert_int_equal(a4, x * w);
            assert_int_equal(a8, x * w);
        }
    for (int w = -128; w <= 127; w++) /* and every int8 x int8 product */
        for (int x = -128; x <= 127; x++) {
            int8_t xv = (int8_t)x, wv = (int8_t)w;
            int32_t a = 0;
            floe_vmm_i8_i8_ref(&a, &xv, &wv, 1, 1);
            assert_int_equal(a, x * w);
        }
}

static void test_packed_equals_unpacked_and_int16_passes(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 51);
    enum { K = 77, N = 9 };
    int8_t x[K], w[N * K];
    int16_t x16[K];
    uint8_t wp[N * ((K + 1) / 2)];
    for (int t = 0; t < 500; t++) {
        for (int k = 0; k < K; k++) {
            x[k] = (int8_t)floe_rng_range(&r, -128, 127);
            x16[k] = (int16_t)floe_rng_range(&r, -32768, 32767);
        }
        for (int i = 0; i < N * K; i++)
            w[i] = (int8_t)floe_rng_range(&r, -8, 7);
        for (int n = 0; n < N; n++)
            floe_pack_i4_array(wp + n * ((K + 1) / 2), w + n * K, K);
        int32_t a4[N], a8[N], a16[N];
        for (int n = 0; n < N; n++)
            a4[n] = a8[n] = a16[n] = (int32_t)floe_rng_u64(&r);
        memcpy(a8, a4, sizeof a8);
        memcpy(a16, a4, sizeof a16);
        int32_t init[N];
        memcpy(init, a4, sizeof init);
        floe_vmm_i8_i4_ref(a4, x, wp, K, N);
        floe_vmm_i8_i8_ref(a8, x, w, K, N);
        assert_memory_equal(a4, a8, sizeof a4);
        floe_vmm_i16_i8_ref(a16, x16, w, K, N);
        for (int n = 0; n < N; n++) {
            int64_t direct = init[n];
            for (int k = 0; k < K; k++)
                direct += (int64_t)x16[k] * w[n * K + k];
            assert_int_equal(a16[n], (int32_t)(uint32_t)(uint64_t)direct); /* wrapped */
        }
    }
}

static void test_wrap_is_order_independent(void **state)
{
    (void)state;
    /* sums that overflow int32 wrap the same way in any order (modular arithmetic) */
    enum { K = 4096 };
    static int16_t x[K];
    static int8_t w[K], xr16w[K];
    static int16_t xr[K];
    for (int k = 0; k < K; k++) {
        x[k] = 32767;
        w[k] = 127;
    }
    int32_t a = 0, b = 0;
    floe_vmm_i16_i8_ref(&a, x, w, K, 1);
    for (int k = 0; k < K; k++) { /* reversed order */
        xr[k] = x[K - 1 - k];
        xr16w[k] = w[K - 1 - k];
    }
    floe_vmm_i16_i8_ref(&b, xr, xr16w, K, 1);
    assert_int_equal(a, b);
    assert_int_equal(a, (int32_t)(uint32_t)((uint64_t)K * 32767 * 127));
    assert_int_equal(floe_mac_wrap(INT32_MAX, 1, 1), INT32_MIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_int4_int8_product),
        cmocka_unit_test(test_packed_equals_unpacked_and_int16_passes),
        cmocka_unit_test(test_wrap_is_order_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
