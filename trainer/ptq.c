/* GPTQ on the chip path, weight-only PTQ and SmoothQuant's exact folds (trainer/ptq.h). */
#include "trainer/ptq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/select_kth.h"
#include "trainer/lsq.h"
#include "trainer/qforward.h"

/* The calib initialisation's sampling stream (trainer/qat_init.c). */
#define CALIB_STREAM 0xca11b7a7e5eedull

int floe_gptq_hsrc_parse(const char *name, floe_gptq_hsrc *out)
{
    if (strcmp(name, "student") == 0)
        *out = FLOE_GPTQ_H_STUDENT;
    else if (strcmp(name, "teacher") == 0)
        *out = FLOE_GPTQ_H_TEACHER;
    else
        return -1;
    return 0;
}

/* nb batches of B x T input tokens, checked against the model's vocabulary. */
static int32_t *sample_batches(floe_model *t, const floe_tokens *train, uint64_t seed, int nb, floe_err *err)
{
    const int B = t->maxB, T = t->maxT;
    int32_t *rows = malloc(sizeof(int32_t) * (size_t)B * (T + 1));
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)nb * B * T);
    if (!rows || !tok) {
        floe_err_set(err, "calibration: out of memory");
        goto fail;
    }
    for (int b = 0; b < nb; b++) {
        int32_t *dst = tok + (size_t)b * B * T;
        if (floe_batch_sample(train, seed ^ CALIB_STREAM, (uint64_t)b, B, T, rows, err) != 0)
            goto fail;
        for (int r = 0; r < B; r++)
            memcpy(dst + (size_t)r * T, rows + (size_t)r * (T + 1), sizeof(int32_t) * (size_t)T);
        if (floe_model_check_ids(t, dst, (size_t)B * T, err) != 0)
            goto fail;
    }
    free(rows);
    return tok;
fail:
    free(rows);
    free(tok);
    return NULL;
}

/* The four sub-layer groups of a block: their linears (index in the block's q k v o gate up down
 * order) and the width of their input. */
static const int GROUP_FIRST[4] = {0, 3, 4, 6}, GROUP_LEN[4] = {3, 1, 2, 1};
static const floe_param_kind BLOCK_KIND[7] = {FLOE_P_Q, FLOE_P_K, FLOE_P_V, FLOE_P_O, FLOE_P_GATE, FLOE_P_UP, FLOE_P_DOWN};

static int group_width(const floe_model_config *c, int g)
{
    return g == 1 ? c->n_heads * c->head_dim : g == 3 ? c->ffn_dim : c->d_model;
}

static float *param(floe_param_table *tb, float *params, floe_param_kind k, int l)
{
    return params + floe_param_get(tb, k, l)->offset;
}

/* The FP model's input to group g of layer l from that layer's taps tp (floe_model_forward_tapped),
 * [N][width]: the normalised residual (times the norm gain if with_gain), the attention output, or
 * silu(gate) * up. */
static void teacher_input(floe_model *t, const floe_model_taps *tp, int l, int g, int with_gain, float *X)
{
    const int N = t->B * t->T, C = t->cfg.d_model;
    size_t n = (size_t)N * group_width(&t->cfg, g);
    if (g == 1 || g == 3) {
        memcpy(X, g == 1 ? tp->atty : tp->swi, sizeof(float) * n);
        return;
    }
    const float *x = g == 0 ? tp->x : tp->xmid, *rs = g == 0 ? tp->rstd1 : tp->rstd2;
    const float *gain = param(&t->table, t->params, g == 0 ? FLOE_P_ATTN_NORM : FLOE_P_MLP_NORM, l);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++)
        for (int i = 0; i < C; i++)
            X[(size_t)r * C + i] = x[(size_t)r * C + i] * rs[r] * (with_gain ? gain[i] : 1.0f);
}

/* Hessians from the teacher's inputs, a layer at a time (floe_model_forward_tapped): layer l's groups
 * g (all four when g < 0, into H[4 * l + g]; else group g of layer `layer` only, into H[0]). */
typedef struct {
    floe_model *t;
    double **H;
    float *X;
    int layer, g, with_gain;
} hessian_ctx;

