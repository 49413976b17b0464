/* EfficientQAT end to end (trainer/efficientqat.h). */
#include "trainer/efficientqat.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/atomic_file.h"
#include "models/safetensors.h"
#include "trainer/train.h"

/* A model of the teacher's config, allocated for B x T, holding the teacher's parameters: a training
 * model (a student Block-AP trains), or a forward-only one (the FP reference it only runs forwards). */
static int copy_model(floe_model *dst, const floe_model *src, int B, int T, int forward_only, floe_err *err)
{
    if ((forward_only ? floe_model_init_forward(dst, &src->cfg, B, T, err)
                      : floe_model_init(dst, &src->cfg, B, T, err)) != 0)
        return -1;
    memcpy(dst->params, src->params, sizeof(float) * src->table.total);
    return 0;
}

int floe_efficientqat_block_ap(floe_qat_trainer *tr, const floe_tokens *train, const floe_blockap_cfg *c,
                               floe_blockap_cb cb, void *ctx, floe_err *err)
{
    floe_qat *s = &tr->s;
    floe_blockap_cfg bc = *c;
    bc.bits = s->qc.wbits;
    bc.widths = &s->qc; /* mixed precision: each linear at its own width */
    bc.group = 0; /* the chip's quantizer: symmetric, one step per output row */
    bc.asym = 0;
    int T = bc.context > 0 ? bc.context : tr->teacher.maxT;
    if (bc.batch > tr->teacher.maxB || T > tr->teacher.maxT)
        return floe_err_set(err, "Block-AP batch %d x %d exceeds the QAT run's %d x %d (raise --batch or --context)",
                            bc.batch, T, tr->teacher.maxB, tr->teacher.maxT);
    const int L = s->cfg.n_layers, n = FLOE_BLOCK_LINEARS * L;
    floe_model q;
    floe_wquant *wq = calloc((size_t)n, sizeof *wq);
    if (!wq)
        return floe_err_set(err, "Block-AP: out of memory");
    if (copy_model(&q, &tr->teacher, bc.batch, T, 0, err) != 0) {
        free(wq);
        return -1;
    }
    floe_model_fold_block_norms(&q);
    int rc = -1;
    if (floe_block_ap(&tr->teacher, &q, wq, train, &bc, cb, ctx, err) != 0)
        goto out_model; /* wq freed by floe_block_ap */
    if (q.table.total != s->table.total) {
        floe_err_set(err, "Block-AP: the student's parameter table differs from the teacher's");
        goto out;
    }
    /* the student: folded, trained parameters (gains 1, so W' = W) and Block-AP's row steps */
    memcpy(s->params, q.params, sizeof(float) * q.table.total);
    for (int i = 0; i < n; i++) {
        const floe_qat_linear *lin = &s->lin[i]; /* the student's order is floe_blockap_kinds' */
        if (lin->kind != floe_blockap_kinds[i % FLOE_BLOCK_LINEARS] || lin->layer != i / FLOE_BLOCK_LINEARS ||
            wq[i].groups != 1 || wq[i].out != lin->out || wq[i].bits != lin->bits) {
            floe_err_set(err, "Block-AP: linear %d does not match the student's", i);
            goto out;
        }
        memcpy(s->steps + lin->step_off, wq[i].s, sizeof(float) * (size_t)lin->out);
    }
    if (floe_qat_freeze(s, err) != 0)
        goto out;
    floe_qat_set_floor(s);
    rc = 0;
out:
    floe_wquants_free(wq, n);
out_model:
    free(wq);
    floe_model_free(&q);
    return rc;
}

/* ---- weight-only --------------------------------------------------------------------------------- */

int floe_eqat_wonly_init(floe_eqat_wonly *w, const char *teacher, const floe_blockap_cfg *bap,
                         const floe_e2eqp_cfg *cfg, floe_err *err)
{
    memset(w, 0, sizeof *w);
    w->bap = *bap;
    w->cfg = *cfg;
    snprintf(w->teacher, sizeof w->teacher, "%s", teacher);
    floe_model t;
    /* the teacher at Block-AP's batch; the student at the larger of both phases' */
    if (floe_model_load_forward(&t, teacher, 1, 1, err) != 0) {
        floe_err_prefix(err, "teacher %s", teacher);
        return -1;
    }
    snprintf(w->teacher_digest, sizeof w->teacher_digest, "%016llx",
             (unsigned long long)floe_fnv1a64(t.params, sizeof(float) * t.table.total));
    int Tb = bap->context > 0 ? bap->context : t.cfg.context, Te = cfg->context > 0 ? cfg->context : t.cfg.context;
    int B = bap->batch > cfg->batch ? bap->batch : cfg->batch, T = Tb > Te ? Tb : Te;
    int rc = -1;
    if (Tb > t.cfg.context || Te > t.cfg.context) {
        floe_err_set(err, "context %d exceeds the model's %d", Tb > Te ? Tb : Te, t.cfg.context);
        goto out;
    }
    if (copy_model(&w->fp, &t, bap->batch, Tb, 1, err) != 0)
        goto out;
    if (copy_model(&w->q, &t, B, T, 0, err) != 0) {
        floe_model_free(&w->fp);
        goto out;
    }
    floe_model_fold_block_norms(&w->q);
    rc = 0;
out:
    floe_model_free(&t);
    return rc;
}

