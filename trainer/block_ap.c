#include "trainer/block_ap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/rng.h"
#include "models/safetensors.h"
#include "trainer/adamw.h"
#include "trainer/embedding.h"
#include "trainer/grad_clip.h"
#include "trainer/lr_schedule.h"

const floe_param_kind floe_blockap_kinds[FLOE_BLOCK_LINEARS] = {FLOE_P_Q,    FLOE_P_K,  FLOE_P_V,   FLOE_P_O,
                                                                 FLOE_P_GATE, FLOE_P_UP, FLOE_P_DOWN};

const floe_param *floe_blockap_param(const floe_model *m, int i)
{
    return floe_param_get(&m->table, floe_blockap_kinds[i % FLOE_BLOCK_LINEARS], i / FLOE_BLOCK_LINEARS);
}

float *floe_blockap_weight(const floe_model *m, int i)
{
    return m->params + floe_blockap_param(m, i)->offset;
}

int floe_wquants_init(floe_wquant *wq, const floe_model *m, int bits, const floe_qconfig *widths, int group, int asym,
                      floe_err *err)
{
    int n = m->cfg.n_layers * FLOE_BLOCK_LINEARS;
    for (int i = 0; i < n; i++) {
        const floe_param *p = floe_blockap_param(m, i);
        int b = widths ? floe_qconfig_linear_wbits_of(widths, i / FLOE_BLOCK_LINEARS, i % FLOE_BLOCK_LINEARS) : bits;
        if (floe_wquant_init(&wq[i], (int)p->shape[0], (int)p->shape[1], b, group, asym, err) != 0) {
            floe_wquants_free(wq, i);
            return -1;
        }
    }
    return 0;
}

void floe_wquants_free(floe_wquant *wq, int n)
{
    for (int i = 0; i < n; i++)
        floe_wquant_free(&wq[i]);
}

void floe_wquants_apply(const floe_wquant *wq, floe_model *m)
{
    int n = m->cfg.n_layers * FLOE_BLOCK_LINEARS;
    for (int i = 0; i < n; i++) {
        float *W = floe_blockap_weight(m, i);
        floe_wquant_forward(&wq[i], W, W);
    }
}

floe_blockap_cfg floe_blockap_defaults(int bits)
{
    floe_blockap_cfg c;
    memset(&c, 0, sizeof c);
    c.bits = bits;
    c.group = bits <= 2 ? 64 : 128;
    c.asym = 1;
    c.samples = 128;
    c.heldout = 32;
    c.context = 0;
    c.epochs = 2;
    c.batch = 2;
    c.lr_qparams = 1e-3f;
    c.lr_weights = bits <= 2 ? 1e-3f : bits == 3 ? 5e-4f : 1e-4f;
    c.min_lr_ratio = 1.0f / 20.0f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.seed = 1;
    return c;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One set of sequences: the FP chain's input, the quantized chain's input and the FP target of the
 * current block, each [n, T, C]. */
typedef struct {
    int n;
    float *xf, *xq, *y;
} seqset;

static void seqset_free(seqset *s)
{
    free(s->xf);
    free(s->xq);
    free(s->y);
    memset(s, 0, sizeof *s);
}

/* Draws n windows (stream seed) and embeds them through both models' tables. */
static int seqset_init(seqset *s, int n, const floe_tokens *train, uint64_t seed, int T, const floe_model *fp,
                       const floe_model *q, floe_err *err)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    if (n == 0)
        return 0;
    const size_t C = (size_t)fp->cfg.d_model, per = (size_t)T * C;
    s->xf = malloc((size_t)n * per * sizeof(float));
    s->xq = malloc((size_t)n * per * sizeof(float));
    s->y = malloc((size_t)n * per * sizeof(float));
    int32_t *row = malloc(((size_t)T + 1) * sizeof(int32_t));
    int *ids = malloc((size_t)T * sizeof(int));
    if (!s->xf || !s->xq || !s->y || !row || !ids) {
        free(row);
        free(ids);
        seqset_free(s);
        return floe_err_set(err, "block-ap: out of memory for %d sequences of %d tokens", n, T);
    }
    for (int i = 0; i < n; i++) {
        if (floe_batch_sample(train, seed, (uint64_t)i, 1, T, row, err) != 0 ||
            floe_model_check_ids(fp, row, (size_t)T, err) != 0) {
            free(row);
            free(ids);
            seqset_free(s);
            return -1;
        }
        for (int t = 0; t < T; t++)
            ids[t] = row[t];
        floe_embedding_forward(s->xf + (size_t)i * per, ids, fp->params + floe_param_get(&fp->table, FLOE_P_EMBED, 0)->offset,
                               T, (int)C);
        floe_embedding_forward(s->xq + (size_t)i * per, ids, q->params + floe_param_get(&q->table, FLOE_P_EMBED, 0)->offset,
                               T, (int)C);
        if (fp->cfg.family == FLOE_FAMILY_GRANITE) /* the first residual is E * embedding_multiplier, as
                                                      floe_model_forward computes it */
            for (size_t j = 0; j < per; j++) {
                s->xf[(size_t)i * per + j] *= (float)fp->cfg.embedding_multiplier;
                s->xq[(size_t)i * per + j] *= (float)fp->cfg.embedding_multiplier;
            }
    }
    free(row);
    free(ids);
    return 0;
}

