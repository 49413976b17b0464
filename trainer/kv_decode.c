/* Decoding with a KV cache (trainer/kv_decode.h). */
#include "trainer/kv_decode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trainer/matmul.h"
#include "trainer/residual.h"
#include "trainer/rmsnorm.h"
#include "trainer/rope.h"
#include "trainer/swiglu.h"

static const float *param(const floe_model *m, floe_param_kind kind, int layer)
{
    return m->params + floe_param_get(&m->table, kind, layer)->offset;
}

int floe_decoder_init(floe_decoder *d, floe_model *m, floe_err *err)
{
    memset(d, 0, sizeof *d);
    const floe_model_config *c = &m->cfg;
    const size_t C = (size_t)c->d_model, Q = (size_t)c->n_heads * c->head_dim, KV = (size_t)c->n_kv_heads * c->head_dim;
    const size_t F = (size_t)c->ffn_dim, V = (size_t)c->vocab_size, L = (size_t)c->n_layers, T = (size_t)m->maxT;
    d->m = m;
    d->cap = m->maxT;
    d->k = malloc(L * T * KV * sizeof(float));
    d->v = malloc(L * T * KV * sizeof(float));
    float *s = malloc((3 * C + 2 * Q + 2 * KV + 3 * F + V + T) * sizeof(float));
    if (!d->k || !d->v || !s) {
        free(s);
        floe_decoder_free(d);
        return floe_err_set(err, "KV cache of %zu positions x %zu layers: out of memory", T, L);
    }
    d->x = s, d->ln = s + C, d->mid = s + 2 * C, d->q = s + 3 * C, d->att = d->q + Q, d->kr = d->att + Q;
    d->vr = d->kr + KV, d->gate = d->vr + KV, d->up = d->gate + F, d->swi = d->up + F, d->logits = d->swi + F;
    d->scores = d->logits + V;
    return 0;
}

void floe_decoder_free(floe_decoder *d)
{
    free(d->k);
    free(d->v);
    free(d->x); /* the scratch block starts at x */
    memset(d, 0, sizeof *d);
}

static int granite(const floe_model *m) { return m->cfg.family == FLOE_FAMILY_GRANITE; }

static void scale(float *p, size_t n, float s)
{
    for (size_t i = 0; i < n; i++)
        p[i] *= s;
}

/* The final norm and the head on the residual row x (as floe_model_forward). */
static const float *head(floe_decoder *d)
{
    const floe_model *m = d->m;
    const floe_model_config *c = &m->cfg;
    float rstd;
    floe_rmsnorm_forward_eps(d->ln, &rstd, d->x, param(m, FLOE_P_FINAL_NORM, 0), 1, c->d_model, (float)c->rms_eps);
    floe_matmul_forward(d->logits, d->ln, param(m, c->tied_embeddings ? FLOE_P_EMBED : FLOE_P_LM_HEAD, 0), 1,
                        c->d_model, c->vocab_size);
    if (granite(m))
        for (int i = 0; i < c->vocab_size; i++)
            d->logits[i] /= (float)c->logits_scaling;
    return d->logits;
}

/* Layer l's keys and values of the prefill's n rows into the cache (floe_model_forward_tapped). */
typedef struct {
    floe_decoder *d;
    int n;
} prefill_ctx;

static void cache_layer(void *ctx, int l, const floe_model_taps *t)
{
    const prefill_ctx *p = ctx;
    const floe_model_config *c = &p->d->m->cfg;
    const size_t KV = (size_t)c->n_kv_heads * c->head_dim;
    if (l >= c->n_layers)
        return;
    memcpy(p->d->k + (size_t)l * p->d->cap * KV, t->k, (size_t)p->n * KV * sizeof(float));
    memcpy(p->d->v + (size_t)l * p->d->cap * KV, t->v, (size_t)p->n * KV * sizeof(float));
}

const float *floe_decoder_prefill(floe_decoder *d, const int32_t *tokens, int n)
{
    floe_model *m = d->m;
    const floe_model_config *c = &m->cfg;
    prefill_ctx p = {d, n};
    floe_model_forward_tapped(m, tokens, NULL, 1, n, cache_layer, &p);
    d->pos = n;
    memcpy(d->logits, floe_model_logits(m) + (size_t)(n - 1) * c->vocab_size, (size_t)c->vocab_size * sizeof(float));
    return d->logits;
}

