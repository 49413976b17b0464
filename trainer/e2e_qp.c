#include "trainer/e2e_qp.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/safetensors.h"
#include "trainer/adamw.h"
#include "trainer/block_ap.h"
#include "trainer/grad_clip.h"
#include "trainer/lr_schedule.h"

floe_e2eqp_cfg floe_e2eqp_defaults(int bits)
{
    floe_e2eqp_cfg c;
    memset(&c, 0, sizeof c);
    c.steps = 300;
    c.batch = 8;
    c.context = 0;
    c.lr = bits <= 2 ? 1e-3f : 5e-4f;
    c.min_lr = c.lr / 20.0f;
    c.warmup = 10;
    c.clip = 0.3f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.seed = 2;
    return c;
}

void floe_e2eqp_free(floe_e2eqp *st)
{
    for (int i = 0; i < st->n; i++) {
        if (st->wq)
            floe_wquant_free(&st->wq[i]);
        if (st->codes)
            free(st->codes[i]);
        if (st->m)
            free(st->m[i]);
        if (st->v)
            free(st->v[i]);
        if (st->ds)
            free(st->ds[i]);
    }
    free(st->wq);
    free(st->codes);
    free(st->m);
    free(st->v);
    free(st->ds);
    memset(st, 0, sizeof *st);
}

int floe_e2eqp_init(floe_e2eqp *st, const floe_model *m, const floe_wquant *wq, floe_err *err)
{
    memset(st, 0, sizeof *st);
    const int n = m->cfg.n_layers * FLOE_BLOCK_LINEARS;
    st->wq = calloc((size_t)n, sizeof *st->wq);
    st->codes = calloc((size_t)n, sizeof *st->codes);
    st->m = calloc((size_t)n, sizeof *st->m);
    st->v = calloc((size_t)n, sizeof *st->v);
    st->ds = calloc((size_t)n, sizeof *st->ds);
    if (!st->wq || !st->codes || !st->m || !st->v || !st->ds) {
        st->n = 0;
        floe_e2eqp_free(st);
        return floe_err_set(err, "e2e-qp: out of memory");
    }
    st->n = n;
    for (int i = 0; i < n; i++) {
        const floe_param *p = floe_blockap_param(m, i);
        const floe_wquant *w = &wq[i];
        if ((size_t)w->out != p->shape[0] || (size_t)w->in != p->shape[1]) {
            floe_e2eqp_free(st);
            return floe_err_set(err, "e2e-qp: quantizer %d is %d x %d, %s is %zu x %zu", i, w->out, w->in, p->name,
                                p->shape[0], p->shape[1]);
        }
        if (floe_wquant_init(&st->wq[i], w->out, w->in, w->bits, w->group, w->asym, err) != 0) {
            floe_e2eqp_free(st);
            return -1;
        }
        size_t ns = (size_t)w->out * w->groups;
        memcpy(st->wq[i].s, w->s, ns * sizeof(float));
        memcpy(st->wq[i].z, w->z, ns * sizeof(float));
        st->codes[i] = malloc(p->numel * sizeof(int16_t));
        st->m[i] = calloc(ns, sizeof(float));
        st->v[i] = calloc(ns, sizeof(float));
        st->ds[i] = calloc(ns, sizeof(float));
        if (!st->codes[i] || !st->m[i] || !st->v[i] || !st->ds[i]) {
            floe_e2eqp_free(st);
            return floe_err_set(err, "e2e-qp: out of memory for %s", p->name);
        }
        floe_wquant_codes(&st->wq[i], m->params + p->offset, st->codes[i]);
    }
    return 0;
}

void floe_e2eqp_apply(const floe_e2eqp *st, floe_model *m)
{
    for (int i = 0; i < st->n; i++)
        floe_wquant_dequant(&st->wq[i], st->codes[i], floe_blockap_weight(m, i));
}

#define S_MIN 1e-8f /* a frozen code times a step that crossed zero would flip sign: keep s > 0 */

