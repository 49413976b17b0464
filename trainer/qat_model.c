#include "trainer/qat_model.h"

#include <omp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/big_alloc.h"
#include "isa/lut.h"
#include "trainer/attention.h"
#include "trainer/lsq.h"
#include "trainer/matmul.h"
#include "trainer/rmsnorm.h"
#include "trainer/rope.h"
#include "trainer/vec.h"

/* Backward buffers for maxB x maxT (N rows). */
typedef struct {
    float *dx, *dh, *hhat, *xf;  /* [N, C] */
    float *rstd;                 /* [N] */
    float *dq, *datt, *ohat, *qf;/* [N, Q] */
    float *dk, *dv, *kf, *vf;    /* [N, KV] */
    float *pscr;                 /* [2, T, T]: one head's probabilities and dS (floe_attention_backward_given) */
    float *dm, *mhat, *dg, *du;  /* [N, F] */
    float *dwhat, *wbuf;         /* [largest block linear, or head_rows of the head]: dL/dW_hat; W_hat,
                                    then W' (formed at use) */
    float *dslice;               /* [N, head_rows]: a slice of dL/dlogits (floe_qat_backward_sliced) */
    double *gacc;                /* [max(C, F)] a folded gain's gradient, summed over row slices */
    int head_rows;               /* the LM head's weight rows per backward slice (a multiple of 128) */
    float *ones, *dgain;         /* [max(C, F)] */
    float *rope_cos, *rope_sin;  /* [maxT, hd/2] */
    double *rows;                /* [N] */
} qat_scratch;

static const floe_param_kind LIN_KIND[7] = {FLOE_P_Q, FLOE_P_K, FLOE_P_V, FLOE_P_O, FLOE_P_GATE, FLOE_P_UP, FLOE_P_DOWN};
static const floe_param_kind LIN_GAIN[7] = {FLOE_P_ATTN_NORM, FLOE_P_ATTN_NORM, FLOE_P_ATTN_NORM, FLOE_P_KIND_COUNT,
                                            FLOE_P_MLP_NORM,  FLOE_P_MLP_NORM,  FLOE_P_KIND_COUNT};

static floe_qlinear *qlinear_of(floe_qmodel *m, int l, int i)
{
    floe_qlayer *L = &m->layers[l];
    floe_qlinear *all[7] = {&L->q, &L->k, &L->v, &L->o, &L->gate, &L->up, &L->down};
    return all[i];
}

static int granite(const floe_qat *s) { return s->cfg.family == FLOE_FAMILY_GRANITE; }

static float *P(const floe_qat *s, floe_param_kind k, int l) { return s->params + floe_param_get(&s->table, k, l)->offset; }
static float *G(const floe_qat *s, floe_param_kind k, int l) { return s->grads + floe_param_get(&s->table, k, l)->offset; }

void floe_qat_free(floe_qat *s)
{
    qat_scratch *x = s->scratch;
    if (x) {
        float *fs[] = {x->dx,    x->dh,   x->hhat,   x->xf,   x->rstd,  x->dq,       x->datt,    x->ohat, x->qf,
                       x->dk,    x->dv,   x->kf,     x->vf,   x->pscr,  x->dm,       x->mhat,    x->dg,   x->du,
                       x->dwhat, x->wbuf, x->dslice, x->ones, x->dgain, x->rope_cos, x->rope_sin};
        for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++)
            free(fs[i]);
        free(x->rows);
        free(x->gacc);
        free(x);
    }
    free(s->lin);
    free(s->params);
    free(s->grads);
    free(s->steps);
    free(s->dsteps);
    free(s->tokens);
    free(s->step_floor);
    free(s->frozen_steps);
    floe_param_table_free(&s->table);
    floe_qmodel_free(&s->qm);
    floe_qfwd_free(&s->fwd);
    memset(s, 0, sizeof *s);
}

void floe_qat_step_layout(const floe_model_config *cfg, size_t *act_off, size_t *n_steps)
{
    const size_t L = (size_t)cfg->n_layers, d = (size_t)cfg->d_model, f = (size_t)cfg->ffn_dim;
    const size_t kv = (size_t)cfg->n_kv_heads * (size_t)cfg->head_dim;
    *act_off = L * (3 * d + 2 * kv + 2 * f) + (size_t)cfg->vocab_size;
    *n_steps = *act_off + (size_t)FLOE_QAT_ACTS_PER_LAYER * L + 1;
}