static void hessian_layer(void *ctx, int l, const floe_model_taps *tp)
{
    const hessian_ctx *k = ctx;
    const int N = k->t->B * k->t->T;
    if (l >= k->t->cfg.n_layers || (k->g >= 0 && l != k->layer))
        return;
    for (int g = k->g < 0 ? 0 : k->g; g < (k->g < 0 ? 4 : k->g + 1); g++) {
        teacher_input(k->t, tp, l, g, k->with_gain, k->X);
        floe_gptq_hessian_add(k->H[k->g < 0 ? 4 * l + g : 0], k->X, (size_t)N, group_width(&k->t->cfg, g));
    }
}

/* ---- GPTQ on the chip path ------------------------------------------------------------------------ */

/* GPTQ of one student linear with its calib row steps fixed; W' result in wout [out][in]. */
static int gptq_student_linear(floe_qat *s, floe_qat_linear *q, const double *H, const floe_gptq_cfg *gc,
                               float *wout, floe_err *err)
{
    float *W = param(&s->table, s->params, q->kind, q->layer);
    const float *g = q->gain == FLOE_P_KIND_COUNT ? NULL : param(&s->table, s->params, q->gain, q->layer);
    for (int n = 0; n < q->out; n++)
        for (int i = 0; i < q->in; i++)
            wout[(size_t)n * q->in + i] = W[(size_t)n * q->in + i] * (g ? g[i] : 1.0f);
    floe_wquant wq;
    if (floe_wquant_init(&wq, q->out, q->in, q->bits, 0, 0, err) != 0)
        return -1;
    memcpy(wq.s, s->steps + q->step_off, sizeof(float) * (size_t)q->out);
    int rc = floe_gptq_layer(wout, q->out, q->in, H, &wq, 0, gc, err);
    floe_wquant_free(&wq);
    if (rc != 0)
        return -1;
    for (int n = 0; n < q->out; n++)
        for (int i = 0; i < q->in; i++) {
            size_t k = (size_t)n * q->in + i;
            W[k] = !g ? wout[k] : g[i] != 0.0f ? wout[k] / g[i] : 0.0f;
        }
    return 0;
}

/* After floe_qat_quantize: the student's dequantized weights are GPTQ's. */
static int check_codes(const floe_qat_linear *q, const float *wout, floe_err *err)
{
    for (int n = 0; n < q->out; n++)
        for (int i = 0; i < q->in; i++) {
            size_t k = (size_t)n * q->in + i;
            float what = (float)q->q->w[k] * q->q->s_w[n]; /* the dequantized weight the forward uses */
            if (what != wout[k])
                return floe_err_set(err,
                                    "GPTQ: layer %d linear %d weight %zu: the student quantizes w_hat / g to %g, "
                                    "GPTQ chose %g",
                                    q->layer, (int)q->kind, k, (double)what, (double)wout[k]);
        }
    return 0;
}