int floe_e2eqp_step(floe_e2eqp *st, floe_model *m, const floe_tokens *train, const floe_e2eqp_cfg *c,
                    floe_e2eqp_stats *s, floe_err *err)
{
    const int B = c->batch, T = c->context > 0 ? c->context : m->maxT;
    if (B < 1 || B > m->maxB || T > m->maxT)
        return floe_err_set(err, "e2e-qp: batch %d x context %d exceeds the model's %d x %d", B, T, m->maxB, m->maxT);
    int32_t *rows = malloc((size_t)B * (T + 1) * sizeof(int32_t));
    int32_t *inp = malloc((size_t)B * T * sizeof(int32_t)), *tgt = malloc((size_t)B * T * sizeof(int32_t));
    if (!rows || !inp || !tgt) {
        free(rows);
        free(inp);
        free(tgt);
        return floe_err_set(err, "e2e-qp: out of memory");
    }
    int rc = floe_batch_sample(train, c->seed, (uint64_t)st->step, B, T, rows, err);
    if (rc == 0)
        rc = floe_model_check_ids(m, rows, (size_t)B * (T + 1), err);
    if (rc != 0)
        goto out;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            inp[b * T + t] = rows[(size_t)b * (T + 1) + t];
            tgt[b * T + t] = rows[(size_t)b * (T + 1) + t + 1];
        }
    floe_e2eqp_apply(st, m);
    floe_model_zero_grad(m);
    float loss = floe_model_forward(m, inp, tgt, B, T);
    floe_model_backward(m, 1.0f);
    double ss = 0;
    for (int i = 0; i < st->n; i++) {
        size_t ns = (size_t)st->wq[i].out * st->wq[i].groups;
        memset(st->ds[i], 0, ns * sizeof(float));
        floe_wquant_frozen_backward(&st->wq[i], st->codes[i], m->grads + floe_blockap_param(m, i)->offset, st->ds[i]);
        ss += floe_sumsq(st->ds[i], ns);
    }
    double norm = sqrt(ss);
    float coef = c->clip > 0 ? floe_clip_coef(norm, c->clip) : 1.0f;
    float lr = floe_lr_cosine(st->step, c->warmup, c->steps, c->lr, c->min_lr);
    for (int i = 0; i < st->n; i++) {
        size_t ns = (size_t)st->wq[i].out * st->wq[i].groups;
        if (coef != 1.0f)
            floe_scale(st->ds[i], ns, coef);
        floe_adamw_update(st->wq[i].s, st->ds[i], st->m[i], st->v[i], ns, st->step + 1, lr, c->beta1, c->beta2, c->eps,
                          0.0f);
        for (size_t k = 0; k < ns; k++)
            if (!(st->wq[i].s[k] >= S_MIN))
                st->wq[i].s[k] = S_MIN;
    }
    st->step++;
    floe_e2eqp_apply(st, m);
    if (s) {
        s->step = st->step;
        s->loss = loss;
        s->lr = lr;
        s->grad_norm = norm;
    }
out:
    free(rows);
    free(inp);
    free(tgt);
    return rc;
}

int floe_e2eqp_run(floe_e2eqp *st, floe_model *m, const floe_tokens *train, const floe_e2eqp_cfg *c, int stop_after,
                   void (*on_step)(void *ctx, const floe_e2eqp_stats *s), void *ctx, floe_err *err)
{
    int end = c->steps;
    if (stop_after > 0 && stop_after < end)
        end = stop_after;
    while (st->step < end) {
        floe_e2eqp_stats s;
        if (floe_e2eqp_step(st, m, train, c, &s, err) != 0)
            return -1;
        if (on_step)
            on_step(ctx, &s);
    }
    floe_e2eqp_apply(st, m);
    return 0;
}

/* --- checkpoint ------------------------------------------------------------------------------------ */

enum { T_CODES, T_SCALE, T_ZERO, T_M, T_V, T_KINDS };
static const char *const suffix[T_KINDS] = {"codes", "scale", "zero", "adam_m", "adam_v"};

/* The group size as floe.group records it: G where some linear has groups of G inputs (then every
 * linear with fewer than G inputs has one group per output channel), 0 when all are per channel.
 * Recording only the first linear's lost G when it has fewer inputs than G but another has more. */
static int saved_group(const floe_e2eqp *st)
{
    for (int i = 0; i < st->n; i++)
        if (st->wq[i].group < st->wq[i].in)
            return st->wq[i].group;
    return 0;
}