int floe_qat_init(floe_qat *s, const floe_model_config *cfg, const floe_qconfig *qc, int maxB, int maxT,
                  floe_err *err)
{
    memset(s, 0, sizeof *s);
    if (floe_qconfig_validate(qc, err) != 0)
        return -1;
    if (floe_qmodel_alloc(&s->qm, cfg, qc, err) != 0)
        return -1;
    s->cfg = *cfg;
    s->qc = *qc;
    s->maxB = maxB;
    s->maxT = maxT;
    if (floe_param_table_init(&s->table, cfg, err) != 0 || floe_qfwd_init(&s->fwd, cfg, maxB, maxT, err) != 0) {
        floe_qat_free(s);
        return -1;
    }
    const int L = cfg->n_layers;
    s->n_lin = 7 * L + 1;
    s->lin = calloc((size_t)s->n_lin, sizeof *s->lin);
    if (!s->lin)
        goto oom;
    size_t off = 0, wmax = 0;
    for (int k = 0; k < s->n_lin; k++) {
        floe_qat_linear *q = &s->lin[k];
        if (k < 7 * L) {
            q->layer = k / 7;
            q->kind = LIN_KIND[k % 7];
            q->gain = LIN_GAIN[k % 7];
            q->q = qlinear_of(&s->qm, q->layer, k % 7);
        } else {
            q->layer = -1;
            q->kind = cfg->tied_embeddings ? FLOE_P_EMBED : FLOE_P_LM_HEAD;
            q->gain = FLOE_P_FINAL_NORM;
            q->q = &s->qm.head;
        }
        q->in = q->q->in;
        q->out = q->q->out;
        q->bits = q->q->bits;
        q->step_off = off;
        off += (size_t)q->out;
        size_t n = (size_t)q->in * q->out;
        if (q->layer >= 0)
            wmax = n > wmax ? n : wmax;
    }
    s->act_off = off;
    s->n_steps = off + (size_t)FLOE_QAT_ACTS_PER_LAYER * L + 1;
    const size_t N = (size_t)maxB * maxT, C = (size_t)cfg->d_model, Q = (size_t)cfg->n_heads * cfg->head_dim;
    const size_t KV = (size_t)cfg->n_kv_heads * cfg->head_dim, F = (size_t)cfg->ffn_dim, V = (size_t)cfg->vocab_size;
    const size_t h = (size_t)cfg->head_dim / 2;
    s->params = floe_big_calloc(s->table.total, sizeof(float));
    s->grads = floe_big_calloc(s->table.total, sizeof(float));
    s->steps = malloc(s->n_steps * sizeof(float));
    s->dsteps = calloc(s->n_steps, sizeof(float));
    s->tokens = calloc(N, sizeof(int32_t));
    qat_scratch *x = s->scratch = calloc(1, sizeof *x);
    if (!s->params || !s->grads || !s->steps || !s->dsteps || !s->tokens || !x)
        goto oom;
    size_t CF = C > F ? C : F;
    /* The head's backward runs in slices of its weight rows that fit the largest block linear: an
     * [V, C] pair would be 2 GB for Llama 3's vocabulary. Multiples of 128 rows, matmul's dW block. */
    size_t hr = wmax / C / 128 * 128;
    hr = hr < 128 ? 128 : hr > V ? V : hr;
    x->head_rows = (int)hr;
    wmax = hr * C > wmax ? hr * C : wmax;
#define ALLOC(p, n) ((p) = floe_big_calloc((n), sizeof *(p))) != NULL
    if (!(ALLOC(x->dx, N * C) && ALLOC(x->dh, N * C) && ALLOC(x->hhat, N * C) && ALLOC(x->xf, N * C) &&
          ALLOC(x->rstd, N) && ALLOC(x->dq, N * Q) && ALLOC(x->datt, N * Q) && ALLOC(x->ohat, N * Q) &&
          ALLOC(x->qf, N * Q) && ALLOC(x->dk, N * KV) && ALLOC(x->dv, N * KV) && ALLOC(x->kf, N * KV) &&
          ALLOC(x->vf, N * KV) && ALLOC(x->pscr, 2 * (size_t)maxT * maxT) && ALLOC(x->dm, N * F) &&
          ALLOC(x->mhat, N * F) && ALLOC(x->dg, N * F) && ALLOC(x->du, N * F) && ALLOC(x->dwhat, wmax) &&
          ALLOC(x->wbuf, wmax) && ALLOC(x->dslice, N * hr) && ALLOC(x->ones, CF) && ALLOC(x->dgain, CF) &&
          ALLOC(x->rope_cos, (size_t)maxT * h) && ALLOC(x->rope_sin, (size_t)maxT * h) && ALLOC(x->rows, N) &&
          ALLOC(x->gacc, CF) && ALLOC(s->step_floor, s->n_steps)))
        goto oom;
#undef ALLOC
    for (size_t i = 0; i < CF; i++)
        x->ones[i] = 1.0f;
    for (size_t i = 0; i < s->n_steps; i++)
        s->steps[i] = 1.0f;
    floe_rope_tables_cfg(x->rope_cos, x->rope_sin, maxT, cfg); /* the backward's: the integer tables' angles */
    return 0;
oom:
    floe_qat_free(s);
    return floe_err_set(err, "%s: out of memory for the QAT student (batch %d x %d)", cfg->name, maxB, maxT);
}

