#include "trainer/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/big_alloc.h"
#include "models/half.h"
#include "trainer/attention.h"
#include "trainer/crossentropy.h"
#include "trainer/embedding.h"
#include "trainer/matmul.h"
#include "trainer/residual.h"
#include "trainer/rmsnorm.h"
#include "trainer/rope.h"
#include "trainer/swiglu.h"

/* Views into the activation buffers for the largest batch (maxB x maxT): each buffer has room for
 * the largest shape, and a smaller forward uses the start of each. */
typedef struct {
    float *ln1, *rstd1, *q, *k, *v, *astats, *atty, *resmid, *ln2, *rstd2, *gate, *up, *swi;
} layer_acts;

typedef struct {
    size_t N, C, Q, KV, F, V, A, W; /* A: attention's row stats; W: its block workspace */
} sizes;

static sizes sizes_of(const floe_model_config *c, int B, int T)
{
    sizes s;
    s.N = (size_t)B * T;
    s.C = (size_t)c->d_model;
    s.Q = (size_t)c->n_heads * c->head_dim;
    s.KV = (size_t)c->n_kv_heads * c->head_dim;
    s.F = (size_t)c->ffn_dim;
    s.V = (size_t)c->vocab_size;
    s.A = floe_attention_stats_floats(B, T, c->n_heads);
    s.W = floe_attention_scratch_floats(B, T, c->n_heads);
    return s;
}

static size_t layer_floats(const sizes *s)
{
    return 4 * s->N * s->C + 2 * s->N + 2 * s->N * s->Q + 2 * s->N * s->KV + s->A + 3 * s->N * s->F;
}

/* acts: res[0..L] ([N, C] each, the residual stream entering each block and leaving the last),
 * then each layer's layer_acts, then final_acts: lnf [N, C], rstdf [N], losses [N], and for the whole
 * head logits [N, V], probs [N, V]; for the chunked head (head_rows R > 0) rowmax [N], rowsum [N] and
 * one chunk [R, V] of logits, of their exponentials and of their gradient in turn.
 * A forward-only model: res in 2 slots (residual l in slot l % 2: block l reads one, writes the
 * other), one layer_acts slot, then lnf, rstdf, losses, logits [N, V], the losses' chunk [R, V] with
 * its rowmax [R], rowsum [R] (R = loss_rows), and attention's scratch [W] (the training model keeps
 * that in dacts, as its backward uses it too). */
static int res_slots(const floe_model *m) { return m->forward_only ? 2 : m->cfg.n_layers + 1; }
static int layer_slots(const floe_model *m) { return m->forward_only ? 1 : m->cfg.n_layers; }

static int loss_rows(int maxN) { return maxN < FLOE_MODEL_LOSS_ROWS ? maxN : FLOE_MODEL_LOSS_ROWS; }

static float *res_at(const floe_model *m, int l)
{
    sizes s = sizes_of(&m->cfg, m->maxB, m->maxT);
    return m->acts + (size_t)(l % res_slots(m)) * s.N * s.C;
}

static layer_acts layer_at(const floe_model *m, int l)
{
    sizes s = sizes_of(&m->cfg, m->maxB, m->maxT);
    float *p = m->acts + (size_t)res_slots(m) * s.N * s.C + (size_t)(l % layer_slots(m)) * layer_floats(&s);
    layer_acts a;
    a.ln1 = p, p += s.N * s.C;
    a.rstd1 = p, p += s.N;
    a.q = p, p += s.N * s.Q;
    a.k = p, p += s.N * s.KV;
    a.v = p, p += s.N * s.KV;
    a.astats = p, p += s.A;
    a.atty = p, p += s.N * s.Q;
    a.resmid = p, p += s.N * s.C;
    a.ln2 = p, p += s.N * s.C;
    a.rstd2 = p, p += s.N;
    a.gate = p, p += s.N * s.F;
    a.up = p, p += s.N * s.F;
    a.swi = p;
    return a;
}

typedef struct {
    float *lnf, *rstdf, *losses;
    float *logits, *probs;          /* whole head; NULL when chunked */
    float *rowmax, *rowsum, *chunk; /* chunked head; NULL when whole */
} final_acts;

static size_t final_floats(const sizes *s, int head_rows, int forward_only)
{
    if (forward_only) {
        size_t R = (size_t)loss_rows((int)s->N);
        return s->N * s->C + 2 * s->N + s->N * s->V + 2 * R + R * s->V + s->W;
    }
    if (head_rows > 0)
        return s->N * s->C + 4 * s->N + (size_t)head_rows * s->V;
    return s->N * s->C + 2 * s->N + 2 * s->N * s->V;
}