int floe_e2eqp_save(const floe_e2eqp *st, const floe_model *m, const floe_e2eqp_cfg *c, const char *path,
                    const char *const *extra, size_t n_extra, floe_err *err)
{
    if (st->n == 0)
        return floe_err_set(err, "%s: empty E2E-QP state", path);
    const size_t ne = (size_t)st->n * T_KINDS;
    floe_st_entry *e = calloc(ne, sizeof *e);
    char (*names)[FLOE_PARAM_NAME_MAX + 16] = calloc(ne, sizeof *names);
    const char **kv = malloc((2 * 16 + 2 * n_extra) * sizeof *kv);
    char *cj = floe_model_config_to_json(&m->cfg);
    char vals[14][40];
    int rc = -1;
    if (!e || !names || !kv || !cj) {
        floe_err_set(err, "%s: out of memory", path);
        goto out;
    }
    size_t k = 0;
    for (int i = 0; i < st->n; i++) {
        const floe_param *p = floe_blockap_param(m, i);
        const floe_wquant *w = &st->wq[i];
        for (int t = 0; t < T_KINDS; t++) {
            if (t == T_ZERO && !w->asym)
                continue;
            snprintf(names[k], sizeof names[k], "%s.%s", p->name, suffix[t]);
            e[k].name = names[k];
            e[k].ndim = 2;
            e[k].shape[0] = (uint64_t)w->out;
            e[k].shape[1] = t == T_CODES ? (uint64_t)w->in : (uint64_t)w->groups;
            e[k].dtype = t == T_CODES ? FLOE_ST_I16 : FLOE_ST_F32;
            e[k].data = t == T_CODES ? (const void *)st->codes[i]
                        : t == T_SCALE ? (const void *)w->s
                        : t == T_ZERO  ? (const void *)w->z
                        : t == T_M     ? (const void *)st->m[i]
                                       : (const void *)st->v[i];
            k++;
        }
    }
    size_t n = 0;
    int vi = 0;
#define KV_INT(key, x) (snprintf(vals[vi], sizeof vals[vi], "%lld", (long long)(x)), kv[n++] = key, kv[n++] = vals[vi++])
#define KV_F(key, x) (snprintf(vals[vi], sizeof vals[vi], "%.9g", (double)(x)), kv[n++] = key, kv[n++] = vals[vi++])
    kv[n++] = "floe.method", kv[n++] = "efficientqat";
    kv[n++] = "floe.config", kv[n++] = cj;
    KV_INT("floe.e2eqp.step", st->step);
    KV_INT("floe.wbits", st->wq[0].bits);
    KV_INT("floe.group", saved_group(st));
    KV_INT("floe.asym", st->wq[0].asym);
    KV_INT("floe.e2eqp.steps", c->steps);
    KV_INT("floe.e2eqp.batch", c->batch);
    KV_INT("floe.e2eqp.context", c->context);
    KV_F("floe.e2eqp.lr", c->lr);
    KV_F("floe.e2eqp.min_lr", c->min_lr);
    KV_INT("floe.e2eqp.warmup", c->warmup);
    KV_F("floe.e2eqp.clip", c->clip);
    KV_INT("floe.e2eqp.seed", c->seed);
#undef KV_INT
#undef KV_F
    for (size_t i = 0; i < 2 * n_extra; i++)
        kv[n++] = extra[i];
    rc = floe_st_write(path, e, k, kv, n / 2, err);
out:
    free(cj);
    free(kv);
    free(names);
    free(e);
    return rc;
}

int floe_e2eqp_check_file(const floe_st_file *f, const floe_model_config *mc, int group, int asym, floe_err *err)
{
    floe_param_table t;
    if (floe_param_table_init(&t, mc, err) != 0)
        return floe_err_prefix(err, "%s", f->path);
    const size_t n = (size_t)mc->n_layers * FLOE_BLOCK_LINEARS;
    floe_st_entry *e = calloc(n * T_KINDS, sizeof *e);
    char(*names)[FLOE_PARAM_NAME_MAX + 16] = calloc(n * T_KINDS, sizeof *names);
    size_t k = 0;
    int rc = -1;
    if (!e || !names) {
        floe_err_set(err, "%s: out of memory", f->path);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const floe_param *p =
            floe_param_get(&t, floe_blockap_kinds[i % FLOE_BLOCK_LINEARS], (int)(i / FLOE_BLOCK_LINEARS));
        const uint64_t out = p->shape[0], in = p->shape[1];
        const uint64_t groups = group <= 0 || (uint64_t)group >= in ? 1 : (in + (uint64_t)group - 1) / (uint64_t)group;
        for (int j = 0; j < T_KINDS; j++) {
            if (j == T_ZERO && !asym)
                continue;
            snprintf(names[k], sizeof names[k], "%s.%s", p->name, suffix[j]);
            e[k] = (floe_st_entry){
                names[k], j == T_CODES ? FLOE_ST_I16 : FLOE_ST_F32, 2, {out, j == T_CODES ? in : groups}, NULL};
            k++;
        }
    }
    rc = floe_st_check_entries(f, e, k, 1, err);
out:
    free(names);
    free(e);
    floe_param_table_free(&t);
    return rc;
}

