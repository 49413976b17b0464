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

/* Sign-extended nibble: (v ^ 8) - 8. */
static inline int32_t nib(unsigned v) { return (int32_t)((v & 15u) ^ 8u) - 8; }

static int row_sums_vnni(floe_vmm_weights *out);

int floe_vmm_weights_view_i4(floe_vmm_weights *out, const uint8_t *packed, size_t K, size_t N, floe_err *err)
{
    memset(out, 0, sizeof *out);
    out->K = K;
    out->N = N;
    out->stride = (K + 1) / 2;
    out->packed = packed;
    out->row_sum = malloc(sizeof(int32_t) * (N ? N : 1));
    if (!out->row_sum)
        return floe_err_set(err, "vmm: out of memory for the row sums of %zu x %zu weights", N, K);
    if (row_sums_vnni(out) == 0)
        return 0;
    for (size_t n = 0; n < N; n++) {
        const uint8_t *row = packed + n * out->stride;
        int32_t s = 0; /* |s| <= 8 K */
        for (size_t j = 0; j < K / 2; j++)
            s += nib(row[j]) + nib(row[j] >> 4u);
        if (K & 1)
            s += nib(row[K / 2]); /* the padding nibble is not a weight */
        out->row_sum[n] = s;
    }
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
    w->packed = NULL;
    w->row_sum = NULL;
}

/* ---- portable ---------------------------------------------------------------------------------
 * Products of int8 values are below 2^14, so a signed int32 sum of up to 2^17 of them cannot
 * overflow: the inner loop is plain signed arithmetic (vectorisable), and chunks are combined with
 * explicit wrap-around. int16 x int8 products are below 2^22: 256 of them fit. */
#define PORTABLE_CHUNK 65536
#define PORTABLE_I16_CHUNK 256
#define PORTABLE_SEG 4096 /* packed weights are unpacked this many (even) at a time, on the stack */

/* sum_k x[k] w[k] modulo 2^32 */
static inline uint32_t dot_i8(const int8_t *x, const int8_t *restrict w, size_t K)
{
    uint32_t total = 0;
    for (size_t k0 = 0; k0 < K; k0 += PORTABLE_CHUNK) {
        size_t k1 = k0 + PORTABLE_CHUNK < K ? k0 + PORTABLE_CHUNK : K;
        int32_t s = 0;
        for (size_t k = k0; k < k1; k++)
            s += (int32_t)x[k] * (int32_t)w[k];
        total += (uint32_t)s;
    }
    return total;
}

static inline uint32_t dot_i16(const int16_t *x, const int8_t *restrict w, size_t K)
{
    uint32_t total = 0;
    for (size_t k0 = 0; k0 < K; k0 += PORTABLE_I16_CHUNK) {
        size_t k1 = k0 + PORTABLE_I16_CHUNK < K ? k0 + PORTABLE_I16_CHUNK : K;
        int32_t s = 0;
        for (size_t k = k0; k < k1; k++)
            s += (int32_t)x[k] * (int32_t)w[k];
        total += (uint32_t)s;
    }
    return total;
}

/* floe_unpack_i4_array for an even start, written so that it vectorises: (v ^ 8) - 8 per nibble. */
static void unpack_i4(int8_t *restrict d, const uint8_t *restrict p, size_t len)
{
    for (size_t j = 0; j < len / 2; j++) {
        d[2 * j] = (int8_t)(((p[j] & 15) ^ 8) - 8);
        d[2 * j + 1] = (int8_t)(((p[j] >> 4) ^ 8) - 8);
    }
    if (len & 1)
        d[len - 1] = (int8_t)(((p[len / 2] & 15) ^ 8) - 8);
}