static final_acts final_at(const floe_model *m)
{
    sizes s = sizes_of(&m->cfg, m->maxB, m->maxT);
    float *p = m->acts + (size_t)res_slots(m) * s.N * s.C + (size_t)layer_slots(m) * layer_floats(&s);
    final_acts f;
    memset(&f, 0, sizeof f);
    f.lnf = p, p += s.N * s.C;
    f.rstdf = p, p += s.N;
    f.losses = p, p += s.N;
    if (m->head_rows > 0) {
        f.rowmax = p, p += s.N;
        f.rowsum = p, p += s.N;
        f.chunk = p;
    } else if (m->forward_only) {
        size_t R = (size_t)loss_rows((int)s.N);
        f.logits = p, p += s.N * s.V;
        f.rowmax = p, p += R;
        f.rowsum = p, p += R;
        f.chunk = p;
    } else {
        f.logits = p, p += s.N * s.V;
        f.probs = p;
    }
    return f;
}

static size_t acts_floats(const floe_model_config *c, int B, int T, int head_rows, int forward_only)
{
    sizes s = sizes_of(c, B, T);
    size_t res = forward_only ? 2 : (size_t)c->n_layers + 1, layers = forward_only ? 1 : (size_t)c->n_layers;
    return res * s.N * s.C + layers * layer_floats(&s) + final_floats(&s, head_rows, forward_only);
}

/* dacts: dres, dln [N, C]; dq, datty [N, Q]; dk, dv [N, KV]; dscratch [W] (attention's blocks, forward's too); dgate, dup, dswi [N, F];
 * dlogits [N, V] for the whole head (the chunked head forms its gradient in its chunk). */
typedef struct {
    float *dres, *dln, *dq, *datty, *dk, *dv, *dscratch, *dgate, *dup, *dswi, *dlogits;
} grad_acts;

static grad_acts dacts_at(const floe_model *m)
{
    sizes s = sizes_of(&m->cfg, m->maxB, m->maxT);
    float *p = m->dacts;
    grad_acts g;
    g.dres = p, p += s.N * s.C;
    g.dln = p, p += s.N * s.C;
    g.dq = p, p += s.N * s.Q;
    g.datty = p, p += s.N * s.Q;
    g.dk = p, p += s.N * s.KV;
    g.dv = p, p += s.N * s.KV;
    g.dscratch = p, p += s.W;
    g.dgate = p, p += s.N * s.F;
    g.dup = p, p += s.N * s.F;
    g.dswi = p, p += s.N * s.F;
    g.dlogits = m->head_rows > 0 ? NULL : p;
    return g;
}

/* Attention's forward scratch [W]: in dacts (shared with its backward), or after a forward-only
 * model's losses' chunk. */
static float *attn_scratch(const floe_model *m)
{
    if (!m->forward_only)
        return dacts_at(m).dscratch;
    sizes s = sizes_of(&m->cfg, m->maxB, m->maxT);
    return final_at(m).chunk + (size_t)loss_rows((int)s.N) * s.V;
}

static size_t dacts_floats(const floe_model_config *c, int B, int T, int head_rows)
{
    sizes s = sizes_of(c, B, T);
    return 2 * s.N * s.C + 2 * s.N * s.Q + 2 * s.N * s.KV + s.W + 3 * s.N * s.F + (head_rows > 0 ? 0 : s.N * s.V);
}

int floe_model_head_rows(const floe_model_config *cfg, int maxN)
{
    long long r = FLOE_HEAD_CHUNK_FLOATS / (cfg->vocab_size > 0 ? cfg->vocab_size : 1) / 128 * 128;
    if (r < 128) /* whole sgemm row blocks: the whole head's bits (trainer/matmul.c) */
        r = 128;
    return r < maxN ? (int)r : maxN;
}

