#include "models/qref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isa/numerics.h"

typedef struct {
    int32_t lo, hi;
} range;

static range bits_range(int bits)
{
    int32_t hi = (int32_t)((1ll << (bits - 1)) - 1);
    return (range){-hi - 1, hi};
}

/* acc[t][n] = sum_i x[t][i] W[n][i] (int32 wrap-around), then per-channel requant to r; with
 * per-token inputs (kx non-NULL) row t's multipliers carry the shift + kx[t] (numerics §10).
 * Weight row by weight row (each read once for all T rows), over int16 copies of the inputs (they
 * are codes of at most 8 bits: the products, int16 x int8, are the same; the loop becomes a plain
 * C dot product that compilers vectorise). xs: scratch of T x in int16. */
static void linear_requant(int32_t *out, const int32_t *x, int T, const floe_qlinear *L, range r, const int8_t *kx,
                           int16_t *xs)
{
    for (size_t i = 0; i < (size_t)T * L->in; i++)
        xs[i] = (int16_t)x[i];
    for (int n = 0; n < L->out; n++)
        for (int t = 0; t < T; t++) {
            const int8_t *w = L->w + (size_t)n * L->in;
            const int16_t *xt = xs + (size_t)t * L->in;
            uint32_t acc = 0; /* wrap-around, as floe_mac_wrap */
            for (int i = 0; i < L->in; i++)
                acc += (uint32_t)((int32_t)xt[i] * (int32_t)w[i]);
            out[(size_t)t * L->out + n] = kx ? floe_requant_k((int32_t)acc, L->m[n], kx[t], r.lo, r.hi)
                                             : floe_requant((int32_t)acc, L->m[n], r.lo, r.hi);
        }
}

/* cj: per-channel multipliers (SmoothQuant at the norm) or NULL for the one multiplier c; kout
 * non-NULL: per-token scaling with K, the row shifts into kout[t] (never with cj: floe_qmodel_derive
 * refuses the combination). */
static void rmsnorm_rows(int32_t *out, const int32_t *x, int T, int d, uint64_t eps_q, floe_requant_mult c,
                         const floe_requant_mult *cj, range r, int16_t *row, int8_t *kout, int K)
{
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < d; i++)
            row[i] = (int16_t)x[(size_t)t * d + i];
        if (kout)
            kout[t] = (int8_t)floe_rmsnorm_row_token(out + (size_t)t * d, row, (size_t)d, eps_q, c, K, r.lo, r.hi);
        else
            floe_rmsnorm_row(out + (size_t)t * d, row, (size_t)d, eps_q, cj ? cj : &c, cj != NULL, r.lo, r.hi);
    }
}

/* The per-token shifts of an input point as a T x 1 tensor named "<name>_k" (per-token models). */
static void trace_k(floe_qtrace_fn trace, void *ctx, const char *name, int layer, const int8_t *k, int T, int32_t *buf)
{
    char nm[32];
    if (!trace || !k)
        return;
    snprintf(nm, sizeof nm, "%s_k", name);
    for (int t = 0; t < T; t++)
        buf[t] = k[t];
    trace(ctx, nm, layer, buf, (size_t)T, 1);
}

static void add_residual(int32_t *x, const int32_t *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = floe_sat_i16((int64_t)x[i] + r[i]);
}

#define TRACE(name, layer, data, rows, width)                                                            \
    do {                                                                                                 \
        if (trace)                                                                                       \
            trace(ctx, name, layer, data, (size_t)(rows), (size_t)(width));                              \
    } while (0)

