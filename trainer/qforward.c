#include "trainer/qforward.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/big_alloc.h"
#include "isa/numerics.h"
#include "trainer/blas.h"
#include "trainer/igemm.h"
#include "trainer/vec.h"

/* Every buffer is one calloc; the list lets floe_qfwd_free release them whatever init reached.
 * Room for BUFS_PER_LAYER per layer and BUFS_FIXED more (a 30-layer model has over 512). */
#define BUFS_PER_LAYER 20
#define BUFS_FIXED 8
typedef struct {
    int n, cap;
    void *p[];
} buf_list;

static void *take(buf_list *l, size_t count, size_t size)
{
    if (l->n >= l->cap)
        return NULL;
    void *p = floe_big_calloc(count ? count : 1, size);
    if (p)
        l->p[l->n++] = p;
    return p;
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

int floe_qfwd_init(floe_qfwd *f, const floe_model_config *cfg, int maxB, int maxT, floe_err *err)
{
    memset(f, 0, sizeof *f);
    if (maxB < 1 || maxT < 1 || maxT > cfg->context)
        return floe_err_set(err, "%s: batch %d x context %d: need batch >= 1 and 1 <= context <= %d", cfg->name,
                            maxB, maxT, cfg->context);
    int cap = BUFS_PER_LAYER * cfg->n_layers + BUFS_FIXED;
    buf_list *l = calloc(1, sizeof *l + (size_t)cap * sizeof(void *));
    if (!l)
        return floe_err_set(err, "integer forward: out of memory");
    l->cap = cap;
    f->mem = l;
    f->cfg = *cfg;
    f->maxB = maxB;
    f->maxT = maxT;
    const size_t N = (size_t)maxB * maxT, C = (size_t)cfg->d_model, Q = (size_t)cfg->n_heads * cfg->head_dim;
    const size_t KV = (size_t)cfg->n_kv_heads * cfg->head_dim, F = (size_t)cfg->ffn_dim, V = (size_t)cfg->vocab_size;
    int ok = (f->layers = take(l, (size_t)cfg->n_layers, sizeof *f->layers)) != NULL;
    for (int i = 0; ok && i < cfg->n_layers; i++) {
        floe_qfwd_layer *L = &f->layers[i];
        ok = (L->x = take(l, N * C, 2)) && (L->h1 = take(l, N * C, 1)) && (L->q = take(l, N * Q, 2)) &&
             (L->k = take(l, N * KV, 2)) && (L->kc = take(l, N * KV, 2)) && (L->vacc = take(l, N * KV, 4)) &&
             (L->v = take(l, N * KV, 2)) && (L->oacc = take(l, N * Q, 4)) && (L->o = take(l, N * Q, 1)) &&
             (L->xmid = take(l, N * C, 2)) && (L->h2 = take(l, N * C, 1)) && (L->g = take(l, N * F, 2)) &&
             (L->u = take(l, N * F, 2)) && (L->mh = take(l, N * F, 1)) && (L->k1 = take(l, N, 1)) &&
             (L->ko = take(l, N, 1)) && (L->k2 = take(l, N, 1)) && (L->km = take(l, N, 1));
    }
    f->acc_n = max_sz(N * max_sz(max_sz(C, Q), F), V);
    f->head_rows = (int)(f->acc_n / V < N ? f->acc_n / V : N);
    ok = ok && (f->xf = take(l, N * C, 2)) && (f->hf = take(l, N * C, 1)) && (f->kf = take(l, N, 1)) &&
         (f->logits = take(l, N * V, 2)) && (f->acc = take(l, f->acc_n, 4));
    if (!ok) {
        floe_qfwd_free(f);
        return floe_err_set(err, "%s: out of memory for the integer forward (batch %d x %d)", cfg->name, maxB, maxT);
    }
    return 0;
}

void floe_qfwd_free(floe_qfwd *f)
{
    buf_list *l = f->mem;
    if (l)
        for (int i = 0; i < l->n; i++)
            free(l->p[i]);
    free(l);
    free(f->dacc);
    free(f->wcodes);
    free(f->xcodes);
    free(f->dcodes);
    free(f->dx);
    memset(f, 0, sizeof *f);
}

static int32_t bits_hi(int bits) { return (int32_t)((1ll << (bits - 1)) - 1); }

/* The accumulators of a linear layer: int32 from the int8 GEMM (trainer/igemm.h), else fp32 when
 * every partial sum stays below 2^24, else fp64 (exact below 2^53); acc_at reads any as the exact
 * int32. */
typedef struct {
    const int32_t *i;
    const float *f;
    const double *d;
    size_t ld;
} acc_view;

static inline int32_t acc_at(acc_view a, size_t r, size_t c)
{
    return a.i ? a.i[r * a.ld + c] : a.d ? (int32_t)a.d[r * a.ld + c] : (int32_t)a.f[r * a.ld + c];
}

static int grow(double **p, size_t *have, size_t need)
{
    if (*have >= need)
        return 0;
    double *q = realloc(*p, need * sizeof(double));
    if (!q)
        return -1;
    *p = q;
    *have = need;
    return 0;
}

/* acc[N, out] = x[N, in] @ W^T exactly; x holds codes in [-xmax, xmax - 1] (xmax 128: int8). */
static int linear_acc(floe_qfwd *f, acc_view *av, const int8_t *x, int32_t xmax, const floe_qlinear *L, int N,
                      floe_err *err)
{
    const int in = L->in, out = L->out;
    const size_t nw = (size_t)in * out;
    double bound = (double)in * (double)xmax * (double)(bits_hi(L->bits) + 1);
    floe_blas_single_thread();
    if (xmax <= 128 && floe_igemm_usable(L->bits, in)) {
        /* the int8 engine; f->acc's memory holds the int32 results (allocated storage: its type
         * is the last one written) */
        int32_t *iacc = (int32_t *)(void *)f->acc;
        if (floe_igemm_s8(iacc, x, L->w, N, out, in) == 0) {
            *av = (acc_view){iacc, NULL, NULL, (size_t)out};
            return 0;
        }
    }
    if (bound < 16777216.0) {
        if (f->wcodes_n < nw) {
            float *p = realloc(f->wcodes, nw * sizeof(float));
            if (!p)
                return floe_err_set(err, "integer forward: out of memory for the float weight codes");
            f->wcodes = p, f->wcodes_n = nw;
        }
        const size_t nx = (size_t)N * in;
        if (f->xcodes_n < nx) {
            float *p = realloc(f->xcodes, nx * sizeof(float));
            if (!p)
                return floe_err_set(err, "integer forward: out of memory for the float input codes");
            f->xcodes = p, f->xcodes_n = nx;
        }
        float *xc = f->xcodes;
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < nx; i++)
            xc[i] = (float)x[i];
        float *wc = f->wcodes;
        const int8_t *w8 = L->w;
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < nw; i++)
            wc[i] = (float)w8[i];
        float *acc = f->acc, *w = f->wcodes;
#pragma omp parallel
        {
            int lo, hi;
            floe_split(N, omp_get_num_threads(), omp_get_thread_num(), 32, &lo, &hi);
            if (hi > lo)
                floe_sgemm(CblasNoTrans, CblasTrans, hi - lo, out, in, 1.0f, xc + (size_t)lo * in, in, w, in, 0.0f,
                           acc + (size_t)lo * out, out);
        }
        *av = (acc_view){NULL, f->acc, NULL, (size_t)out};
        return 0;
    }
    size_t need_acc = (size_t)N * out;
    if (grow(&f->dcodes, &f->dcodes_n, nw) || grow(&f->dx, &f->dx_n, max_sz((size_t)N * in, need_acc)))
        return floe_err_set(err, "integer forward: out of memory for the exact double path");
    if (!f->dacc) {
        f->dacc = malloc(sizeof(double) * f->acc_n);
        if (!f->dacc)
            return floe_err_set(err, "integer forward: out of memory for the exact double path");
    }
    for (size_t i = 0; i < nw; i++)
        f->dcodes[i] = (double)L->w[i];
    for (size_t i = 0; i < (size_t)N * in; i++)
        f->dx[i] = (double)x[i];
    double *dacc = f->dacc, *w = f->dcodes, *dx = f->dx;