/* A tensor checked by floe_e2eqp_check_file: n values into out (F32: converted from any float dtype). */
static int read_tensor(floe_st_file *f, const char *name, floe_st_dtype dt, size_t n, void *out, floe_err *err)
{
    int i = floe_st_find(f, name);
    if (i < 0)
        return floe_err_set(err, "%s: missing tensor '%s'", f->path, name);
    if (dt == FLOE_ST_F32)
        return floe_st_read_f32(f, (size_t)i, out, n, err);
    return floe_st_read_raw(f, (size_t)i, out, n * floe_st_dtype_size(dt), err);
}

int floe_e2eqp_load(floe_e2eqp *st, const floe_model *m, const char *path, floe_err *err)
{
    floe_st_file f;
    if (floe_st_open(&f, path, err) != 0)
        return -1;
    int rc = -1;
    long long step = 0, bits = 0, group = 0, asym = 0;
    const char *meth = floe_st_meta_get(&f, "floe.method");
    if (!meth || strcmp(meth, "efficientqat") != 0) {
        floe_err_set(err, "%s: metadata floe.method is %s, expected efficientqat", path, meth ? meth : "missing");
        goto out;
    }
    if (floe_st_meta_ll(&f, "floe.e2eqp.step", &step, err) || floe_st_meta_ll(&f, "floe.wbits", &bits, err) ||
        floe_st_meta_ll(&f, "floe.group", &group, err) || floe_st_meta_ll(&f, "floe.asym", &asym, err))
        goto out;
    const floe_wquant *w0 = &st->wq[0];
    long long g0 = saved_group(st);
    if (bits != w0->bits || group != g0 || asym != w0->asym || step < 0 || step > INT_MAX) {
        floe_err_set(err, "%s: floe.wbits %lld, floe.group %lld, floe.asym %lld, step %lld: the run has %d bits, group %lld, asym %d",
                     path, bits, group, asym, step, w0->bits, g0, w0->asym);
        goto out;
    }
    /* every tensor against the run's model before any is read */
    if (floe_e2eqp_check_file(&f, &m->cfg, (int)g0, w0->asym, err) != 0)
        goto out;
    char name[FLOE_PARAM_NAME_MAX + 16];
    for (int i = 0; i < st->n; i++) {
        const floe_param *p = floe_blockap_param(m, i);
        floe_wquant *w = &st->wq[i];
        for (int t = 0; t < T_KINDS; t++) {
            if (t == T_ZERO && !w->asym)
                continue;
            snprintf(name, sizeof name, "%s.%s", p->name, suffix[t]);
            void *dst = t == T_CODES ? (void *)st->codes[i]
                        : t == T_SCALE ? (void *)w->s
                        : t == T_ZERO  ? (void *)w->z
                        : t == T_M     ? (void *)st->m[i]
                                       : (void *)st->v[i];
            if (read_tensor(&f, name, t == T_CODES ? FLOE_ST_I16 : FLOE_ST_F32,
                            (size_t)w->out * (size_t)(t == T_CODES ? w->in : w->groups), dst, err) != 0)
                goto out;
        }
        int lo = floe_wquant_lo(w), hi = floe_wquant_hi(w);
        for (size_t k = 0; k < p->numel; k++)
            if (st->codes[i][k] < lo || st->codes[i][k] > hi) {
                floe_err_set(err, "%s: tensor %s.codes[%zu] = %d outside [%d, %d]", path, p->name, k, st->codes[i][k], lo,
                             hi);
                goto out;
            }
    }
    st->step = (int)step;
    rc = 0;
out:
    floe_st_close(&f);
    return rc;
}