float *floe_qat_act_step(floe_qat *s, int l, int which)
{
    if (l < 0)
        return s->steps + s->act_off + (size_t)FLOE_QAT_ACTS_PER_LAYER * s->cfg.n_layers;
    return s->steps + s->act_off + (size_t)FLOE_QAT_ACTS_PER_LAYER * l + which;
}

void floe_qat_zero_grad(floe_qat *s)
{
    memset(s->grads, 0, s->table.total * sizeof(float));
    memset(s->dsteps, 0, s->n_steps * sizeof(float));
}

void floe_qat_set_floor(floe_qat *s)
{
    for (size_t i = 0; i < s->n_steps; i++)
        s->step_floor[i] = 1e-3f * fabsf(s->steps[i]);
}

void floe_qat_clamp_steps(floe_qat *s)
{
    for (size_t i = 0; i < s->n_steps; i++)
        if (!(s->steps[i] >= s->step_floor[i]))
            s->steps[i] = s->step_floor[i] > 0.0f ? s->step_floor[i] : 1e-12f;
}

static void quantize_linear(floe_qat *s, floe_qat_linear *q)
{
    const float *st = s->steps + q->step_off;
    if (s->frozen) { /* E2E-QP: the codes stay, only the steps move */
        memcpy(q->q->s_w, st, sizeof(float) * (size_t)q->out);
        return;
    }
    const float *w = P(s, q->kind, q->layer < 0 ? 0 : q->layer);
    const float *g = q->gain == FLOE_P_KIND_COUNT ? NULL : P(s, q->gain, q->layer < 0 ? 0 : q->layer);
    const float hi = (float)floe_lsq_hi(q->bits), lo = -hi - 1.0f;
    const int in = q->in; /* a local: the int8 stores below may alias q->in, which stops vectorising */
#pragma omp parallel for schedule(static)
    for (int n = 0; n < q->out; n++) {
        const float sn = st[n];
        const size_t r = (size_t)n * in;
        const float *restrict wr = w + r;
        int8_t *restrict c8 = q->q->w + r;
        q->q->s_w[n] = sn;
        /* floe_lsq_code of W' = W * g, branch-free so that it vectorises: the same operations, the
         * same bits (a NaN fails x >= lo and gets the lowest code, as there) */
        for (int i = 0; i < in; i++) {
            float x = floorf((g ? wr[i] * g[i] : wr[i]) / sn + 0.5f);
            x = x >= lo ? x : lo;
            x = x > hi ? hi : x;
            c8[i] = (int8_t)(int32_t)x;
        }
    }
}

/* Rows r0..r0+rn-1 of W_hat = codes * s_w, the weights the forward used (exact: a code times its
 * row's step), into out [rn, in]. Formed at use rather than kept: a copy per linear would double the weights' memory. */
static void dequantize_linear(const floe_qat_linear *q, int r0, int rn, float *out)
{
    const int in = q->in;
#pragma omp parallel for schedule(static)
    for (int n = r0; n < r0 + rn; n++) {
        const float sn = q->q->s_w[n];
        const int8_t *restrict c8 = q->q->w + (size_t)n * in;
        float *restrict o = out + (size_t)(n - r0) * in;
        for (int i = 0; i < in; i++)
            o[i] = (float)c8[i] * sn;
    }
}