#pragma omp parallel
    {
        int lo, hi;
        floe_split(N, omp_get_num_threads(), omp_get_thread_num(), 32, &lo, &hi);
        if (hi > lo)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, hi - lo, out, in, 1.0, dx + (size_t)lo * in, in, w,
                        in, 0.0, dacc + (size_t)lo * out, out);
    }
    *av = (acc_view){NULL, NULL, f->dacc, (size_t)out};
    return 0;
}

/* One row of exact accumulators as int32 (the conversion loop vectorises; so does the requant
 * loop over the int32 row, which a branch on the accumulator type inside it would prevent). */
static void acc_row(int32_t *dst, acc_view a, size_t r, size_t n)
{
    if (a.i) {
        memcpy(dst, a.i + r * a.ld, sizeof(int32_t) * n);
    } else if (a.d) {
        const double *src = a.d + r * a.ld;
        for (size_t i = 0; i < n; i++)
            dst[i] = (int32_t)src[i];
    } else {
        const float *src = a.f + r * a.ld;
        for (size_t i = 0; i < n; i++)
            dst[i] = (int32_t)src[i];
    }
}

/* A layer's per-channel multipliers as three int64 arrays, so that a row's requantization is one
 * branch-free loop the compiler vectorises: floe_requant_raw is (acc * m + half) >> shift with
 * half = 2^(shift-1), or 0 when shift = 0 (then it is acc * m, the same value). */