static int model_init(floe_model *m, const floe_model_config *cfg, int maxB, int maxT, int head_rows, int forward_only,
                      floe_err *err)
{
    memset(m, 0, sizeof *m);
    if (floe_model_config_validate(cfg, cfg->name, err) != 0)
        return -1;
    if (maxB < 1 || maxT < 1 || maxT > cfg->context)
        return floe_err_set(err, "%s: batch %d x context %d: need batch >= 1 and 1 <= context <= %d", cfg->name, maxB,
                            maxT, cfg->context);
    m->cfg = *cfg;
    if (floe_param_table_init(&m->table, cfg, err) != 0)
        return -1;
    m->maxB = maxB;
    m->maxT = maxT;
    m->head_rows = head_rows;
    m->forward_only = forward_only;
    m->n_acts = acts_floats(cfg, maxB, maxT, head_rows, forward_only);
    m->n_dacts = forward_only ? 0 : dacts_floats(cfg, maxB, maxT, head_rows);
    size_t h = (size_t)cfg->head_dim / 2;
    m->params = floe_big_calloc(m->table.total, sizeof(float));
    if (!forward_only) {
        m->grads = floe_big_calloc(m->table.total, sizeof(float));
        m->dacts = floe_big_calloc(m->n_dacts, sizeof(float));
    }
    m->acts = floe_big_calloc(m->n_acts, sizeof(float));
    m->rope_cos = malloc((size_t)maxT * h * sizeof(float));
    m->rope_sin = malloc((size_t)maxT * h * sizeof(float));
    m->inputs = malloc((size_t)maxB * maxT * sizeof(int));
    m->targets = malloc((size_t)maxB * maxT * sizeof(int));
    const int top1 = head_rows > 0 || forward_only;
    if (top1)
        m->top1 = malloc((size_t)maxB * maxT * sizeof(int));
    if (!m->params || (!forward_only && (!m->grads || !m->dacts)) || !m->acts || !m->rope_cos || !m->rope_sin ||
        !m->inputs || !m->targets || (top1 && !m->top1)) {
        floe_model_free(m);
        return floe_err_set(err, "%s: out of memory for batch %d x context %d", cfg->name, maxB, maxT);
    }
    floe_rope_tables_cfg(m->rope_cos, m->rope_sin, maxT, cfg);
    return 0;
}

int floe_model_init(floe_model *m, const floe_model_config *cfg, int maxB, int maxT, floe_err *err)
{
    return model_init(m, cfg, maxB, maxT, 0, 0, err);
}

int floe_model_init_forward(floe_model *m, const floe_model_config *cfg, int maxB, int maxT, floe_err *err)
{
    return model_init(m, cfg, maxB, maxT, 0, 1, err);
}

/* One block's parameters: from its input_layernorm to the end of its down_proj (contiguous). */
static size_t block_lo(const floe_model *m, int l) { return floe_param_get(&m->table, FLOE_P_ATTN_NORM, l)->offset; }
static size_t block_span(const floe_model *m)
{
    const floe_param *d = floe_param_get(&m->table, FLOE_P_DOWN, 0);
    return d->offset + d->numel - block_lo(m, 0);
}

size_t floe_model_floats(const floe_model *m)
{
    size_t p = m->params16 ? (m->table.total + 1) / 2 + block_span(m) + (size_t)m->cfg.d_model : m->table.total;
    return p + (m->grads ? m->table.total : 0) + m->n_acts + m->n_dacts;
}

int floe_model_hold_bf16(floe_model *m, floe_err *err)
{
    if (!m->forward_only)
        return floe_err_set(err, "%s: only a forward-only model holds bfloat16 parameters", m->cfg.name);
    if (m->params16)
        return 1;
    const size_t n = m->table.total;
    const uint32_t *bits = (const uint32_t *)(const void *)m->params;
    int low = 0; /* a float with any of its 16 low bits set is not a bfloat16 value */
#pragma omp parallel for simd reduction(| : low) schedule(static)
    for (size_t i = 0; i < n; i++)
        low |= (bits[i] & 0xffffu) != 0;
    if (low)
        return 0;
    const size_t C = (size_t)m->cfg.d_model;
    uint16_t *h = floe_big_calloc(n, sizeof *h);
    float *wb = floe_big_calloc(block_span(m), sizeof *wb), *wf = malloc(C * sizeof *wf);
    if (!h || !wb || !wf) {
        free(h), free(wb), free(wf);
        return floe_err_set(err, "%s: out of memory for its bfloat16 parameters", m->cfg.name);
    }
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++)
        h[i] = (uint16_t)(bits[i] >> 16);
    memcpy(wf, m->params + floe_param_get(&m->table, FLOE_P_FINAL_NORM, 0)->offset, C * sizeof *wf);
    free(m->params);
    m->params = NULL;
    m->params16 = h;
    m->wblock = wb;
    m->wfinal = wf;
    m->wblock_layer = -1;
    return 1;
}

static void widen(float *restrict out, const uint16_t *restrict in, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++)
        out[i] = floe_bf16_to_f32(in[i]);
}

/* Block l's parameters as floats in wblock (a model holding bfloat16). */
static void hold_block(floe_model *m, int l)
{
    if (m->params16 && m->wblock_layer != l) {
        widen(m->wblock, m->params16 + block_lo(m, l), block_span(m));
        m->wblock_layer = l;
    }
}