int floe_ptq_gptq(floe_qat *s, floe_model *t, const floe_tokens *train, const floe_qinit_cfg *ic0,
                  const floe_gptq_cfg *gc, floe_gptq_hsrc hsrc, floe_err *err)
{
    if (floe_gptq_check(gc, err) != 0)
        return -1;
    floe_qinit_cfg ic = *ic0;
    ic.method = FLOE_QINIT_CALIB;
    if (floe_qat_init_from_teacher(s, t, train, &ic, err) != 0)
        return -1;
    const floe_model_config *cfg = &s->cfg;
    const int L = cfg->n_layers, B = t->maxB, T = t->maxT, N = B * T;
    const int C = cfg->d_model, Q = cfg->n_heads * cfg->head_dim, F = cfg->ffn_dim;
    const int wmax = C > Q ? (C > F ? C : F) : (Q > F ? Q : F);
    int rc = -1, have_f = 0;
    floe_qfwd f;
    int32_t *tok = sample_batches(t, train, ic.seed, ic.batches, err);
    if (!tok)
        return -1;
    float *X = malloc(sizeof(float) * (size_t)N * wmax);
    size_t wn = 0;
    for (int k = 0; k < 7; k++)
        wn += (size_t)s->lin[k].out * s->lin[k].in;
    float *wout = malloc(sizeof(float) * wn);
    /* one Hessian per group; the teacher source fills all of them in one pass */
    const int ng = hsrc == FLOE_GPTQ_H_TEACHER ? 4 * L : 1;
    double **H = calloc((size_t)ng, sizeof *H);
    if (!X || !wout || !H)
        goto oom;
    for (int k = 0; k < ng; k++) {
        int w = hsrc == FLOE_GPTQ_H_TEACHER ? group_width(cfg, k % 4) : wmax;
        if (!(H[k] = calloc((size_t)w * w, sizeof(double))))
            goto oom;
    }
    if (hsrc == FLOE_GPTQ_H_TEACHER) {
        hessian_ctx hk = {t, H, X, -1, -1, 0};
        for (int b = 0; b < ic.batches; b++)
            floe_model_forward_tapped(t, tok + (size_t)b * N, NULL, B, T, hessian_layer, &hk);
    } else {
        if (floe_qfwd_init(&f, cfg, B, T, err) != 0)
            goto out;
        have_f = 1;
    }
    for (int l = 0; l < L; l++)
        for (int g = 0; g < 4; g++) {
            const int w = group_width(cfg, g);
            double *Hg = H[hsrc == FLOE_GPTQ_H_TEACHER ? 4 * l + g : 0];
            if (hsrc == FLOE_GPTQ_H_STUDENT) {
                memset(Hg, 0, sizeof(double) * (size_t)w * w);
                if (floe_qat_quantize(s, err) != 0)
                    goto out;
                for (int b = 0; b < ic.batches; b++) {
                    if (floe_qfwd_forward(&f, &s->qm, tok + (size_t)b * N, B, T, err) != 0)
                        goto out;
                    const floe_qfwd_layer *ly = &f.layers[l];
                    const int8_t *in = g == 0 ? ly->h1 : g == 1 ? ly->o : g == 2 ? ly->h2 : ly->mh;
                    for (size_t i = 0; i < (size_t)N * w; i++) /* the codes are the integers themselves */
                        X[i] = (float)in[i];
                    floe_gptq_hessian_add(Hg, X, (size_t)N, w);
                }
            }
            size_t off = 0;
            for (int j = 0; j < GROUP_LEN[g]; j++) {
                floe_qat_linear *q = &s->lin[7 * l + GROUP_FIRST[g] + j];
                if (gptq_student_linear(s, q, Hg, gc, wout + off, err) != 0) {
                    floe_err_prefix(err, "layer %d", l);
                    goto out;
                }
                off += (size_t)q->out * q->in;
            }
            if (floe_qat_quantize(s, err) != 0)
                goto out;
            off = 0;
            for (int j = 0; j < GROUP_LEN[g]; j++) {
                floe_qat_linear *q = &s->lin[7 * l + GROUP_FIRST[g] + j];
                if (check_codes(q, wout + off, err) != 0)
                    goto out;
                off += (size_t)q->out * q->in;
            }
        }
    rc = 0;
    goto out;
oom:
    floe_err_set(err, "GPTQ: out of memory");
out:
    if (have_f)
        floe_qfwd_free(&f);
    if (H)
        for (int k = 0; k < ng; k++)
            free(H[k]);
    free(H);
    free(X);
    free(wout);
    free(tok);
    return rc;
}

/* ---- weight-only -------------------------------------------------------------------------------- */

int floe_ptq_weight_only(floe_model *t, const floe_tokens *train, const floe_wo_cfg *c, floe_err *err)
{
    if (c->bits < 2 || c->bits > 8)
        return floe_err_set(err, "weight-only: %d weight bits (supported: 2 to 8)", c->bits);
    if (c->group < 0)
        return floe_err_set(err, "weight-only: group %d (0 is per output channel)", c->group);
    if (c->gptq && floe_gptq_check(&c->gptq_cfg, err) != 0)
        return -1;
    if (c->batches < 1)
        return floe_err_set(err, "weight-only: %d calibration batches", c->batches);
    const floe_model_config *cfg = &t->cfg;
    const int L = cfg->n_layers, B = t->maxB, T = t->maxT, N = B * T;
    const int C = cfg->d_model, Q = cfg->n_heads * cfg->head_dim, F = cfg->ffn_dim;
    const int wmax = C > Q ? (C > F ? C : F) : (Q > F ? Q : F);
    int32_t *tok = NULL;
    float *X = NULL;
    double *H = NULL;
    int rc = -1;
    if (c->gptq) {
        if (!(tok = sample_batches(t, train, c->seed, c->batches, err)))
            return -1;
        X = malloc(sizeof(float) * (size_t)N * wmax);
        H = malloc(sizeof(double) * (size_t)wmax * wmax);
        if (!X || !H) {
            floe_err_set(err, "weight-only GPTQ: out of memory");
            goto out;
        }
    }
    for (int l = 0; l < L; l++)
        for (int g = 0; g < 4; g++) {
            const int w = group_width(cfg, g);
            if (c->gptq) {
                memset(H, 0, sizeof(double) * (size_t)w * w);
                hessian_ctx hk = {t, &H, X, l, g, 1};
                for (int b = 0; b < c->batches; b++)
                    floe_model_forward_tapped(t, tok + (size_t)b * N, NULL, B, T, hessian_layer, &hk);
            }
            for (int j = 0; j < GROUP_LEN[g]; j++) {
                floe_param_kind kind = BLOCK_KIND[GROUP_FIRST[g] + j];
                const floe_param *pi = floe_param_get(&t->table, kind, l);
                float *W = t->params + pi->offset;
                int out = (int)pi->shape[0], in = (int)pi->shape[1];
                floe_wquant wq;
                if (floe_wquant_init(&wq, out, in, c->bits, c->group, c->asym, err) != 0)
                    goto out;
                int r = 0;
                if (c->gptq) {
                    r = floe_gptq_layer(W, out, in, H, &wq, 1, &c->gptq_cfg, err);
                } else {
                    floe_wquant_minmax(&wq, W);
                    floe_wquant_forward(&wq, W, W);
                }
                floe_wquant_free(&wq);
                if (r != 0) {
                    floe_err_prefix(err, "layer %d", l);
                    goto out;
                }
            }
        }
    rc = 0;
out:
    free(tok);
    free(X);
    free(H);
    return rc;
}