typedef struct {
    int64_t *m, *half, *sh;
} soa_mult;

static int soa_init(soa_mult *s, const floe_requant_mult *m, int n)
{
    s->m = malloc(sizeof(int64_t) * 3 * (size_t)n);
    if (!s->m)
        return -1;
    s->half = s->m + n;
    s->sh = s->half + n;
    for (int i = 0; i < n; i++) {
        s->m[i] = m[i].m;
        s->sh[i] = m[i].shift;
        s->half[i] = m[i].shift ? (int64_t)1 << (m[i].shift - 1) : 0;
    }
    return 0;
}

/* out[n] = clamp(requant(acc[n], m[n]), lo, hi) for one row; exactly floe_requant. */
static inline void requant_row(int32_t *restrict out, const int32_t *restrict acc, const soa_mult *s, int n,
                               int32_t lo, int32_t hi)
{
    const int64_t *restrict m = s->m, *restrict half = s->half, *restrict sh = s->sh;
    for (int i = 0; i < n; i++) {
        int64_t v = ((int64_t)acc[i] * m[i] + half[i]) >> sh[i];
        v = v < lo ? lo : v;
        out[i] = (int32_t)(v > hi ? hi : v);
    }
}

/* out = requant(acc, L->m[n]) into [lo, hi] as int16; with a residual, out = sat16(residual + that)
 * (the residual stream's add; out may be another buffer than residual). With per-token inputs (kx
 * non-NULL), row r's multipliers carry the shift + kx[r]. */
