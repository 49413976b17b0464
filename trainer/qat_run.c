#include "trainer/qat_run.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/big_alloc.h"
#include "common/path.h"
#include "models/qmodel_io.h"
#include "models/safetensors.h"
#include "trainer/adamw.h"
#include "trainer/distill.h"
#include "trainer/grad_clip.h"
#include "trainer/lr_schedule.h"
#include "trainer/ptq.h"
#include "trainer/qeval.h"
#include "trainer/run_log.h"

#define QAT_STREAM 0x51a7b47c4e5eedull /* batch stream of QAT, distinct from FP training's */
#define QAT_LOG_HEADER                                                                                                 \
    "step,tokens,loss,kl,ce,val_loss,val_ppl,lr,grad_norm,tokens_per_s,seconds,verified,sim_cycles,"                   \
    "latency_us_per_token,energy_uj_per_token,mem_high_water,verify_seconds\n"

const char *floe_qat_method_name(floe_qat_method m) { return m == FLOE_QAT_EFFICIENTQAT ? "efficientqat" : "silq"; }

int floe_qat_method_parse(const char *name, floe_qat_method *out)
{
    if (strcmp(name, "silq") == 0)
        *out = FLOE_QAT_SILQ;
    else if (strcmp(name, "efficientqat") == 0)
        *out = FLOE_QAT_EFFICIENTQAT;
    else
        return -1;
    return 0;
}

floe_qat_cfg floe_qat_defaults(const floe_model_config *mc)
{
    floe_qat_cfg c;
    memset(&c, 0, sizeof c); /* every field not set below is 0 (float moments) */
    c.method = FLOE_QAT_SILQ;
    c.steps = 100;
    c.batch = 8;
    c.accum = 1;
    c.context = mc->context;
    c.lr = 3e-4f;
    c.lr_steps = 3e-2f;
    c.min_lr_frac = 0.1f;
    c.warmup = 10;
    c.clip = 1.0f;
    c.tau = 1.0f;
    c.alpha = 0.5f;
    c.seed = 1;
    c.init = floe_qinit_defaults();
    return c;
}

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

void floe_qat_trainer_free(floe_qat_trainer *tr)
{
    floe_qat_free(&tr->s);
    floe_model_free(&tr->teacher);
    free(tr->m), free(tr->v), free(tr->m16), free(tr->v16), free(tr->ms), free(tr->vs);
    free(tr->m8), free(tr->v8), free(tr->m8s), free(tr->v8s);
    free(tr->rows), free(tr->inp), free(tr->tgt), free(tr->rowbuf), free(tr->rowstats);
    free(tr->tlogits), free(tr->twbuf);
    memset(tr, 0, sizeof *tr);
}

int floe_qat_trainer_init(floe_qat_trainer *tr, const char *teacher_ckpt, const floe_qconfig *qc,
                          const floe_qat_cfg *cfg, const floe_tokens *train, floe_err *err)
{
    memset(tr, 0, sizeof *tr);
    tr->cfg = *cfg;
    snprintf(tr->teacher_path, sizeof tr->teacher_path, "%s", teacher_ckpt);
    if (cfg->steps < 1 || cfg->batch < 1 || cfg->accum < 1 || cfg->context < 1 || !(cfg->lr >= 0) ||
        !(cfg->lr_steps >= 0) || !(cfg->tau > 0) || !(cfg->alpha >= 0 && cfg->alpha <= 1))
        return floe_err_set(err,
                            "QAT settings: need steps, batch, accum, context >= 1, lr >= 0, tau > 0, 0 <= alpha <= 1");
    if (floe_qconfig_validate(qc, err) != 0)
        return -1;
    if (floe_model_load_forward(&tr->teacher, teacher_ckpt, cfg->batch, cfg->context, err) != 0) {
        floe_err_prefix(err, "teacher %s", teacher_ckpt);
        return -1;
    }
    tr->teacher_digest = fnv(tr->teacher.params, sizeof(float) * tr->teacher.table.total, 1469598103934665603ull);
    const floe_model_config *mc = &tr->teacher.cfg;
    if (floe_qat_init(&tr->s, mc, qc, cfg->batch, cfg->context, err) != 0)
        goto fail;
    const floe_gptq_cfg gptq = floe_gptq_defaults();
    if ((cfg->init.method == FLOE_QINIT_GPTQ
             ? floe_ptq_gptq(&tr->s, &tr->teacher, train, &cfg->init, &gptq, FLOE_GPTQ_H_STUDENT, err)
             : floe_qat_init_from_teacher(&tr->s, &tr->teacher, train, &cfg->init, err)) != 0) {
        floe_err_prefix(err, "initialising from %s", teacher_ckpt);
        goto fail;
    }
    size_t P = tr->s.table.total, S = tr->s.n_steps, N = (size_t)cfg->batch * cfg->context;
    const size_t slice = (size_t)floe_qat_head_slice(&tr->s);
    if (cfg->moments == FLOE_MOMENTS_Q8) {
        tr->m8 = floe_big_calloc(P, 1);
        tr->v8 = floe_big_calloc(P, 1);
        tr->m8s = floe_big_calloc(floe_adamw_q8_blocks(P), sizeof(float));
        tr->v8s = floe_big_calloc(floe_adamw_q8_blocks(P), sizeof(float));
    } else if (cfg->moments == FLOE_MOMENTS_BF16) {
        tr->m16 = floe_big_calloc(P, sizeof(uint16_t));
        tr->v16 = floe_big_calloc(P, sizeof(uint16_t));
    } else {
        tr->m = floe_big_calloc(P, sizeof(float));
        tr->v = floe_big_calloc(P, sizeof(float));
    }
    tr->ms = calloc(S, sizeof(float));
    tr->vs = calloc(S, sizeof(float));
    tr->rows = malloc(sizeof(int32_t) * (size_t)cfg->batch * (cfg->context + 1));
    tr->inp = malloc(sizeof(int32_t) * N);
    tr->tgt = malloc(sizeof(int32_t) * N);
    tr->rowbuf = malloc(sizeof(double) * 2 * N);
    tr->rowstats = malloc(sizeof(double) * 3 * N);
    tr->tlogits = floe_big_calloc(N * slice, sizeof(float));
    const int have = cfg->moments == FLOE_MOMENTS_Q8     ? tr->m8 && tr->v8 && tr->m8s && tr->v8s
                     : cfg->moments == FLOE_MOMENTS_BF16 ? tr->m16 && tr->v16
                                                         : tr->m && tr->v;
    if (!have || !tr->ms || !tr->vs || !tr->rows || !tr->inp || !tr->tgt || !tr->rowbuf || !tr->rowstats ||
        !tr->tlogits) {
        floe_err_set(err, "QAT: out of memory");
        goto fail;
    }
    return 0;
fail:
    floe_qat_trainer_free(tr);
    return -1;
}

