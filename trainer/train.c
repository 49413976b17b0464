#include "trainer/train.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/big_alloc.h"
#include "models/hf_folder.h"
#include "models/token_file.h"
#include "models/safetensors.h"
#include "trainer/grad_clip.h"
#include "trainer/lr_schedule.h"

floe_train_cfg floe_train_defaults(const floe_model_config *mc)
{
    floe_train_cfg c;
    memset(&c, 0, sizeof c);
    c.steps = 3000;
    c.batch = 8;
    c.context = mc->context;
    c.accum = 1;
    c.lr = 2e-3f;
    c.min_lr = 2e-4f;
    c.warmup = 100;
    c.clip = 1.0f;
    c.seed = 1;
    c.adamw = floe_adamw_defaults();
    return c;
}

int floe_moments_parse(const char *name)
{
    return !name                       ? -1
           : strcmp(name, "f32") == 0  ? FLOE_MOMENTS_F32
           : strcmp(name, "bf16") == 0 ? FLOE_MOMENTS_BF16
           : strcmp(name, "q8") == 0   ? FLOE_MOMENTS_Q8
                                       : -1;
}

const char *floe_moments_name(int moments)
{
    return moments == FLOE_MOMENTS_Q8 ? "q8" : moments == FLOE_MOMENTS_BF16 ? "bf16" : "f32";
}

static int check_cfg(const floe_train_cfg *c, const floe_model_config *mc, floe_err *err)
{
    if (c->steps < 1 || c->batch < 1 || c->accum < 1 || c->warmup < 0)
        return floe_err_set(err, "steps, batch and accum must be >= 1 and warmup >= 0 (got %d, %d, %d, %d)",
                            c->steps, c->batch, c->accum, c->warmup);
    if (c->context < 1 || c->context > mc->context)
        return floe_err_set(err, "context %d: model %s accepts 1 .. %d", c->context, mc->name, mc->context);
    if (!(c->lr > 0.0f) || !(c->min_lr >= 0.0f) || !(c->clip >= 0.0f))
        return floe_err_set(err, "lr must be > 0, min_lr and clip >= 0");
    return 0;
}

int floe_trainer_init(floe_trainer *tr, const floe_model_config *mc, const floe_train_cfg *cfg, floe_err *err)
{
    memset(tr, 0, sizeof *tr);
    if (check_cfg(cfg, mc, err) != 0)
        return -1;
    /* chunked head at every size: training reads only losses and top-1, and one path for the tiny
     * configs and the real shapes (docs/trainer.md, "Real shapes") */
    if (floe_model_init_chunked(&tr->model, mc, cfg->batch, cfg->context, 0, err) != 0)
        return -1;
    tr->cfg = *cfg;
    size_t n = tr->model.table.total, bt = (size_t)cfg->batch * cfg->context;
    if (cfg->moments_bf16) {
        tr->m16 = floe_big_calloc(n, sizeof(uint16_t));
        tr->v16 = floe_big_calloc(n, sizeof(uint16_t));
    } else {
        tr->m = floe_big_calloc(n, sizeof(float));
        tr->v = floe_big_calloc(n, sizeof(float));
    }
    tr->rows = malloc((size_t)cfg->batch * (cfg->context + 1) * sizeof(int32_t));
    tr->inp = malloc(bt * sizeof(int32_t));
    tr->tgt = malloc(bt * sizeof(int32_t));
    if (!(cfg->moments_bf16 ? tr->m16 && tr->v16 : tr->m && tr->v) || !tr->rows || !tr->inp || !tr->tgt) {
        floe_trainer_free(tr);
        return floe_err_set(err, "out of memory for the optimizer state");
    }
    floe_param_init(&tr->model.table, tr->model.params, cfg->seed);
    return 0;
}

void floe_trainer_free(floe_trainer *tr)
{
    floe_model_free(&tr->model);
    free(tr->m);
    free(tr->v);
    free(tr->m16);
    free(tr->v16);
    free(tr->rows);
    free(tr->inp);
    free(tr->tgt);
    memset(tr, 0, sizeof *tr);
}