int floe_qref_forward(const floe_qmodel *m, const int32_t *tokens, int T, int16_t *logits, floe_qtrace_fn trace,
                      void *ctx, floe_err *err)
{
    const floe_model_config *c = &m->cfg;
    if (!m->derived)
        return floe_err_set(err, "quantized model: constants not derived (floe_qmodel_derive)");
    if (T < 1 || T > c->context)
        return floe_err_set(err, "sequence of %d tokens: the model's context is %d", T, c->context);
    for (int t = 0; t < T; t++)
        if (tokens[t] < 0 || tokens[t] >= c->vocab_size)
            return floe_err_set(err, "token %d at position %d is outside the vocabulary of %d", tokens[t], t,
                                c->vocab_size);
    const int d = c->d_model, hd = c->head_dim, nh = c->n_heads, nkv = c->n_kv_heads, f = c->ffn_dim;
    const int group = nh / nkv, kvw = nkv * hd;
    const range A = bits_range(m->q.abits), C = bits_range(m->q.kvbits), R16 = bits_range(16), R32 = bits_range(32);
    size_t big = (size_t)T * (size_t)(f > d ? f : d);
    int32_t *x = malloc(sizeof(int32_t) * (size_t)T * d), *h = malloc(sizeof(int32_t) * big),
            *q = malloc(sizeof(int32_t) * (size_t)T * d), *k = malloc(sizeof(int32_t) * (size_t)T * kvw),
            *v = malloc(sizeof(int32_t) * (size_t)T * kvw), *o = malloc(sizeof(int32_t) * (size_t)T * d),
            *g = malloc(sizeof(int32_t) * big), *u = malloc(sizeof(int32_t) * big),
            *z = malloc(sizeof(int32_t) * (size_t)T), *tmp = malloc(sizeof(int32_t) * big);
    int16_t *row = malloc(sizeof(int16_t) * (size_t)(f > d ? f : d)), *p = malloc(sizeof(int16_t) * (size_t)T);
    int32_t *lg = malloc(sizeof(int32_t) * (size_t)T * c->vocab_size);
    const int tok = m->q.act_scaling == FLOE_ACT_PER_TOKEN, K = m->q.act_kmax;
    int8_t *kbuf = malloc((size_t)T); /* per-token: the shifts of the current input point */
    int8_t *kh = tok ? kbuf : NULL;
    int32_t *orow = malloc(sizeof(int32_t) * (size_t)d); /* per-token: a row's attention accumulators */
    int16_t *xs = malloc(sizeof(int16_t) * big);           /* a linear layer's inputs as int16 */
    if (!x || !h || !q || !k || !v || !o || !g || !u || !z || !tmp || !row || !p || !lg || !kbuf || !orow || !xs) {
        free(x), free(h), free(q), free(k), free(v), free(o), free(g), free(u), free(z), free(tmp), free(row), free(p);
        free(lg), free(kbuf), free(orow), free(xs);
        return floe_err_set(err, "reference forward: out of memory");
    }
    for (int t = 0; t < T; t++)
        for (int i = 0; i < d; i++)
            x[(size_t)t * d + i] = m->embed[(size_t)tokens[t] * d + i];

    for (int l = 0; l < c->n_layers; l++) {
        const floe_qlayer *L = &m->layers[l];
        /* attention */
        rmsnorm_rows(h, x, T, d, m->eps_q, L->attn_norm_c, L->attn_norm_cj, A, row, kh, K);
        TRACE("attn_in", l, h, T, d);
        trace_k(trace, ctx, "attn_in", l, kh, T, tmp);
        linear_requant(q, h, T, &L->q, R16, kh, xs);
        linear_requant(k, h, T, &L->k, R16, kh, xs);
        linear_requant(v, h, T, &L->v, C, kh, xs);
        for (int t = 0; t < T; t++) { /* RoPE on int16 heads at position t */
            for (int hh = 0; hh < nh + nkv; hh++) {
                int32_t *vec = hh < nh ? q + (size_t)t * d + hh * hd : k + (size_t)t * kvw + (hh - nh) * hd;
                for (int i = 0; i < hd; i++)
                    row[i] = (int16_t)vec[i];
                floe_rope_rotate_i16(row, &m->rope, t);
                for (int i = 0; i < hd; i++)
                    vec[i] = row[i];
            }
        }
        TRACE("q", l, q, T, d);
        TRACE("k", l, k, T, kvw);
        for (size_t i = 0; i < (size_t)T * kvw; i++) /* the cache: k16 -> C */
            k[i] = floe_requant(k[i], L->m_kcache, C.lo, C.hi);
        TRACE("kc", l, k, T, kvw);
        TRACE("v", l, v, T, kvw);
        for (int t = 0; t < T; t++)
            for (int hq = 0; hq < nh; hq++) {
                int hk = hq / group;
                const int32_t *qv = q + (size_t)t * d + hq * hd;
                for (int s = 0; s <= t; s++) {
                    int32_t acc = 0;
                    const int32_t *kv = k + (size_t)s * kvw + hk * hd;
                    for (int i = 0; i < hd; i++)
                        acc = floe_mac_wrap(acc, qv[i], kv[i]);
                    z[s] = floe_requant(acc, L->m_score, R32.lo, R32.hi);
                }
                floe_softmax_row(p, z, (size_t)t + 1);
                for (int i = 0; i < hd; i++) {
                    int32_t acc = 0;
                    for (int s = 0; s <= t; s++)
                        acc = floe_mac_wrap(acc, p[s], v[(size_t)s * kvw + hk * hd + i]);
                    if (tok)
                        orow[hq * hd + i] = acc;
                    else
                        o[(size_t)t * d + hq * hd + i] = floe_requant(acc, L->m_attn_out, A.lo, A.hi);
                }
                if (tok && hq == nh - 1) /* the whole row: its shift, then its codes */
                    kh[t] = (int8_t)floe_token_requant_row(o + (size_t)t * d, orow, (size_t)d, L->m_attn_out, K, A.lo,
                                                           A.hi);
            }
        TRACE("attn_out", l, o, T, d);
        trace_k(trace, ctx, "attn_out", l, kh, T, tmp);
        linear_requant(tmp, o, T, &L->o, R16, kh, xs);
        add_residual(x, tmp, (size_t)T * d);
        TRACE("attn_res", l, x, T, d);
        /* MLP */
        rmsnorm_rows(h, x, T, d, m->eps_q, L->mlp_norm_c, L->mlp_norm_cj, A, row, kh, K);
        TRACE("mlp_in", l, h, T, d);
        trace_k(trace, ctx, "mlp_in", l, kh, T, tmp);
        linear_requant(g, h, T, &L->gate, R16, kh, xs);
        linear_requant(u, h, T, &L->up, R16, kh, xs);
        TRACE("gate", l, g, T, f);
        TRACE("up", l, u, T, f);
        for (size_t i = 0; i < (size_t)T * f; i++)
            g[i] = floe_lut16_apply(&L->silu, (int16_t)g[i]);
        TRACE("act", l, g, T, f);
        for (size_t i = 0; i < (size_t)T * f; i++) /* int16 x int16: exact in int32 */
            if (tok)
                g[i] = g[i] * u[i];
            else
                h[i] = floe_requant(g[i] * u[i], L->m_mlp, A.lo, A.hi);
        for (int t = 0; tok && t < T; t++)
            kh[t] = (int8_t)floe_token_requant_row(h + (size_t)t * f, g + (size_t)t * f, (size_t)f, L->m_mlp, K, A.lo,
                                                   A.hi);
        TRACE("down_in", l, h, T, f);
        trace_k(trace, ctx, "down_in", l, kh, T, tmp);
        linear_requant(tmp, h, T, &L->down, R16, kh, xs);
        add_residual(x, tmp, (size_t)T * d);
        TRACE("out", l, x, T, d);
    }
    rmsnorm_rows(h, x, T, d, m->eps_q, m->head_norm_c, NULL, A, row, kh, K);
    TRACE("head_in", -1, h, T, d);
    trace_k(trace, ctx, "head_in", -1, kh, T, tmp);
    linear_requant(lg, h, T, &m->head, R16, kh, xs);
    TRACE("logits", -1, lg, T, c->vocab_size);
    for (size_t i = 0; i < (size_t)T * c->vocab_size; i++)
        logits[i] = (int16_t)lg[i];
    free(x), free(h), free(q), free(k), free(v), free(o), free(g), free(u), free(z), free(tmp), free(row), free(p);
    free(lg), free(kbuf), free(orow), free(xs);
    return 0;
}