static void requant_layer(int16_t *out, const int16_t *residual, acc_view a, const floe_qlinear *L, int N,
                          int32_t lo, int32_t hi, const int8_t *kx)
{
    soa_mult sm;
    int ok = soa_init(&sm, L->m, L->out) == 0;
#pragma omp parallel
    {
        int32_t *row = malloc(sizeof(int32_t) * 2 * (size_t)L->out), *q = row + L->out;
#pragma omp for schedule(static)
        for (int r = 0; r < N; r++) {
            const int32_t *acc = row;
            if (a.i)
                acc = a.i + (size_t)r * a.ld;
            else
                acc_row(row, a, (size_t)r, (size_t)L->out);
            if (kx && kx[r] != 0)
                for (int n = 0; n < L->out; n++)
                    q[n] = floe_requant_k(acc[n], L->m[n], kx[r], lo, hi);
            else if (ok)
                requant_row(q, acc, &sm, L->out, lo, hi);
            else
                for (int n = 0; n < L->out; n++)
                    q[n] = floe_requant(acc[n], L->m[n], lo, hi);
            int16_t *o = out + (size_t)r * L->out;
            if (residual) {
                const int16_t *x = residual + (size_t)r * L->out;
                for (int n = 0; n < L->out; n++) {
                    int32_t v = (int32_t)x[n] + q[n];
                    o[n] = (int16_t)(v < -32768 ? -32768 : v > 32767 ? 32767 : v);
                }
            } else
                for (int n = 0; n < L->out; n++)
                    o[n] = (int16_t)q[n];
        }
        free(row);
    }
    if (ok)
        free(sm.m);
}

/* cj: per-channel multipliers (SmoothQuant at the norm) or NULL for the one multiplier c; kout
 * non-NULL: per-token scaling with K (the row shifts into kout; never with cj). */
static void rmsnorm_rows(int8_t *out, const int16_t *x, int N, int d, uint64_t eps_q, floe_requant_mult c,
                         const floe_requant_mult *cj, int32_t lo, int32_t hi, int8_t *kout, int K)
{
#pragma omp parallel
    {
        int32_t *row = malloc(sizeof(int32_t) * (size_t)d);
#pragma omp for schedule(static)
        for (int r = 0; r < N; r++) {
            if (kout)
                kout[r] = (int8_t)floe_rmsnorm_row_token(row, x + (size_t)r * d, (size_t)d, eps_q, c, K, lo, hi);
            else
                floe_rmsnorm_row(row, x + (size_t)r * d, (size_t)d, eps_q, cj ? cj : &c, cj != NULL, lo, hi);
            for (int i = 0; i < d; i++)
                out[(size_t)r * d + i] = (int8_t)row[i];
        }
        free(row);
    }
}

/* Per-token requantization of wide rows (int32 wide[N, n]) by M into codes out[N, n] and shifts k. */
static void token_rows(int8_t *out, int8_t *k, const int32_t *wide, int N, int n, floe_requant_mult M, int K,
                       int32_t lo, int32_t hi)
{
#pragma omp parallel
    {
        int32_t *row = malloc(sizeof(int32_t) * (size_t)n);
#pragma omp for schedule(static)
        for (int r = 0; r < N; r++) {
            k[r] = (int8_t)floe_token_requant_row(row, wide + (size_t)r * n, (size_t)n, M, K, lo, hi);
            for (int i = 0; i < n; i++)
                out[(size_t)r * n + i] = (int8_t)row[i];
        }
        free(row);
    }
}

/* One row of the SwiGLU product: a = silu_lut(g), mh = requant(a * u) into [lo, hi]: floe_lut16_apply
 * and floe_requant written out on local copies so that the loop vectorises (AVX-512 gathers and
 * 64-bit products); the same operations, the same bits. */
static void swiglu_row(int8_t *restrict mh, const int16_t *restrict g, const int16_t *restrict u, int n,
                       const floe_lut16 *t, floe_requant_mult m, int32_t lo, int32_t hi)
{
    const int32_t *restrict v = t->v;
    const int32_t tlo = t->lo, thi = t->hi;
    const int64_t mm = m.m, half = m.shift ? (int64_t)1 << (m.shift - 1) : 0;
    const int sh = m.shift;
    for (int i = 0; i < n; i++) {
        int32_t x = (int32_t)g[i] + 32768;
        int32_t k = x >> 8, f = x & 255;
        int32_t d = v[k + 1] - v[k];
        int32_t y = v[k] + ((d * f + 128) >> 8);
        y = y < tlo ? tlo : y > thi ? thi : y;
        int64_t p = ((int64_t)(y * (int32_t)u[i]) * mm + half) >> sh;
        p = p < lo ? lo : p > hi ? hi : p;
        mh[i] = (int8_t)p;
    }
}