/* Rows r0..r0+rn-1 of W' = W * g (the folded gain; W without one), as floe_qat_quantize rounded it,
 * into out [rn, in]. */
static void fold_linear(const floe_qat *s, const floe_qat_linear *q, int r0, int rn, float *out)
{
    const float *w = P(s, q->kind, q->layer < 0 ? 0 : q->layer);
    const float *g = q->gain == FLOE_P_KIND_COUNT ? NULL : P(s, q->gain, q->layer < 0 ? 0 : q->layer);
    const int in = q->in;
#pragma omp parallel for schedule(static)
    for (int n = r0; n < r0 + rn; n++) {
        const float *restrict wr = w + (size_t)n * in;
        float *restrict o = out + (size_t)(n - r0) * in;
        if (g)
            for (int i = 0; i < in; i++)
                o[i] = wr[i] * g[i];
        else
            memcpy(o, wr, sizeof(float) * (size_t)in);
    }
}

int floe_qat_quantize(floe_qat *s, floe_err *err)
{
    for (int k = 0; k < s->n_lin; k++)
        quantize_linear(s, &s->lin[k]);
    const float *E = P(s, FLOE_P_EMBED, 0);
    const float sres = s->qm.s_res;
    size_t ne = (size_t)s->cfg.vocab_size * s->cfg.d_model;
    if (granite(s)) { /* the table holds the first residual vector, E * embedding_multiplier as the float
                       * model computes it (the LM head quantizes E itself: the fold leaves it alone) */
        const float em = (float)s->cfg.embedding_multiplier;
        for (size_t i = 0; i < ne; i++)
            s->qm.embed[i] = (int16_t)floe_lsq_code(E[i] * em, sres, 16);
    } else
        for (size_t i = 0; i < ne; i++)
            s->qm.embed[i] = (int16_t)floe_lsq_code(E[i], sres, 16);
    for (int l = 0; l < s->cfg.n_layers; l++) {
        floe_qlayer *L = &s->qm.layers[l];
        L->s_attn_in = *floe_qat_act_step(s, l, FLOE_QAT_ATTN_IN);
        L->s_kc = *floe_qat_act_step(s, l, FLOE_QAT_KC);
        L->s_vc = *floe_qat_act_step(s, l, FLOE_QAT_VC);
        L->s_o_in = *floe_qat_act_step(s, l, FLOE_QAT_O_IN);
        L->s_mlp_in = *floe_qat_act_step(s, l, FLOE_QAT_MLP_IN);
        L->s_down_in = *floe_qat_act_step(s, l, FLOE_QAT_DOWN_IN);
    }
    s->qm.s_head_in = *floe_qat_act_step(s, -1, 0);
    return floe_qmodel_derive(&s->qm, err);
}

int floe_qat_freeze_with(floe_qat *s, const float *frozen_steps, floe_err *err)
{
    if (!s->frozen_steps && !(s->frozen_steps = malloc(s->act_off * sizeof(float))))
        return floe_err_set(err, "QAT student: out of memory");
    memmove(s->frozen_steps, frozen_steps, s->act_off * sizeof(float));
    for (size_t i = 0; i < s->act_off; i++)
        if (!(s->frozen_steps[i] > 0.0f) || !isfinite(s->frozen_steps[i]))
            return floe_err_set(err, "frozen weight step %zu is %g (must be positive and finite)", i,
                                (double)s->frozen_steps[i]);
    /* the codes of the frozen steps, through the ordinary quantizer */
    float *cur = malloc(s->act_off * sizeof(float));
    if (!cur)
        return floe_err_set(err, "QAT student: out of memory");
    memcpy(cur, s->steps, s->act_off * sizeof(float));
    memcpy(s->steps, s->frozen_steps, s->act_off * sizeof(float));
    s->frozen = 0;
    for (int k = 0; k < s->n_lin; k++)
        quantize_linear(s, &s->lin[k]);
    memcpy(s->steps, cur, s->act_off * sizeof(float));
    free(cur);
    s->frozen = 1;
    return floe_qat_quantize(s, err);
}

int floe_qat_freeze(floe_qat *s, floe_err *err)
{
    return floe_qat_freeze_with(s, s->steps, err);
}

int floe_qat_forward(floe_qat *s, const int32_t *tokens, int B, int T, floe_err *err)
{
    if (floe_qat_quantize(s, err) != 0 || floe_qfwd_forward(&s->fwd, &s->qm, tokens, B, T, err) != 0)
        return -1;
    memcpy(s->tokens, tokens, sizeof(int32_t) * (size_t)B * T);
    return 0;
}

