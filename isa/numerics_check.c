#include "isa/numerics_check.h"

#include <math.h>
#include <string.h>

#include "common/rng.h"
#include "isa/numerics.h"

/* ---- digest ---------------------------------------------------------------------------------- */

typedef struct {
    uint64_t h;
} fnv;

static void fnv_bytes(fnv *f, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        f->h ^= b[i];
        f->h *= 0x100000001B3ull;
    }
}
static void fnv_i64(fnv *f, int64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)v >> (8 * i)); /* little-endian on every host */
    fnv_bytes(f, b, 8);
}

static double silu_in_digest(double x, const void *ctx)
{
    (void)ctx;
    return floe_silu_ref(x);
}

/* Each part hashes one family of operations; the digest runs them in the order of digest_parts, all
 * drawing from one generator, so a part's inputs depend on the parts before it. docs/numerics.md
 * ("Reproducibility") states every part's inputs. */

static void digest_saturate(fnv *f, floe_rng *r)
{
    (void)r;
    for (int64_t v = -40000; v <= 40000; v += 7)
        fnv_i64(f, floe_sat_i4(v) + floe_sat_i8(v) * 16 + floe_sat_i16(v * 99991) * 4096);
    for (int i = 0; i < 256; i++)
        fnv_i64(f, floe_unpack_i4_lo((uint8_t)i) * 16 + floe_unpack_i4_hi((uint8_t)i));
}

static void digest_requant(fnv *f, floe_rng *r)
{
    for (int i = 0; i < 20000; i++) {
        double frac = floe_rng_uniform(r);
        double M = ldexp(1.0 + frac, (int)floe_rng_range(r, -45, 20));
        floe_requant_mult q;
        fnv_i64(f, floe_requant_mult_from_real(M, &q));
        fnv_i64(f, q.m);
        fnv_i64(f, q.shift);
        int32_t acc = (int32_t)floe_rng_u64(r);
        fnv_i64(f, floe_requant_raw(acc, q));
        fnv_i64(f, floe_requant_bits(acc >> 8, q, 8));
        floe_requant_mult q2;
        q2.m = (int32_t)floe_rng_range(r, 0, INT32_MAX);
        q2.shift = (int32_t)floe_rng_range(r, 0, 62);
        floe_requant_mult p = floe_requant_mult_mul(q, q2);
        fnv_i64(f, p.m);
        fnv_i64(f, p.shift);
    }
}

static void digest_quantize(fnv *f, floe_rng *r)
{
    for (int i = 0; i < 20000; i++) {
        double frac = floe_rng_uniform(r);
        float step = (float)ldexp(0.5 + frac, (int)floe_rng_range(r, -12, 3));
        float v = (float)(floe_rng_normal(r) * 4.0);
        fnv_i64(f, floe_quantize_f(v, step, -128, 127));
        fnv_i64(f, floe_quantize_f(v, step, -8, 7));
    }
}

static void digest_recip(fnv *f, floe_rng *r)
{
    for (int i = 0; i < 20000; i++) {
        uint32_t x = i < 5000 ? (uint32_t)i : (uint32_t)floe_rng_u64(r);
        floe_requant_mult a = floe_recip_u32(x);
        uint64_t y = (uint64_t)i;
        if (i >= 5000) {
            y = floe_rng_u64(r);
            y >>= floe_rng_range(r, 0, 63);
        }
        floe_requant_mult b = floe_rsqrt_u64(y);
        fnv_i64(f, a.m + ((int64_t)a.shift << 32));
        fnv_i64(f, b.m + ((int64_t)b.shift << 32));
        fnv_i64(f, floe_isqrt64(floe_rng_u64(r)));
    }
}

static void digest_exp2(fnv *f, floe_rng *r)
{
    (void)r;
    for (int32_t x = -5000; x <= 10; x++)
        fnv_i64(f, floe_exp2_neg(x));
}

static void digest_softmax(fnv *f, floe_rng *r)
{
    int32_t z[97];
    int16_t p16[97];
    for (int row = 0; row < 300; row++) {
        size_t n = 1 + (size_t)floe_rng_below(r, 97);
        for (size_t i = 0; i < n; i++)
            z[i] = (int32_t)floe_rng_range(r, -3000, 3000);
        floe_softmax_row(p16, z, n);
        for (size_t i = 0; i < n; i++)
            fnv_i64(f, p16[i]);
    }
}

