#include "sim/vmm.h"

#include <stdlib.h>
#include <string.h>

#include "isa/saturate.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FLOE_HAVE_X86 1
#include <immintrin.h>
#endif

static floe_vmm_impl active = FLOE_VMM_AUTO;

static int cpu_has_vnni(void)
{
#ifdef FLOE_HAVE_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
#else
    return 0;
#endif
}

floe_vmm_impl floe_vmm_select(floe_vmm_impl impl)
{
    if (impl == FLOE_VMM_AUTO || (impl == FLOE_VMM_AVX512VNNI && !cpu_has_vnni()))
        impl = cpu_has_vnni() ? FLOE_VMM_AVX512VNNI : FLOE_VMM_PORTABLE;
    active = impl;
    return active;
}

const char *floe_vmm_impl_name(floe_vmm_impl impl)
{
    switch (impl) {
    case FLOE_VMM_PORTABLE: return "portable";
    case FLOE_VMM_AVX512VNNI: return "avx512-vnni";
    default: return "auto";
    }
}

static int alloc_weights(floe_vmm_weights *out, size_t K, size_t N, floe_err *err)
{
    memset(out, 0, sizeof *out);
    out->K = K;
    out->N = N;
    out->stride = (K + 63) & ~(size_t)63;
    size_t bytes = out->stride * (N ? N : 1);
    out->w = aligned_alloc(64, bytes);
    out->row_sum = malloc(sizeof(int32_t) * (N ? N : 1));
    if (!out->w || !out->row_sum) {
        floe_vmm_weights_free(out);
        return floe_err_set(err, "vmm: out of memory expanding %zu x %zu weights", N, K);
    }
    memset(out->w, 0, bytes);
    return 0;
}

static void finish_row_sums(floe_vmm_weights *out)
{
    for (size_t n = 0; n < out->N; n++) {
        int32_t s = 0;
        for (size_t k = 0; k < out->K; k++)
            s += out->w[n * out->stride + k]; /* |s| <= 128 K: exact for any K a core can hold */
        out->row_sum[n] = s;
    }
}

int floe_vmm_weights_from_i4(floe_vmm_weights *out, const uint8_t *packed, size_t K, size_t N, floe_err *err)
{
    if (alloc_weights(out, K, N, err) != 0)
        return -1;
    size_t row_bytes = (K + 1) / 2;
    for (size_t n = 0; n < N; n++)
        floe_unpack_i4_array(out->w + n * out->stride, packed + n * row_bytes, K);
    finish_row_sums(out);
    return 0;
}

int floe_vmm_weights_from_i8(floe_vmm_weights *out, const int8_t *w, size_t K, size_t N, floe_err *err)
{
    if (alloc_weights(out, K, N, err) != 0)
        return -1;
    for (size_t n = 0; n < N; n++)
        memcpy(out->w + n * out->stride, w + n * K, K);
    finish_row_sums(out);
    return 0;
}

void floe_vmm_weights_free(floe_vmm_weights *w)
{
    free(w->w);
    free(w->row_sum);
    w->w = NULL;
    w->row_sum = NULL;
}

/* ---- portable ---------------------------------------------------------------------------------
 * Products of int8 values are below 2^14, so a signed int32 sum of up to 2^17 of them cannot
 * overflow: the inner loop is plain signed arithmetic (vectorisable), and chunks are combined with
 * explicit wrap-around. */
#define PORTABLE_CHUNK 65536

static void vmm_i8_portable(int32_t *acc, const int8_t *x, size_t M, const floe_vmm_weights *w)
{
    for (size_t m = 0; m < M; m++) {
        const int8_t *xm = x + m * w->K;
        for (size_t n = 0; n < w->N; n++) {
            const int8_t *restrict wn = w->w + n * w->stride;
            uint32_t total = (uint32_t)acc[m * w->N + n];
            for (size_t k0 = 0; k0 < w->K; k0 += PORTABLE_CHUNK) {
                size_t k1 = k0 + PORTABLE_CHUNK < w->K ? k0 + PORTABLE_CHUNK : w->K;
                int32_t s = 0;
                for (size_t k = k0; k < k1; k++)
                    s += (int32_t)xm[k] * (int32_t)wn[k];
                total += (uint32_t)s;
            }
            acc[m * w->N + n] = (int32_t)total;
        }
    }
}