/* ---- backward ---------------------------------------------------------------------------------- */

/* Float view of int16 codes. */
static void view16(float *out, const int16_t *c, size_t n, float step)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++)
        out[i] = (float)c[i] * step;
}

static void view8(float *out, const int8_t *c, size_t n, float step)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++)
        out[i] = (float)c[i] * step;
}

/* Float view of the codes of a linear-layer input point [N, w]: with per-token scaling (k non-NULL)
 * row r's step is step * 2^-k[r] (exact), else view8. */
static void view_in(float *out, const int8_t *c, int N, int w, float step, const int8_t *k)
{
    if (!k) {
        view8(out, c, (size_t)N * w, step);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const float st = ldexpf(step, -k[r]);
        for (int i = 0; i < w; i++)
            out[(size_t)r * w + i] = (float)c[(size_t)r * w + i] * st;
    }
}

/* xf = x * s_res and rstd of each row (the float RMSNorm the integer one implements, gain 1). */
static void norm_input(qat_scratch *x, const int16_t *codes, int N, int C, float s_res, float eps)
{
    view16(x->xf, codes, (size_t)N * C, s_res);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const float *v = x->xf + (size_t)r * C;
        x->rstd[r] = 1.0f / sqrtf(floe_dot(v, v, C) / (float)C + eps);
    }
}

/* Gradient of rows r0..r0+rn-1 of a weight's dequantized value (dwhat [rn, in]) through LSQ and the
 * gain fold into the master weight, the row steps and gacc [in] (the folded gain's gradient, summed
 * in row order across calls; the caller adds it to the gain's). wbuf: [rn, in] scratch (W' is formed
 * there). */
static void weight_backward(floe_qat *s, floe_qat_linear *q, int r0, int rn, float *dwhat, float *wbuf, double *gacc)
{
    int l = q->layer < 0 ? 0 : q->layer;
    const int in = q->in;
    const int8_t *codes = q->q->w + (size_t)r0 * in;
    float *ds = s->dsteps + q->step_off + r0;
    if (s->frozen) { /* E2E-QP: w_hat = code * s exactly, so dL/ds = sum dL/dw_hat * code */
#pragma omp parallel for schedule(static)
        for (int n = 0; n < rn; n++) {
            double acc = 0.0;
            for (int i = 0; i < in; i++) {
                size_t k = (size_t)n * in + i;
                acc += (double)dwhat[k] * (double)codes[k];
            }
            ds[n] += (float)acc;
        }
        return;
    }
    fold_linear(s, q, r0, rn, wbuf);
    floe_lsq_weight_backward(dwhat, dwhat, wbuf, s->steps + q->step_off + r0, codes, rn, in, q->bits, ds);
    float *dW = G(s, q->kind, l) + (size_t)r0 * in;
    const float *W = P(s, q->kind, l) + (size_t)r0 * in;
    if (q->gain == FLOE_P_KIND_COUNT) {
        size_t n = (size_t)rn * in;
#pragma omp parallel for simd schedule(static)
        for (size_t k = 0; k < n; k++)
            dW[k] += dwhat[k];
        return;
    }
    const float *g = P(s, q->gain, l);
    /* One pass over the rows. The gain's gradient sums over rows in order: each thread owns a range
     * of columns and walks every row through it (contiguous reads; the same sums as column by
     * column). */
#pragma omp parallel
    {
        int lo, hi;
        floe_split(in, omp_get_num_threads(), omp_get_thread_num(), 16, &lo, &hi);
        for (int n = 0; n < rn; n++) {
            const size_t row = (size_t)n * in;
            for (int i = lo; i < hi; i++) {
                dW[row + i] += dwhat[row + i] * g[i];
                gacc[i] += (double)(dwhat[row + i] * W[row + i]);
            }
        }
    }
}

/* dout given whole: its columns in place */
typedef struct {
    const float *d;
    int ld;
} whole_dout;

static const float *whole_slice(void *ctx, int c0, int cn, float *buf, int *ld)
{
    (void)cn, (void)buf;
    const whole_dout *w = ctx;
    *ld = w->ld;
    return w->d + c0;
}