/* One micro-batch: sample batch position pos, both forwards, and (vs not NULL) the chip check when due. */
static int qat_micro(floe_qat_trainer *tr, const floe_tokens *train, uint64_t pos, floe_qat_verify_stats *vs,
                     floe_err *err)
{
    const floe_qat_cfg *c = &tr->cfg;
    floe_qat *s = &tr->s;
    const int B = c->batch, T = c->context;
    if (floe_batch_sample(train, c->seed ^ QAT_STREAM, pos, B, T, tr->rows, err) != 0)
        return -1;
    for (int b = 0; b < B; b++) {
        memcpy(tr->inp + (size_t)b * T, tr->rows + (size_t)b * (T + 1), sizeof(int32_t) * (size_t)T);
        memcpy(tr->tgt + (size_t)b * T, tr->rows + (size_t)b * (T + 1) + 1, sizeof(int32_t) * (size_t)T);
    }
    if (floe_model_check_ids(&tr->teacher, tr->rows, (size_t)B * (T + 1), err) != 0)
        return -1;
    floe_model_forward(&tr->teacher, tr->inp, NULL, B, T);
    if (floe_qat_forward(s, tr->inp, B, T, err) != 0)
        return -1;
    if (vs && tr->verify && tr->verify_every > 0 && tr->step % tr->verify_every == 0) {
        int n = tr->verify_tokens < T ? tr->verify_tokens : T;
        double t0 = floe_now_s();
        if (tr->verify(tr->verify_ctx, &s->qm, tr->inp, n, s->fwd.logits, vs, err) != 0) {
            floe_err_prefix(err, "QAT step %d: verification on the chip", tr->step + 1);
            return -1;
        }
        vs->done = 1;
        vs->host_seconds = floe_now_s() - t0;
    }
    return 0;
}

/* The teacher's logits of vocabulary columns c0 .. c0+cn-1 into tr->tlogits [N, cn]: the same slices
 * in both passes of the distillation, so both see the same bits. */
static void teacher_cols(void *ctx, int c0, int cn, float *out)
{
    const floe_qat_trainer *tr = ctx;
    floe_model_head_cols(&tr->teacher, out, tr->twbuf, c0, cn, tr->s.fwd.B * tr->s.fwd.T);
}

/* The distillation gradient a vocabulary slice at a time, for the head's backward (floe_distill_cols
 * after floe_distill_rows_online: no [N, V] float buffer of student logits, their gradient or the
 * teacher's logits). */
typedef struct {
    floe_qat_trainer *tr;
    float dloss;
} dlogits_src;

static const float *distill_slice(void *ctx, int c0, int cn, float *buf, int *ld)
{
    const dlogits_src *d = ctx;
    floe_qat_trainer *tr = d->tr;
    const floe_qat_cfg *c = &tr->cfg;
    const int N = tr->s.fwd.B * tr->s.fwd.T;
    teacher_cols(tr, c0, cn, tr->tlogits);
    floe_distill_cols(buf, cn, c0, cn, NULL, tr->s.fwd.logits, tr->s.qm.s_logit, tr->tlogits, cn, tr->tgt, N,
                      tr->s.cfg.vocab_size, c->tau, c->alpha, d->dloss, tr->rowstats);
    *ld = cn;
    return buf;
}

/* Before the first step (after initialisation and any Block-AP phase, which read the teacher's float
 * parameters): from here on the teacher runs forwards only and its logits are formed a vocabulary
 * slice at a time in the distillation (teacher_cols), so no [N, V] teacher buffer is touched; its
 * parameters are held as bfloat16 where that is exact (a BF16 file): half their memory, the same bits. */
static int teacher_for_steps(floe_qat_trainer *tr, floe_err *err)
{
    floe_model *t = &tr->teacher;
    if (floe_model_hold_bf16(t, err) < 0)
        return -1;
    const size_t slice = (size_t)floe_qat_head_slice(&tr->s);
    if (t->params16 && !(tr->twbuf = floe_big_calloc(slice * (size_t)t->cfg.d_model, sizeof(float))))
        return floe_err_set(err, "QAT: out of memory for the teacher's head rows");
    floe_model_set_head_by_caller(t);
    return 0;
}