/* Either x8 or x16 is given (M input vectors of K). */
static void vmm_portable(int32_t *acc, const int8_t *x8, const int16_t *x16, size_t M, const floe_vmm_weights *w)
{
    size_t K = w->K, N = w->N;
    if (!w->packed) {
        for (size_t m = 0; m < M; m++)
            for (size_t n = 0; n < N; n++) {
                const int8_t *wn = w->w + n * w->stride;
                uint32_t d = x8 ? dot_i8(x8 + m * K, wn, K) : dot_i16(x16 + m * K, wn, K);
                acc[m * N + n] = (int32_t)((uint32_t)acc[m * N + n] + d);
            }
        return;
    }
    int8_t seg[PORTABLE_SEG];
    for (size_t n = 0; n < N; n++) {
        const uint8_t *row = w->packed + n * w->stride;
        if (x8 && M == 1 && K <= PORTABLE_CHUNK) { /* decode: one pass over the bytes, no unpacking */
            int32_t s = 0;
            for (size_t j = 0; j < K / 2; j++)
                s += (int32_t)x8[2 * j] * (((row[j] & 15) ^ 8) - 8) + (int32_t)x8[2 * j + 1] * (((row[j] >> 4) ^ 8) - 8);
            if (K & 1)
                s += (int32_t)x8[K - 1] * (((row[K / 2] & 15) ^ 8) - 8);
            acc[n] = (int32_t)((uint32_t)acc[n] + (uint32_t)s);
            continue;
        }
        for (size_t k0 = 0; k0 < K; k0 += PORTABLE_SEG) {
            size_t len = K - k0 < PORTABLE_SEG ? K - k0 : PORTABLE_SEG;
            unpack_i4(seg, row + k0 / 2, len);
            for (size_t m = 0; m < M; m++) {
                uint32_t d = x8 ? dot_i8(x8 + m * K + k0, seg, len) : dot_i16(x16 + m * K + k0, seg, len);
                acc[m * N + n] = (int32_t)((uint32_t)acc[m * N + n] + d);
            }
        }
    }
}

/* How the unsigned input bytes of a VNNI pass are made from the real inputs. */
typedef enum { IN_I8, IN_I16_HI, IN_I16_LO } in_kind;

static inline uint8_t in_byte(const int8_t *x8, const int16_t *x16, size_t k, in_kind kind)
{
    switch (kind) {
    case IN_I8: return (uint8_t)x8[k] ^ 0x80u;
    case IN_I16_HI: return (uint8_t)((uint16_t)x16[k] >> 8) ^ 0x80u;
    default: return (uint8_t)((uint16_t)x16[k] & 0xFFu);
    }
}

#ifdef FLOE_HAVE_X86
/* ---- AVX-512 VNNI ------------------------------------------------------------------------------
 * vpdpbusd multiplies unsigned by signed bytes. With xu = x + 128 (x ^ 0x80):
 *   sum_k x[k] w[k] = sum_k xu[k] w[k] - 128 * sum_k w[k]
 * in wrap-around int32 arithmetic, which is exactly the contract's accumulator. The products xu*w
 * are summed four at a time into int32 lanes; vpdpbusd wraps (it is the non-saturating form). */
#define VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))
#define VNNI_INLINE VNNI_TARGET __attribute__((always_inline)) static inline

VNNI_TARGET static inline uint32_t hsum_epi32(__m512i v)
{
    __m256i a = _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    __m128i b = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    b = _mm_add_epi32(b, _mm_shuffle_epi32(b, 0x4E));
    b = _mm_add_epi32(b, _mm_shuffle_epi32(b, 0xB1));
    return (uint32_t)_mm_cvtsi128_si32(b);
}

/* One block of up to 4 inputs x 4 rows; kb = number of 64-byte blocks; pf: bytes to prefetch, 4 lines
 * per block (as for the packed kernel below), when fewer than 4 inputs (decode, the simulator's case)
 * leave the loads waiting on DRAM (measured: it slows the 4 x 4 case down). */