/* Linear backward on dequantized operands: dinp (+)= dout @ W_hat (add: accumulate; else overwrite),
 * dW_hat = dout^T @ inp, then through the weight quantizer. dout's columns come from fn. The LM head
 * runs in slices of head_rows weight rows (its dinp then sums slice by slice: float rounding, not the
 * bits of one product). */
static void linear_backward_from(floe_qat *s, floe_qat_linear *q, float *dinp, int add, floe_qat_dlogits_fn fn,
                                 void *ctx, const float *inp, int N)
{
    qat_scratch *x = s->scratch;
    const int rows = q->layer < 0 ? x->head_rows : q->out;
    memset(x->gacc, 0, sizeof(double) * (size_t)q->in);
    for (int r0 = 0; r0 < q->out; r0 += rows) {
        const int rn = q->out - r0 < rows ? q->out - r0 : rows;
        int ld;
        const float *dout = fn(ctx, r0, rn, x->dslice, &ld);
        dequantize_linear(q, r0, rn, x->wbuf);
        floe_matmul_backward_ld(dinp, add || r0 > 0, x->dwhat, 0, dout, ld, inp, x->wbuf, N, q->in, rn);
        weight_backward(s, q, r0, rn, x->dwhat, x->wbuf, x->gacc);
    }
    if (q->gain != FLOE_P_KIND_COUNT && !s->frozen) {
        float *dg = G(s, q->gain, q->layer < 0 ? 0 : q->layer);
        for (int i = 0; i < q->in; i++)
            dg[i] += (float)x->gacc[i];
    }
}

static void linear_backward(floe_qat *s, floe_qat_linear *q, float *dinp, int add, const float *dout, const float *inp,
                            int N)
{
    whole_dout w = {dout, q->out};
    linear_backward_from(s, q, dinp, add, whole_slice, &w, inp, N);
}

/* dL/d(normalised input) through the learned step of an RMSNorm output, then the float RMSNorm
 * backward (gain 1: gains are folded into the weights) into dres. */
static void norm_backward(floe_qat *s, float *dres, float *dh, const int8_t *codes, const int8_t *rk,
                          const int16_t *x16, int N, float *step, float *dstep)
{
    qat_scratch *x = s->scratch;
    const int C = s->cfg.d_model;
    norm_input(x, x16, N, C, s->qm.s_res, (float)s->cfg.rms_eps);
    /* v = xf * rstd per row: pass rstd as a per-row factor by scaling a copy */
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++)
        for (int i = 0; i < C; i++)
            x->hhat[(size_t)r * C + i] = x->xf[(size_t)r * C + i] * x->rstd[r];
    *dstep += (float)floe_lsq_act_backward_tok(dh, dh, x->hhat, 1.0f, NULL, codes, NULL, rk, (size_t)N, (size_t)C,
                                               *step, s->qc.abits, x->rows);
    floe_rmsnorm_backward(dres, x->dgain, dh, x->xf, x->ones, x->rstd, N, C);
}

static void scale_buf(float *v, size_t n, float f)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++)
        v[i] *= f;
}

/* The gradient of a block's branch output given that of the residual stream dx [n]: dx itself, or for
 * a Granite residual_multiplier * dx in the scratch dh (free at both uses: rewritten before it is read). */
static const float *branch_grad(qat_scratch *x, const float *dx, size_t n, int granite, float rm)
{
    if (!granite)
        return dx;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++)
        x->dh[i] = dx[i] * rm;
    return x->dh;
}

/* Row t of a head's probabilities as floats: the integer forward's Q15 row, recomputed (tmp holds
 * its int16 codes, row its int32 scores first: T floats each). */
typedef struct {
    const floe_qfwd *f;
    const floe_qmodel *m;
    int l;
} prob_ctx;

static void int_prob_row(void *ctx, int b, int h, int t, float *row, float *tmp)
{
    const prob_ctx *c = ctx;
    int16_t *p = (int16_t *)(void *)tmp;
    floe_qfwd_prob_row(c->f, c->m, c->l, b, h, t, p, (int32_t *)(void *)row);
    for (int s = 0; s <= t; s++)
        row[s] = (float)p[s] * (1.0f / 32768.0f);
}

static float *dstep_of(floe_qat *s, int l, int which)
{
    return s->dsteps + (floe_qat_act_step(s, l, which) - s->steps);
}

void floe_qat_backward(floe_qat *s, const float *dlogits)
{
    whole_dout w = {dlogits, s->cfg.vocab_size};
    floe_qat_backward_sliced(s, whole_slice, &w);
}