/* rows [B, T+1] -> inputs [B, T] = row[0..T-1], targets [B, T] = row[1..T] */
static void split_rows(const int32_t *rows, int B, int T, int32_t *inp, int32_t *tgt)
{
    for (int b = 0; b < B; b++) {
        memcpy(inp + (size_t)b * T, rows + (size_t)b * (T + 1), (size_t)T * sizeof(int32_t));
        memcpy(tgt + (size_t)b * T, rows + (size_t)b * (T + 1) + 1, (size_t)T * sizeof(int32_t));
    }
}

/* Forward and backward over the step's micro-batches; model.grads = mean gradient. Returns the mean
 * loss through *loss. */
static int accumulate(floe_trainer *tr, const floe_tokens *train, float *loss, floe_err *err)
{
    const floe_train_cfg *c = &tr->cfg;
    floe_model_zero_grad(&tr->model);
    double sum = 0.0;
    for (int j = 0; j < c->accum; j++) {
        uint64_t pos = (uint64_t)tr->step * (uint64_t)c->accum + (uint64_t)j;
        if (floe_batch_sample(train, c->seed, pos, c->batch, c->context, tr->rows, err) != 0)
            return -1;
        split_rows(tr->rows, c->batch, c->context, tr->inp, tr->tgt);
        if (floe_model_check_ids(&tr->model, tr->rows, (size_t)c->batch * (c->context + 1), err) != 0)
            return -1;
        sum += floe_model_forward(&tr->model, tr->inp, tr->tgt, c->batch, c->context);
        floe_model_backward(&tr->model, 1.0f / (float)c->accum);
    }
    *loss = (float)(sum / c->accum);
    return 0;
}

int floe_trainer_step(floe_trainer *tr, const floe_tokens *train, floe_step_stats *st, floe_err *err)
{
    const floe_train_cfg *c = &tr->cfg;
    floe_model *m = &tr->model;
    float loss;
    if (accumulate(tr, train, &loss, err) != 0)
        return -1;
    double norm = sqrt(floe_sumsq(m->grads, m->table.total));
    if (c->clip > 0.0f) {
        float coef = floe_clip_coef(norm, c->clip);
        if (coef != 1.0f)
            floe_scale(m->grads, m->table.total, coef);
    }
    float lr = floe_lr_cosine(tr->step, c->warmup, c->steps, c->lr, c->min_lr);
    for (size_t i = 0; i < m->table.count; i++) {
        const floe_param *p = &m->table.params[i];
        float wd = floe_adamw_tensor_decay(&c->adamw, floe_model_decay_class(p->kind));
        if (c->moments_bf16)
            floe_adamw_update_bf16(m->params + p->offset, m->grads + p->offset, tr->m16 + p->offset,
                                   tr->v16 + p->offset, p->numel, tr->step + 1, lr, c->adamw.beta1, c->adamw.beta2,
                                   c->adamw.eps, wd);
        else
            floe_adamw_update(m->params + p->offset, m->grads + p->offset, tr->m + p->offset, tr->v + p->offset,
                              p->numel, tr->step + 1, lr, c->adamw.beta1, c->adamw.beta2, c->adamw.eps, wd);
    }
    tr->step++;
    if (st) {
        st->step = tr->step;
        st->loss = loss;
        st->lr = lr;
        st->grad_norm = norm;
    }
    return 0;
}

int floe_model_evaluate(floe_model *m, const floe_tokens *val, int T, floe_eval_result *r, floe_err *err)
{
    return floe_model_evaluate_windows(m, val, T, 0, r, err);
}