int floe_model_init_chunked(floe_model *m, const floe_model_config *cfg, int maxB, int maxT, int head_rows,
                            floe_err *err)
{
    memset(m, 0, sizeof *m);
    if (head_rows < 0)
        return floe_err_set(err, "%s: head chunk of %d rows: need >= 0 (0: the default)", cfg->name, head_rows);
    if (maxB < 1 || maxT < 1) /* model_init names the error */
        return model_init(m, cfg, maxB, maxT, 0, 0, err);
    int maxN = maxB * maxT;
    if (head_rows == 0 || head_rows > maxN)
        head_rows = head_rows == 0 ? floe_model_head_rows(cfg, maxN) : maxN;
    return model_init(m, cfg, maxB, maxT, head_rows, 0, err);
}

void floe_model_free(floe_model *m)
{
    floe_param_table_free(&m->table);
    free(m->params);
    free(m->grads);
    free(m->acts);
    free(m->dacts);
    free(m->rope_cos);
    free(m->rope_sin);
    free(m->inputs);
    free(m->targets);
    free(m->top1);
    free(m->params16);
    free(m->wblock);
    free(m->wfinal);
    memset(m, 0, sizeof *m);
}

/* A tensor's floats. A model holding bfloat16 has block wblock_layer's (hold_block) and the final
 * norm's; its embedding and head rows are widened where they are read (embed_forward, head_logits). */
static const float *P(const floe_model *m, floe_param_kind kind, int layer)
{
    const floe_param *p = floe_param_get(&m->table, kind, layer);
    if (!m->params16)
        return m->params + p->offset;
    if (kind == FLOE_P_FINAL_NORM)
        return m->wfinal;
    return p->layer >= 0 && p->layer == m->wblock_layer ? m->wblock + (p->offset - block_lo(m, p->layer)) : NULL;
}

static float *G(const floe_model *m, floe_param_kind kind, int layer)
{
    return m->grads + floe_param_get(&m->table, kind, layer)->offset;
}

static int granite(const floe_model *m) { return m->cfg.family == FLOE_FAMILY_GRANITE; }

/* Attention's score scale: Granite's attention_multiplier, else 1/sqrt(head_dim) computed as it always was. */
static float attn_scale(const floe_model *m)
{
    return granite(m) ? (float)m->cfg.attention_multiplier : 1.0f / sqrtf((float)m->cfg.head_dim);
}

static void scale(float *p, size_t n, float s)
{
    for (size_t i = 0; i < n; i++)
        p[i] *= s;
}

/* out = s * in (Granite's residual branches in backward) */
static void scaled_copy(float *restrict out, const float *restrict in, size_t n, float s)
{
    for (size_t i = 0; i < n; i++)
        out[i] = in[i] * s;
}

static floe_param_kind head_kind(const floe_model *m)
{
    return m->cfg.tied_embeddings ? FLOE_P_EMBED : FLOE_P_LM_HEAD;
}

float *floe_model_residual(floe_model *m, int l)
{
    return res_at(m, l);
}

void floe_model_block_forward(floe_model *m, int l, int B, int T)
{
    const floe_model_config *c = &m->cfg;
    const int N = B * T, C = c->d_model, NH = c->n_heads, NKV = c->n_kv_heads, hd = c->head_dim;
    const int Q = NH * hd, KV = NKV * hd, F = c->ffn_dim;
    m->B = B;
    m->T = T;
    const float eps = (float)c->rms_eps, rm = (float)c->residual_multiplier;
    hold_block(m, l);
    layer_acts a = layer_at(m, l);
    const float *x = res_at(m, l);
    floe_rmsnorm_forward_eps(a.ln1, a.rstd1, x, P(m, FLOE_P_ATTN_NORM, l), N, C, eps);
    floe_matmul_forward(a.q, a.ln1, P(m, FLOE_P_Q, l), N, C, Q);
    floe_matmul_forward(a.k, a.ln1, P(m, FLOE_P_K, l), N, C, KV);
    floe_matmul_forward(a.v, a.ln1, P(m, FLOE_P_V, l), N, C, KV);
    floe_rope_forward(a.q, m->rope_cos, m->rope_sin, B, T, NH, hd);
    floe_rope_forward(a.k, m->rope_cos, m->rope_sin, B, T, NKV, hd);
    floe_attention_forward(a.atty, a.astats, attn_scratch(m), a.q, a.k, a.v, B, T, NH, NKV, hd, attn_scale(m));
    /* o projection straight into the stream (Granite: times residual_multiplier), then add the block
     * input in place */
    floe_matmul_forward(a.resmid, a.atty, P(m, FLOE_P_O, l), N, Q, C);
    if (granite(m))
        scale(a.resmid, (size_t)N * C, rm);
    floe_residual_forward(a.resmid, a.resmid, x, (size_t)N * C);
    floe_rmsnorm_forward_eps(a.ln2, a.rstd2, a.resmid, P(m, FLOE_P_MLP_NORM, l), N, C, eps);
    floe_matmul_forward(a.gate, a.ln2, P(m, FLOE_P_GATE, l), N, C, F);
    floe_matmul_forward(a.up, a.ln2, P(m, FLOE_P_UP, l), N, C, F);
    floe_swiglu_forward(a.swi, a.gate, a.up, (size_t)N * F);
    float *out = res_at(m, l + 1);
    floe_matmul_forward(out, a.swi, P(m, FLOE_P_DOWN, l), N, F, C);
    if (granite(m))
        scale(out, (size_t)N * C, rm);
    floe_residual_forward(out, out, a.resmid, (size_t)N * C);
}