VNNI_TARGET static void vnni_block(uint32_t out[4][4], const uint8_t *xu, size_t xs, int nm,
                                   const int8_t *w, size_t ws, int nn, size_t kb, uintptr_t pf)
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
        for (size_t b = 0; b < kb; b++) {
            for (int j = 0; j < 4; j++)
                _mm_prefetch((const char *)(pf + 64 * (4 * b + (size_t)j)), _MM_HINT_T1);
            for (int i = 0; i < nm; i++) {
                __m512i xv = _mm512_load_si512((const void *)(xu + i * xs + 64 * b));
                for (int j = 0; j < nn; j++)
                    s[i][j] = _mm512_dpbusd_epi32(s[i][j], xv, _mm512_load_si512((const void *)(w + j * ws + 64 * b)));
            }
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
            uintptr_t pf = (uintptr_t)w->w + (n0 + 8) * w->stride; /* two groups ahead */
            vnni_block(out, xu + m0 * w->stride, w->stride, nm, w->w + n0 * w->stride, w->stride, nn, kb, pf);
            for (int i = 0; i < nm; i++)
                for (int j = 0; j < nn; j++) {
                    uint32_t dot = out[i][j] - bias * (uint32_t)w->row_sum[n0 + j];
                    int32_t *a = &acc[(m0 + i) * w->N + n0 + j];
                    *a = (int32_t)((uint32_t)*a + scale * dot);
                }
        }
    }
}

/* ---- AVX-512 VNNI on packed int4 weights ---------------------------------------------------------
 * A 64-byte block of a packed row holds 128 weights: byte j has weight 2j in its low nibble and 2j+1
 * in its high nibble. The inputs are split once per call into even (xe) and odd (xo) halves, so
 * byte j of a block meets xe[j] and xo[j]. Each nibble is moved to the top of its byte, where as a
 * signed byte it is exactly 16 x its int4 value ((v << 4) & 0xF0 and v & 0xF0: no sign extension
 * needed), and vpdpbusd sums 16 x the products. A lane sums at most 8 products of |16 w xu| <=
 * 16 * 8 * 255 per block, so over PK_CHUNK blocks it stays below 2^31: exact, and an arithmetic shift
 * by 4 recovers the true sum before lanes are combined with wrap-around. Rows are read with
 * unaligned and (for a row's last partial block) masked loads: core memory has no alignment and a
 * read must not pass the row's end. Padding (past K, including the nibble after an odd K) meets
 * zero inputs. */
#define PK_CHUNK 4096
#define PK_ROWS 8 /* rows per kernel call for one input; 4 for 2..4 inputs */