/* Row t of the Q15 probabilities of head h of sequence b (t + 1 values) from the layer's query and
 * key-cache codes; z: t + 1 ints of scratch. */
static void prob_row(const floe_qfwd_layer *A, const floe_qlayer *L, const floe_model_config *c, int T, int b, int h,
                     int t, int16_t *prow, int32_t *z)
{
    const int hd = c->head_dim, Q = c->n_heads * hd, KV = c->n_kv_heads * hd;
    const int g = h / (c->n_heads / c->n_kv_heads);
    const int16_t *qv = A->q + ((size_t)b * T + t) * Q + (size_t)h * hd;
    for (int s = 0; s <= t; s++) {
        const int16_t *kv = A->kc + ((size_t)b * T + s) * KV + (size_t)g * hd;
        int32_t dot = 0; /* |q kc| sums stay below 2^31 (docs/quantized-model.md) */
        for (int i = 0; i < hd; i++)
            dot += (int32_t)qv[i] * (int32_t)kv[i];
        z[s] = floe_requant(dot, L->m_score, INT32_MIN, INT32_MAX);
    }
    floe_softmax_row(prow, z, (size_t)t + 1);
}

void floe_qfwd_prob_row(const floe_qfwd *f, const floe_qmodel *m, int l, int b, int h, int t, int16_t *prow, int32_t *z)
{
    prob_row(&f->layers[l], &m->layers[l], &f->cfg, f->T, b, h, t, prow, z);
}

static void attention(floe_qfwd_layer *A, const floe_qlayer *L, const floe_model_config *c, int B, int T,
                      int32_t alo, int32_t ahi)
{
    const int NH = c->n_heads, NKV = c->n_kv_heads, hd = c->head_dim, group = NH / NKV;
    const int Q = NH * hd, KV = NKV * hd;
#pragma omp parallel
    {
        int32_t *z = malloc(sizeof(int32_t) * (size_t)T), *acc = malloc(sizeof(int32_t) * (size_t)hd);
        int16_t *prow = malloc(sizeof(int16_t) * (size_t)T);
#pragma omp for schedule(static)
        for (int bh = 0; bh < B * NH; bh++) {
            int b = bh / NH, h = bh % NH, g = h / group;
            for (int t = 0; t < T; t++) {
                prob_row(A, L, c, T, b, h, t, prow, z);
                for (int i = 0; i < hd; i++)
                    acc[i] = 0;
                for (int s = 0; s <= t; s++) {
                    const int16_t *vv = A->v + ((size_t)b * T + s) * KV + (size_t)g * hd;
                    uint32_t ps = (uint32_t)(int32_t)prow[s];
                    for (int i = 0; i < hd; i++) /* wrap-around int32, as the chip's accumulators */
                        acc[i] = (int32_t)((uint32_t)acc[i] + ps * (uint32_t)(int32_t)vv[i]);
                }
                size_t o = ((size_t)b * T + t) * Q + (size_t)h * hd;
                for (int i = 0; i < hd; i++) {
                    A->oacc[o + i] = acc[i];
                    A->o[o + i] = (int8_t)floe_requant(acc[i], L->m_attn_out, alo, ahi);
                }
            }
        }
        free(z);
        free(acc);
        free(prow);
    }
}

