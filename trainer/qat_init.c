#include "trainer/qat_init.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/select_kth.h"
#include "trainer/lsq.h"
#include "trainer/vec.h"

floe_qinit_cfg floe_qinit_defaults(void) { return (floe_qinit_cfg){FLOE_QINIT_CALIB, 0.0, 2.0, 4, 1, 1.0}; }

int floe_qinit_method_parse(const char *name, floe_qinit_method *out)
{
    if (strcmp(name, "rtn") == 0)
        *out = FLOE_QINIT_RTN;
    else if (strcmp(name, "calib") == 0)
        *out = FLOE_QINIT_CALIB;
    else if (strcmp(name, "gptq") == 0)
        *out = FLOE_QINIT_GPTQ;
    else
        return -1;
    return 0;
}

int floe_qat_check_teacher(const floe_model_config *a, const floe_model_config *b, floe_err *err)
{
#define SAME(f)                                                                                                  \
    if (a->f != b->f)                                                                                            \
        return floe_err_set(err, "teacher %s = %d, the student's config has %d", #f, (int)b->f, (int)a->f);
    SAME(vocab_size) SAME(d_model) SAME(n_layers) SAME(n_heads) SAME(n_kv_heads) SAME(head_dim) SAME(ffn_dim)
    SAME(context) SAME(tied_embeddings)
#undef SAME
    return 0;
}

/* The squared rounding error of a row at step s: floe_lsq_code written branch-free (the same
 * operations, the same codes), summed in FLOE_LANES double lanes combined by a fixed tree, so the
 * loop vectorises and the sum depends on neither the vector width nor the thread count. */
static float row_mse(const float *w, int n, float s, int bits)
{
    const float hi = (float)floe_lsq_hi(bits), lo = -hi - 1.0f;
    double acc[FLOE_LANES] = {0};
    int j0 = 0;
    for (; j0 + FLOE_LANES <= n; j0 += FLOE_LANES)
        for (int l = 0; l < FLOE_LANES; l++) {
            float x = floorf(w[j0 + l] / s + 0.5f);
            x = x >= lo ? x : lo;
            x = x > hi ? hi : x;
            float d = w[j0 + l] - x * s;
            acc[l] += (double)d * d;
        }
    for (int j = j0; j < n; j++) {
        float x = floorf(w[j] / s + 0.5f);
        x = x >= lo ? x : lo;
        x = x > hi ? hi : x;
        float d = w[j] - x * s;
        acc[j - j0] += (double)d * d;
    }
    return (float)floe_hsum16d(acc);
}

float floe_qinit_weight_step(const float *w, int n, int bits, floe_qinit_method method)
{
    float amax = 0.0f;
    for (int i = 0; i < n; i++)
        amax = fmaxf(amax, fabsf(w[i]));
    float hi = (float)floe_lsq_hi(bits);
    if (amax == 0.0f)
        return 1e-8f;
    float best = amax / hi;
    if (method == FLOE_QINIT_RTN)
        return best;
    float best_e = row_mse(w, n, best, bits);
    for (int j = 1; j < 80; j++) {
        float s = (1.0f - 0.01f * (float)j) * amax / hi;
        float e = row_mse(w, n, s, bits);
        if (e < best_e) {
            best_e = e;
            best = s;
        }
    }
    return best;
}

/* ---- activation statistics ---------------------------------------------------------------------- */

enum { PT_ATTN_IN, PT_Q, PT_K, PT_V, PT_O_IN, PT_MLP_IN, PT_G, PT_U, PT_SILU, PT_DOWN_IN, PT_PER_LAYER };
#define SAMPLE_CAP (1u << 19)

typedef struct {
    double amax;
    float *sample;
    size_t n, cap;
    size_t stride, seen;
} stat;

static void stat_add(stat *st, float v)
{
    float a = fabsf(v);
    if (a > st->amax)
        st->amax = a;
    if (st->seen++ % st->stride == 0 && st->n < st->cap)
        st->sample[st->n++] = a;
}

static double stat_percentile(stat *st, double pct)
{
    if (pct >= 100.0 || st->n == 0)
        return st->amax;
    size_t k = (size_t)floor(pct / 100.0 * (double)(st->n - 1));
    return floe_select_kth(st->sample, st->n, k);
}

static float silu(float x) { return x / (1.0f + expf(-x)); }

/* The statistics of one forward, fed a layer at a time by floe_model_forward_tapped (the order of
 * stat_add calls is the layers' order, as a whole forward's taps read in turn). */
typedef struct {
    stat *st;
    int npts, N, C, Q, KV, F, L;
} calib_ctx;

static void calib_layer(void *ctx, int l, const floe_model_taps *tp)
{
    const calib_ctx *k = ctx;
    const int N = k->N, C = k->C, Q = k->Q, KV = k->KV, F = k->F, L = k->L;
    stat *st = k->st, *res = &st[k->npts - 3];
    stat *S = l < L ? &st[PT_PER_LAYER * l] : &st[k->npts - 2];
    for (int r = 0; r < N; r++)
        for (int i = 0; i < C; i++) {
            float x = tp->x[(size_t)r * C + i];
            stat_add(res, x);
            stat_add(&S[PT_ATTN_IN], x * tp->rstd1[r]); /* head_in for l = L */
        }
    if (l == L)
        return;
    for (size_t i = 0; i < (size_t)N * Q; i++) {
        stat_add(&S[PT_Q], tp->q[i]);
        stat_add(&S[PT_O_IN], tp->atty[i]);
    }
    for (size_t i = 0; i < (size_t)N * KV; i++) {
        stat_add(&S[PT_K], tp->k[i]);
        stat_add(&S[PT_V], tp->v[i]);
    }
    for (int r = 0; r < N; r++)
        for (int i = 0; i < C; i++) {
            float x = tp->xmid[(size_t)r * C + i];
            stat_add(res, x);
            stat_add(&S[PT_MLP_IN], x * tp->rstd2[r]);
        }
    for (size_t i = 0; i < (size_t)N * F; i++) {
        stat_add(&S[PT_G], tp->gate[i]);
        stat_add(&S[PT_U], tp->up[i]);
        stat_add(&S[PT_SILU], silu(tp->gate[i]));
        stat_add(&S[PT_DOWN_IN], tp->swi[i]);
    }
}

int floe_qat_init_from_teacher(floe_qat *s, floe_model *t, const floe_tokens *train, const floe_qinit_cfg *c,
                               floe_err *err)
{
    const floe_model_config *cfg = &s->cfg;
    if (floe_qat_check_teacher(cfg, &t->cfg, err) != 0)
        return -1;
    if (t->head_rows > 0) /* calibration reads the logits, which a chunked head never holds */
        return floe_err_set(err,
                            "teacher %s: chunked LM head (a trainer's model) keeps no logits to calibrate on: "
                            "allocate it with floe_model_init_forward",
                            t->cfg.name);
    if (c->batches < 1 || !(c->percentile >= 0.0 && c->percentile <= 100.0) || !(c->headroom >= 1.0) ||
        !(c->res_headroom >= 1.0))
        return floe_err_set(err, "calibration: need batches >= 1, 0 <= percentile <= 100, headroom >= 1, "
                                 "res_headroom >= 1");
    memcpy(s->params, t->params, sizeof(float) * s->table.total);

    /* weight steps of the gain-folded weights */
    for (int k = 0; k < s->n_lin; k++) {
        floe_qat_linear *q = &s->lin[k];
        int l = q->layer < 0 ? 0 : q->layer;
        const float *W = s->params + floe_param_get(&s->table, q->kind, l)->offset;
        const float *g = q->gain == FLOE_P_KIND_COUNT ? NULL : s->params + floe_param_get(&s->table, q->gain, l)->offset;
#pragma omp parallel
        {
            float *row = malloc(sizeof(float) * (size_t)q->in);
#pragma omp for schedule(static)
            for (int n = 0; n < q->out; n++) {
                for (int i = 0; i < q->in; i++)
                    row[i] = W[(size_t)n * q->in + i] * (g ? g[i] : 1.0f);
                s->steps[q->step_off + n] = floe_qinit_weight_step(row, q->in, q->bits, c->method);
            }
            free(row);
        }
    }

    /* activation statistics on the teacher */
    const int L = cfg->n_layers, B = t->maxB, T = t->maxT, N = B * T;
    const int C = cfg->d_model, Q = cfg->n_heads * cfg->head_dim, KV = cfg->n_kv_heads * cfg->head_dim, F = cfg->ffn_dim;
    const int V = cfg->vocab_size;
    const int npts = PT_PER_LAYER * L + 3; /* + residual, head_in, logits */
    stat *st = calloc((size_t)npts, sizeof *st);
    int32_t *rows = malloc(sizeof(int32_t) * (size_t)B * (T + 1)), *inp = malloc(sizeof(int32_t) * (size_t)N);
    int rc = -1, oom = !st || !rows || !inp;
    if (oom)
        goto out;
    for (int p = 0; p < npts; p++) {
        int l = p < PT_PER_LAYER * L ? p % PT_PER_LAYER : -1;
        size_t width = l == PT_Q || l == PT_O_IN ? (size_t)Q
                       : l == PT_K || l == PT_V  ? (size_t)KV
                       : l >= PT_G               ? (size_t)F
                       : p == npts - 1           ? (size_t)V
                                                 : (size_t)C;
        if (p == npts - 3)
            width = (size_t)C * (2 * L + 1); /* every residual tap */
        size_t total = (size_t)c->batches * N * width;
        st[p].stride = total / SAMPLE_CAP + 1;
        st[p].cap = SAMPLE_CAP;
        if (!(st[p].sample = malloc(sizeof(float) * SAMPLE_CAP))) {
            oom = 1;
            goto out;
        }
    }
    for (int b = 0; b < c->batches; b++) {
        if (floe_batch_sample(train, c->seed ^ 0xca11b7a7e5eedull, (uint64_t)b, B, T, rows, err) != 0)
            goto out;
        for (int r = 0; r < B; r++)
            memcpy(inp + (size_t)r * T, rows + (size_t)r * (T + 1), sizeof(int32_t) * (size_t)T);
        if (floe_model_check_ids(t, inp, (size_t)N, err) != 0)
            goto out;
        calib_ctx k = {st, npts, N, C, Q, KV, F, L};
        floe_model_forward_tapped(t, inp, NULL, B, T, calib_layer, &k);
        const float *lg = floe_model_logits(t);
        for (size_t i = 0; i < (size_t)N * V; i++)
            stat_add(&st[npts - 1], lg[i]);
    }
    /* percentile 0 = by width: 99.99 at 8 bits, 99.9 at 4 (measured on S: docs/results.md) */
    const double pa = c->method == FLOE_QINIT_RTN ? 100.0 : c->percentile > 0 ? c->percentile : s->qc.abits >= 8 ? 99.99 : 99.9;
    const double pc = c->method == FLOE_QINIT_RTN ? 100.0 : c->percentile > 0 ? c->percentile : s->qc.kvbits >= 8 ? 99.99 : 99.9;
    const double ah = floe_lsq_hi(s->qc.abits), ch = floe_lsq_hi(s->qc.kvbits), h16 = 32767.0 / c->headroom;
#define STEP(v, div) ((float)fmax((v) / (div), 1e-8))
    for (int l = 0; l < L; l++) {
        stat *S = &st[PT_PER_LAYER * l];
        floe_qlayer *QL = &s->qm.layers[l];
        *floe_qat_act_step(s, l, FLOE_QAT_ATTN_IN) = STEP(stat_percentile(&S[PT_ATTN_IN], pa), ah);
        *floe_qat_act_step(s, l, FLOE_QAT_KC) = STEP(stat_percentile(&S[PT_K], pc), ch);
        *floe_qat_act_step(s, l, FLOE_QAT_VC) = STEP(stat_percentile(&S[PT_V], pc), ch);
        *floe_qat_act_step(s, l, FLOE_QAT_O_IN) = STEP(stat_percentile(&S[PT_O_IN], pa), ah);
        *floe_qat_act_step(s, l, FLOE_QAT_MLP_IN) = STEP(stat_percentile(&S[PT_MLP_IN], pa), ah);
        *floe_qat_act_step(s, l, FLOE_QAT_DOWN_IN) = STEP(stat_percentile(&S[PT_DOWN_IN], pa), ah);
        QL->s_q = STEP(S[PT_Q].amax, h16);
        QL->s_k = STEP(S[PT_K].amax, h16);
        QL->s_g = STEP(S[PT_G].amax, h16);
        QL->s_u = STEP(S[PT_U].amax, h16);
        QL->s_silu = STEP(S[PT_SILU].amax, h16);
    }
    *floe_qat_act_step(s, -1, 0) = STEP(stat_percentile(&st[npts - 2], pa), ah);
    s->qm.s_res = STEP(st[npts - 3].amax, 32767.0 / c->res_headroom);
    s->qm.s_logit = STEP(st[npts - 1].amax, h16);
#undef STEP
    if (floe_qat_quantize(s, err) != 0)
        goto out;
    floe_qat_set_floor(s);
    rc = 0;
out:
    if (oom)
        floe_err_set(err, "calibration: out of memory");
    if (st)
        for (int p = 0; p < npts; p++)
            free(st[p].sample);
    free(st);
    free(rows);
    free(inp);
    return rc;
}