/* Attention of one query row over positions 0..pos of layer l's cache, every head. */
static void attend(floe_decoder *d, int l, int pos)
{
    const floe_model_config *c = &d->m->cfg;
    const int hd = c->head_dim, NH = c->n_heads, NKV = c->n_kv_heads, group = NH / NKV;
    const size_t KV = (size_t)NKV * hd;
    const float sc = granite(d->m) ? (float)c->attention_multiplier : 1.0f / sqrtf((float)hd);
    const float *K = d->k + (size_t)l * d->cap * KV, *Vc = d->v + (size_t)l * d->cap * KV;
    for (int h = 0; h < NH; h++) {
        const float *q = d->q + (size_t)h * hd;
        const size_t kvo = (size_t)(h / group) * hd;
        float mx = -INFINITY;
        for (int p = 0; p <= pos; p++) {
            const float *k = K + (size_t)p * KV + kvo;
            float s = 0.0f;
            for (int i = 0; i < hd; i++)
                s += q[i] * k[i];
            d->scores[p] = s * sc;
            mx = fmaxf(mx, d->scores[p]);
        }
        float sum = 0.0f;
        for (int p = 0; p <= pos; p++)
            sum += d->scores[p] = expf(d->scores[p] - mx);
        float *o = d->att + (size_t)h * hd;
        memset(o, 0, (size_t)hd * sizeof *o);
        for (int p = 0; p <= pos; p++) {
            const float w = d->scores[p] / sum, *v = Vc + (size_t)p * KV + kvo;
            for (int i = 0; i < hd; i++)
                o[i] += w * v[i];
        }
    }
}

const float *floe_decoder_step(floe_decoder *d, int32_t token)
{
    const floe_model *m = d->m;
    const floe_model_config *c = &m->cfg;
    const int C = c->d_model, NH = c->n_heads, NKV = c->n_kv_heads, hd = c->head_dim, F = c->ffn_dim;
    const int Q = NH * hd, KV = NKV * hd, pos = d->pos;
    const float eps = (float)c->rms_eps, rm = (float)c->residual_multiplier;
    const float *rc = m->rope_cos + (size_t)pos * (hd / 2), *rs = m->rope_sin + (size_t)pos * (hd / 2);
    memcpy(d->x, param(m, FLOE_P_EMBED, 0) + (size_t)token * C, (size_t)C * sizeof(float));
    if (granite(m))
        scale(d->x, (size_t)C, (float)c->embedding_multiplier);
    for (int l = 0; l < c->n_layers; l++) {
        float rstd;
        floe_rmsnorm_forward_eps(d->ln, &rstd, d->x, param(m, FLOE_P_ATTN_NORM, l), 1, C, eps);
        floe_matmul_forward(d->q, d->ln, param(m, FLOE_P_Q, l), 1, C, Q);
        floe_matmul_forward(d->kr, d->ln, param(m, FLOE_P_K, l), 1, C, KV);
        floe_matmul_forward(d->vr, d->ln, param(m, FLOE_P_V, l), 1, C, KV);
        floe_rope_forward(d->q, rc, rs, 1, 1, NH, hd);
        floe_rope_forward(d->kr, rc, rs, 1, 1, NKV, hd);
        memcpy(d->k + ((size_t)l * d->cap + pos) * KV, d->kr, (size_t)KV * sizeof(float));
        memcpy(d->v + ((size_t)l * d->cap + pos) * KV, d->vr, (size_t)KV * sizeof(float));
        attend(d, l, pos);
        floe_matmul_forward(d->mid, d->att, param(m, FLOE_P_O, l), 1, Q, C);
        if (granite(m))
            scale(d->mid, (size_t)C, rm);
        floe_residual_forward(d->mid, d->mid, d->x, (size_t)C);
        floe_rmsnorm_forward_eps(d->ln, &rstd, d->mid, param(m, FLOE_P_MLP_NORM, l), 1, C, eps);
        floe_matmul_forward(d->gate, d->ln, param(m, FLOE_P_GATE, l), 1, C, F);
        floe_matmul_forward(d->up, d->ln, param(m, FLOE_P_UP, l), 1, C, F);
        floe_swiglu_forward(d->swi, d->gate, d->up, (size_t)F);
        floe_matmul_forward(d->x, d->swi, param(m, FLOE_P_DOWN, l), 1, F, C);
        if (granite(m))
            scale(d->x, (size_t)C, rm);
        floe_residual_forward(d->x, d->x, d->mid, (size_t)C);
    }
    d->pos++;
    return head(d);
}