int floe_qat_step(floe_qat_trainer *tr, const floe_tokens *train, floe_qat_stats *st, floe_err *err)
{
    if (!tr->teacher.head_by_caller && teacher_for_steps(tr, err) != 0)
        return -1;
    const floe_qat_cfg *c = &tr->cfg;
    floe_qat *s = &tr->s;
    const int B = c->batch, T = c->context, N = B * T, V = s->cfg.vocab_size;
    floe_qat_verify_stats vs = {0};
    floe_distill_result r = {0, 0, 0};
    floe_qat_zero_grad(s);
    /* Micro-batch j of step s is batch position s * accum + j (accum 1: position s, as before); each
     * one's gradient is scaled by 1/accum and summed in j order, so the step sees the mean. */
    for (int j = 0; j < c->accum; j++) {
        if (qat_micro(tr, train, (uint64_t)tr->step * c->accum + j, j == 0 ? &vs : NULL, err) != 0)
            return -1;
        floe_distill_result rj =
            floe_distill_rows_online(tr->rowstats, NULL, s->fwd.logits, s->qm.s_logit, teacher_cols, tr, tr->tlogits,
                                     floe_qat_head_slice(s), tr->tgt, N, V, c->tau, c->alpha, tr->rowbuf);
        if (isnan(rj.loss)) /* the statistics could not be formed: out of memory, or a NaN from the model */
            return floe_err_set(err,
                                "QAT step %d: the distillation loss is not a number (out of memory, or the "
                                "model diverged)",
                                tr->step + 1);
        dlogits_src src = {tr, 1.0f / (float)c->accum};
        floe_qat_backward_sliced(s, distill_slice, &src);
        r.loss += rj.loss / c->accum, r.kl += rj.kl / c->accum, r.ce += rj.ce / c->accum;
    }
    double norm = sqrt(floe_sumsq(s->grads, s->table.total) + floe_sumsq(s->dsteps, s->n_steps));
    if (c->clip > 0.0f) {
        float coef = floe_clip_coef(norm, c->clip);
        if (coef != 1.0f) {
            floe_scale(s->grads, s->table.total, coef);
            floe_scale(s->dsteps, s->n_steps, coef);
        }
    }
    float lr = floe_lr_cosine(tr->step, c->warmup, c->steps, c->lr, c->lr * c->min_lr_frac);
    /* the schedule's fraction of the peak: the steps follow it also when the weights do not learn */
    float frac = c->lr > 0 ? lr / c->lr : floe_lr_cosine(tr->step, c->warmup, c->steps, 1.0f, c->min_lr_frac);
    floe_adamw_cfg a = floe_adamw_defaults();
    if (!s->frozen && c->moments == FLOE_MOMENTS_Q8) /* E2E-QP trains the steps only */
        floe_adamw_update_q8(s->params, s->grads, tr->m8, tr->v8, tr->m8s, tr->v8s, s->table.total, tr->step + 1, lr,
                             a.beta1, a.beta2, a.eps, 0.0f);
    else if (!s->frozen && c->moments == FLOE_MOMENTS_BF16)
        floe_adamw_update_bf16(s->params, s->grads, tr->m16, tr->v16, s->table.total, tr->step + 1, lr, a.beta1,
                               a.beta2, a.eps, 0.0f);
    else if (!s->frozen)
        floe_adamw_update(s->params, s->grads, tr->m, tr->v, s->table.total, tr->step + 1, lr, a.beta1, a.beta2, a.eps,
                          0.0f);
    /* Steps are learned in the log domain (theta = ln s, dL/dtheta = s dL/ds): an update changes a
     * step by a fraction of itself, so one learning rate suits weight steps (~1e-2) and activation
     * steps (~1) alike, and a step stays positive. */
    for (size_t i = 0; i < s->n_steps; i++) {
        s->dsteps[i] *= s->steps[i];
        s->steps[i] = logf(s->steps[i]);
    }
    floe_adamw_update(s->steps, s->dsteps, tr->ms, tr->vs, s->n_steps, tr->step + 1, c->lr_steps * frac, a.beta1,
                      a.beta2, a.eps, 0.0f);
    for (size_t i = 0; i < s->n_steps; i++)
        s->steps[i] = expf(s->steps[i]);
    floe_qat_clamp_steps(s);
    tr->step++;
    if (st) {
        st->step = tr->step;
        st->loss = r.loss;
        st->kl = r.kl;
        st->ce = r.ce;
        st->lr = s->frozen ? c->lr_steps * frac : lr; /* what learns */
        st->grad_norm = norm;
        st->verify = vs;
    }
    return 0;
}

/* ---- checkpoints -------------------------------------------------------------------------------- */

/* The fixed 16-bit steps: s_res, per layer (s_q, s_k, s_g, s_u, s_silu), s_logit. */
static size_t n_fixed(const floe_model_config *c) { return 2 + 5 * (size_t)c->n_layers; }

static void get_fixed(const floe_qmodel *m, float *out)
{
    size_t k = 0;
    out[k++] = m->s_res;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const floe_qlayer *L = &m->layers[l];
        out[k++] = L->s_q, out[k++] = L->s_k, out[k++] = L->s_g, out[k++] = L->s_u, out[k++] = L->s_silu;
    }
    out[k] = m->s_logit;
}

static void set_fixed(floe_qmodel *m, const float *in)
{
    size_t k = 0;
    m->s_res = in[k++];
    for (int l = 0; l < m->cfg.n_layers; l++) {
        floe_qlayer *L = &m->layers[l];
        L->s_q = in[k++], L->s_k = in[k++], L->s_g = in[k++], L->s_u = in[k++], L->s_silu = in[k++];
    }
    m->s_logit = in[k];
}