void floe_eqat_wonly_free(floe_eqat_wonly *w)
{
    floe_e2eqp_free(&w->e2e);
    floe_model_free(&w->fp);
    floe_model_free(&w->q);
    memset(w, 0, sizeof *w);
}

int floe_eqat_wonly_block_ap(floe_eqat_wonly *w, const floe_tokens *train, floe_blockap_cb cb, void *ctx,
                             floe_err *err)
{
    const int n = FLOE_BLOCK_LINEARS * w->q.cfg.n_layers;
    floe_wquant *wq = calloc((size_t)n, sizeof *wq);
    if (!wq)
        return floe_err_set(err, "Block-AP: out of memory");
    if (floe_block_ap(&w->fp, &w->q, wq, train, &w->bap, cb, ctx, err) != 0) {
        free(wq);
        return -1;
    }
    int rc = floe_e2eqp_init(&w->e2e, &w->q, wq, err);
    floe_wquants_free(wq, n);
    free(wq);
    if (rc == 0)
        floe_e2eqp_apply(&w->e2e, &w->q);
    return rc;
}

int floe_eqat_wonly_resume(floe_eqat_wonly *w, const char *state, floe_err *err)
{
    floe_st_file f;
    if (floe_st_open(&f, state, err) != 0)
        return -1;
    const char *d = floe_st_meta_get(&f, "floe.teacher_digest");
    int other = d && strcmp(d, w->teacher_digest) != 0;
    if (other)
        floe_err_set(err, "%s: made from another teacher (digest %s; %s has %s)", state, d, w->teacher,
                     w->teacher_digest);
    floe_st_close(&f);
    if (other)
        return -1;
    /* quantizers of the right shape (their values come from the file) */
    const int n = FLOE_BLOCK_LINEARS * w->q.cfg.n_layers;
    floe_wquant *wq = calloc((size_t)n, sizeof *wq);
    if (!wq)
        return floe_err_set(err, "E2E-QP: out of memory");
    int rc = -1;
    if (floe_wquants_init(wq, &w->q, w->bap.bits, NULL, w->bap.group, w->bap.asym, err) != 0) {
        free(wq);
        return -1;
    }
    for (int i = 0; i < n; i++)
        floe_wquant_minmax(&wq[i], floe_blockap_weight(&w->q, i));
    if (floe_e2eqp_init(&w->e2e, &w->q, wq, err) == 0 && floe_e2eqp_load(&w->e2e, &w->q, state, err) == 0) {
        floe_e2eqp_apply(&w->e2e, &w->q);
        rc = 0;
    }
    floe_wquants_free(wq, n);
    free(wq);
    return rc;
}