/* [sum a0, sum a1, sum a2, sum a3] (wrap-around). */
VNNI_INLINE __m128i reduce4(__m512i a0, __m512i a1, __m512i a2, __m512i a3)
{
    __m512i t0 = _mm512_add_epi32(_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
    __m512i t1 = _mm512_add_epi32(_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
    __m512i u = _mm512_add_epi32(_mm512_unpacklo_epi64(t0, t1), _mm512_unpackhi_epi64(t0, t1));
    __m256i v = _mm256_add_epi32(_mm512_castsi512_si256(u), _mm512_extracti64x4_epi64(u, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
}

/* nm inputs (x: xe at x + i * xs, xo `half` bytes after it) times nn rows (w[j]), nfull full blocks
 * and, if tail is non-zero, one partial block of those bytes. out[i * nn / 4 + g] += the sums of
 * rows 4g..4g+3 for input i. Inlined with constant nm and nn, so s[][] lives in registers. */
VNNI_INLINE void pk_kernel(__m128i *out, const uint8_t *x, size_t xs, size_t half, const int nm,
                           const uint8_t *const *w, const int nn, size_t nfull, __mmask64 tail, uintptr_t pf)
{
    const __m512i top = _mm512_set1_epi8((char)0xF0);
    __m512i s[4][PK_ROWS];
    for (int i = 0; i < nm; i++)
        for (int j = 0; j < nn; j++)
            s[i][j] = _mm512_setzero_si512();
    size_t nb = nfull + (tail != 0);
    for (size_t b = 0; b < nb; b++) {
        __mmask64 k = b < nfull ? ~(__mmask64)0 : tail;
        __m512i lo[PK_ROWS], hi[PK_ROWS];
        for (int j = 0; j < nn; j++) {
            __m512i v = _mm512_maskz_loadu_epi8(k, w[j] + 64 * b);
            _mm_prefetch((const char *)(pf + 64 * (nn * b + (size_t)j)), _MM_HINT_T1);
            lo[j] = _mm512_and_si512(_mm512_slli_epi16(v, 4), top);
            hi[j] = _mm512_and_si512(v, top);
        }
        for (int i = 0; i < nm; i++) {
            __m512i xe = _mm512_load_si512((const void *)(x + i * xs + 64 * b));
            __m512i xo = _mm512_load_si512((const void *)(x + i * xs + half + 64 * b));
            for (int j = 0; j < nn; j++) {
                s[i][j] = _mm512_dpbusd_epi32(s[i][j], xe, lo[j]);
                s[i][j] = _mm512_dpbusd_epi32(s[i][j], xo, hi[j]);
            }
        }
    }
    for (int i = 0; i < nm; i++)
        for (int g = 0; g < nn / 4; g++)
            out[i * (nn / 4) + g] = _mm_add_epi32(out[i * (nn / 4) + g],
                                                  reduce4(_mm512_srai_epi32(s[i][4 * g], 4),
                                                          _mm512_srai_epi32(s[i][4 * g + 1], 4),
                                                          _mm512_srai_epi32(s[i][4 * g + 2], 4),
                                                          _mm512_srai_epi32(s[i][4 * g + 3], 4)));
}

/* M <= 4 inputs, split as above (xs bytes apart); acc and bias, scale as for vmm_vnni_u8. */
VNNI_TARGET static void vmm_vnni_packed(int32_t *acc, const uint8_t *x, size_t xs, size_t M, const floe_vmm_weights *w,
                                        uint32_t bias, uint32_t scale)
{
    size_t rb = w->stride, nb = (rb + 63) / 64, half = 64 * nb, N = w->N;
    size_t full = rb / 64;
    __mmask64 last = rb % 64 ? ~(__mmask64)0 >> (64 - rb % 64) : 0;
    int nn = M == 1 ? PK_ROWS : 4;
    for (size_t n0 = 0; n0 < N; n0 += (size_t)nn) {
        const uint8_t *rows[PK_ROWS];
        for (int j = 0; j < nn; j++) /* past N: repeat a real row, whose result is dropped */
            rows[j] = w->packed + (n0 + (size_t)j < N ? n0 + (size_t)j : n0) * rb;
        __m128i out[8];
        for (int g = 0; g < 8; g++)
            out[g] = _mm_setzero_si128();
        for (size_t c0 = 0; c0 < nb; c0 += PK_CHUNK) {
            int end = nb - c0 <= PK_CHUNK;
            size_t nfull = end ? full - c0 : PK_CHUNK;
            __mmask64 tail = end ? last : 0;
            const uint8_t *r[PK_ROWS];
            for (int j = 0; j < nn; j++)
                r[j] = rows[j] + 64 * c0;
            const uint8_t *xc = x + 64 * c0;
            /* Weights stream from DRAM once per product (a core's weights are not reused before
             * 255 other cores' are read): prefetch the rows two groups ahead, whose bytes are
             * contiguous, one line per line loaded, into L2 (T1: twice the speed of T0 here, which
             * competes with the loads for L1 miss buffers). Past the end it is harmless. */
            uintptr_t pf = (uintptr_t)w->packed + (n0 + 2 * (size_t)nn) * rb + 64 * (size_t)nn * c0;
            switch (M) {
            case 1: pk_kernel(out, xc, xs, half, 1, r, PK_ROWS, nfull, tail, pf); break;
            case 2: pk_kernel(out, xc, xs, half, 2, r, 4, nfull, tail, pf); break;
            case 3: pk_kernel(out, xc, xs, half, 3, r, 4, nfull, tail, pf); break;
            default: pk_kernel(out, xc, xs, half, 4, r, 4, nfull, tail, pf); break;
            }
        }
        uint32_t o[8];
        for (size_t i = 0; i < M; i++) {
            for (int g = 0; g < nn / 4; g++)
                _mm_storeu_si128((__m128i *)(o + 4 * g), out[i * (size_t)(nn / 4) + (size_t)g]);
            for (size_t j = 0; j < (size_t)nn && n0 + j < N; j++) {
                uint32_t dot = o[j] - bias * (uint32_t)w->row_sum[n0 + j];
                int32_t *a = &acc[i * N + n0 + j];
                *a = (int32_t)((uint32_t)*a + scale * dot);
            }
        }
    }
}

/* lay_out_inputs for int8 inputs and packed weights, 128 inputs at a time: bytes of 16-bit lanes
 * are split into even (low) and odd (high) halves, packed back to bytes and put in order. */
VNNI_TARGET static void split_i8(uint8_t *d, size_t half, const int8_t *x, size_t K)
{
    const __m512i low = _mm512_set1_epi16(0x00FF), flip = _mm512_set1_epi8((char)0x80);
    const __m512i order = _mm512_set_epi64(7, 5, 3, 1, 6, 4, 2, 0);
    for (size_t b = 0; b < half / 64; b++) {
        size_t left = K - 128 * b; /* > 0: half covers (K + 1) / 2 bytes */
        __mmask64 m0 = left >= 64 ? ~(__mmask64)0 : ~(__mmask64)0 >> (64 - left);
        __mmask64 m1 = left >= 128 ? ~(__mmask64)0 : left > 64 ? ~(__mmask64)0 >> (128 - left) : 0;
        /* offset to unsigned, and zero past K */
        __m512i a = _mm512_maskz_mov_epi8(m0, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m0, x + 128 * b), flip));
        __m512i c = _mm512_maskz_mov_epi8(m1, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m1, x + 128 * b + 64), flip));
        __m512i e = _mm512_packus_epi16(_mm512_and_si512(a, low), _mm512_and_si512(c, low));
        __m512i o = _mm512_packus_epi16(_mm512_srli_epi16(a, 8), _mm512_srli_epi16(c, 8));
        _mm512_store_si512((void *)(d + 64 * b), _mm512_permutexvar_epi64(order, e));
        _mm512_store_si512((void *)(d + half + 64 * b), _mm512_permutexvar_epi64(order, o));
    }
}
#endif