/* Rows v0 .. v0+vn-1 of the head's weight: in the parameters, or widened into wbuf. */
static const float *head_rows_of(const floe_model *m, float *wbuf, int v0, int vn)
{
    const floe_param *p = floe_param_get(&m->table, head_kind(m), 0);
    const size_t C = (size_t)m->cfg.d_model;
    if (!m->params16)
        return m->params + p->offset + (size_t)v0 * C;
    widen(wbuf, m->params16 + p->offset + (size_t)v0 * C, (size_t)vn * C);
    return wbuf;
}

/* out [n, vn] = (lnf [n, C] @ W[v0 : v0+vn]^T) / ls */
static void head_cols(const floe_model *m, float *out, float *wbuf, const float *lnf, int v0, int vn, int n)
{
    const int C = m->cfg.d_model;
    floe_matmul_forward(out, lnf, head_rows_of(m, wbuf, v0, vn), n, C, vn);
    if (granite(m)) { /* divided, as transformers does (not times the reciprocal) */
        const float ls = (float)m->cfg.logits_scaling;
        for (size_t i = 0; i < (size_t)n * vn; i++)
            out[i] /= ls;
    }
}

/* logits [n, V] = (lnf [n, C] @ W^T) / ls for n rows of the final norm's output; a model holding
 * bfloat16 widens the whole head for the product (the training model's bits) and lets it go */
static void head_logits(const floe_model *m, float *logits, const float *lnf, int n)
{
    const int V = m->cfg.vocab_size;
    float *wbuf = m->params16 ? floe_big_calloc((size_t)V * m->cfg.d_model, sizeof *wbuf) : NULL;
    if (m->params16 && !wbuf) { /* out of memory: NaN logits say it rather than wrong ones */
        for (size_t i = 0; i < (size_t)n * V; i++)
            logits[i] = NAN;
        return;
    }
    head_cols(m, logits, wbuf, lnf, 0, V, n);
    free(wbuf);
}

const float *floe_model_final_norm(const floe_model *m) { return final_at(m).lnf; }

void floe_model_set_head_by_caller(floe_model *m)
{
    if (!m->forward_only) /* the training model's backward reads its logits */
        return;
    sizes s = sizes_of(&m->cfg, m->maxB, m->maxT);
    floe_big_release(final_at(m).logits, s.N * s.V * sizeof(float));
    m->head_by_caller = 1;
}

void floe_model_head_cols(const floe_model *m, float *out, float *wbuf, int v0, int vn, int n)
{
    head_cols(m, out, wbuf, final_at(m).lnf, v0, vn, n);
}

/* The embedding rows of tokens [N] into out [N, C], widened from bfloat16 when held so. */
static void embed_forward(const floe_model *m, float *out, int N)
{
    const int C = m->cfg.d_model;
    if (!m->params16) {
        floe_embedding_forward(out, m->inputs, P(m, FLOE_P_EMBED, 0), N, C);
        return;
    }
    const uint16_t *e = m->params16 + floe_param_get(&m->table, FLOE_P_EMBED, 0)->offset;
#pragma omp parallel for schedule(static) if ((long long)N * C >= 65536)
    for (int i = 0; i < N; i++)
        for (int c = 0; c < C; c++)
            out[(size_t)i * C + c] = floe_bf16_to_f32(e[(size_t)m->inputs[i] * C + c]);
}

/* The chunked head's forward over N positions (targets in m->targets): the logits of head_rows rows at
 * a time, each chunk reduced to its rows' losses, max, sum of exp and top-1. Returns the mean loss,
 * summed in double in position order as floe_crossentropy_forward does. */
static float chunked_head_forward(floe_model *m, int N)
{
    const int C = m->cfg.d_model, V = m->cfg.vocab_size, R = m->head_rows;
    final_acts f = final_at(m);
    for (int r0 = 0; r0 < N; r0 += R) {
        int n = N - r0 < R ? N - r0 : R;
        head_logits(m, f.chunk, f.lnf + (size_t)r0 * C, n);
        floe_crossentropy_forward_rows(f.losses + r0, f.rowmax + r0, f.rowsum + r0, m->top1 + r0, f.chunk,
                                       m->targets + r0, n, V);
    }
    double total = 0.0;
    for (int i = 0; i < N; i++)
        total += f.losses[i];
    return (float)(total / N);
}