int floe_model_evaluate_windows(floe_model *m, const floe_tokens *val, int T, size_t max_windows, floe_eval_result *r,
                                floe_err *err)
{
    memset(r, 0, sizeof *r);
    const int B = m->maxB, V = m->cfg.vocab_size;
    if (T < 1 || T > m->maxT)
        return floe_err_set(err, "evaluation context %d outside 1 .. %d", T, m->maxT);
    floe_val_iter it;
    if (floe_val_iter_init(&it, val, B, T, err) != 0)
        return -1;
    int32_t *rows = malloc((size_t)B * (T + 1) * sizeof(int32_t));
    int32_t *inp = malloc((size_t)B * T * sizeof(int32_t)), *tgt = malloc((size_t)B * T * sizeof(int32_t));
    if (!rows || !inp || !tgt) {
        free(rows), free(inp), free(tgt);
        return floe_err_set(err, "out of memory");
    }
    double sum = 0.0;
    size_t hits = 0, n = 0;
    int rc = 0, got;
    while ((max_windows == 0 || n / (size_t)T < max_windows) && (got = floe_val_iter_next(&it, rows)) > 0) {
        if ((rc = floe_model_check_ids(m, rows, (size_t)got * (T + 1), err)) != 0)
            break;
        split_rows(rows, got, T, inp, tgt);
        floe_model_forward(m, inp, tgt, got, T);
        const float *losses = floe_model_losses(m), *logits = floe_model_logits(m);
        const int *top1 = floe_model_top1(m); /* a chunked head's, the same id as the scan below */
        for (int i = 0; i < got * T; i++) {
            sum += losses[i];
            int best = 0;
            if (top1) {
                best = top1[i];
            } else {
                const float *z = logits + (size_t)i * V;
                for (int j = 1; j < V; j++)
                    if (z[j] > z[best])
                        best = j;
            }
            hits += best == tgt[i];
        }
        n += (size_t)got * T;
    }
    free(rows), free(inp), free(tgt);
    if (rc != 0)
        return -1;
    if (n == 0)
        return floe_err_set(err, "the validation split holds no window of %d tokens", T + 1);
    r->tokens = n;
    r->loss = sum / (double)n;
    r->ppl = exp(r->loss);
    r->accuracy = (double)hits / (double)n;
    return 0;
}

int floe_ckpt_optim_path(char *out, size_t n, const char *model_path)
{
    const char *ext = ".safetensors";
    size_t len = strlen(model_path), el = strlen(ext);
    int k;
    if (len > el && strcmp(model_path + len - el, ext) == 0)
        k = snprintf(out, n, "%.*s.optim%s", (int)(len - el), model_path, ext);
    else
        k = snprintf(out, n, "%s.optim%s", model_path, ext);
    return k < 0 || (size_t)k >= n ? -1 : 0;
}

static uint64_t params_digest(const floe_model *m)
{
    return floe_fnv1a64(m->params, m->table.total * sizeof(float));
}

/* The training hyperparameters as metadata; floats printed with 9 digits round-trip exactly. */
enum { N_TRAIN_META = 17 };
typedef struct {
    char val[N_TRAIN_META][48];
    const char *kv[2 * N_TRAIN_META];
} train_meta;

static const char *const train_keys[N_TRAIN_META] = {
    "floe.train.steps",   "floe.train.batch", "floe.train.context",      "floe.train.accum",
    "floe.train.lr",      "floe.train.min_lr", "floe.train.warmup",      "floe.train.clip",
    "floe.train.seed",    "floe.adamw.beta1", "floe.adamw.beta2",        "floe.adamw.eps",
    "floe.adamw.weight_decay", "floe.adamw.decay_embeddings", "floe.adamw.decay_norms", "floe.step",
    "floe.data_position"};

static void make_train_meta(train_meta *t, const floe_train_cfg *c, int step)
{
    const float f[] = {c->lr, c->min_lr, c->clip, c->adamw.beta1, c->adamw.beta2, c->adamw.eps,
                       c->adamw.weight_decay};
    snprintf(t->val[0], 48, "%d", c->steps);
    snprintf(t->val[1], 48, "%d", c->batch);
    snprintf(t->val[2], 48, "%d", c->context);
    snprintf(t->val[3], 48, "%d", c->accum);
    snprintf(t->val[4], 48, "%.9g", (double)f[0]);
    snprintf(t->val[5], 48, "%.9g", (double)f[1]);
    snprintf(t->val[6], 48, "%d", c->warmup);
    snprintf(t->val[7], 48, "%.9g", (double)f[2]);
    snprintf(t->val[8], 48, "%" PRIu64, c->seed);
    for (int i = 0; i < 4; i++)
        snprintf(t->val[9 + i], 48, "%.9g", (double)f[3 + i]);
    snprintf(t->val[13], 48, "%d", c->adamw.decay_embeddings);
    snprintf(t->val[14], 48, "%d", c->adamw.decay_norms);
    snprintf(t->val[15], 48, "%d", step);
    snprintf(t->val[16], 48, "%" PRIu64, (uint64_t)step * (uint64_t)c->accum);
    for (int i = 0; i < N_TRAIN_META; i++) {
        t->kv[2 * i] = train_keys[i];
        t->kv[2 * i + 1] = t->val[i];
    }
}