int floe_qat_save(const floe_qat_trainer *tr, const char *path, floe_err *err)
{
    const floe_qat *s = &tr->s;
    const floe_param_table *t = &s->table;
    size_t np = t->count, nf = n_fixed(&s->cfg);
    float *fixed = malloc(sizeof(float) * nf);
    floe_st_entry *e = calloc(np + 12, sizeof *e);
    int rc = -1;
    if (!fixed || !e) {
        floe_err_set(err, "%s: out of memory", path);
        goto out;
    }
    get_fixed(&s->qm, fixed);
    for (size_t i = 0; i < np; i++) {
        const floe_param *p = &t->params[i];
        e[i] = (floe_st_entry){p->name, FLOE_ST_F32, p->ndim, {p->shape[0], p->shape[1]}, s->params + p->offset};
    }
    size_t k = np;
    e[k++] = (floe_st_entry){"qat.steps", FLOE_ST_F32, 1, {s->n_steps}, s->steps};
    e[k++] = (floe_st_entry){"qat.step_floors", FLOE_ST_F32, 1, {s->n_steps}, s->step_floor};
    e[k++] = (floe_st_entry){"qat.fixed_steps", FLOE_ST_F32, 1, {nf}, fixed};
    const size_t nb = floe_adamw_q8_blocks(t->total);
    if (tr->cfg.moments == FLOE_MOMENTS_Q8) {
        e[k++] = (floe_st_entry){"optimizer.m.params", FLOE_ST_I8, 1, {t->total}, tr->m8};
        e[k++] = (floe_st_entry){"optimizer.v.params", FLOE_ST_U8, 1, {t->total}, tr->v8};
        e[k++] = (floe_st_entry){"optimizer.m.scales", FLOE_ST_F32, 1, {nb}, tr->m8s};
        e[k++] = (floe_st_entry){"optimizer.v.scales", FLOE_ST_F32, 1, {nb}, tr->v8s};
    } else if (tr->cfg.moments == FLOE_MOMENTS_BF16) {
        e[k++] = (floe_st_entry){"optimizer.m.params", FLOE_ST_BF16, 1, {t->total}, tr->m16};
        e[k++] = (floe_st_entry){"optimizer.v.params", FLOE_ST_BF16, 1, {t->total}, tr->v16};
    } else {
        e[k++] = (floe_st_entry){"optimizer.m.params", FLOE_ST_F32, 1, {t->total}, tr->m};
        e[k++] = (floe_st_entry){"optimizer.v.params", FLOE_ST_F32, 1, {t->total}, tr->v};
    }
    e[k++] = (floe_st_entry){"optimizer.m.steps", FLOE_ST_F32, 1, {s->n_steps}, tr->ms};
    e[k++] = (floe_st_entry){"optimizer.v.steps", FLOE_ST_F32, 1, {s->n_steps}, tr->vs};
    if (s->frozen)
        e[k++] = (floe_st_entry){"qat.frozen_steps", FLOE_ST_F32, 1, {s->act_off}, s->frozen_steps};
    char *json = floe_model_config_to_json(&s->cfg);
    char step[24], digest[24], w[8], a[8], kv[8], hb[8], buf[13][32];
    if (!json) {
        floe_err_set(err, "%s: out of memory", path);
        goto out;
    }
    snprintf(step, sizeof step, "%d", tr->step);
    snprintf(digest, sizeof digest, "%016" PRIx64, tr->teacher_digest);
    snprintf(w, sizeof w, "%d", s->qc.wbits), snprintf(a, sizeof a, "%d", s->qc.abits);
    snprintf(kv, sizeof kv, "%d", s->qc.kvbits), snprintf(hb, sizeof hb, "%d", s->qc.head_bits);
    const floe_qat_cfg *c = &tr->cfg;
    snprintf(buf[0], 32, "%d", c->steps), snprintf(buf[1], 32, "%d", c->batch), snprintf(buf[2], 32, "%d", c->context);
    snprintf(buf[3], 32, "%.9g", (double)c->lr), snprintf(buf[4], 32, "%.9g", (double)c->lr_steps);
    snprintf(buf[5], 32, "%.9g", (double)c->min_lr_frac), snprintf(buf[6], 32, "%d", c->warmup);
    snprintf(buf[7], 32, "%.9g", (double)c->clip), snprintf(buf[8], 32, "%.9g", (double)c->tau);
    snprintf(buf[9], 32, "%.9g", (double)c->alpha), snprintf(buf[10], 32, "%" PRIu64, c->seed);
    const char *meta[] = {"format",
                          "floe-qat",
                          "floe.config",
                          json,
                          "floe.step",
                          step,
                          "floe.teacher",
                          tr->teacher_path,
                          "floe.teacher_digest",
                          digest,
                          "floe.wbits",
                          w,
                          "floe.abits",
                          a,
                          "floe.kvbits",
                          kv,
                          "floe.head_bits",
                          hb,
                          "floe.qat.steps",
                          buf[0],
                          "floe.qat.batch",
                          buf[1],
                          "floe.qat.context",
                          buf[2],
                          "floe.qat.lr",
                          buf[3],
                          "floe.qat.lr_steps",
                          buf[4],
                          "floe.qat.min_lr_frac",
                          buf[5],
                          "floe.qat.warmup",
                          buf[6],
                          "floe.qat.clip",
                          buf[7],
                          "floe.qat.tau",
                          buf[8],
                          "floe.qat.alpha",
                          buf[9],
                          "floe.qat.seed",
                          buf[10],
                          "floe.qat.method",
                          floe_qat_method_name(c->method),
                          "floe.qat.accum",
                          buf[12],
                          "floe.act_scaling",
                          floe_act_scaling_name(s->qc.act_scaling),
                          "floe.act_kmax",
                          buf[11]};
    snprintf(buf[11], 32, "%d", s->qc.act_kmax);
    snprintf(buf[12], 32, "%d", c->accum);
    /* floe.act_kmax last: a per-tensor run leaves it out */
    size_t nmeta = sizeof meta / sizeof meta[0] / 2 - (s->qc.act_scaling == FLOE_ACT_PER_TOKEN ? 0 : 1);
    /* mixed precision: floe.wbits_layers when some layer differs from floe.wbits */
    char lw[8192];
    const char *all[sizeof meta / sizeof meta[0] + 4];
    memcpy(all, meta, sizeof meta);
    if (floe_qconfig_format_layer_wbits(&s->qc, lw, sizeof lw) != 0) {
        floe_err_set(err, "%s: per-layer weight bits do not fit the metadata buffer", path);
        rc = -1;
    } else {
        if (lw[0])
            all[2 * nmeta] = "floe.wbits_layers", all[2 * nmeta + 1] = lw, nmeta++;
        if (c->moments != FLOE_MOMENTS_F32) /* only then: float runs' checkpoints stay as they were */
            all[2 * nmeta] = FLOE_MOMENTS_KEY, all[2 * nmeta + 1] = floe_moments_name(c->moments), nmeta++;
        rc = floe_st_write(path, e, k, all, nmeta, err);
    }
    free(json);
out:
    free(fixed);
    free(e);
    return rc;
}