static void digest_lut(fnv *f, floe_rng *r)
{
    (void)r;
    floe_lut8 l8;
    floe_silu_lut8_build(&l8, 0.05, 0.01, 16);
    fnv_bytes(f, l8.v, sizeof l8.v);
    floe_lut16 l16;
    floe_lut16_build(&l16, silu_in_digest, NULL, 1.0 / 2048, 1.0 / 2048, 16);
    for (int x = -32768; x < 32768; x += 3)
        fnv_i64(f, floe_lut16_apply(&l16, (int16_t)x));
}

static void digest_rope(fnv *f, floe_rng *r)
{
    floe_rope_table rt;
    if (floe_rope_table_build(&rt, 64, 32, 10000.0, NULL) != 0)
        return;
    int16_t v[32];
    for (int pos = 0; pos < 64; pos++) {
        for (int i = 0; i < 32; i++)
            v[i] = (int16_t)floe_rng_range(r, -32768, 32767);
        floe_rope_rotate_i16(v, &rt, pos);
        for (int i = 0; i < 32; i++)
            fnv_i64(f, v[i]);
    }
    floe_rope_table_free(&rt);
}

static void digest_rmsnorm(fnv *f, floe_rng *r)
{
    int16_t xr[64];
    int32_t yr[64];
    floe_requant_mult c[64];
    for (int row = 0; row < 200; row++) {
        for (int i = 0; i < 64; i++) {
            xr[i] = (int16_t)floe_rng_range(r, -3000, 3000);
            floe_requant_mult_from_real(8.0 * (0.5 + floe_rng_uniform(r)) * 16.0, &c[i]);
        }
        floe_rmsnorm_row(yr, xr, 64, floe_rmsnorm_eps_q(1e-5, 64, 0.01), c, row & 1, -128, 127);
        for (int i = 0; i < 64; i++)
            fnv_i64(f, yr[i]);
    }
}

static void digest_vmm(fnv *f, floe_rng *r)
{
    int8_t xv[67], wv[67 * 5];
    uint8_t wp[34 * 5];
    int16_t x16[67];
    for (int t = 0; t < 100; t++) {
        for (int i = 0; i < 67; i++) {
            xv[i] = (int8_t)floe_rng_range(r, -128, 127);
            x16[i] = (int16_t)floe_rng_range(r, -32768, 32767);
        }
        for (int i = 0; i < 67 * 5; i++)
            wv[i] = (int8_t)floe_rng_range(r, -8, 7);
        for (int n = 0; n < 5; n++)
            floe_pack_i4_array(wp + n * 34, wv + n * 67, 67);
        int32_t a4[5] = {0}, a8[5] = {0}, a16[5] = {0};
        floe_vmm_i8_i4_ref(a4, xv, wp, 67, 5);
        floe_vmm_i8_i8_ref(a8, xv, wv, 67, 5);
        floe_vmm_i16_i8_ref(a16, x16, wv, 67, 5);
        for (int n = 0; n < 5; n++) {
            fnv_i64(f, a4[n]);
            fnv_i64(f, a8[n]);
            fnv_i64(f, a16[n]);
        }
    }
}

/* A normalised multiplier {m in [2^30, 2^31), shift in [0, max_shift]}: integers only. */
static floe_requant_mult digest_mult(floe_rng *r, int max_shift)
{
    floe_requant_mult q;
    q.m = (int32_t)floe_rng_range(r, (int64_t)1 << 30, INT32_MAX);
    q.shift = (int32_t)floe_rng_range(r, 0, max_shift);
    return q;
}

/* Per-token activation scaling (§10): the shift search, the producer's and the consumer's
 * multipliers, whole rows and the per-token RMSNorm. */