int floe_qfwd_forward(floe_qfwd *f, const floe_qmodel *m, const int32_t *tokens, int B, int T, floe_err *err)
{
    const floe_model_config *c = &m->cfg;
    if (!m->derived)
        return floe_err_set(err, "quantized model: constants not derived (floe_qmodel_derive)");
    if (B < 1 || T < 1 || B > f->maxB || T > f->maxT)
        return floe_err_set(err, "integer forward: batch %d x %d exceeds the allocated %d x %d", B, T, f->maxB,
                            f->maxT);
    const int N = B * T, C = c->d_model, NH = c->n_heads, NKV = c->n_kv_heads, hd = c->head_dim;
    const int KV = NKV * hd, F = c->ffn_dim, Qd = NH * hd;
    const int32_t ahi = bits_hi(m->q.abits), alo = -ahi - 1, chi = bits_hi(m->q.kvbits), clo = -chi - 1;
    const int tok = m->q.act_scaling == FLOE_ACT_PER_TOKEN, K = m->q.act_kmax;
    f->B = B;
    f->T = T;
    int16_t *x0 = f->layers[0].x;
    for (int r = 0; r < N; r++)
        memcpy(x0 + (size_t)r * C, m->embed + (size_t)tokens[r] * C, sizeof(int16_t) * (size_t)C);
    acc_view av;
    for (int l = 0; l < c->n_layers; l++) {
        floe_qfwd_layer *A = &f->layers[l];
        const floe_qlayer *L = &m->layers[l];
        int16_t *xout = l + 1 < c->n_layers ? f->layers[l + 1].x : f->xf;
        int8_t *k1 = tok ? A->k1 : NULL, *ko = tok ? A->ko : NULL, *k2 = tok ? A->k2 : NULL, *km = tok ? A->km : NULL;
        rmsnorm_rows(A->h1, A->x, N, C, m->eps_q, L->attn_norm_c, L->attn_norm_cj, alo, ahi, k1, K);
        if (linear_acc(f, &av, A->h1, ahi + 1, &L->q, N, err))
            return -1;
        requant_layer(A->q, NULL, av, &L->q, N, -32768, 32767, k1);
        if (linear_acc(f, &av, A->h1, ahi + 1, &L->k, N, err))
            return -1;
        requant_layer(A->k, NULL, av, &L->k, N, -32768, 32767, k1);
        if (linear_acc(f, &av, A->h1, ahi + 1, &L->v, N, err))
            return -1;
#pragma omp parallel for schedule(static)
        for (int r = 0; r < N; r++)
            for (int n = 0; n < KV; n++) {
                int32_t acc = acc_at(av, (size_t)r, (size_t)n);
                A->vacc[(size_t)r * KV + n] = (float)acc;
                A->v[(size_t)r * KV + n] = (int16_t)(k1 ? floe_requant_k(acc, L->v.m[n], k1[r], clo, chi)
                                                        : floe_requant(acc, L->v.m[n], clo, chi));
            }
#pragma omp parallel for schedule(static)
        for (int r = 0; r < N; r++) {
            int pos = r % T;
            for (int h = 0; h < NH; h++)
                floe_rope_rotate_i16(A->q + (size_t)r * Qd + (size_t)h * hd, &m->rope, pos);
            for (int h = 0; h < NKV; h++)
                floe_rope_rotate_i16(A->k + (size_t)r * KV + (size_t)h * hd, &m->rope, pos);
            for (int n = 0; n < KV; n++)
                A->kc[(size_t)r * KV + n] = (int16_t)floe_requant(A->k[(size_t)r * KV + n], L->m_kcache, clo, chi);
        }
        attention(A, L, c, B, T, alo, ahi);
        if (tok) /* the whole row of heads decides its shift */
            token_rows(A->o, ko, A->oacc, N, Qd, L->m_attn_out, K, alo, ahi);
        if (linear_acc(f, &av, A->o, ahi + 1, &L->o, N, err))
            return -1;
        requant_layer(A->xmid, A->x, av, &L->o, N, -32768, 32767, ko);
        rmsnorm_rows(A->h2, A->xmid, N, C, m->eps_q, L->mlp_norm_c, L->mlp_norm_cj, alo, ahi, k2, K);
        if (linear_acc(f, &av, A->h2, ahi + 1, &L->gate, N, err))
            return -1;
        requant_layer(A->g, NULL, av, &L->gate, N, -32768, 32767, k2);
        if (linear_acc(f, &av, A->h2, ahi + 1, &L->up, N, err))
            return -1;
        requant_layer(A->u, NULL, av, &L->up, N, -32768, 32767, k2);
        if (tok) {
#pragma omp parallel
            {
                int32_t *prod = malloc(sizeof(int32_t) * 2 * (size_t)F), *row = prod + F;
#pragma omp for schedule(static)
                for (int r = 0; r < N; r++) {
                    for (int n = 0; n < F; n++) {
                        size_t i = (size_t)r * F + n;
                        int32_t a = floe_lut16_apply(&L->silu, A->g[i]);
                        prod[n] = a * (int32_t)A->u[i];
                    }
                    km[r] = (int8_t)floe_token_requant_row(row, prod, (size_t)F, L->m_mlp, K, alo, ahi);
                    for (int n = 0; n < F; n++)
                        A->mh[(size_t)r * F + n] = (int8_t)row[n];
                }
                free(prod);
            }
        } else {
#pragma omp parallel for schedule(static)
            for (int r = 0; r < N; r++)
                swiglu_row(A->mh + (size_t)r * F, A->g + (size_t)r * F, A->u + (size_t)r * F, F, &L->silu, L->m_mlp,
                           alo, ahi);
        }
        if (linear_acc(f, &av, A->mh, ahi + 1, &L->down, N, err))
            return -1;
        requant_layer(xout, A->xmid, av, &L->down, N, -32768, 32767, km);
    }
    int8_t *kf = tok ? f->kf : NULL;
    rmsnorm_rows(f->hf, f->xf, N, C, m->eps_q, m->head_norm_c, NULL, alo, ahi, kf, K);
    const int V = c->vocab_size;
    for (int r0 = 0; r0 < N; r0 += f->head_rows) { /* integer sums: any slicing gives the same logits */
        int rn = N - r0 < f->head_rows ? N - r0 : f->head_rows;
        if (linear_acc(f, &av, f->hf + (size_t)r0 * C, ahi + 1, &m->head, rn, err))
            return -1;
        requant_layer(f->logits + (size_t)r0 * V, NULL, av, &m->head, rn, -32768, 32767, kf ? kf + r0 : NULL);
    }
    for (int r = 0; tok && r < N; r++) {
        for (int l = 0; l < c->n_layers; l++) {
            const floe_qfwd_layer *A = &f->layers[l];
            f->khist[0][A->k1[r]]++, f->khist[1][A->ko[r]]++, f->khist[2][A->k2[r]]++, f->khist[3][A->km[r]]++;
        }
        f->khist[4][f->kf[r]]++;
    }
    return 0;
}