int floe_eqat_wonly_state_info(const char *path, char *teacher, size_t teacher_n, floe_blockap_cfg *bap,
                               floe_e2eqp_cfg *cfg, int *step, floe_err *err)
{
    floe_st_file f;
    if (floe_st_open(&f, path, err) != 0)
        return -1;
    int rc = -1, v[8] = {0};
    long long seed = 0;
    floe_model_config mc;
    char src[4300];
    const char *t = floe_st_meta_get(&f, "floe.teacher"), *js = floe_st_meta_get(&f, "floe.config");
    if (!floe_st_meta_get(&f, "floe.e2eqp.step")) {
        floe_err_set(err, "%s: not a weight-only E2E-QP state (metadata 'floe.e2eqp.step' missing)", path);
        goto out;
    }
    if (!t || !js) {
        floe_err_set(err, "%s: metadata '%s' missing", path, t ? "floe.config" : "floe.teacher");
        goto out;
    }
    /* the model config, and every tensor against it, before the caller sizes a run by this file; each
     * integer in its range (no truncation to int), each float finite */
    snprintf(src, sizeof src, "%s: metadata 'floe.config'", path);
    if (floe_model_config_parse_json(js, strlen(js), src, &mc, err) != 0 ||
        floe_st_meta_int(&f, "floe.wbits", 2, 8, &v[1], err) ||
        floe_st_meta_int(&f, "floe.group", 0, INT_MAX, &v[2], err) ||
        floe_st_meta_int(&f, "floe.asym", 0, 1, &v[3], err) || floe_e2eqp_check_file(&f, &mc, v[2], v[3], err) != 0 ||
        floe_st_meta_int(&f, "floe.e2eqp.steps", 1, INT_MAX, &v[4], err) ||
        floe_st_meta_int(&f, "floe.e2eqp.step", 0, v[4], &v[0], err) ||
        floe_st_meta_int(&f, "floe.e2eqp.batch", 1, INT_MAX, &v[5], err) ||
        floe_st_meta_int(&f, "floe.e2eqp.context", 0, mc.context, &v[6], err) ||
        floe_st_meta_int(&f, "floe.e2eqp.warmup", 0, INT_MAX, &v[7], err) ||
        floe_st_meta_ll(&f, "floe.e2eqp.seed", &seed, err))
        goto out;
    if (seed < 0) {
        floe_err_set(err, "%s: metadata 'floe.e2eqp.seed' = %lld is negative", path, seed);
        goto out;
    }
    /* a step's tokens are counted in int (floe_e2eqp_step) */
    if ((long long)v[5] * (v[6] ? v[6] : mc.context) > INT_MAX) {
        floe_err_set(err, "%s: metadata floe.e2eqp.batch %d x context %d tokens per step exceed %d", path, v[5],
                     v[6] ? v[6] : mc.context, INT_MAX);
        goto out;
    }
    *cfg = floe_e2eqp_defaults(v[1]);
    if (floe_st_meta_float(&f, "floe.e2eqp.lr", &cfg->lr, err) ||
        floe_st_meta_float(&f, "floe.e2eqp.min_lr", &cfg->min_lr, err) ||
        floe_st_meta_float(&f, "floe.e2eqp.clip", &cfg->clip, err))
        goto out;
    snprintf(teacher, teacher_n, "%s", t);
    *step = v[0];
    *bap = floe_blockap_defaults(v[1]);
    bap->group = v[2];
    bap->asym = v[3];
    cfg->steps = v[4];
    cfg->batch = v[5];
    cfg->context = v[6];
    cfg->warmup = v[7];
    cfg->seed = (uint64_t)seed;
    rc = 0;
out:
    floe_st_close(&f);
    return rc;
}

int floe_eqat_wonly_is_state(const char *path)
{
    floe_st_file f;
    floe_err err;
    if (floe_st_open(&f, path, &err) != 0)
        return 0;
    int is = floe_st_meta_get(&f, "floe.e2eqp.step") != NULL;
    floe_st_close(&f);
    return is;
}

/* ---- Block-AP log --------------------------------------------------------------------------------- */

#define BAP_HEADER "layer,mse_init,mse_init_heldout,mse,mse_heldout,steps,tokens,seconds\n"

void floe_blockap_log_cb(void *vlog, const floe_blockap_report *r)
{
    floe_blockap_log *log = vlog;
    char line[320];
    int n = snprintf(line, sizeof line, "%d,%.9g,%.9g,%.9g,%.9g,%d,%zu,%.3f\n", r->layer, r->mse_init,
                     r->mse_init_heldout, r->mse, r->mse_heldout, r->steps, r->tokens, r->seconds);
    if (log->verbose) {
        printf("Block-AP block %d/%d: reconstruction MSE %.4g -> %.4g (held out %.4g -> %.4g), %d steps, %.1f s\n",
               r->layer + 1, r->n_layers, r->mse_init, r->mse, r->mse_init_heldout, r->mse_heldout, r->steps,
               r->seconds);
        fflush(stdout);
    }
    if (n <= 0 || (size_t)n >= sizeof line)
        return;
    if (log->len + (size_t)n + 1 > log->cap) {
        size_t cap = log->cap ? 2 * log->cap : 4096;
        while (cap < log->len + (size_t)n + 1)
            cap *= 2;
        char *t = realloc(log->text, cap);
        if (!t)
            return; /* the report line is lost, not the run */
        log->text = t;
        log->cap = cap;
    }
    memcpy(log->text + log->len, line, (size_t)n + 1);
    log->len += (size_t)n;
}

int floe_blockap_log_write(const floe_blockap_log *log, const char *path, floe_err *err)
{
    floe_afile af;
    if (floe_afile_open(&af, path, err) != 0)
        return -1;
    fputs(BAP_HEADER, af.fp);
    if (log->len)
        fwrite(log->text, 1, log->len, af.fp);
    return floe_afile_commit(&af, err);
}

void floe_blockap_log_free(floe_blockap_log *log)
{
    free(log->text);
    memset(log, 0, sizeof *log);
}