/* The chunked head's backward: per chunk, the logits again (the forward's bits), their gradient from
 * the stored max and sum, then d(lnf) for the chunk's rows and the head weight's gradient (+=, chunk
 * after chunk in row order: the same bits on any thread count). */
static void chunked_head_backward(floe_model *m, float *dln, int N, float dloss)
{
    const int C = m->cfg.d_model, V = m->cfg.vocab_size, R = m->head_rows;
    final_acts f = final_at(m);
    float *dW = G(m, head_kind(m), 0);
    const float *W = P(m, head_kind(m), 0);
    for (int r0 = 0; r0 < N; r0 += R) {
        int n = N - r0 < R ? N - r0 : R;
        const float *lnf = f.lnf + (size_t)r0 * C;
        head_logits(m, f.chunk, lnf, n);
        floe_crossentropy_backward_rows(f.chunk, f.rowmax + r0, f.rowsum + r0, m->targets + r0, n, V, N, dloss);
        if (granite(m)) {
            const float ls = (float)m->cfg.logits_scaling;
            for (size_t i = 0; i < (size_t)n * V; i++)
                f.chunk[i] /= ls;
        }
        floe_matmul_backward_into(dln + (size_t)r0 * C, 0, dW, 1, f.chunk, lnf, W, n, C, V);
    }
}

/* A forward-only model's losses from its kept logits: FLOE_MODEL_LOSS_ROWS rows at a time copied to
 * the chunk, which floe_crossentropy_forward_rows consumes (per element the whole-row function's
 * operations: the training model's losses' bits). Returns the mean loss, summed in double in position
 * order as floe_crossentropy_forward does. */
static float forward_only_loss(floe_model *m, int N)
{
    const int V = m->cfg.vocab_size, R = loss_rows(m->maxB * m->maxT);
    final_acts f = final_at(m);
    for (int r0 = 0; r0 < N; r0 += R) {
        int n = N - r0 < R ? N - r0 : R;
        memcpy(f.chunk, f.logits + (size_t)r0 * V, (size_t)n * V * sizeof(float));
        floe_crossentropy_forward_rows(f.losses + r0, f.rowmax, f.rowsum, m->top1 + r0, f.chunk, m->targets + r0, n, V);
    }
    double total = 0.0;
    for (int i = 0; i < N; i++)
        total += f.losses[i];
    return (float)(total / N);
}

float floe_model_forward(floe_model *m, const int32_t *tokens, const int32_t *targets, int B, int T)
{
    return floe_model_forward_tapped(m, tokens, targets, B, T, NULL, NULL);
}

float floe_model_forward_tapped(floe_model *m, const int32_t *tokens, const int32_t *targets, int B, int T,
                                floe_model_tap_fn fn, void *ctx)
{
    const floe_model_config *c = &m->cfg;
    const int N = B * T, C = c->d_model, V = c->vocab_size;
    m->B = B;
    m->T = T;
    for (int i = 0; i < N; i++)
        m->inputs[i] = tokens[i];
    embed_forward(m, res_at(m, 0), N);
    if (granite(m))
        scale(res_at(m, 0), (size_t)N * C, (float)c->embedding_multiplier);
    for (int l = 0; l < c->n_layers; l++) {
        floe_model_block_forward(m, l, B, T);
        if (fn) {
            floe_model_taps tp = floe_model_get_taps(m, l);
            fn(ctx, l, &tp);
        }
    }
    final_acts f = final_at(m);
    floe_rmsnorm_forward_eps(f.lnf, f.rstdf, res_at(m, c->n_layers), P(m, FLOE_P_FINAL_NORM, 0), N, C,
                             (float)c->rms_eps);
    if (fn) {
        floe_model_taps tp = floe_model_get_taps(m, c->n_layers);
        fn(ctx, c->n_layers, &tp);
    }
    m->have_targets = targets != NULL;
    m->loss = 0.0f;
    if (targets)
        for (int i = 0; i < N; i++)
            m->targets[i] = targets[i];
    if (m->head_rows > 0) {
        if (targets)
            m->loss = chunked_head_forward(m, N);
        return m->loss;
    }
    if (m->head_by_caller && !targets)
        return m->loss;
    head_logits(m, f.logits, f.lnf, N);
    if (targets)
        m->loss = m->forward_only ? forward_only_loss(m, N)
                                  : floe_crossentropy_forward(f.losses, f.probs, f.logits, m->targets, N, V);
    return m->loss;
}

const float *floe_model_logits(const floe_model *m)
{
    return final_at(m).logits;
}

const int *floe_model_top1(const floe_model *m) { return m->top1; }