static int meta_num(const floe_st_file *f, const char *key, double *out, floe_err *err)
{
    const char *s = floe_st_meta_get(f, key);
    char *end;
    if (!s)
        return floe_err_set(err, "%s: metadata '%s' missing (not a floe training checkpoint?)", f->path, key);
    *out = strtod(s, &end);
    if (end == s || *end)
        return floe_err_set(err, "%s: metadata '%s': not a number: '%s'", f->path, key, s);
    return 0;
}

static int read_train_meta(const floe_st_file *f, floe_train_cfg *c, int *step, floe_err *err)
{
    double v[N_TRAIN_META];
    /* the fields stored as integers (the seed is read exactly below): whole numbers in int's range, so
     * the conversions are defined; the rest finite */
    static const int int_field[N_TRAIN_META] = {
        [0] = 1, [1] = 1, [2] = 1, [3] = 1, [6] = 1, [13] = 1, [14] = 1, [15] = 1};
    for (int i = 0; i < N_TRAIN_META; i++) {
        if (meta_num(f, train_keys[i], &v[i], err) != 0)
            return -1;
        if (!isfinite(v[i]) || (int_field[i] && (v[i] < INT_MIN || v[i] > INT_MAX || v[i] != floor(v[i]))))
            return floe_err_set(err, "%s: metadata '%s' = '%s' is not %s", f->path, train_keys[i],
                                floe_st_meta_get(f, train_keys[i]),
                                int_field[i] ? "an integer in int's range" : "finite");
    }
    c->steps = (int)v[0];
    c->batch = (int)v[1];
    c->context = (int)v[2];
    c->accum = (int)v[3];
    c->lr = (float)v[4];
    c->min_lr = (float)v[5];
    c->warmup = (int)v[6];
    c->clip = (float)v[7];
    c->seed = (uint64_t)v[8];
    c->adamw.beta1 = (float)v[9];
    c->adamw.beta2 = (float)v[10];
    c->adamw.eps = (float)v[11];
    c->adamw.weight_decay = (float)v[12];
    c->adamw.decay_embeddings = (int)v[13];
    c->adamw.decay_norms = (int)v[14];
    *step = (int)v[15];
    if (*step < 0 || v[16] != (double)*step * c->accum)
        return floe_err_set(err, "%s: metadata floe.step / floe.data_position inconsistent", f->path);
    /* the seed is an integer beyond double's 53 bits in general: read it exactly */
    const char *s = floe_st_meta_get(f, "floe.train.seed");
    c->seed = strtoull(s, NULL, 10);
    /* written only for bfloat16 moments, so float runs' checkpoints are as before */
    const char *mo = floe_st_meta_get(f, FLOE_MOMENTS_KEY);
    const int bf16 = mo ? floe_moments_parse(mo) : 0;
    if (bf16 < 0 || bf16 == FLOE_MOMENTS_Q8)
        return floe_err_set(err, "%s: metadata '%s' = '%s': expected bf16 or f32", f->path, FLOE_MOMENTS_KEY, mo);
    c->moments_bf16 = bf16;
    return 0;
}