void floe_qfwd_khist_print_counts(const uint64_t khist[5][FLOE_QFWD_KHIST], int K)
{
    static const char *const names[5] = {"attn_in", "o_in", "mlp_in", "down_in", "head_in"};
    for (int p = 0; p < 5; p++) {
        uint64_t n = 0;
        for (int k = 0; k < FLOE_QFWD_KHIST; k++)
            n += khist[p][k];
        if (!n)
            return;
        printf("row shifts   %-8s", names[p]);
        for (int k = 0; k <= K && k < FLOE_QFWD_KHIST; k++)
            printf(" k=%d %5.1f%%", k, 100.0 * (double)khist[p][k] / (double)n);
        printf("\n");
    }
}

void floe_qfwd_khist_print(const floe_qfwd *f, int K) { floe_qfwd_khist_print_counts(f->khist, K); }

/* ---- trace, in floe_qref_forward's order ------------------------------------------------------ */

typedef struct {
    int32_t *buf;
    floe_qfwd_trace_fn fn;
    void *ctx;
} tracer;

static void emit_i16(tracer *t, const char *name, int layer, const int16_t *src, size_t rows, size_t w)
{
    for (size_t i = 0; i < rows * w; i++)
        t->buf[i] = src[i];
    t->fn(t->ctx, name, layer, t->buf, rows, w);
}