/* Runs block l of m over x [n, T, C] in chunks of B into out (may alias x). */
static void run_block(floe_model *m, int l, const float *x, float *out, int n, int B, int T)
{
    const size_t per = (size_t)T * m->cfg.d_model;
    for (int b0 = 0; b0 < n; b0 += B) {
        int nb = n - b0 < B ? n - b0 : B;
        memcpy(floe_model_residual(m, l), x + (size_t)b0 * per, (size_t)nb * per * sizeof(float));
        floe_model_block_forward(m, l, nb, T);
        memcpy(out + (size_t)b0 * per, floe_model_residual(m, l + 1), (size_t)nb * per * sizeof(float));
    }
}

/* Mean of (a - b)^2 over n floats, via scratch d (deterministic blocked sum). */
static double mse_of(const float *a, const float *b, float *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = a[i] - b[i];
    return floe_sumsq(d, n) / (double)n;
}

/* MSE of the quantized block (w_hat installed in m) on set s; out receives the outputs. */
static double set_mse(floe_model *m, int l, const seqset *s, float *out, float *d, int B, int T)
{
    if (s->n == 0)
        return NAN;
    run_block(m, l, s->xq, out, s->n, B, T);
    return mse_of(out, s->y, d, (size_t)s->n * T * m->cfg.d_model);
}

typedef struct {
    float *W;              /* master weights (training copy) */
    float *mW, *vW;        /* AdamW moments of W */
    float *ms, *vs, *mz, *vz;
    float *dW, *ds, *dz;   /* gradients */
    size_t nW, nS;
} lin_state;

static void lin_free(lin_state *L)
{
    free(L->W);
    free(L->mW);
    free(L->vW);
    free(L->ms);
    free(L->vs);
    free(L->mz);
    free(L->vz);
    free(L->dW);
    free(L->ds);
    free(L->dz);
    memset(L, 0, sizeof *L);
}

static int lin_alloc(lin_state *L, size_t nW, size_t nS)
{
    memset(L, 0, sizeof *L);
    L->nW = nW;
    L->nS = nS;
    L->W = malloc(nW * sizeof(float));
    L->mW = calloc(nW, sizeof(float));
    L->vW = calloc(nW, sizeof(float));
    L->dW = malloc(nW * sizeof(float));
    L->ms = calloc(nS, sizeof(float));
    L->vs = calloc(nS, sizeof(float));
    L->mz = calloc(nS, sizeof(float));
    L->vz = calloc(nS, sizeof(float));
    L->ds = malloc(nS * sizeof(float));
    L->dz = malloc(nS * sizeof(float));
    if (!L->W || !L->mW || !L->vW || !L->dW || !L->ms || !L->vs || !L->mz || !L->vz || !L->ds || !L->dz) {
        lin_free(L);
        return -1;
    }
    return 0;
}