/* ---- SmoothQuant --------------------------------------------------------------------------------- */

static float smooth_factor(double xmax, double wmax, double alpha)
{
    if (!(xmax > 0.0) || !(wmax > 0.0))
        return 1.0f;
    return (float)(pow(fmax(xmax, 1e-5), alpha) / pow(fmax(wmax, 1e-5), 1.0 - alpha));
}

/* Per layer, max |x| per channel of o_proj's input (ao [L][Q]) and down_proj's (ad [L][F]). */
typedef struct {
    double *ao, *ad;
    int N, Q, F, L;
} absmax_ctx;

static void absmax_layer(void *ctx, int l, const floe_model_taps *tp)
{
    const absmax_ctx *k = ctx;
    const int N = k->N, Q = k->Q, F = k->F;
    if (l >= k->L)
        return;
    for (int r = 0; r < N; r++) {
        for (int i = 0; i < Q; i++)
            k->ao[(size_t)l * Q + i] = fmax(k->ao[(size_t)l * Q + i], fabsf(tp->atty[(size_t)r * Q + i]));
        for (int i = 0; i < F; i++)
            k->ad[(size_t)l * F + i] = fmax(k->ad[(size_t)l * F + i], fabsf(tp->swi[(size_t)r * F + i]));
    }
}