int floe_trainer_save(const floe_trainer *tr, const char *path, const char *const *extra, size_t n_extra,
                      floe_err *err)
{
    const floe_model *m = &tr->model;
    char opath[4200], digest[24], step[24];
    if (floe_ckpt_optim_path(opath, sizeof opath, path) != 0)
        return floe_err_set(err, "%s: path too long", path);
    train_meta tm;
    make_train_meta(&tm, &tr->cfg, tr->step);
    snprintf(digest, sizeof digest, "%016" PRIx64, params_digest(m));
    snprintf(step, sizeof step, "%d", tr->step);

    /* optimizer file first (see train.h) */
    size_t n = m->table.count;
    floe_st_entry *e = calloc(2 * n, sizeof *e);
    char (*names)[FLOE_PARAM_NAME_MAX + 16] = calloc(2 * n, sizeof *names);
    const char **kv = calloc(2 * (N_TRAIN_META + 2) + 2 * n_extra + 4, sizeof *kv);
    int rc = -1;
    if (!e || !names || !kv) {
        floe_err_set(err, "%s: out of memory", path);
        goto out;
    }
    for (size_t i = 0; i < 2 * n; i++) {
        const floe_param *p = &m->table.params[i % n];
        snprintf(names[i], sizeof names[i], "optimizer.%s.%s", i < n ? "m" : "v", p->name);
        e[i].name = names[i];
        e[i].ndim = p->ndim;
        e[i].shape[0] = p->shape[0];
        e[i].shape[1] = p->shape[1];
        if (tr->cfg.moments_bf16) {
            e[i].dtype = FLOE_ST_BF16;
            e[i].data = (i < n ? tr->m16 : tr->v16) + p->offset;
        } else {
            e[i].dtype = FLOE_ST_F32;
            e[i].data = (i < n ? tr->m : tr->v) + p->offset;
        }
    }
    memcpy(kv, tm.kv, sizeof tm.kv);
    kv[2 * N_TRAIN_META] = "floe.model_digest";
    kv[2 * N_TRAIN_META + 1] = digest;
    size_t n_meta = N_TRAIN_META + 1;
    if (tr->cfg.moments_bf16) {
        kv[2 * n_meta] = FLOE_MOMENTS_KEY;
        kv[2 * n_meta + 1] = floe_moments_name(1);
        n_meta++;
    }
    if (floe_st_write(opath, e, 2 * n, kv, n_meta, err) != 0)
        goto out;
    char seed[24];
    snprintf(seed, sizeof seed, "%" PRIu64, tr->cfg.seed);
    kv[0] = "floe.step";
    kv[1] = step;
    kv[2] = "floe.seed";
    kv[3] = seed;
    for (size_t i = 0; i < 2 * n_extra; i++)
        kv[4 + i] = extra[i];
    rc = floe_st_save_params(path, &m->cfg, &m->table, m->params, kv, 2 + n_extra, err);
out:
    free(e);
    free(names);
    free(kv);
    return rc;
}

static int open_pair(const char *path, floe_st_file *mf, floe_st_file *of, floe_err *err)
{
    char opath[4200];
    if (floe_ckpt_optim_path(opath, sizeof opath, path) != 0)
        return floe_err_set(err, "%s: path too long", path);
    if (floe_st_open(mf, path, err) != 0)
        return -1;
    if (floe_st_open(of, opath, err) != 0) {
        floe_st_close(mf);
        return floe_err_prefix(err, "optimizer state of %s", path);
    }
    return 0;
}

static int config_of(const floe_st_file *f, floe_model_config *mc, floe_err *err)
{
    const char *cj = floe_st_meta_get(f, "floe.config");
    if (!cj)
        return floe_err_set(err, "%s: no 'floe.config' metadata: not a floe checkpoint", f->path);
    return floe_model_config_parse_json(cj, strlen(cj), f->path, mc, err);
}

/* optimizer.<which>.<name> of every parameter, by name and shape, and no other tensor; reads nothing */
static int check_moments(const floe_st_file *f, const floe_param_table *t, floe_err *err)
{
    for (int w = 0; w < 2; w++)
        for (size_t i = 0; i < t->count; i++) {
            const floe_param *p = &t->params[i];
            char name[FLOE_PARAM_NAME_MAX + 16];
            snprintf(name, sizeof name, "optimizer.%s.%s", w ? "v" : "m", p->name);
            int j = floe_st_find(f, name);
            if (j < 0)
                return floe_err_set(err, "%s: missing tensor '%s'", f->path, name);
            const floe_st_tensor *s = &f->tensors[j];
            if (s->ndim != p->ndim || s->shape[0] != p->shape[0] || (p->ndim == 2 && s->shape[1] != p->shape[1]))
                return floe_err_set(err, "%s: tensor '%s': wrong shape: expected [%zu%s%.0zu], got %d dims [%llu, ...]",
                                    f->path, name, p->shape[0], p->ndim == 2 ? ", " : "",
                                    p->ndim == 2 ? p->shape[1] : 0, s->ndim,
                                    (unsigned long long)(s->ndim ? s->shape[0] : 0));
            if (!floe_st_dtype_is_float(s->dtype))
                return floe_err_set(err, "%s: tensor '%s': dtype %s is not a float type", f->path, name,
                                    floe_st_dtype_name(s->dtype));
        }
    if (f->n_tensors != 2 * t->count)
        return floe_err_set(err, "%s: %zu tensors, expected %zu (optimizer.m.* and optimizer.v.* of each parameter)",
                            f->path, f->n_tensors, 2 * t->count);
    return 0;
}