/* Every tensor of a QAT checkpoint against the model config mc, reading no data and allocating
 * nothing sized by mc beyond its parameter table: the student's parameters (their table's names and
 * shapes), qat.steps, qat.step_floors, optimizer.{m,v}.steps [n_steps], qat.fixed_steps [2 + 5 x
 * n_layers], optimizer.{m,v}.params [parameters], qat.frozen_steps [act_off] when present, and no
 * other; any float dtype (read_f32 converts). After it, everything the config sizes is bounded by the
 * file's own tensors (floe_st_open bounds those by the file's length). */
static int check_state(const floe_st_file *f, const floe_model_config *mc, floe_err *err)
{
    floe_param_table t;
    if (floe_param_table_init(&t, mc, err) != 0)
        return floe_err_prefix(err, "%s", f->path);
    size_t act_off, n_steps, k = 0;
    floe_qat_step_layout(mc, &act_off, &n_steps);
    floe_st_entry *e = calloc(t.count + 12, sizeof *e);
    int rc = -1;
    if (!e) {
        floe_err_set(err, "%s: out of memory", f->path);
        goto out;
    }
    for (; k < t.count; k++) {
        const floe_param *p = &t.params[k];
        e[k] = (floe_st_entry){p->name, FLOE_ST_F32, p->ndim, {p->shape[0], p->shape[1]}, NULL};
    }
    e[k++] = (floe_st_entry){"qat.steps", FLOE_ST_F32, 1, {n_steps}, NULL};
    e[k++] = (floe_st_entry){"qat.step_floors", FLOE_ST_F32, 1, {n_steps}, NULL};
    e[k++] = (floe_st_entry){"qat.fixed_steps", FLOE_ST_F32, 1, {n_fixed(mc)}, NULL};
    /* the moments in the storage the file names (8-bit codes and their blocks' scales, else floats) */
    const char *mo = floe_st_meta_get(f, FLOE_MOMENTS_KEY);
    const int q8 = mo && floe_moments_parse(mo) == FLOE_MOMENTS_Q8;
    e[k++] = (floe_st_entry){"optimizer.m.params", q8 ? FLOE_ST_I8 : FLOE_ST_F32, 1, {t.total}, NULL};
    e[k++] = (floe_st_entry){"optimizer.v.params", q8 ? FLOE_ST_U8 : FLOE_ST_F32, 1, {t.total}, NULL};
    if (q8) {
        e[k++] = (floe_st_entry){"optimizer.m.scales", FLOE_ST_F32, 1, {floe_adamw_q8_blocks(t.total)}, NULL};
        e[k++] = (floe_st_entry){"optimizer.v.scales", FLOE_ST_F32, 1, {floe_adamw_q8_blocks(t.total)}, NULL};
    }
    e[k++] = (floe_st_entry){"optimizer.m.steps", FLOE_ST_F32, 1, {n_steps}, NULL};
    e[k++] = (floe_st_entry){"optimizer.v.steps", FLOE_ST_F32, 1, {n_steps}, NULL};
    if (floe_st_find(f, "qat.frozen_steps") >= 0) /* E2E-QP */
        e[k++] = (floe_st_entry){"qat.frozen_steps", FLOE_ST_F32, 1, {act_off}, NULL};
    rc = floe_st_check_entries(f, e, k, 1, err);
out:
    free(e);
    floe_param_table_free(&t);
    return rc;
}