/* Input buffers of the VNNI paths: on the stack up to this size (no allocation per product), else
 * on the heap. */
#define STACK_INPUTS 16384

/* Lays out up to 4 inputs for a VNNI pass at buf (xs bytes each): expanded weights take the K
 * unsigned bytes, zero padded; packed ones take even inputs at 0 and odd ones at `half`, zero past
 * K so that weight padding adds nothing. */
static void lay_out_inputs(uint8_t *buf, size_t xs, const int8_t *x8, const int16_t *x16, size_t M, size_t K,
                           int packed, size_t half, in_kind kind)
{
#ifdef FLOE_HAVE_X86
    if (packed && kind == IN_I8) { /* the simulator's common case; only called when VNNI runs */
        for (size_t m = 0; m < M; m++)
            split_i8(buf + m * xs, half, x8 + m * K, K);
        return;
    }
#endif
    memset(buf, 0, xs * M);
    for (size_t m = 0; m < M; m++) {
        uint8_t *d = buf + m * xs;
        const int8_t *a8 = x8 ? x8 + m * K : NULL;
        const int16_t *a16 = x16 ? x16 + m * K : NULL;
        if (!packed) {
            for (size_t k = 0; k < K; k++)
                d[k] = in_byte(a8, a16, k, kind);
        } else {
            for (size_t k = 0; k + 1 < K; k += 2) {
                d[k / 2] = in_byte(a8, a16, k, kind);
                d[half + k / 2] = in_byte(a8, a16, k + 1, kind);
            }
            if (K & 1)
                d[K / 2] = in_byte(a8, a16, K - 1, kind);
        }
    }
}

/* One implementation's product for int8 (x8) or int16 (x16) inputs; returns -1 if VNNI could not
 * run (no CPU support or no memory), leaving acc untouched. */