/* Both files' tensors against the parameter table of their config, before anything sized by the
 * config is allocated: a config whose tensors cannot be in the files is refused naming the tensor. */
static int check_pair(const floe_st_file *mf, const floe_st_file *of, const floe_model_config *mc, floe_err *err)
{
    floe_param_table t;
    if (floe_param_table_init(&t, mc, err) != 0)
        return -1;
    int rc = floe_st_check_params(mf, &t, err) == 0 && check_moments(of, &t, err) == 0 ? 0 : -1;
    floe_param_table_free(&t);
    return rc;
}

int floe_ckpt_read_cfg(const char *path, floe_model_config *mc, floe_train_cfg *cfg, int *step, floe_err *err)
{
    floe_st_file mf, of;
    if (open_pair(path, &mf, &of, err) != 0)
        return -1;
    int rc = config_of(&mf, mc, err);
    if (rc == 0)
        rc = check_pair(&mf, &of, mc, err);
    if (rc == 0) {
        *cfg = floe_train_defaults(mc);
        rc = read_train_meta(&of, cfg, step, err);
    }
    floe_st_close(&mf);
    floe_st_close(&of);
    return rc;
}

/* optimizer.<which>.<name> of every parameter (checked by check_moments): into dst as float, or,
 * for bfloat16 moments (dst16), the BF16 tensors' bits as they are (no float copy of the state) */
static int load_moment(floe_st_file *f, const floe_param_table *t, const char *which, float *dst, uint16_t *dst16,
                       floe_err *err)
{
    for (size_t i = 0; i < t->count; i++) {
        const floe_param *p = &t->params[i];
        char name[FLOE_PARAM_NAME_MAX + 16];
        snprintf(name, sizeof name, "optimizer.%s.%s", which, p->name);
        int j = floe_st_find(f, name);
        if (j < 0)
            return floe_err_set(err, "%s: missing tensor '%s'", f->path, name);
        if (dst16) {
            if (f->tensors[j].dtype != FLOE_ST_BF16)
                return floe_err_set(err, "%s: tensor '%s' is %s; metadata '%s' says bf16", f->path, name,
                                    floe_st_dtype_name(f->tensors[j].dtype), FLOE_MOMENTS_KEY);
            if (floe_st_read_raw(f, (size_t)j, dst16 + p->offset, p->numel * sizeof(uint16_t), err) != 0)
                return -1;
        } else if (floe_st_read_f32(f, (size_t)j, dst + p->offset, p->numel, err) != 0)
            return -1;
    }
    return 0;
}

int floe_trainer_load(floe_trainer *tr, const char *path, floe_err *err)
{
    floe_st_file mf, of;
    if (open_pair(path, &mf, &of, err) != 0)
        return -1;
    floe_model *m = &tr->model;
    floe_train_cfg c = tr->cfg;
    int step = 0, rc = -1;
    char digest[24];
    if (floe_st_load_params_file(&mf, &m->table, m->params, err) != 0 || check_moments(&of, &m->table, err) != 0 ||
        read_train_meta(&of, &c, &step, err) != 0)
        goto out;
    if (c.moments_bf16 != tr->cfg.moments_bf16) {
        floe_err_set(err, "%s: moments stored as %s, the trainer holds them as %s", of.path,
                     floe_moments_name(c.moments_bf16), floe_moments_name(tr->cfg.moments_bf16));
        goto out;
    }
    if (load_moment(&of, &m->table, "m", tr->m, tr->m16, err) != 0 ||
        load_moment(&of, &m->table, "v", tr->v, tr->v16, err) != 0)
        goto out;
    snprintf(digest, sizeof digest, "%016" PRIx64, params_digest(m));
    const char *want = floe_st_meta_get(&of, "floe.model_digest");
    if (!want || strcmp(want, digest) != 0) {
        floe_err_set(err, "%s: optimizer state does not belong to %s (model digest %s, recorded %s)", of.path, path,
                     digest, want ? want : "none");
        goto out;
    }
    tr->step = step;
    rc = 0;
out:
    floe_st_close(&mf);
    floe_st_close(&of);
    return rc;
}