int floe_qat_ckpt_info(const char *path, char *teacher, size_t teacher_n, floe_qconfig *qc, floe_qat_cfg *cfg,
                       int *step, floe_err *err)
{
    floe_st_file f;
    if (floe_st_open(&f, path, err) != 0)
        return -1;
    int rc = -1;
    const char *fmt = floe_st_meta_get(&f, "format"), *t = floe_st_meta_get(&f, "floe.teacher");
    const char *wo = floe_st_meta_get(&f, "floe.weight_only"), *grp = floe_st_meta_get(&f, "floe.group");
    if (wo && strcmp(wo, "1") == 0) {
        /* docs/quantized-model.md, "Group-wise weights are not deployed" */
        const char *wb = floe_st_meta_get(&f, "floe.wbits"), *as = floe_st_meta_get(&f, "floe.asym");
        floe_err_set(err,
                     "%s: a weight-only study model (W%s, group %s, %s; activations float), not a chip model: the "
                     "chip runs integer activations and one symmetric step per output channel, and group-wise "
                     "scales are not deployed (docs/quantized-model.md). For a deployable model quantize on the "
                     "integer forward: floe qat --method efficientqat|silq or floe ptq without --weight-only",
                     path, wb ? wb : "?", grp && strcmp(grp, "0") != 0 ? grp : "per channel",
                     as && strcmp(as, "1") == 0 ? "asymmetric" : "symmetric");
        goto out;
    }
    if (!fmt || strcmp(fmt, "floe-qat") != 0) {
        floe_err_set(err, "%s: not a QAT checkpoint (metadata format '%s', expected 'floe-qat')", path,
                     fmt ? fmt : "(none)");
        goto out;
    }
    if (!t) {
        floe_err_set(err, "%s: metadata 'floe.teacher' missing", path);
        goto out;
    }
    snprintf(teacher, teacher_n, "%s", t);
    /* the model config first: the schedule's sizes are bounded by it, and the tensors checked against
     * it, before a caller sizes anything by this file */
    floe_model_config mc;
    {
        const char *js = floe_st_meta_get(&f, "floe.config");
        char src[4300];
        snprintf(src, sizeof src, "%s: metadata 'floe.config'", path);
        if (!js) {
            floe_err_set(err, "%s: metadata 'floe.config' missing", path);
            goto out;
        }
        if (floe_model_config_parse_json(js, strlen(js), src, &mc, err) != 0 || check_state(&f, &mc, err) != 0)
            goto out;
    }
    if (floe_st_meta_int(&f, "floe.wbits", INT_MIN, INT_MAX, &qc->wbits, err) ||
        floe_st_meta_int(&f, "floe.abits", INT_MIN, INT_MAX, &qc->abits, err) ||
        floe_st_meta_int(&f, "floe.kvbits", INT_MIN, INT_MAX, &qc->kvbits, err) ||
        floe_st_meta_int(&f, "floe.head_bits", INT_MIN, INT_MAX, &qc->head_bits, err) ||
        floe_st_meta_int(&f, "floe.step", 0, INT_MAX, step, err) ||
        floe_st_meta_int(&f, "floe.qat.steps", 1, INT_MAX, &cfg->steps, err) ||
        floe_st_meta_int(&f, "floe.qat.batch", 1, INT_MAX, &cfg->batch, err) ||
        floe_st_meta_int(&f, "floe.qat.context", 1, mc.context, &cfg->context, err) ||
        floe_st_meta_float(&f, "floe.qat.lr", &cfg->lr, err) ||
        floe_st_meta_float(&f, "floe.qat.lr_steps", &cfg->lr_steps, err) ||
        floe_st_meta_float(&f, "floe.qat.min_lr_frac", &cfg->min_lr_frac, err) ||
        floe_st_meta_int(&f, "floe.qat.warmup", 0, INT_MAX, &cfg->warmup, err) ||
        floe_st_meta_float(&f, "floe.qat.clip", &cfg->clip, err) ||
        floe_st_meta_float(&f, "floe.qat.tau", &cfg->tau, err) ||
        floe_st_meta_float(&f, "floe.qat.alpha", &cfg->alpha, err))
        goto out;
    const char *sv = floe_st_meta_get(&f, "floe.qat.seed");
    char *end;
    errno = 0;
    cfg->seed = sv ? strtoull(sv, &end, 10) : 0;
    if (!sv || *sv < '0' || *sv > '9' || *end != '\0' || errno) { /* strtoull would wrap "-1" */
        floe_err_set(err, "%s: metadata 'floe.qat.seed' missing or not an integer", path);
        goto out;
    }
    cfg->init = floe_qinit_defaults(); /* the loaded steps replace what it initialises */
    cfg->accum = 1;                    /* checkpoints before accumulation carry none */
    const char *mo = floe_st_meta_get(&f, FLOE_MOMENTS_KEY);
    if ((cfg->moments = mo ? floe_moments_parse(mo) : FLOE_MOMENTS_F32) < 0) {
        floe_err_set(err, "%s: metadata '%s' = '%s': expected f32, bf16 or q8", path, FLOE_MOMENTS_KEY, mo);
        goto out;
    }
    if (floe_st_meta_get(&f, "floe.qat.accum") &&
        floe_st_meta_int(&f, "floe.qat.accum", 1, INT_MAX, &cfg->accum, err) != 0)
        goto out;
    /* a step's tokens are counted in int (floe_qat_step) */
    if ((long long)cfg->batch * cfg->context * cfg->accum > INT_MAX) {
        floe_err_set(err, "%s: metadata floe.qat.batch %d x context %d x accum %d tokens per step exceed %d", path,
                     cfg->batch, cfg->context, cfg->accum, INT_MAX);
        goto out;
    }
    const char *mn = floe_st_meta_get(&f, "floe.qat.method");
    cfg->method = FLOE_QAT_SILQ; /* checkpoints before EfficientQAT carry no method */
    if (mn && floe_qat_method_parse(mn, &cfg->method) != 0) {
        floe_err_set(err, "%s: metadata 'floe.qat.method' is '%s' (expected silq or efficientqat)", path, mn);
        goto out;
    }
    if (floe_qconfig_scaling_from_meta(qc, floe_st_meta_get(&f, "floe.act_scaling"),
                                       floe_st_meta_get(&f, "floe.act_kmax"), path, err) != 0)
        goto out;
    floe_qconfig_clear_wbits(qc);
    char what[4200];
    snprintf(what, sizeof what, "%s: metadata 'floe.wbits_layers'", path);
    if (floe_qconfig_parse_layer_wbits(qc, floe_st_meta_get(&f, "floe.wbits_layers"), what, err) != 0)
        goto out;
    if (floe_qconfig_check_layers(qc, mc.n_layers, mc.name, what, err) != 0) /* against its own config */
        goto out;
    rc = floe_qconfig_validate(qc, err);
    if (rc != 0)
        floe_err_prefix(err, "%s", path);
out:
    floe_st_close(&f);
    return rc;
}

/* The index of tensor name, which must hold n values; -1 with err naming it. */
static int find_sized(floe_st_file *f, const char *name, size_t n, floe_err *err)
{
    int i = floe_st_find(f, name);
    if (i < 0)
        return floe_err_set(err, "%s: tensor '%s' missing", f->path, name);
    if (f->tensors[i].numel != n)
        return floe_err_set(err, "%s: tensor '%s' has %" PRIu64 " values, the student needs %zu", f->path, name,
                            f->tensors[i].numel, n);
    return i;
}

static int read_f32(floe_st_file *f, const char *name, float *dst, size_t n, floe_err *err)
{
    int i = find_sized(f, name, n, err);
    return i < 0 ? -1 : floe_st_read_f32(f, (size_t)i, dst, n, err);
}