/* SiLU codes, recomputed from the gate's (the forward keeps none: the backward recomputes them too) */
static void emit_silu(tracer *t, const char *name, int layer, const floe_lut16 *lut, const int16_t *g, size_t rows,
                      size_t w)
{
    for (size_t i = 0; i < rows * w; i++)
        t->buf[i] = floe_lut16_apply(lut, g[i]);
    t->fn(t->ctx, name, layer, t->buf, rows, w);
}

static void emit_k(tracer *t, const char *name, int layer, const int8_t *k, size_t rows, int tok)
{
    char nm[32];
    if (!tok)
        return;
    snprintf(nm, sizeof nm, "%s_k", name);
    for (size_t i = 0; i < rows; i++)
        t->buf[i] = k[i];
    t->fn(t->ctx, nm, layer, t->buf, rows, 1);
}

static void emit_i8(tracer *t, const char *name, int layer, const int8_t *src, size_t rows, size_t w)
{
    for (size_t i = 0; i < rows * w; i++)
        t->buf[i] = src[i];
    t->fn(t->ctx, name, layer, t->buf, rows, w);
}

int floe_qfwd_trace(const floe_qfwd *f, const floe_qmodel *m, int b, floe_qfwd_trace_fn fn, void *ctx,
                    floe_err *err)
{
    const floe_model_config *c = &f->cfg;
    if (b < 0 || b >= f->B)
        return floe_err_set(err, "trace: sequence %d outside the last batch of %d", b, f->B);
    const size_t T = (size_t)f->T, C = (size_t)c->d_model, Q = (size_t)c->n_heads * c->head_dim;
    const size_t KV = (size_t)c->n_kv_heads * c->head_dim, F = (size_t)c->ffn_dim, V = (size_t)c->vocab_size;
    size_t wide = max_sz(max_sz(C, Q), max_sz(F, V));
    tracer t = {malloc(sizeof(int32_t) * T * wide), fn, ctx};
    if (!t.buf)
        return floe_err_set(err, "trace: out of memory");
    const size_t r0 = (size_t)b * T;
    const int tok = m->q.act_scaling == FLOE_ACT_PER_TOKEN;
    for (int l = 0; l < c->n_layers; l++) {
        const floe_qfwd_layer *A = &f->layers[l];
        emit_i8(&t, "attn_in", l, A->h1 + r0 * C, T, C);
        emit_k(&t, "attn_in", l, A->k1 + r0, T, tok);
        emit_i16(&t, "q", l, A->q + r0 * Q, T, Q);
        emit_i16(&t, "k", l, A->k + r0 * KV, T, KV);
        emit_i16(&t, "kc", l, A->kc + r0 * KV, T, KV);
        emit_i16(&t, "v", l, A->v + r0 * KV, T, KV);
        emit_i8(&t, "attn_out", l, A->o + r0 * Q, T, Q);
        emit_k(&t, "attn_out", l, A->ko + r0, T, tok);
        emit_i16(&t, "attn_res", l, A->xmid + r0 * C, T, C);
        emit_i8(&t, "mlp_in", l, A->h2 + r0 * C, T, C);
        emit_k(&t, "mlp_in", l, A->k2 + r0, T, tok);
        emit_i16(&t, "gate", l, A->g + r0 * F, T, F);
        emit_i16(&t, "up", l, A->u + r0 * F, T, F);
        emit_silu(&t, "act", l, &m->layers[l].silu, A->g + r0 * F, T, F);
        emit_i8(&t, "down_in", l, A->mh + r0 * F, T, F);
        emit_k(&t, "down_in", l, A->km + r0, T, tok);
        const int16_t *xo = l + 1 < c->n_layers ? f->layers[l + 1].x : f->xf;
        emit_i16(&t, "out", l, xo + r0 * C, T, C);
    }
    emit_i8(&t, "head_in", -1, f->hf + r0 * C, T, C);
    emit_k(&t, "head_in", -1, f->kf + r0, T, tok);
    emit_i16(&t, "logits", -1, f->logits + r0 * V, T, V);
    free(t.buf);
    return 0;
}