#ifdef FLOE_HAVE_X86
/* ---- AVX-512 VNNI ------------------------------------------------------------------------------
 * vpdpbusd multiplies unsigned by signed bytes. With xu = x + 128 (x ^ 0x80):
 *   sum_k x[k] w[k] = sum_k xu[k] w[k] - 128 * sum_k w[k]
 * in wrap-around int32 arithmetic, which is exactly the contract's accumulator. The products xu*w
 * are summed four at a time into int32 lanes; vpdpbusd wraps (it is the non-saturating form). */
#define VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))

VNNI_TARGET static inline uint32_t hsum_epi32(__m512i v)
{
    __m256i a = _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    __m128i b = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    b = _mm_add_epi32(b, _mm_shuffle_epi32(b, 0x4E));
    b = _mm_add_epi32(b, _mm_shuffle_epi32(b, 0xB1));
    return (uint32_t)_mm_cvtsi128_si32(b);
}

/* One block of up to 4 inputs x 4 rows; kb = number of 64-byte blocks. */
VNNI_TARGET static void vnni_block(uint32_t out[4][4], const uint8_t *xu, size_t xs, int nm,
                                   const int8_t *w, size_t ws, int nn, size_t kb)
{
    __m512i s[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            s[i][j] = _mm512_setzero_si512();
    if (nm == 4 && nn == 4) {
        for (size_t b = 0; b < kb; b++) {
            __m512i wv0 = _mm512_load_si512((const void *)(w + 0 * ws + 64 * b));
            __m512i wv1 = _mm512_load_si512((const void *)(w + 1 * ws + 64 * b));
            __m512i wv2 = _mm512_load_si512((const void *)(w + 2 * ws + 64 * b));
            __m512i wv3 = _mm512_load_si512((const void *)(w + 3 * ws + 64 * b));
            for (int i = 0; i < 4; i++) {
                __m512i xv = _mm512_load_si512((const void *)(xu + i * xs + 64 * b));
                s[i][0] = _mm512_dpbusd_epi32(s[i][0], xv, wv0);
                s[i][1] = _mm512_dpbusd_epi32(s[i][1], xv, wv1);
                s[i][2] = _mm512_dpbusd_epi32(s[i][2], xv, wv2);
                s[i][3] = _mm512_dpbusd_epi32(s[i][3], xv, wv3);
            }
        }
    } else {
        for (size_t b = 0; b < kb; b++)
            for (int i = 0; i < nm; i++) {
                __m512i xv = _mm512_load_si512((const void *)(xu + i * xs + 64 * b));
                for (int j = 0; j < nn; j++)
                    s[i][j] = _mm512_dpbusd_epi32(s[i][j], xv, _mm512_load_si512((const void *)(w + j * ws + 64 * b)));
            }
    }
    for (int i = 0; i < nm; i++)
        for (int j = 0; j < nn; j++)
            out[i][j] = hsum_epi32(s[i][j]);
}

/* xu: [M][stride] unsigned inputs; `bias` is what each xu exceeds the real input by (128 for int8
 * inputs, 0 for the unsigned low byte of int16 inputs); scale multiplies the result (1, or 256 for
 * the high byte pass). */
VNNI_TARGET static void vmm_vnni_u8(int32_t *acc, const uint8_t *xu, size_t M, const floe_vmm_weights *w,
                                    uint32_t bias, uint32_t scale)
{
    size_t kb = w->stride / 64;
    uint32_t out[4][4];
    for (size_t m0 = 0; m0 < M; m0 += 4) {
        int nm = M - m0 < 4 ? (int)(M - m0) : 4;
        for (size_t n0 = 0; n0 < w->N; n0 += 4) {
            int nn = w->N - n0 < 4 ? (int)(w->N - n0) : 4;
            vnni_block(out, xu + m0 * w->stride, w->stride, nm, w->w + n0 * w->stride, w->stride, nn, kb);
            for (int i = 0; i < nm; i++)
                for (int j = 0; j < nn; j++) {
                    uint32_t dot = out[i][j] - bias * (uint32_t)w->row_sum[n0 + j];
                    int32_t *a = &acc[(m0 + i) * w->N + n0 + j];
                    *a = (int32_t)((uint32_t)*a + scale * dot);
                }
        }
    }
}
#endif

static uint8_t *padded_inputs(size_t M, size_t stride)
{
    size_t bytes = M * stride;
    uint8_t *xu = aligned_alloc(64, bytes > 0 ? bytes : 64);
    if (xu)
        memset(xu, 0, M * stride);
    return xu;
}

void floe_vmm_i8(int32_t *acc, const int8_t *x, size_t M, const floe_vmm_weights *w)
{
    if (active == FLOE_VMM_AUTO)
        floe_vmm_select(FLOE_VMM_AUTO);
#ifdef FLOE_HAVE_X86
    if (active == FLOE_VMM_AVX512VNNI) {
        uint8_t *xu = padded_inputs(M, w->stride);
        if (xu) {
            for (size_t m = 0; m < M; m++)
                for (size_t k = 0; k < w->K; k++)
                    xu[m * w->stride + k] = (uint8_t)x[m * w->K + k] ^ 0x80u;
            vmm_vnni_u8(acc, xu, M, w, 128u, 1u);
            free(xu);
            return;
        }
    }
#endif
    vmm_i8_portable(acc, x, M, w);
}

/* int16 x int8 products are below 2^22: 256 of them fit a signed int32 sum exactly. */
#define PORTABLE_I16_CHUNK 256

static void vmm_i16_portable(int32_t *acc, const int16_t *x, size_t M, const floe_vmm_weights *w)
{
    for (size_t m = 0; m < M; m++) {
        const int16_t *xm = x + m * w->K;
        for (size_t n = 0; n < w->N; n++) {
            const int8_t *restrict wn = w->w + n * w->stride;
            uint32_t total = (uint32_t)acc[m * w->N + n];
            for (size_t k0 = 0; k0 < w->K; k0 += PORTABLE_I16_CHUNK) {
                size_t k1 = k0 + PORTABLE_I16_CHUNK < w->K ? k0 + PORTABLE_I16_CHUNK : w->K;
                int32_t s = 0;
                for (size_t k = k0; k < k1; k++)
                    s += (int32_t)xm[k] * (int32_t)wn[k];
                total += (uint32_t)s;
            }
            acc[m * w->N + n] = (int32_t)total;
        }
    }
}

void floe_vmm_i16(int32_t *acc, const int16_t *x, size_t M, const floe_vmm_weights *w)
{
    if (active == FLOE_VMM_AUTO)
        floe_vmm_select(FLOE_VMM_AUTO);
#ifdef FLOE_HAVE_X86
    if (active == FLOE_VMM_AVX512VNNI) {
        /* Two passes, as the chip runs them: the signed high byte (times 256), then the unsigned
         * low byte, which vpdpbusd takes as it is (no +128 correction). */
        uint8_t *xu = padded_inputs(M, w->stride);
        if (xu) {
            for (size_t m = 0; m < M; m++)
                for (size_t k = 0; k < w->K; k++)
                    xu[m * w->stride + k] = (uint8_t)(x[m * w->K + k] >> 8) ^ 0x80u;
            vmm_vnni_u8(acc, xu, M, w, 128u, 256u);
            for (size_t m = 0; m < M; m++)
                for (size_t k = 0; k < w->K; k++)
                    xu[m * w->stride + k] = (uint8_t)(x[m * w->K + k] & 0xFF);
            vmm_vnni_u8(acc, xu, M, w, 0u, 1u);
            free(xu);
            return;
        }
    }
#endif
    vmm_i16_portable(acc, x, M, w);
}