/* One moment tensor in the storage the trainer holds (moments): dst holds n values of dtype want
 * (F32: any float dtype but BF16 is read converted). */
static int read_moment(floe_st_file *f, const char *name, int moments, floe_st_dtype want, void *dst, size_t n,
                       floe_err *err)
{
    int i = find_sized(f, name, n, err);
    if (i < 0)
        return -1;
    const floe_st_dtype got = f->tensors[i].dtype;
    if (got != want && !(want == FLOE_ST_F32 && floe_st_dtype_is_float(got) && got != FLOE_ST_BF16))
        return floe_err_set(err, "%s: tensor '%s' is %s, the trainer holds the moments as %s", f->path, name,
                            floe_st_dtype_name(got), floe_moments_name(moments));
    return want == FLOE_ST_F32 ? floe_st_read_f32(f, (size_t)i, dst, n, err)
                               : floe_st_read_raw(f, (size_t)i, dst, n * floe_st_dtype_size(want), err);
}

/* The student part of a checkpoint: parameters, steps, floors, fixed steps; then quantize. */
static int load_student(floe_qat *s, floe_st_file *f, floe_err *err)
{
    size_t nf = n_fixed(&s->cfg);
    float *fixed = malloc(sizeof(float) * nf);
    int rc = -1;
    if (!fixed)
        return floe_err_set(err, "%s: out of memory", f->path);
    for (size_t i = 0; i < s->table.count; i++) {
        const floe_param *p = &s->table.params[i];
        if (read_f32(f, p->name, s->params + p->offset, p->numel, err) != 0)
            goto out;
    }
    if (read_f32(f, "qat.steps", s->steps, s->n_steps, err) ||
        read_f32(f, "qat.step_floors", s->step_floor, s->n_steps, err) ||
        read_f32(f, "qat.fixed_steps", fixed, nf, err))
        goto out;
    set_fixed(&s->qm, fixed);
    s->frozen = 0;
    if (floe_st_find(f, "qat.frozen_steps") >= 0) { /* E2E-QP: the codes of the frozen steps */
        float *fz = malloc(sizeof(float) * s->act_off);
        int bad = !fz ? (floe_err_set(err, "%s: out of memory", f->path), 1)
                      : read_f32(f, "qat.frozen_steps", fz, s->act_off, err) != 0;
        if (!bad && floe_qat_freeze_with(s, fz, err) != 0) {
            floe_err_prefix(err, "%s", f->path);
            bad = 1;
        }
        free(fz);
        if (bad)
            goto out;
    }
    if (!s->frozen && floe_qat_quantize(s, err) != 0) { /* floe_qat_freeze_with has quantized */
        floe_err_prefix(err, "%s", f->path);
        goto out;
    }
    rc = 0;
out:
    free(fixed);
    return rc;
}

int floe_qat_load(floe_qat_trainer *tr, const char *path, floe_err *err)
{
    floe_st_file f;
    if (floe_st_open(&f, path, err) != 0)
        return -1;
    const int mo = tr->cfg.moments, q8 = mo == FLOE_MOMENTS_Q8, bf = mo == FLOE_MOMENTS_BF16;
    /* the moments' tensors in the storage the trainer holds */
    const floe_st_dtype mdt = q8 ? FLOE_ST_I8 : bf ? FLOE_ST_BF16 : FLOE_ST_F32, vdt = q8 ? FLOE_ST_U8 : mdt;
    void *mdst = q8 ? (void *)tr->m8 : bf ? (void *)tr->m16 : (void *)tr->m;
    void *vdst = q8 ? (void *)tr->v8 : bf ? (void *)tr->v16 : (void *)tr->v;
    int rc = -1;
    const char *d = floe_st_meta_get(&f, "floe.teacher_digest");
    char digest[24];
    snprintf(digest, sizeof digest, "%016" PRIx64, tr->teacher_digest);
    if (!d || strcmp(d, digest) != 0) {
        floe_err_set(err, "%s: trained from another teacher (digest %s, the teacher loaded has %s)", path,
                     d ? d : "(none)", digest);
        goto out;
    }
    if (check_state(&f, &tr->s.cfg, err) != 0 || load_student(&tr->s, &f, err) != 0 ||
        read_moment(&f, "optimizer.m.params", mo, mdt, mdst, tr->s.table.total, err) ||
        read_moment(&f, "optimizer.v.params", mo, vdt, vdst, tr->s.table.total, err) ||
        (q8 && (read_f32(&f, "optimizer.m.scales", tr->m8s, floe_adamw_q8_blocks(tr->s.table.total), err) ||
                read_f32(&f, "optimizer.v.scales", tr->v8s, floe_adamw_q8_blocks(tr->s.table.total), err))) ||
        read_f32(&f, "optimizer.m.steps", tr->ms, tr->s.n_steps, err) ||
        read_f32(&f, "optimizer.v.steps", tr->vs, tr->s.n_steps, err) ||
        floe_st_meta_int(&f, "floe.step", 0, INT_MAX, &tr->step, err))
        goto out;
    rc = 0;
out:
    floe_st_close(&f);
    return rc;
}