/* The training model or the forward-only one (trainer/model.h). */
static int model_alloc(floe_model *m, const floe_model_config *mc, int maxB, int maxT, int forward_only, floe_err *err)
{
    return forward_only ? floe_model_init_forward(m, mc, maxB, maxT, err) : floe_model_init(m, mc, maxB, maxT, err);
}

/* A Hugging Face model folder (models/hf_folder.h). */
static int load_hf_folder(floe_model *m, const char *dir, int maxB, int maxT, int forward_only, floe_err *err)
{
    floe_model_config mc;
    if (floe_hf_folder_config(dir, &mc, err) != 0 ||
        model_alloc(m, &mc, maxB, maxT ? maxT : mc.context, forward_only, err) != 0)
        return -1;
    int rc = floe_hf_folder_load_params(dir, &m->cfg, &m->table, m->params, err);
    if (rc != 0)
        floe_model_free(m);
    return rc;
}

static int model_load(floe_model *m, const char *path, int maxB, int maxT, int forward_only, floe_err *err)
{
    if (floe_hf_is_folder(path))
        return load_hf_folder(m, path, maxB, maxT, forward_only, err);
    floe_st_file f;
    floe_model_config mc;
    floe_param_table t = {0};
    if (floe_st_open(&f, path, err) != 0)
        return -1;
    /* the tensors against the config before the model (sized by the config) is allocated */
    int ok = config_of(&f, &mc, err) == 0 && floe_param_table_init(&t, &mc, err) == 0 &&
             floe_st_check_params(&f, &t, err) == 0;
    floe_param_table_free(&t);
    if (!ok || model_alloc(m, &mc, maxB, maxT ? maxT : mc.context, forward_only, err) != 0) {
        floe_st_close(&f);
        return -1;
    }
    int rc = floe_st_load_params_file(&f, &m->table, m->params, err);
    floe_st_close(&f);
    if (rc != 0)
        floe_model_free(m);
    return rc;
}

int floe_model_load(floe_model *m, const char *path, int maxB, int maxT, floe_err *err)
{
    return model_load(m, path, maxB, maxT, 0, err);
}

int floe_model_load_forward(floe_model *m, const char *path, int maxB, int maxT, floe_err *err)
{
    return model_load(m, path, maxB, maxT, 1, err);
}

int floe_trainer_dump_step(floe_trainer *tr, const floe_tokens *train, const char *path, floe_err *err)
{
    const floe_train_cfg *c = &tr->cfg;
    floe_model *m = &tr->model;
    size_t n = m->table.count, rows = (size_t)c->accum * c->batch, bt = (size_t)c->batch * c->context;
    int32_t *inp = malloc(rows * c->context * sizeof(int32_t)), *tgt = malloc(rows * c->context * sizeof(int32_t));
    floe_st_entry *e = calloc(2 * n + 3, sizeof *e);
    char (*names)[FLOE_PARAM_NAME_MAX + 8] = calloc(n, sizeof *names);
    int rc = -1;
    float loss = 0.0f;
    if (!inp || !tgt || !e || !names) {
        floe_err_set(err, "%s: out of memory", path);
        goto out;
    }
    /* the same batches as floe_trainer_step, kept for the file */
    for (int j = 0; j < c->accum; j++) {
        uint64_t pos = (uint64_t)tr->step * (uint64_t)c->accum + (uint64_t)j;
        if (floe_batch_sample(train, c->seed, pos, c->batch, c->context, tr->rows, err) != 0)
            goto out;
        split_rows(tr->rows, c->batch, c->context, inp + (size_t)j * bt, tgt + (size_t)j * bt);
    }
    if (accumulate(tr, train, &loss, err) != 0)
        goto out;
    e[0] = (floe_st_entry){"inputs", FLOE_ST_I32, 2, {rows, (uint64_t)c->context}, inp};
    e[1] = (floe_st_entry){"targets", FLOE_ST_I32, 2, {rows, (uint64_t)c->context}, tgt};
    e[2] = (floe_st_entry){"loss", FLOE_ST_F32, 0, {0}, &loss};
    for (size_t i = 0; i < n; i++) {
        const floe_param *p = &m->table.params[i];
        e[3 + i] = (floe_st_entry){p->name, FLOE_ST_F32, p->ndim, {p->shape[0], p->shape[1]}, m->params + p->offset};
        snprintf(names[i], sizeof names[i], "grad.%s", p->name);
        e[3 + n + i] = (floe_st_entry){names[i], FLOE_ST_F32, p->ndim, {p->shape[0], p->shape[1]},
                                       m->grads + p->offset};
    }
    char *cj = floe_model_config_to_json(&m->cfg);
    char step[24], lr[32];
    snprintf(step, sizeof step, "%d", tr->step);
    snprintf(lr, sizeof lr, "%.9g", (double)floe_lr_cosine(tr->step, c->warmup, c->steps, c->lr, c->min_lr));
    const char *kv[] = {"format", "pt", "floe.config", cj ? cj : "", "floe.step", step, "floe.lr", lr};
    rc = floe_st_write(path, e, 2 * n + 3, kv, 4, err);
    free(cj);
out:
    free(inp), free(tgt), free(e), free(names);
    return rc;
}