static void digest_token(fnv *f, floe_rng *r)
{
    for (int i = 0; i < 20000; i++) {
        floe_requant_mult M = digest_mult(r, 62);
        int K = (int)floe_rng_range(r, 0, FLOE_TOKEN_K_MAX);
        int32_t hi = (i & 1) ? 127 : 7, lo = -hi - 1;
        uint64_t amax = floe_rng_below(r, ((uint64_t)1 << 31) + 1);
        amax >>= floe_rng_range(r, 0, 31); /* a statement of its own: the draws' order is fixed */
        int k = floe_token_k(amax, M, K, hi);
        floe_requant_mult up = floe_token_mult_up(M, k);
        fnv_i64(f, k);
        fnv_i64(f, up.m);
        fnv_i64(f, up.shift);
        int32_t acc = (int32_t)floe_rng_u64(r);
        for (int kk = 0; kk <= FLOE_TOKEN_K_MAX; kk++) /* total shifts past 62 included */
            fnv_i64(f, floe_requant_k(acc, M, kk, lo, hi));
    }
    int32_t x[97], y[97];
    for (int row = 0; row < 300; row++) {
        size_t n = 1 + (size_t)floe_rng_below(r, 97);
        int64_t lim = INT32_MAX >> floe_rng_range(r, 0, 30);
        for (size_t i = 0; i < n; i++)
            x[i] = (int32_t)floe_rng_range(r, -lim, lim);
        floe_requant_mult M = digest_mult(r, 40);
        int K = (int)floe_rng_range(r, 0, FLOE_TOKEN_K_MAX);
        int32_t hi = (row & 1) ? 127 : 7;
        fnv_i64(f, floe_token_requant_row(y, x, n, M, K, -hi - 1, hi));
        for (size_t i = 0; i < n; i++)
            fnv_i64(f, y[i]);
    }
    int16_t q[64];
    for (int row = 0; row < 300; row++) {
        size_t d = 1 + (size_t)floe_rng_below(r, 64);
        int64_t mag = (int64_t)1 << floe_rng_range(r, 0, 15);
        for (size_t i = 0; i < d; i++)
            q[i] = (int16_t)floe_rng_range(r, -mag, mag - 1);
        floe_requant_mult c = {(int32_t)floe_rng_range(r, (int64_t)1 << 30, INT32_MAX), 24};
        uint64_t eps_q = 1 + floe_rng_below(r, 100);
        int K = (int)floe_rng_range(r, 0, FLOE_TOKEN_K_MAX);
        int32_t hi = (row & 1) ? 127 : 7;
        fnv_i64(f, floe_rmsnorm_row_token(y, q, d, eps_q, c, K, -hi - 1, hi));
        for (size_t i = 0; i < d; i++)
            fnv_i64(f, y[i]);
    }
}

/* llama3-scaled RoPE tables (§7): the frequencies of floe_rope_llama3_inv_freq (head_dim 32, theta
 * 500000, factor 8, low 1, high 4, original context 16), the table of 256 positions from them; every
 * cos then sin entry, position by position (no draws). */
static void digest_rope_llama3(fnv *f, floe_rng *r)
{
    (void)r;
    double inv_freq[16];
    floe_rope_llama3_inv_freq(inv_freq, 32, 500000.0, 8.0, 1.0, 4.0, 16);
    floe_rope_table rt;
    if (floe_rope_table_build_freq(&rt, 256, 32, inv_freq, NULL) != 0)
        return;
    for (int i = 0; i < 256 * 16; i++) {
        fnv_i64(f, rt.cos[i]);
        fnv_i64(f, rt.sin[i]);
    }
    floe_rope_table_free(&rt);
}

/* The operations the digest covers, in the order it hashes them: one list, which the docs follow. */
static void (*const digest_parts[])(fnv *f, floe_rng *r) = {
    digest_saturate, digest_requant, digest_quantize, digest_recip, digest_exp2,  digest_softmax,
    digest_lut,      digest_rope,    digest_rmsnorm,  digest_vmm,   digest_token, digest_rope_llama3,
};

uint64_t floe_numerics_digest(void)
{
    fnv f = {0xCBF29CE484222325ull};
    floe_rng r;
    floe_rng_seed(&r, 20261122);
    for (size_t i = 0; i < sizeof digest_parts / sizeof digest_parts[0]; i++)
        digest_parts[i](&f, &r);
    return f.h;
}

/* ---- accuracy -------------------------------------------------------------------------------- */

typedef struct {
    double max, sum;
    uint64_t n;
} err_acc;