int floe_qat_export(const char *ckpt, const char *out, floe_err *err)
{
    char teacher[4096];
    floe_qconfig qc;
    floe_qat_cfg cfg;
    int step;
    if (floe_qat_ckpt_info(ckpt, teacher, sizeof teacher, &qc, &cfg, &step, err) != 0)
        return -1;
    floe_st_file f;
    if (floe_st_open(&f, ckpt, err) != 0)
        return -1;
    const char *j = floe_st_meta_get(&f, "floe.config");
    floe_model_config mc;
    floe_qat s;
    int rc = -1, have = 0;
    if (!j) {
        floe_err_set(err, "%s: metadata 'floe.config' missing", ckpt);
        goto out;
    }
    /* floe_qat_ckpt_info checked the tensors; again here, on the file as opened now */
    if (floe_model_config_parse_json(j, strlen(j), ckpt, &mc, err) != 0 || check_state(&f, &mc, err) != 0)
        goto out;
    if (floe_qat_init(&s, &mc, &qc, 1, 1, err) != 0) { /* its errors name the config, not the file */
        floe_err_prefix(err, "%s: ", ckpt);
        goto out;
    }
    have = 1;
    if (load_student(&s, &f, err) != 0)
        goto out;
    char steps[24];
    snprintf(steps, sizeof steps, "%d", step);
    const char *kv[] = {"floe.method", floe_qat_method_name(cfg.method), "floe.qat_steps", steps, "floe.teacher",
                        teacher};
    rc = floe_qmodel_save(&s.qm, out, kv, 3, err);
out:
    if (have)
        floe_qat_free(&s);
    floe_st_close(&f);
    return rc;
}

/* ---- the run -------------------------------------------------------------------------------------- */

int floe_qat_run(floe_qat_trainer *tr, const floe_tokens *train, const floe_tokens *val, const floe_qat_run_opts *o,
                 floe_err *err)
{
    const floe_qat_cfg *c = &tr->cfg;
    int end = o->stop_after > 0 && o->stop_after < c->steps ? o->stop_after : c->steps;
    char log_path[4200] = "", path[4200];
    floe_run_log rows = {0};
    double seconds0 = 0.0;
    int rc = -1;
    floe_qfwd ev = {0};
    if (val && floe_qfwd_init(&ev, &tr->s.cfg, c->batch, c->context, err) != 0)
        return -1;
    if (o->out_dir) {
        if (floe_mkdir_p(o->out_dir, err) != 0 || floe_path_join(log_path, sizeof log_path, o->out_dir, "qat.csv") != 0)
            goto fail;
        if (floe_run_log_load(&rows, log_path, tr->step, &seconds0, err) != 0)
            goto fail;
    }
    const double tokens_per_step = (double)c->batch * c->context * c->accum;
    double t_start = floe_now_s();
    while (tr->step < end) {
        double t0 = floe_now_s();
        floe_qat_stats st;
        if (floe_qat_step(tr, train, &st, err) != 0)
            goto fail;
        double dt = floe_now_s() - t0, tps = tokens_per_step / (dt > 0 ? dt : 1e-9);
        int is_end = tr->step == end;
        int do_eval = val && ((o->eval_every > 0 && tr->step % o->eval_every == 0) || is_end);
        int do_ckpt = o->out_dir && ((o->ckpt_every > 0 && tr->step % o->ckpt_every == 0) || is_end);
        floe_eval_result r = {NAN, NAN, NAN, 0};
        if (do_eval) {
            /* the model the step just produced */
            if (floe_qat_quantize(&tr->s, err) != 0 ||
                floe_qmodel_evaluate(&ev, &tr->s.qm, val, o->eval_windows, &r, err) != 0)
                goto fail;
        }
        if (o->on_step)
            o->on_step(o->ctx, &st, do_eval ? &r : NULL, tps);
        if (o->out_dir) {
            char line[768], vb[64] = ",", vf[256] = ",,,,,";
            if (do_eval)
                snprintf(vb, sizeof vb, "%.6f,%.6f", r.loss, r.ppl);
            if (st.verify.done)
                snprintf(vf, sizeof vf, "1,%" PRIu64 ",%.4f,%.4f,%" PRIu64 ",%.3f", st.verify.cycles,
                         1e6 * st.verify.latency_s_per_token, 1e6 * st.verify.energy_j_per_token,
                         st.verify.mem_high_water, st.verify.host_seconds);
            snprintf(line, sizeof line, "%d,%.0f,%.6f,%.6f,%.6f,%s,%.6g,%.6g,%.1f,%.3f,%s\n", st.step,
                     st.step * tokens_per_step, st.loss, st.kl, st.ce, vb, (double)st.lr, st.grad_norm, tps,
                     seconds0 + floe_now_s() - t_start, vf);
            if (floe_run_log_add(&rows, line, err) != 0)
                goto fail;
        }
        if (do_ckpt) {
            char name[64];
            snprintf(name, sizeof name, "qat-%06d.safetensors", tr->step);
            if (floe_path_join(path, sizeof path, o->out_dir, name) != 0) {
                floe_err_set(err, "%s: path too long", o->out_dir);
                goto fail;
            }
            if (floe_qat_save(tr, path, err) != 0)
                goto fail;
        }
        if (o->out_dir && (do_eval || do_ckpt || tr->step % 50 == 0) &&
            floe_run_log_write(&rows, log_path, QAT_LOG_HEADER, err) != 0)
            goto fail;
    }
    if (o->out_dir) {
        if (floe_run_log_write(&rows, log_path, QAT_LOG_HEADER, err) != 0 ||
            floe_path_join(path, sizeof path, o->out_dir, "qmodel.safetensors") != 0 ||
            floe_qat_quantize(&tr->s, err) != 0)
            goto fail;
        char steps[24];
        snprintf(steps, sizeof steps, "%d", tr->step);
        size_t nm = 3 + o->n_meta;
        const char **kv = calloc(2 * nm, sizeof *kv);
        if (!kv) {
            floe_err_set(err, "out of memory");
            goto fail;
        }
        kv[0] = "floe.method", kv[1] = floe_qat_method_name(c->method), kv[2] = "floe.qat_steps", kv[3] = steps;
        kv[4] = "floe.teacher", kv[5] = tr->teacher_path;
        for (size_t i = 0; i < 2 * o->n_meta; i++)
            kv[6 + i] = o->meta[i];
        int w = floe_qmodel_save(&tr->s.qm, path, kv, nm, err);
        free(kv);
        if (w != 0)
            goto fail;
    }
    rc = 0;
fail:
    floe_run_log_free(&rows);
    floe_qfwd_free(&ev);
    return rc;
}