int floe_qat_head_slice(const floe_qat *s) { return ((const qat_scratch *)s->scratch)->head_rows; }

void floe_qat_backward_sliced(floe_qat *s, floe_qat_dlogits_fn fn, void *ctx)
{
    qat_scratch *x = s->scratch;
    const floe_model_config *c = &s->cfg;
    const floe_qfwd *f = &s->fwd;
    const int B = f->B, T = f->T, N = B * T, C = c->d_model, NH = c->n_heads, NKV = c->n_kv_heads;
    const int hd = c->head_dim, Q = NH * hd, KV = NKV * hd, F = c->ffn_dim;
    const size_t NC = (size_t)N * C;
    const int abits = s->qc.abits, kvbits = s->qc.kvbits;
    floe_qmodel *m = &s->qm;
    const int tok = s->qc.act_scaling == FLOE_ACT_PER_TOKEN; /* per-token input steps (numerics §10) */

    /* Granite's multipliers where the integer forward folds them into multipliers (qmodel.c): the
     * float view of each such output carries the factor, so its gradient does too */
    const int gr = granite(s);
    const float rm = (float)c->residual_multiplier, ls = (float)c->logits_scaling;
    /* LM head: logits = head(hf) (/ logits_scaling), a 16-bit quantizer passes straight through */
    floe_qat_linear *head = &s->lin[s->n_lin - 1];
    view_in(x->hhat, f->hf, N, C, m->s_head_in, tok ? f->kf : NULL);
    if (gr) /* dW = dlogits^T (h / ls) */
        scale_buf(x->hhat, NC, 1.0f / ls);
    linear_backward_from(s, head, x->dh, 0, fn, ctx, x->hhat, N);
    if (gr)
        scale_buf(x->dh, NC, 1.0f / ls);
    memset(x->dx, 0, NC * sizeof(float));
    norm_backward(s, x->dx, x->dh, f->hf, tok ? f->kf : NULL, f->xf, N, floe_qat_act_step(s, -1, 0),
                  dstep_of(s, -1, 0));

    for (int l = c->n_layers - 1; l >= 0; l--) {
        const floe_qfwd_layer *A = &f->layers[l];
        const floe_qlayer *L = &m->layers[l];
        floe_qat_linear *lq = &s->lin[7 * l];
        const int8_t *k1 = tok ? A->k1 : NULL, *ko = tok ? A->ko : NULL, *k2 = tok ? A->k2 : NULL;
        const int8_t *km = tok ? A->km : NULL;
        /* MLP: out = xmid + down(m), m = A(silu(g) * u) */
        view_in(x->mhat, A->mh, N, F, L->s_down_in, km);
        linear_backward(s, &lq[6], x->dm, 0, branch_grad(x, x->dx, NC, gr, rm), x->mhat, N);
        /* the product's float value a_f * u_f, its learned step s_down_in */
        const float sa = L->s_silu, su = L->s_u, sg = L->s_g;
        /* the SiLU codes recomputed from the gate's (the forward keeps none), their float view in du
         * until the loop after next overwrites it */
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < (size_t)N * F; i++) {
            x->du[i] = (float)floe_lut16_apply(&L->silu, A->g[i]) * sa;
            x->dg[i] = x->du[i] * ((float)A->u[i] * su);
        }
        *dstep_of(s, l, FLOE_QAT_DOWN_IN) += (float)floe_lsq_act_backward_tok(
            x->dm, x->dm, x->dg, 1.0f, NULL, A->mh, NULL, km, (size_t)N, (size_t)F, L->s_down_in, abits, x->rows);
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < (size_t)N * F; i++) {
            float af = x->du[i], uf = (float)A->u[i] * su, gf = (float)A->g[i] * sg;
            float sig = 1.0f / (1.0f + floe_expf(-gf));
            float d = x->dm[i];
            x->du[i] = d * af;
            x->dg[i] = d * uf * (sig * (1.0f + gf * (1.0f - sig)));
        }
        view_in(x->hhat, A->h2, N, C, L->s_mlp_in, k2);
        linear_backward(s, &lq[4], x->dh, 0, x->dg, x->hhat, N);
        linear_backward(s, &lq[5], x->dh, 1, x->du, x->hhat, N);
        norm_backward(s, x->dx, x->dh, A->h2, k2, A->xmid, N, floe_qat_act_step(s, l, FLOE_QAT_MLP_IN),
                      dstep_of(s, l, FLOE_QAT_MLP_IN));

        /* attention: xmid = x + o(att) */
        view_in(x->ohat, A->o, N, Q, L->s_o_in, ko);
        linear_backward(s, &lq[3], x->datt, 0, branch_grad(x, x->dx, NC, gr, rm), x->ohat, N);
        /* the attention output's float value: oacc * 2^-15 * s_vc */
        float so = ldexpf(L->s_vc, -15);
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < (size_t)N * Q; i++)
            x->qf[i] = (float)A->oacc[i] * so;
        *dstep_of(s, l, FLOE_QAT_O_IN) += (float)floe_lsq_act_backward_tok(
            x->datt, x->datt, x->qf, 1.0f, NULL, A->o, NULL, ko, (size_t)N, (size_t)Q, L->s_o_in, abits, x->rows);
        /* float views of what attention used */
        view16(x->qf, A->q, (size_t)N * Q, L->s_q);
        view16(x->kf, A->kc, (size_t)N * KV, L->s_kc);
        view16(x->vf, A->v, (size_t)N * KV, L->s_vc);
        memset(x->dq, 0, sizeof(float) * (size_t)N * Q);
        memset(x->dk, 0, sizeof(float) * (size_t)N * KV);
        memset(x->dv, 0, sizeof(float) * (size_t)N * KV);
        prob_ctx pc = {f, m, l};
        floe_attention_backward_given(x->dq, x->dk, x->dv, x->pscr, x->datt, int_prob_row, &pc, x->qf, x->kf, x->vf, B,
                                      T, NH, NKV, hd, gr ? (float)c->attention_multiplier : 1.0f / sqrtf((float)hd));
        /* cache quantizers: kc from the rotated int16 k, v from its accumulator */
        view16(x->kf, A->k, (size_t)N * KV, L->s_k);
        *dstep_of(s, l, FLOE_QAT_KC) += (float)floe_lsq_act_backward(
            x->dk, x->dk, x->kf, 1.0f, NULL, NULL, A->kc, (size_t)N, (size_t)KV, L->s_kc, kvbits, x->rows);
        const float *vacc = A->vacc;
        if (k1) { /* the accumulator of row r is at the input step s_attn_in * 2^-k1[r] (vf is free now) */
#pragma omp parallel for schedule(static)
            for (int r = 0; r < N; r++)
                for (int n = 0; n < KV; n++)
                    x->vf[(size_t)r * KV + n] = ldexpf(A->vacc[(size_t)r * KV + n], -k1[r]);
            vacc = x->vf;
        }
        *dstep_of(s, l, FLOE_QAT_VC) += (float)floe_lsq_act_backward(x->dv, x->dv, vacc, L->s_attn_in, L->v.s_w,
                                                                     NULL, A->v, (size_t)N, (size_t)KV, L->s_vc,
                                                                     kvbits, x->rows);
        floe_rope_backward(x->dq, x->rope_cos, x->rope_sin, B, T, NH, hd);
        floe_rope_backward(x->dk, x->rope_cos, x->rope_sin, B, T, NKV, hd);
        view_in(x->hhat, A->h1, N, C, L->s_attn_in, k1);
        linear_backward(s, &lq[0], x->dh, 0, x->dq, x->hhat, N);
        linear_backward(s, &lq[1], x->dh, 1, x->dk, x->hhat, N);
        linear_backward(s, &lq[2], x->dh, 1, x->dv, x->hhat, N);
        norm_backward(s, x->dx, x->dh, A->h1, k1, A->x, N, floe_qat_act_step(s, l, FLOE_QAT_ATTN_IN),
                      dstep_of(s, l, FLOE_QAT_ATTN_IN));
    }
    if (s->frozen)
        return; /* E2E-QP trains no parameter */
    /* embedding: a 16-bit quantizer, straight through to the rows of the looked-up tokens */
    float *dE = G(s, FLOE_P_EMBED, 0);
    if (gr) /* x0 = E * embedding_multiplier */
        scale_buf(x->dx, NC, (float)c->embedding_multiplier);
    for (int r = 0; r < N; r++) /* rows in order: repeated tokens sum the same way on any thread count */
        for (int i = 0; i < C; i++)
            dE[(size_t)s->tokens[r] * C + i] += x->dx[(size_t)r * C + i];
}