static void err_add(err_acc *e, double err)
{
    err = fabs(err);
    if (err > e->max)
        e->max = err;
    e->sum += err;
    e->n++;
}

static floe_accuracy_row row_of(const char *op, const char *domain, const err_acc *e, double bound)
{
    return (floe_accuracy_row){op, domain, e->n, e->max, e->n ? e->sum / (double)e->n : 0.0, bound};
}

static double silu_fn(double x, const void *ctx)
{
    (void)ctx;
    return floe_silu_ref(x);
}

void floe_numerics_accuracy(floe_accuracy_row *rows)
{
    floe_rng r;
    floe_rng_seed(&r, 7);
    int k = 0;

    /* requant vs the exact rational acc * m / 2^shift */
    err_acc e = {0};
    for (int i = 0; i < 200000; i++) {
        floe_requant_mult q;
        q.m = (int32_t)floe_rng_range(&r, 1 << 30, INT32_MAX);
        q.shift = (int32_t)floe_rng_range(&r, 1, 62);
        int32_t acc = (int32_t)floe_rng_u64(&r);
        long double exact = ldexpl((long double)acc * q.m, -q.shift);
        err_add(&e, (double)((long double)floe_requant_raw(acc, q) - exact));
    }
    rows[k++] = row_of("requant", "random int32 acc, normalised multipliers", &e, 0.5);

    /* multiplier conversion: relative error of m 2^-shift vs M, in mantissa LSBs */
    memset(&e, 0, sizeof e);
    for (int i = 0; i < 200000; i++) {
        double frac = floe_rng_uniform(&r);
        double M = ldexp(0.5 + 0.5 * frac, (int)floe_rng_range(&r, -30, 30));
        floe_requant_mult q;
        floe_requant_mult_from_real(M, &q);
        err_add(&e, (double)q.m - ldexp(M, q.shift));
    }
    rows[k++] = row_of("requant_mult", "real multipliers 2^-31 .. 2^30", &e, 0.5);

    /* reciprocal: mantissa LSBs */
    memset(&e, 0, sizeof e);
    for (uint64_t i = 0; i < 300000; i++) {
        uint32_t x = (uint32_t)(i + 1);
        if (i >= 100000) {
            uint64_t v = floe_rng_u64(&r);
            x = (uint32_t)(v >> floe_rng_range(&r, 32, 63)) | 1u;
        }
        floe_requant_mult q = floe_recip_u32(x);
        err_add(&e, (double)((long double)q.m - ldexpl(1.0L / x, q.shift)));
    }
    rows[k++] = row_of("recip", "x = 1 .. 1e5 and random uint32", &e, 0.5);

    /* rsqrt: mantissa LSBs */
    memset(&e, 0, sizeof e);
    for (uint64_t i = 0; i < 300000; i++) {
        uint64_t x = i + 1;
        if (i >= 100000) {
            x = floe_rng_u64(&r);
            x = (x >> floe_rng_range(&r, 0, 62)) | 1u;
        }
        floe_requant_mult q = floe_rsqrt_u64(x);
        err_add(&e, (double)((long double)q.m - ldexpl(1.0L / sqrtl((long double)x), q.shift)));
    }
    rows[k++] = row_of("rsqrt", "x = 1 .. 1e5 and random uint64", &e, 0.5);

    /* exp2: every input that gives a non-zero result; Q15 LSBs */
    memset(&e, 0, sizeof e);
    for (int32_t x = 0; x >= -17 * 256; x--)
        err_add(&e, (double)floe_exp2_neg(x) - ldexp(exp2(x / 256.0), 15));
    rows[k++] = row_of("exp2", "every x in [-4352, 0] (all non-zero outputs)", &e, 1.0);

    /* softmax: Q15 LSBs per probability, vs the real softmax of the same fixed-point scores */
    memset(&e, 0, sizeof e);
    {
        int32_t z[256];
        int16_t p[256];
        double ex[256];
        for (int row = 0; row < 2000; row++) {
            size_t n = 1 + (size_t)floe_rng_below(&r, 256);
            double mx = -1e300, s = 0;
            for (size_t i = 0; i < n; i++) {
                z[i] = (int32_t)floe_rng_range(&r, -2560, 2560);
                mx = z[i] > mx ? z[i] : mx;
            }
            for (size_t i = 0; i < n; i++)
                s += ex[i] = exp2((z[i] - mx) / 256.0);
            floe_softmax_row(p, z, n);
            for (size_t i = 0; i < n; i++)
                err_add(&e, p[i] - fmin(ldexp(ex[i] / s, 15), 32767.0));
        }
    }
    rows[k++] = row_of("softmax", "2000 rows, n = 1..256, scores within +-10 (log2 domain)", &e, 2.0);

    /* SiLU lut8: every int8 input, at a representative scale */
    memset(&e, 0, sizeof e);
    {
        floe_lut8 t;
        double s_in = 8.0 / 128, s_out = 8.0 / 32768;
        floe_silu_lut8_build(&t, s_in, s_out, 16);
        for (int x = -128; x < 128; x++)
            err_add(&e, floe_lut8_apply(&t, (int8_t)x) - floe_silu_ref(x * s_in) / s_out);
    }
    rows[k++] = row_of("silu_lut8", "every int8 input, s_in = 1/16, s_out = 2^-12", &e, 0.5);

    /* SiLU lut16: every int16 input */
    memset(&e, 0, sizeof e);
    {
        floe_lut16 t;
        double s_in = 16.0 / 32768, s_out = 16.0 / 32768;
        floe_lut16_build(&t, silu_fn, NULL, s_in, s_out, 16);
        for (int x = -32768; x < 32768; x++)
            err_add(&e, floe_lut16_apply(&t, (int16_t)x) - floe_silu_ref(x * s_in) / s_out);
    }
    rows[k++] = row_of("silu_lut16", "every int16 input, s_in = s_out = 2^-11", &e, 2.0);

    /* RoPE: rotation of random int16 vectors, int16 LSBs */
    memset(&e, 0, sizeof e);
    {
        floe_rope_table rt;
        if (floe_rope_table_build(&rt, 512, 64, 10000.0, NULL) == 0) {
            int16_t v[64], o[64];
            for (int t = 0; t < 4000; t++) {
                int pos = (int)floe_rng_below(&r, 512);
                for (int i = 0; i < 64; i++)
                    o[i] = v[i] = (int16_t)floe_rng_range(&r, -16384, 16383);
                floe_rope_rotate_i16(v, &rt, pos);
                for (int i = 0; i < 32; i++) {
                    double a = pos * pow(10000.0, -(2.0 * i) / 64);
                    err_add(&e, v[i] - (o[i] * cos(a) - o[i + 32] * sin(a)));
                    err_add(&e, v[i + 32] - (o[i + 32] * cos(a) + o[i] * sin(a)));
                }
            }
            floe_rope_table_free(&rt);
        }
    }
    rows[k++] = row_of("rope", "4000 random |x| < 2^14 head vectors, head_dim 64, pos < 512", &e, 2.0);

    /* RMSNorm: int8 outputs vs the real RMSNorm of the same integers */
    memset(&e, 0, sizeof e);
    {
        enum { D = 256 };
        int16_t q[D];
        int32_t y[D];
        floe_requant_mult c;
        double s_x = 1.0 / 1024, s_y = 4.0 / 127, eps = 1e-5;
        floe_requant_mult_from_real(sqrt((double)D) / s_y, &c);
        uint64_t eq = floe_rmsnorm_eps_q(eps, D, s_x);
        for (int row = 0; row < 2000; row++) {
            double ss = 0;
            int amp = (int)floe_rng_range(&r, 16, 32767);
            for (int i = 0; i < D; i++) {
                q[i] = (int16_t)floe_rng_range(&r, -amp, amp);
                ss += (double)q[i] * q[i] * s_x * s_x;
            }
            floe_rmsnorm_row(y, q, D, eq, &c, 0, -128, 127);
            double inv = 1.0 / sqrt(ss / D + eps);
            for (int i = 0; i < D; i++)
                err_add(&e, y[i] - fmax(-128.0, fmin(127.0, q[i] * s_x * inv / s_y)));
        }
    }
    rows[k++] = row_of("rmsnorm", "2000 rows, d = 256, int16 in, int8 out", &e, 0.501);
}
