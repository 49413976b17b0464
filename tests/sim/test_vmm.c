/* The simulator's vmm equals the reference arithmetic (isa/vmm.h) bit for bit, in every
 * implementation, for int4 (expanded and packed views)/int8 weights and int8/int16 inputs, including
 * wrap-around. */
#include "tests/test_util.h"

#include "common/rng.h"
#include "isa/saturate.h"
#include "isa/vmm.h"
#include "sim/vmm.h"

static const floe_vmm_impl impls[] = {FLOE_VMM_PORTABLE, FLOE_VMM_AVX512VNNI};

/* Runs every implementation on vw and compares with the references. */
static void check_impls(const floe_vmm_weights *vw, const int8_t *x, const int16_t *x16, size_t M, size_t N,
                        const int32_t *init, const int32_t *ref, const int32_t *ref16, int32_t *got)
{
    for (size_t i = 0; i < sizeof impls / sizeof impls[0]; i++) {
        floe_vmm_select(impls[i]);
        memcpy(got, init, sizeof(int32_t) * M * N);
        floe_vmm_i8(got, x, M, vw);
        assert_memory_equal(got, ref, sizeof(int32_t) * M * N);
        memcpy(got, init, sizeof(int32_t) * M * N);
        floe_vmm_i16(got, x16, M, vw);
        assert_memory_equal(got, ref16, sizeof(int32_t) * M * N);
    }
    floe_vmm_select(FLOE_VMM_AUTO);
}

/* int4 weights used where they lie: rows at unaligned addresses, ending exactly at the end of an
 * allocation (so a read past a row shows under the sanitizers), with the padding nibble of an odd K
 * set to garbage that must not count. */
static void check_packed_views(const uint8_t *wp, size_t K, size_t N, const int8_t *x, const int16_t *x16, size_t M,
                               const int32_t *init, const int32_t *ref, const int32_t *ref16, int32_t *got)
{
    size_t rb = (K + 1) / 2;
    const size_t offsets[] = {0, 1, 37};
    for (size_t o = 0; o < sizeof offsets / sizeof offsets[0]; o++) {
        size_t off = offsets[o];
        uint8_t *buf = malloc(off + N * rb + 1);
        memcpy(buf + off, wp, N * rb);
        if (K & 1)
            for (size_t n = 0; n < N; n++)
                buf[off + n * rb + rb - 1] |= (uint8_t)(0x90u + 0x10u * (n % 7)); /* high nibble 9..F */
        floe_vmm_weights vw, vp;
        floe_err err;
        floe_vmm_select(FLOE_VMM_PORTABLE); /* row sums are computed by the selected implementation */
        assert_int_equal(floe_vmm_weights_view_i4(&vp, buf + off, K, N, &err), 0);
        floe_vmm_select(FLOE_VMM_AUTO);
        assert_int_equal(floe_vmm_weights_view_i4(&vw, buf + off, K, N, &err), 0);
        assert_null(vw.w);
        assert_memory_equal(vw.row_sum, vp.row_sum, sizeof(int32_t) * N);
        check_impls(&vw, x, x16, M, N, init, ref, ref16, got);
        floe_vmm_weights_free(&vw);
        floe_vmm_weights_free(&vp);
        free(buf);
    }
}