#define S_MIN 1e-6f /* floor of a trained step size (EfficientQAT clamps to 1e-4 on its larger weights) */

int floe_block_ap(floe_model *fp, floe_model *q, floe_wquant *wq, const floe_tokens *train, const floe_blockap_cfg *c,
                  floe_blockap_cb cb, void *ctx, floe_err *err)
{
    const floe_model_config *mc = &q->cfg;
    const int L = mc->n_layers, T = c->context > 0 ? c->context : q->maxT;
    if (fp->cfg.n_layers != L || fp->cfg.d_model != mc->d_model || fp->cfg.ffn_dim != mc->ffn_dim ||
        fp->cfg.n_heads != mc->n_heads || fp->cfg.n_kv_heads != mc->n_kv_heads || fp->cfg.head_dim != mc->head_dim ||
        fp->cfg.vocab_size != mc->vocab_size)
        return floe_err_set(err, "block-ap: teacher %s and student %s have different shapes", fp->cfg.name, mc->name);
    if (c->samples < 1 || c->heldout < 0 || c->epochs < 1 || c->batch < 1)
        return floe_err_set(err, "block-ap: samples %d, heldout %d, epochs %d, batch %d: need samples, epochs, batch >= 1",
                            c->samples, c->heldout, c->epochs, c->batch);
    if (c->batch > q->maxB || c->batch > fp->maxB || T > q->maxT || T > fp->maxT)
        return floe_err_set(err, "block-ap: batch %d x context %d exceeds a model's allocation (student %d x %d, teacher %d x %d)",
                            c->batch, T, q->maxB, q->maxT, fp->maxB, fp->maxT);
    if (!(c->lr_qparams >= 0) || !(c->lr_weights >= 0) || !(c->min_lr_ratio >= 0))
        return floe_err_set(err, "block-ap: learning rates must be >= 0 (lr_qparams %g, lr_weights %g, min_lr_ratio %g)",
                            (double)c->lr_qparams, (double)c->lr_weights, (double)c->min_lr_ratio);
    if (floe_wquants_init(wq, q, c->bits, c->widths, c->group, c->asym, err) != 0)
        return -1;

    const size_t C = (size_t)mc->d_model, per = (size_t)T * C;
    const int evalB = q->maxB < fp->maxB ? q->maxB : fp->maxB;
    seqset cal, held;
    lin_state lin[FLOE_BLOCK_LINEARS];
    memset(lin, 0, sizeof lin);
    int maxn = c->samples > c->heldout ? c->samples : c->heldout;
    float *out = malloc((size_t)maxn * per * sizeof(float));
    float *d = malloc((size_t)maxn * per * sizeof(float));
    float *tgt = malloc((size_t)c->batch * per * sizeof(float));
    float *dres = malloc((size_t)c->batch * per * sizeof(float));
    int *perm = malloc((size_t)c->samples * sizeof(int));
    int rc = -1;
    memset(&cal, 0, sizeof cal);
    memset(&held, 0, sizeof held);
    if (!out || !d || !tgt || !dres || !perm) {
        floe_err_set(err, "block-ap: out of memory");
        goto done;
    }
    if (seqset_init(&cal, c->samples, train, c->seed, T, fp, q, err) != 0 ||
        seqset_init(&held, c->heldout, train, c->seed ^ 0x9E3779B97F4A7C15ull, T, fp, q, err) != 0)
        goto done;

    const int steps_per_epoch = (c->samples + c->batch - 1) / c->batch;
    const int total = steps_per_epoch * c->epochs;
    for (int l = 0; l < L; l++) {
        double t0 = now_s();
        /* FP targets: the teacher's block l on the FP chain */
        run_block(fp, l, cal.xf, cal.y, cal.n, evalB, T);
        if (held.n)
            run_block(fp, l, held.xf, held.y, held.n, evalB, T);
        /* quantizer init from the student's (folded) weights; master copies and moments */
        for (int j = 0; j < FLOE_BLOCK_LINEARS; j++) {
            int i = l * FLOE_BLOCK_LINEARS + j;
            const floe_param *p = floe_blockap_param(q, i);
            if (lin_alloc(&lin[j], p->numel, (size_t)wq[i].out * wq[i].groups) != 0) {
                floe_err_set(err, "block-ap: out of memory for %s", p->name);
                goto done;
            }
            memcpy(lin[j].W, q->params + p->offset, p->numel * sizeof(float));
            if (c->asym)
                floe_wquant_minmax(&wq[i], lin[j].W);
            else
                floe_wquant_mse(&wq[i], lin[j].W);
            floe_wquant_forward(&wq[i], lin[j].W, q->params + p->offset);
        }
        floe_blockap_report rep;
        memset(&rep, 0, sizeof rep);
        rep.layer = l;
        rep.n_layers = L;
        rep.mse_init = set_mse(q, l, &cal, out, d, evalB, T);
        rep.mse_init_heldout = set_mse(q, l, &held, out, d, evalB, T);

        int step = 0;
        for (int e = 0; e < c->epochs; e++) {
            floe_rng r;
            floe_rng_split(&r, c->seed, 1000003ull * (uint64_t)(l + 1) + (uint64_t)e);
            for (int i = 0; i < c->samples; i++)
                perm[i] = i;
            for (int i = c->samples - 1; i > 0; i--) {
                int k = (int)floe_rng_below(&r, (uint64_t)i + 1);
                int t = perm[i];
                perm[i] = perm[k];
                perm[k] = t;
            }
            for (int b0 = 0; b0 < c->samples; b0 += c->batch, step++) {
                int nb = c->samples - b0 < c->batch ? c->samples - b0 : c->batch;
                float *x = floe_model_residual(q, l);
                for (int b = 0; b < nb; b++) {
                    memcpy(x + (size_t)b * per, cal.xq + (size_t)perm[b0 + b] * per, per * sizeof(float));
                    memcpy(tgt + (size_t)b * per, cal.y + (size_t)perm[b0 + b] * per, per * sizeof(float));
                }
                floe_model_block_forward(q, l, nb, T);
                const float *y = floe_model_residual(q, l + 1);
                const size_t n = (size_t)nb * per;
                const float k2 = 2.0f / (float)n;
                for (size_t t = 0; t < n; t++)
                    dres[t] = k2 * (y[t] - tgt[t]);
                for (int j = 0; j < FLOE_BLOCK_LINEARS; j++) {
                    const floe_param *p = floe_blockap_param(q, l * FLOE_BLOCK_LINEARS + j);
                    memset(q->grads + p->offset, 0, p->numel * sizeof(float));
                }
                floe_model_block_backward(q, l, dres);
                float lr_s = floe_lr_cosine(step, 0, total, c->lr_qparams, c->lr_qparams * c->min_lr_ratio);
                float lr_w = floe_lr_cosine(step, 0, total, c->lr_weights, c->lr_weights * c->min_lr_ratio);
                for (int j = 0; j < FLOE_BLOCK_LINEARS; j++) {
                    int i = l * FLOE_BLOCK_LINEARS + j;
                    const floe_param *p = floe_blockap_param(q, i);
                    lin_state *S = &lin[j];
                    memset(S->dW, 0, S->nW * sizeof(float));
                    memset(S->ds, 0, S->nS * sizeof(float));
                    memset(S->dz, 0, S->nS * sizeof(float));
                    floe_wquant_backward(&wq[i], S->W, q->grads + p->offset, S->dW, S->ds, S->dz);
                    if (c->lr_weights > 0)
                        floe_adamw_update(S->W, S->dW, S->mW, S->vW, S->nW, step + 1, lr_w, c->beta1, c->beta2, c->eps,
                                          0.0f);
                    floe_adamw_update(wq[i].s, S->ds, S->ms, S->vs, S->nS, step + 1, lr_s, c->beta1, c->beta2, c->eps,
                                      0.0f);
                    for (size_t t = 0; t < S->nS; t++)
                        if (!(wq[i].s[t] >= S_MIN))
                            wq[i].s[t] = S_MIN;
                    if (c->asym)
                        floe_adamw_update(wq[i].z, S->dz, S->mz, S->vz, S->nS, step + 1, lr_s, c->beta1, c->beta2,
                                          c->eps, 0.0f);
                    floe_wquant_forward(&wq[i], S->W, q->params + p->offset);
                }
            }
        }
        rep.steps = total;
        rep.tokens = (size_t)c->samples * c->epochs * (size_t)T;
        rep.mse_heldout = set_mse(q, l, &held, out, d, evalB, T);
        /* the calibration outputs of the trained quantized block are the next block's quantized chain */
        rep.mse = set_mse(q, l, &cal, out, d, evalB, T);
        memcpy(cal.xq, out, (size_t)cal.n * per * sizeof(float));
        if (held.n) {
            run_block(q, l, held.xq, held.xq, held.n, evalB, T);
        }
        /* the FP chain moves on: its targets are the next block's FP inputs */
        float *t;
        t = cal.xf, cal.xf = cal.y, cal.y = t;
        t = held.xf, held.xf = held.y, held.y = t;
        /* out: the trained master weights */
        for (int j = 0; j < FLOE_BLOCK_LINEARS; j++) {
            const floe_param *p = floe_blockap_param(q, l * FLOE_BLOCK_LINEARS + j);
            memcpy(q->params + p->offset, lin[j].W, p->numel * sizeof(float));
            lin_free(&lin[j]);
        }
        rep.seconds = now_s() - t0;
        if (cb)
            cb(ctx, &rep);
    }
    rc = 0;
done:
    for (int j = 0; j < FLOE_BLOCK_LINEARS; j++)
        lin_free(&lin[j]);
    if (rc != 0)
        floe_wquants_free(wq, L * FLOE_BLOCK_LINEARS);
    seqset_free(&cal);
    seqset_free(&held);
    free(out);
    free(d);
    free(tgt);
    free(dres);
    free(perm);
    return rc;
}

int floe_weight_only_save(const char *path, const floe_model *m, const char *method, int bits, int group, int asym,
                          const char *teacher, const char *const *extra, size_t n_extra, floe_err *err)
{
    char sb[16], sg[16];
    snprintf(sb, sizeof sb, "%d", bits);
    snprintf(sg, sizeof sg, "%d", group);
    const char **kv = malloc((12 + 2 * n_extra) * sizeof *kv);
    if (!kv)
        return floe_err_set(err, "%s: out of memory", path);
    size_t n = 0;
    kv[n++] = "floe.method", kv[n++] = method;
    kv[n++] = "floe.weight_only", kv[n++] = "1";
    kv[n++] = "floe.wbits", kv[n++] = sb;
    kv[n++] = "floe.group", kv[n++] = sg;
    kv[n++] = "floe.asym", kv[n++] = asym ? "1" : "0";
    if (teacher)
        kv[n++] = "floe.teacher", kv[n++] = teacher;
    for (size_t i = 0; i < 2 * n_extra; i++)
        kv[n++] = extra[i];
    int rc = floe_st_save_params(path, &m->cfg, &m->table, m->params, kv, n / 2, err);
    free(kv);
    return rc;
}