const float *floe_model_losses(const floe_model *m)
{
    return final_at(m).losses;
}

const float *floe_model_probs(const floe_model *m)
{
    return final_at(m).probs;
}

floe_model_taps floe_model_get_taps(const floe_model *m, int l)
{
    floe_model_taps t;
    memset(&t, 0, sizeof t);
    t.x = res_at(m, l);
    if (l >= m->cfg.n_layers) {
        t.rstd1 = final_at(m).rstdf;
        return t;
    }
    layer_acts a = layer_at(m, l);
    t.rstd1 = a.rstd1;
    t.q = a.q;
    t.k = a.k;
    t.v = a.v;
    t.atty = a.atty;
    t.xmid = a.resmid;
    t.rstd2 = a.rstd2;
    t.gate = a.gate;
    t.up = a.up;
    t.swi = a.swi;
    return t;
}

static void zero(float *p, size_t n)
{
    memset(p, 0, n * sizeof *p);
}

int floe_model_block_backward(floe_model *m, int l, float *dres)
{
    if (m->forward_only) /* no gradients, and block l's activations are the last block's */
        return -1;
    const floe_model_config *c = &m->cfg;
    const int B = m->B, T = m->T, N = B * T, C = c->d_model, NH = c->n_heads, NKV = c->n_kv_heads;
    const int hd = c->head_dim, Q = NH * hd, KV = NKV * hd, F = c->ffn_dim;
    const size_t NC = (size_t)N * C;
    grad_acts g = dacts_at(m);
    layer_acts a = layer_at(m, l);
    const float rm = (float)c->residual_multiplier;
    /* MLP branch: out = resmid + rm * down(swi) (rm = 1 for a Llama); dres is already d/d resmid's
     * direct share. Granite's branch gradient rm * dres goes through dln, free until gate/up. */
    const float *dbranch = dres;
    if (granite(m)) {
        scaled_copy(g.dln, dres, NC, rm);
        dbranch = g.dln;
    }
    zero(g.dswi, (size_t)N * F);
    floe_matmul_backward(g.dswi, G(m, FLOE_P_DOWN, l), dbranch, a.swi, P(m, FLOE_P_DOWN, l), N, F, C);
    zero(g.dgate, (size_t)N * F);
    zero(g.dup, (size_t)N * F);
    floe_swiglu_backward(g.dgate, g.dup, g.dswi, a.gate, a.up, (size_t)N * F);
    zero(g.dln, NC);
    floe_matmul_backward(g.dln, G(m, FLOE_P_GATE, l), g.dgate, a.ln2, P(m, FLOE_P_GATE, l), N, C, F);
    floe_matmul_backward(g.dln, G(m, FLOE_P_UP, l), g.dup, a.ln2, P(m, FLOE_P_UP, l), N, C, F);
    floe_rmsnorm_backward(dres, G(m, FLOE_P_MLP_NORM, l), g.dln, a.resmid, P(m, FLOE_P_MLP_NORM, l), a.rstd2, N, C);
    /* attention branch: resmid = x + rm * o(atty) */
    dbranch = dres;
    if (granite(m)) {
        scaled_copy(g.dln, dres, NC, rm);
        dbranch = g.dln;
    }
    zero(g.datty, (size_t)N * Q);
    floe_matmul_backward(g.datty, G(m, FLOE_P_O, l), dbranch, a.atty, P(m, FLOE_P_O, l), N, Q, C);
    zero(g.dq, (size_t)N * Q);
    zero(g.dk, (size_t)N * KV);
    zero(g.dv, (size_t)N * KV);
    floe_attention_backward(g.dq, g.dk, g.dv, g.dscratch, g.datty, a.astats, a.q, a.k, a.v, B, T, NH, NKV, hd,
                            attn_scale(m));
    floe_rope_backward(g.dq, m->rope_cos, m->rope_sin, B, T, NH, hd);
    floe_rope_backward(g.dk, m->rope_cos, m->rope_sin, B, T, NKV, hd);
    zero(g.dln, NC);
    floe_matmul_backward(g.dln, G(m, FLOE_P_Q, l), g.dq, a.ln1, P(m, FLOE_P_Q, l), N, C, Q);
    floe_matmul_backward(g.dln, G(m, FLOE_P_K, l), g.dk, a.ln1, P(m, FLOE_P_K, l), N, C, KV);
    floe_matmul_backward(g.dln, G(m, FLOE_P_V, l), g.dv, a.ln1, P(m, FLOE_P_V, l), N, C, KV);
    floe_rmsnorm_backward(dres, G(m, FLOE_P_ATTN_NORM, l), g.dln, res_at(m, l), P(m, FLOE_P_ATTN_NORM, l), a.rstd1,
                          N, C);
    return 0;
}