static void check_shape(floe_rng *r, size_t M, size_t K, size_t N, int wbits, int extreme)
{
    int8_t *x = malloc(M * K + 1), *w = malloc(N * K + 1);
    int16_t *x16 = malloc(sizeof(int16_t) * (M * K + 1));
    uint8_t *wp = malloc(N * ((K + 1) / 2) + 1);
    int32_t *init = malloc(sizeof(int32_t) * (M * N + 1)), *ref = malloc(sizeof(int32_t) * (M * N + 1)),
            *ref16 = malloc(sizeof(int32_t) * (M * N + 1)), *got = malloc(sizeof(int32_t) * (M * N + 1));
    int wlo = wbits == 4 ? -8 : -128, whi = wbits == 4 ? 7 : 127;
    for (size_t i = 0; i < M * K; i++) {
        x[i] = extreme ? (int8_t)(i & 1 ? 127 : -128) : (int8_t)floe_rng_range(r, -128, 127);
        x16[i] = extreme ? (int16_t)(i & 1 ? 32767 : -32768) : (int16_t)floe_rng_range(r, -32768, 32767);
    }
    for (size_t i = 0; i < N * K; i++)
        w[i] = extreme ? (int8_t)(i & 2 ? whi : wlo) : (int8_t)floe_rng_range(r, wlo, whi);
    for (size_t i = 0; i < M * N; i++)
        init[i] = (int32_t)floe_rng_u64(r);
    for (size_t n = 0; n < N; n++)
        floe_pack_i4_array(wp + n * ((K + 1) / 2), w + n * K, K);
    memcpy(ref, init, sizeof(int32_t) * M * N);
    memcpy(ref16, init, sizeof(int32_t) * M * N);
    for (size_t m = 0; m < M; m++) {
        floe_vmm_i8_i8_ref(ref + m * N, x + m * K, w, K, N);
        floe_vmm_i16_i8_ref(ref16 + m * N, x16 + m * K, w, K, N);
    }
    if (wbits == 4) { /* the packed reference agrees with the unpacked one */
        memcpy(got, init, sizeof(int32_t) * M * N);
        for (size_t m = 0; m < M; m++)
            floe_vmm_i8_i4_ref(got + m * N, x + m * K, wp, K, N);
        assert_memory_equal(got, ref, sizeof(int32_t) * M * N);
    }
    floe_vmm_weights vw;
    floe_err err;
    if (wbits == 4)
        assert_int_equal(floe_vmm_weights_from_i4(&vw, wp, K, N, &err), 0);
    else
        assert_int_equal(floe_vmm_weights_from_i8(&vw, w, K, N, &err), 0);
    check_impls(&vw, x, x16, M, N, init, ref, ref16, got);
    floe_vmm_weights_free(&vw);
    if (wbits == 4)
        check_packed_views(wp, K, N, x, x16, M, init, ref, ref16, got);
    free(x);
    free(w);
    free(x16);
    free(wp);
    free(init);
    free(ref);
    free(ref16);
    free(got);
}

static void test_random_shapes(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 61);
    const size_t Ks[] = {0, 1, 2, 3, 63, 64, 65, 127, 128, 129, 200, 256, 1000, 1153};
    for (size_t a = 0; a < sizeof Ks / sizeof Ks[0]; a++)
        for (size_t M = 1; M <= 9; M += 4)
            for (size_t N = 1; N <= 11; N += 5) {
                check_shape(&r, M, Ks[a], N, 4, 0);
                check_shape(&r, M, Ks[a], N, 8, 0);
            }
}

static void test_extremes_and_wrap(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 62);
    check_shape(&r, 5, 4096, 6, 8, 1);  /* int16 x int8 sums wrap int32 here */
    check_shape(&r, 5, 4099, 6, 4, 1);
    check_shape(&r, 2, 70000, 2, 8, 1); /* crosses the portable kernel's chunk boundary */
    check_shape(&r, 3, 20001, 5, 4, 1); /* int16 x int4 sums wrap; packed rows of 10001 bytes */
    check_shape(&r, 1, 4096 * 128 + 301, 2, 4, 1); /* crosses the packed VNNI kernel's chunk boundary */
    check_shape(&r, 2, 4096 * 128 + 129, 3, 4, 0);
}

static void test_impl_names(void **state)
{
    (void)state;
    floe_vmm_impl got = floe_vmm_select(FLOE_VMM_AUTO);
    assert_true(got == FLOE_VMM_PORTABLE || got == FLOE_VMM_AVX512VNNI);
    assert_string_equal(floe_vmm_impl_name(FLOE_VMM_PORTABLE), "portable");
    print_message("vmm implementation on this CPU: %s\n", floe_vmm_impl_name(got));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_shapes),
        cmocka_unit_test(test_extremes_and_wrap),
        cmocka_unit_test(test_impl_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