int floe_teacher_data(const char *teacher, const floe_model_config *mc, const char *corpus, floe_tokens *train,
                      floe_tokens *val, floe_err *err)
{
    if (floe_train_data(corpus, train, val, err) != 0)
        return -1;
    if (floe_tokens_check_vocab(train, mc->vocab_size, err) != 0 ||
        floe_ckpt_check_tokenizer(teacher, train, err) != 0) {
        floe_tokens_free(train);
        floe_tokens_free(val);
        return floe_err_prefix(err, "%s: ", corpus ? corpus : "fortunes");
    }
    return 0;
}

int floe_ckpt_check_tokenizer(const char *path, const floe_tokens *s, floe_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return 0; /* a model folder: its tokenizer is the user's to match */
    floe_st_file f;
    if (floe_st_open(&f, path, err) != 0)
        return -1;
    const char *rec = floe_st_meta_get(&f, "floe.tokenizer");
    char have[40];
    floe_tokens_tokenizer_label(s, have, sizeof have);
    int rc = 0;
    if (rec && strcmp(rec, have) != 0)
        rc = floe_err_set(err, "%s was trained with tokenizer %s, the corpus was made with %s (docs/corpus.md)", path,
                          rec, have);
    floe_st_close(&f);
    return rc;
}

int floe_train_data(const char *corpus, floe_tokens *train, floe_tokens *val, floe_err *err)
{
    if (corpus && floe_tokfile_is(corpus))
        return floe_tokfile_open(corpus, NULL, train, val, err);
    floe_corpus c;
    if (floe_corpus_open(&c, corpus, err) != 0)
        return -1;
    const floe_tokenizer *tok = floe_tokenizer_byte();
    int rc = floe_tokens_encode(train, tok, c.train, c.n_train, err);
    if (rc == 0 && (rc = floe_tokens_encode(val, tok, c.val, c.n_val, err)) != 0)
        floe_tokens_free(train);
    floe_corpus_free(&c);
    return rc;
}

int floe_teacher_info(const char *path, floe_model_config *mc, char *corpus, size_t corpus_n, floe_err *err)
{
    if (floe_hf_is_folder(path)) { /* a Hugging Face model folder: no corpus of its own */
        snprintf(corpus, corpus_n, "%s", "");
        return floe_hf_folder_config(path, mc, err) != 0 ? floe_err_prefix(err, "teacher") : 0;
    }
    floe_st_file f;
    if (floe_st_open(&f, path, err) != 0) {
        floe_err_prefix(err, "teacher");
        return -1;
    }
    const char *c = floe_st_meta_get(&f, "floe.corpus"), *j = floe_st_meta_get(&f, "floe.config");
    snprintf(corpus, corpus_n, "%s", c ? c : "");
    int rc = j ? floe_model_config_parse_json(j, strlen(j), path, mc, err)
               : floe_err_set(err, "teacher %s: no 'floe.config' metadata: not a floe checkpoint", path);
    floe_st_close(&f);
    return rc;
}