int floe_smoothquant_fold(floe_model *t, const floe_tokens *train, double alpha, int batches, uint64_t seed,
                          floe_err *err)
{
    if (!(alpha > 0.0 && alpha <= 1.0))
        return floe_err_set(err, "SmoothQuant alpha %g: expected a value in (0, 1]", alpha);
    if (batches < 1)
        return floe_err_set(err, "SmoothQuant: %d calibration batches", batches);
    const floe_model_config *cfg = &t->cfg;
    const int L = cfg->n_layers, N = t->maxB * t->maxT, C = cfg->d_model, D = cfg->head_dim;
    const int NH = cfg->n_heads, NKV = cfg->n_kv_heads, Q = NH * D, KV = NKV * D, F = cfg->ffn_dim;
    int32_t *tok = sample_batches(t, train, seed, batches, err);
    if (!tok)
        return -1;
    double *ao = calloc((size_t)L * Q, sizeof(double)), *ad = calloc((size_t)L * F, sizeof(double));
    if (!ao || !ad) {
        free(tok);
        free(ao);
        free(ad);
        return floe_err_set(err, "SmoothQuant: out of memory");
    }
    absmax_ctx k = {ao, ad, N, Q, F, L};
    for (int b = 0; b < batches; b++)
        floe_model_forward_tapped(t, tok + (size_t)b * N, NULL, t->maxB, t->maxT, absmax_layer, &k);
    const int rep = NH / NKV;
    for (int l = 0; l < L; l++) {
        float *Wv = param(&t->table, t->params, FLOE_P_V, l), *Wo = param(&t->table, t->params, FLOE_P_O, l);
        float *Wu = param(&t->table, t->params, FLOE_P_UP, l), *Wd = param(&t->table, t->params, FLOE_P_DOWN, l);
        /* o_in: channel (h, d) of the attention output is channel (h / rep, d) of v */
        for (int kv = 0; kv < NKV; kv++)
            for (int d = 0; d < D; d++) {
                double xm = 0.0, wm = 0.0;
                for (int h = kv * rep; h < (kv + 1) * rep; h++) {
                    int j = h * D + d;
                    xm = fmax(xm, ao[(size_t)l * Q + j]);
                    for (int n = 0; n < C; n++)
                        wm = fmax(wm, fabsf(Wo[(size_t)n * Q + j]));
                }
                float f = smooth_factor(xm, wm, alpha);
                for (int i = 0; i < C; i++)
                    Wv[(size_t)(kv * D + d) * C + i] /= f;
                for (int h = kv * rep; h < (kv + 1) * rep; h++)
                    for (int n = 0; n < C; n++)
                        Wo[(size_t)n * Q + h * D + d] *= f;
            }
        (void)KV;
        /* down_in = silu(gate) * up: channel j scales with up's row j */
        for (int j = 0; j < F; j++) {
            double wm = 0.0;
            for (int n = 0; n < C; n++)
                wm = fmax(wm, fabsf(Wd[(size_t)n * F + j]));
            float f = smooth_factor(ad[(size_t)l * F + j], wm, alpha);
            for (int i = 0; i < C; i++)
                Wu[(size_t)j * C + i] /= f;
            for (int n = 0; n < C; n++)
                Wd[(size_t)n * F + j] *= f;
        }
    }
    free(tok);
    free(ao);
    free(ad);
    return 0;
}

/* ---- SmoothQuant at the norms --------------------------------------------------------------------- */

#define SAMPLE_CAP (1u << 19) /* calib's (trainer/qat_init.c) */

/* Batch b's x / rms at both norms of every layer, kept in xs[(2 l + p) * batches + b] ([N][C], owned
 * by the caller's xs), and their max |.| per channel in xmax [2 L][C]. */
typedef struct {
    float **xs;
    double *xmax;
    int batches, b, N, C, L;
    int oom; /* an xs buffer could not be allocated */
} norm_in_ctx;

static void norm_in_layer(void *ctx, int l, const floe_model_taps *tp)
{
    norm_in_ctx *k = ctx;
    const int N = k->N, C = k->C;
    if (l >= k->L || k->oom)
        return;
    for (int p = 0; p < 2; p++) {
        float *X = k->xs[(size_t)(2 * l + p) * k->batches + k->b] = malloc(sizeof(float) * (size_t)N * C);
        if (!X) {
            k->oom = 1;
            return;
        }
        const float *x = p ? tp->xmid : tp->x, *rs = p ? tp->rstd2 : tp->rstd1;
        double *mx = k->xmax + (size_t)(2 * l + p) * C;
        for (int r = 0; r < N; r++)
            for (int i = 0; i < C; i++) {
                float v = x[(size_t)r * C + i] * rs[r];
                X[(size_t)r * C + i] = v;
                mx[i] = fmax(mx[i], fabsf(v));
            }
    }
}