int floe_model_backward(floe_model *m, float dloss)
{
    if (m->forward_only)
        return -1;
    if (!m->have_targets)
        return 0;
    const floe_model_config *c = &m->cfg;
    const int N = m->B * m->T, C = c->d_model, V = c->vocab_size;
    const size_t NC = (size_t)N * C;
    grad_acts g = dacts_at(m);
    final_acts f = final_at(m);

    if (m->head_rows > 0) {
        chunked_head_backward(m, g.dln, N, dloss);
    } else {
        zero(g.dlogits, (size_t)N * V);
        floe_crossentropy_backward(g.dlogits, f.probs, m->targets, N, V, dloss);
        if (granite(m)) {
            const float ls = (float)c->logits_scaling;
            for (size_t i = 0; i < (size_t)N * V; i++)
                g.dlogits[i] /= ls;
        }
        zero(g.dln, NC);
        floe_matmul_backward(g.dln, G(m, head_kind(m), 0), g.dlogits, f.lnf, P(m, head_kind(m), 0), N, C, V);
    }
    /* dres carries d loss / d residual stream down the blocks; each branch adds its share */
    zero(g.dres, NC);
    floe_rmsnorm_backward(g.dres, G(m, FLOE_P_FINAL_NORM, 0), g.dln, res_at(m, c->n_layers),
                          P(m, FLOE_P_FINAL_NORM, 0), f.rstdf, N, C);
    for (int l = c->n_layers - 1; l >= 0; l--)
        floe_model_block_backward(m, l, g.dres);
    if (granite(m))
        scale(g.dres, NC, (float)c->embedding_multiplier);
    floe_embedding_backward(G(m, FLOE_P_EMBED, 0), g.dres, m->inputs, N, C);
    return 0;
}

/* Folds each block's RMSNorm gains into the linears that read the normalised stream: W[o][i] *= g[i]
 * for q, k, v (input_layernorm) and gate, up (post_attention_layernorm), then g := 1. */
void floe_model_fold_block_norms(floe_model *m)
{
    const floe_model_config *c = &m->cfg;
    const int C = c->d_model;
    static const floe_param_kind attn[3] = {FLOE_P_Q, FLOE_P_K, FLOE_P_V};
    static const floe_param_kind mlp[2] = {FLOE_P_GATE, FLOE_P_UP};
    for (int l = 0; l < c->n_layers; l++) {
        for (int pass = 0; pass < 2; pass++) {
            float *g = m->params + floe_param_get(&m->table, pass ? FLOE_P_MLP_NORM : FLOE_P_ATTN_NORM, l)->offset;
            const floe_param_kind *kinds = pass ? mlp : attn;
            int nk = pass ? 2 : 3;
            for (int k = 0; k < nk; k++) {
                const floe_param *pi = floe_param_get(&m->table, kinds[k], l);
                float *W = m->params + pi->offset;
                size_t rows = pi->numel / (size_t)C;
                for (size_t r = 0; r < rows; r++)
                    for (int i = 0; i < C; i++)
                        W[r * C + i] *= g[i];
            }
            for (int i = 0; i < C; i++)
                g[i] = 1.0f;
        }
    }
}

void floe_model_zero_grad(floe_model *m)
{
    if (m->grads)
        zero(m->grads, m->table.total);
}

int floe_model_check_ids(const floe_model *m, const int32_t *ids, size_t n, floe_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->cfg.vocab_size)
            return floe_err_set(err, "token %zu: id %d outside the vocabulary [0, %d)", i, (int)ids[i],
                                m->cfg.vocab_size);
    return 0;
}

floe_decay_class floe_model_decay_class(floe_param_kind kind)
{
    switch (kind) {
    case FLOE_P_EMBED:
    case FLOE_P_LM_HEAD:
        return FLOE_DECAY_EMBEDDING;
    case FLOE_P_ATTN_NORM:
    case FLOE_P_MLP_NORM:
    case FLOE_P_FINAL_NORM:
        return FLOE_DECAY_NORM;
    default:
        return FLOE_DECAY_MATRIX;
    }
}

double floe_model_train_flops(const floe_model_config *c, int B, int T)
{
    double N = (double)B * T;
    double p = (double)floe_model_param_count(c);
    if (!c->tied_embeddings) /* the embedding lookup is no matmul; a tied table is the LM head's */
        p -= (double)c->vocab_size * c->d_model;
    double pairs = (double)T * (T + 1) / 2.0; /* causal (query, key) pairs per sequence */
    /* forward: scores and P v, 2 * hd each per pair and head; backward twice that */
    double att = 12.0 * c->head_dim * pairs * c->n_heads * B * c->n_layers;
    return 6.0 * N * p + att;
}