static int vmm_vnni(int32_t *acc, const int8_t *x8, const int16_t *x16, size_t M, const floe_vmm_weights *w)
{
#ifdef FLOE_HAVE_X86
    size_t half = 64 * ((w->stride + 63) / 64);
    size_t xs = w->packed ? 2 * half : w->stride;
    _Alignas(64) uint8_t stack[STACK_INPUTS];
    uint8_t *buf = stack;
    if (4 * xs > sizeof stack && !(buf = aligned_alloc(64, 4 * xs)))
        return -1;
    static const in_kind i8[] = {IN_I8}, i16[] = {IN_I16_HI, IN_I16_LO};
    static const uint32_t bias8[] = {128u}, scale8[] = {1u}, bias16[] = {128u, 0u}, scale16[] = {256u, 1u};
    /* int16: two passes, as the chip runs them: the signed high byte (times 256), then the
     * unsigned low byte, which vpdpbusd takes as it is (no +128 correction). */
    int passes = x8 ? 1 : 2;
    for (size_t m0 = 0; m0 < M; m0 += 4) {
        size_t nm = M - m0 < 4 ? M - m0 : 4;
        for (int p = 0; p < passes; p++) {
            in_kind kind = x8 ? i8[p] : i16[p];
            uint32_t bias = x8 ? bias8[p] : bias16[p], scale = x8 ? scale8[p] : scale16[p];
            lay_out_inputs(buf, xs, x8 ? x8 + m0 * w->K : NULL, x16 ? x16 + m0 * w->K : NULL, nm, w->K,
                           w->packed != NULL, half, kind);
            if (w->packed)
                vmm_vnni_packed(acc + m0 * w->N, buf, xs, nm, w, bias, scale);
            else
                vmm_vnni_u8(acc + m0 * w->N, buf, nm, w, bias, scale);
        }
    }
    if (buf != stack)
        free(buf);
    return 0;
#else
    (void)acc, (void)x8, (void)x16, (void)M, (void)w;
    return -1;
#endif
}

/* Row sums of a packed view as a product with ones (at the kernel's speed: the simulator builds a
 * view per core); -1 when VNNI is not in use or K is too long for the stack buffer. */
static int row_sums_vnni(floe_vmm_weights *out)
{
    if (active == FLOE_VMM_AUTO)
        floe_vmm_select(FLOE_VMM_AUTO);
#ifdef FLOE_HAVE_X86
    size_t half = 64 * ((out->stride + 63) / 64);
    _Alignas(64) uint8_t ones[STACK_INPUTS];
    if (active != FLOE_VMM_AVX512VNNI || 2 * half > sizeof ones)
        return -1;
    memset(ones, 0, 2 * half);
    for (size_t k = 0; k < out->K; k++)
        ones[(k & 1) * half + k / 2] = 1;
    memset(out->row_sum, 0, sizeof(int32_t) * out->N);
    vmm_vnni_packed(out->row_sum, ones, 2 * half, 1, out, 0u, 1u); /* bias 0: row_sum is not used */
    return 0;
#else
    (void)out;
    return -1;
#endif
}

void floe_vmm_i8(int32_t *acc, const int8_t *x, size_t M, const floe_vmm_weights *w)
{
    if (active == FLOE_VMM_AUTO)
        floe_vmm_select(FLOE_VMM_AUTO);
    if (active == FLOE_VMM_AVX512VNNI && vmm_vnni(acc, x, NULL, M, w) == 0)
        return;
    vmm_portable(acc, x, NULL, M, w);
}

void floe_vmm_i16(int32_t *acc, const int16_t *x, size_t M, const floe_vmm_weights *w)
{
    if (active == FLOE_VMM_AUTO)
        floe_vmm_select(FLOE_VMM_AUTO);
    if (active == FLOE_VMM_AVX512VNNI && vmm_vnni(acc, NULL, x, M, w) == 0)
        return;
    vmm_portable(acc, NULL, x, M, w);
}