int floe_ptq_smoothquant(floe_qat *s, floe_model *t, const floe_tokens *train, const floe_qinit_cfg *ic0, double alpha,
                         int norms, floe_err *err)
{
    floe_qinit_cfg ic = *ic0;
    ic.method = FLOE_QINIT_CALIB;
    if (floe_smoothquant_fold(t, train, alpha, ic.batches, ic.seed, err) != 0)
        return -1;
    if (floe_qat_init_from_teacher(s, t, train, &ic, err) != 0)
        return -1;
    if (!norms)
        return 0;
    const floe_model_config *cfg = &s->cfg;
    const int L = cfg->n_layers, B = t->maxB, T = t->maxT, N = B * T, C = cfg->d_model;
    int rc = -1;
    int32_t *tok = sample_batches(t, train, ic.seed, ic.batches, err);
    if (!tok)
        return -1;
    const size_t total = (size_t)ic.batches * N * C, stride = total / SAMPLE_CAP + 1;
    double *xmax = calloc((size_t)2 * L * C, sizeof(double));
    float *f = malloc(sizeof(float) * (size_t)2 * L * C), *h = malloc(sizeof(float) * (size_t)C);
    float *smp = malloc(sizeof(float) * SAMPLE_CAP);
    float **xs = calloc((size_t)2 * L * ic.batches, sizeof *xs); /* x / rms per point and batch */
    if (!xmax || !f || !h || !smp || !xs)
        goto oom;
    /* max |x_j / rms| per point over the calibration tokens; the values, for the steps */
    norm_in_ctx k = {xs, xmax, ic.batches, 0, N, C, L, 0};
    for (int b = 0; b < ic.batches; b++) {
        k.b = b;
        floe_model_forward_tapped(t, tok + (size_t)b * N, NULL, B, T, norm_in_layer, &k);
        if (k.oom)
            goto oom;
    }
    const double pa = ic.percentile > 0 ? ic.percentile : s->qc.abits >= 8 ? 99.99 : 99.9;
    const double ah = floe_lsq_hi(s->qc.abits);
    for (int l = 0; l < L; l++)
        for (int p = 0; p < 2; p++) {
            /* f_j from the gain-folded weights W' = W * g of the point's consumers */
            const floe_param_kind gk = p ? FLOE_P_MLP_NORM : FLOE_P_ATTN_NORM;
            float *g = param(&s->table, s->params, gk, l), *fp = f + (size_t)(2 * l + p) * C;
            const int first = p ? 4 : 0, nlin = p ? 2 : 3;
            for (int j = 0; j < C; j++) {
                double wm = 0.0;
                for (int k = first; k < first + nlin; k++) {
                    const floe_qat_linear *q = &s->lin[7 * l + k];
                    const float *W = param(&s->table, s->params, q->kind, l);
                    for (int n = 0; n < q->out; n++)
                        wm = fmax(wm, fabsf(W[(size_t)n * C + j] * g[j]));
                }
                fp[j] = smooth_factor(xmax[(size_t)(2 * l + p) * C + j], wm, alpha);
                h[j] = 1.0f / fp[j];
            }
            if (floe_qmodel_set_smoothing(&s->qm, l, p, h, err) != 0)
                goto out;
            /* W' = W * g * f: the student's gain absorbs f */
            for (int j = 0; j < C; j++)
                g[j] *= fp[j];
            /* the weight steps of the consumers, calib's way, on W * g * f */
            for (int k = first; k < first + nlin; k++) {
                floe_qat_linear *q = &s->lin[7 * l + k];
                const float *W = param(&s->table, s->params, q->kind, l);
#pragma omp parallel
                {
                    float *row = malloc(sizeof(float) * (size_t)C);
#pragma omp for schedule(static)
                    for (int n = 0; n < q->out; n++) {
                        if (!row)
                            continue;
                        for (int i = 0; i < C; i++)
                            row[i] = W[(size_t)n * C + i] * g[i];
                        s->steps[q->step_off + n] = floe_qinit_weight_step(row, C, q->bits, FLOE_QINIT_CALIB);
                    }
                    free(row);
                }
            }
            /* the input step, calib's way (the same strided sample, percentile of |x / rms * h|) */
            size_t ns = 0, seen = 0;
            double amax = 0.0;
            for (int b = 0; b < ic.batches; b++) {
                const float *X = xs[(size_t)(2 * l + p) * ic.batches + b];
                for (size_t r = 0; r < (size_t)N; r++)
                    for (int i = 0; i < C; i++) {
                        float a = fabsf(X[r * C + i] * h[i]);
                        amax = fmax(amax, a);
                        if (seen++ % stride == 0 && ns < SAMPLE_CAP)
                            smp[ns++] = a;
                    }
            }
            double v = amax;
            if (pa < 100.0 && ns > 0) {
                v = floe_select_kth(smp, ns, (size_t)floor(pa / 100.0 * (double)(ns - 1)));
            }
            *floe_qat_act_step(s, l, p ? FLOE_QAT_MLP_IN : FLOE_QAT_ATTN_IN) = (float)fmax(v / ah, 1e-8);
        }
    if (floe_qat_quantize(s, err) != 0)
        goto out;
    floe_qat_set_floor(s);
    rc = 0;
    goto out;
oom:
    floe_err_set(err, "SmoothQuant: out of memory");
out:
    if (xs)
        for (size_t i = 0; i < (size_t)2 * L * ic.batches; i++)
            free(xs[i]);
    free(xs);
    free(xmax);
    free(f);
    free(h);
    free(smp);
    free(tok);
    return rc;
}
