#include "models/qmodel_io.h"

#include <stdio.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "models/safetensors.h"

/* One tensor of the file: where it lives in a floe_qmodel and whether it is derived. */
typedef struct qfield {
    char name[128];
    floe_st_dtype dtype;
    int ndim;
    uint64_t shape[2];
    void *data;
    size_t bytes;
    int derived;  /* 1: must equal what floe_qmodel_derive computes */
    int code_bits; /* codes: the bit width their values must fit (0: not codes) */
} qfield;

typedef struct qfields {
    qfield *f;
    size_t n, cap;
} qfields;

static int add(qfields *fs, const char *name, floe_st_dtype dt, int ndim, uint64_t d0, uint64_t d1, void *data,
               size_t elem, int derived, int code_bits)
{
    if (fs->n == fs->cap) {
        size_t cap = fs->cap ? 2 * fs->cap : 64;
        qfield *f = realloc(fs->f, cap * sizeof *f);
        if (!f)
            return -1;
        fs->f = f;
        fs->cap = cap;
    }
    qfield *q = &fs->f[fs->n++];
    memset(q, 0, sizeof *q);
    snprintf(q->name, sizeof q->name, "%s", name);
    q->dtype = dt;
    q->ndim = ndim;
    q->shape[0] = d0;
    q->shape[1] = d1;
    q->data = data;
    q->bytes = elem * (ndim == 0 ? 1 : ndim == 1 ? d0 : d0 * d1);
    q->derived = derived;
    q->code_bits = code_bits;
    return 0;
}

/* A linear layer [out][in] at `bits`; L: where it lives (NULL: shapes only). */
static int add_linear(qfields *fs, const char *prefix, int out, int in, int bits, floe_qlinear *L)
{
    char n[128];
    snprintf(n, sizeof n, "%s.weight", prefix);
    int rc = add(fs, n, FLOE_ST_I8, 2, (uint64_t)out, (uint64_t)in, L ? L->w : NULL, 1, 0, bits);
    snprintf(n, sizeof n, "%s.weight_scale", prefix);
    rc |= add(fs, n, FLOE_ST_F32, 1, (uint64_t)out, 0, L ? L->s_w : NULL, 4, 0, 0);
    snprintf(n, sizeof n, "%s.requant", prefix);
    rc |= add(fs, n, FLOE_ST_I32, 2, (uint64_t)out, 2, L ? L->m : NULL, 4, 1, 0);
    return rc;
}

static const char *const NORM_NAMES[2] = {"input_layernorm", "post_attention_layernorm"};

/* The file's layout for a model of config c and precision q, every shape from the config alone.
 * m: where each tensor lives (its arrays allocated), or NULL for the shapes only, to check a file
 * before anything sized by its config is allocated. smooth[2 l + i]: layer l's norm i carries
 * SmoothQuant factors. */
static int layout(qfields *fs, const floe_model_config *c, const floe_qconfig *qc, floe_qmodel *m,
                  const unsigned char *smooth)
{
    char n[128];
    const int d = c->d_model, kv = c->n_kv_heads * c->head_dim, f = c->ffn_dim;
    int rc = add(fs, "model.embed_tokens.weight", FLOE_ST_I16, 2, (uint64_t)c->vocab_size, (uint64_t)d,
                 m ? m->embed : NULL, 2, 0, 16);
    rc |= add(fs, "model.residual_scale", FLOE_ST_F32, 0, 0, 0, m ? &m->s_res : NULL, 4, 0, 0);
    for (int l = 0; l < c->n_layers && rc == 0; l++) {
        floe_qlayer *L = m ? &m->layers[l] : NULL;
        static const char *const lin_names[7] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                                 "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};
        floe_qlinear *lins[7] = {0};
        if (L) {
            floe_qlinear *all[7] = {&L->q, &L->k, &L->v, &L->o, &L->gate, &L->up, &L->down};
            memcpy(lins, all, sizeof lins);
        }
        const int outs[7] = {d, kv, kv, d, f, f, d}, ins[7] = {d, d, d, d, d, d, f};
        for (int i = 0; i < 7; i++) {
            snprintf(n, sizeof n, "model.layers.%d.%s", l, lin_names[i]);
            rc |= add_linear(fs, n, outs[i], ins[i], floe_qconfig_linear_wbits_of(qc, l, i), lins[i]);
        }
        static const char *const step_names[11] = {"attn_in", "q", "k", "kc", "vc", "o_in",
                                                   "mlp_in", "g", "silu", "u", "down_in"};
        float *steps[11] = {0};
        if (L) {
            float *all[11] = {&L->s_attn_in, &L->s_q, &L->s_k,    &L->s_kc, &L->s_vc,     &L->s_o_in,
                              &L->s_mlp_in,  &L->s_g, &L->s_silu, &L->s_u,  &L->s_down_in};
            memcpy(steps, all, sizeof steps);
        }
        for (int i = 0; i < 11; i++) {
            snprintf(n, sizeof n, "model.layers.%d.act_scale.%s", l, step_names[i]);
            rc |= add(fs, n, FLOE_ST_F32, 0, 0, 0, steps[i], 4, 0, 0);
        }
        static const char *const const_names[6] = {"attn_norm", "mlp_norm", "kcache", "score", "attn_out", "mlp"};
        floe_requant_mult *consts[6] = {0};
        if (L) {
            floe_requant_mult *all[6] = {&L->attn_norm_c, &L->mlp_norm_c, &L->m_kcache,
                                         &L->m_score,     &L->m_attn_out, &L->m_mlp};
            memcpy(consts, all, sizeof consts);
        }
        for (int i = 0; i < 6; i++) {
            snprintf(n, sizeof n, "model.layers.%d.const.%s", l, const_names[i]);
            rc |= add(fs, n, FLOE_ST_I32, 1, 2, 0, consts[i], 4, 1, 0);
        }
        /* SmoothQuant at the norms (only when present): the per-channel factors and multipliers */
        for (int i = 0; i < 2; i++) {
            if (!smooth[2 * l + i])
                continue;
            snprintf(n, sizeof n, "model.layers.%d.%s.smooth", l, NORM_NAMES[i]);
            rc |= add(fs, n, FLOE_ST_F32, 1, (uint64_t)d, 0, L ? (i ? L->smooth_mlp : L->smooth_attn) : NULL, 4, 0, 0);
            snprintf(n, sizeof n, "model.layers.%d.const.%s_channel", l, i ? "mlp_norm" : "attn_norm");
            rc |=
                add(fs, n, FLOE_ST_I32, 2, (uint64_t)d, 2, L ? (i ? L->mlp_norm_cj : L->attn_norm_cj) : NULL, 4, 1, 0);
        }
        /* the SiLU table: 257 knots, then lo and hi (the layout of the lut16 instruction's table) */
        snprintf(n, sizeof n, "model.layers.%d.mlp.silu_lut", l);
        rc |= add(fs, n, FLOE_ST_I32, 1, FLOE_LUT16_KNOTS + 2, 0, L ? &L->silu : NULL, 4, 1, 0);
    }
    rc |= add_linear(fs, "lm_head", c->vocab_size, d, qc->head_bits, m ? &m->head : NULL);
    rc |= add(fs, "model.norm.const", FLOE_ST_I32, 1, 2, 0, m ? &m->head_norm_c : NULL, 4, 1, 0);
    rc |= add(fs, "model.head_in_scale", FLOE_ST_F32, 0, 0, 0, m ? &m->s_head_in : NULL, 4, 0, 0);
    rc |= add(fs, "model.logit_scale", FLOE_ST_F32, 0, 0, 0, m ? &m->s_logit : NULL, 4, 0, 0);
    rc |= add(fs, "model.rms_eps_q", FLOE_ST_I64, 0, 0, 0, m ? &m->eps_q : NULL, 8, 1, 0);
    const uint64_t ctx = (uint64_t)c->context, half = (uint64_t)c->head_dim / 2;
    rc |= add(fs, "model.rope.cos", FLOE_ST_I16, 2, ctx, half, m ? m->rope.cos : NULL, 2, 1, 0);
    rc |= add(fs, "model.rope.sin", FLOE_ST_I16, 2, ctx, half, m ? m->rope.sin : NULL, 2, 1, 0);
    return rc;
}

/* Which norms of a model carry SmoothQuant factors (caller frees; NULL: out of memory). */
static unsigned char *smooth_of_model(const floe_qmodel *m)
{
    unsigned char *s = calloc(2 * (size_t)m->cfg.n_layers, 1);
    for (int l = 0; s && l < m->cfg.n_layers; l++) {
        s[2 * l] = m->layers[l].smooth_attn != NULL;
        s[2 * l + 1] = m->layers[l].smooth_mlp != NULL;
    }
    return s;
}

int floe_qmodel_save(const floe_qmodel *mc, const char *path, const char *const *extra_meta, size_t n_extra,
                     floe_err *err)
{
    floe_qmodel *m = (floe_qmodel *)mc; /* layout() takes pointers; nothing is modified */
    if (!m->derived)
        return floe_err_set(err, "%s: the quantized model's constants are not derived", path);
    qfields fs = {0};
    unsigned char *smooth = smooth_of_model(m);
    if (!smooth || layout(&fs, &m->cfg, &m->q, m, smooth) != 0) {
        free(fs.f);
        free(smooth);
        return floe_err_set(err, "%s: out of memory", path);
    }
    free(smooth);
    floe_st_entry *e = calloc(fs.n, sizeof *e);
    char *cfg_json = floe_model_config_to_json(&m->cfg);
    char bits[4][16];
    snprintf(bits[0], 16, "%d", m->q.wbits);
    snprintf(bits[1], 16, "%d", m->q.abits);
    snprintf(bits[2], 16, "%d", m->q.kvbits);
    snprintf(bits[3], 16, "%d", m->q.head_bits);
    const char *base[] = {"format", FLOE_QMODEL_FORMAT, "floe.qmodel_version",
                          floe_qconfig_has_layer_wbits(&m->q) ? FLOE_QMODEL_VERSION_MIXED : FLOE_QMODEL_VERSION,
                          "floe.config", cfg_json ? cfg_json : "", "floe.wbits", bits[0], "floe.abits", bits[1],
                          "floe.kvbits", bits[2], "floe.head_bits", bits[3]};
    if (floe_qconfig_has_linear_wbits(&m->q)) /* a mix within a layer: the version a reader must know */
        base[3] = FLOE_QMODEL_VERSION_LINEAR;
    size_t nb = sizeof base / sizeof base[0] / 2;
    /* activation scaling (per token: with its K) */
    char kmax[16];
    snprintf(kmax, sizeof kmax, "%d", m->q.act_kmax);
    /* mixed precision: the layers and linears whose weight bits differ from floe.wbits
       ("L=B,L.NAME=B,..."; absent when none) */
    char lw[65536];
    if (floe_qconfig_format_layer_wbits(&m->q, lw, sizeof lw) != 0) {
        free(fs.f), free(e), free(cfg_json);
        return floe_err_set(err, "%s: per-layer weight bits do not fit the metadata buffer", path);
    }
    const char *scal[6];
    size_t ns = 0;
    scal[2 * ns] = "floe.act_scaling", scal[2 * ns + 1] = floe_act_scaling_name(m->q.act_scaling), ns++;
    if (lw[0])
        scal[2 * ns] = "floe.wbits_layers", scal[2 * ns + 1] = lw, ns++;
    if (m->q.act_scaling == FLOE_ACT_PER_TOKEN)
        scal[2 * ns] = "floe.act_kmax", scal[2 * ns + 1] = kmax, ns++;
    const char **meta = malloc(sizeof(char *) * 2 * (nb + ns + n_extra));
    int rc = -1;
    if (e && cfg_json && meta) {
        for (size_t i = 0; i < fs.n; i++)
            e[i] = (floe_st_entry){fs.f[i].name, fs.f[i].dtype, fs.f[i].ndim, {fs.f[i].shape[0], fs.f[i].shape[1]},
                                   fs.f[i].data};
        memcpy(meta, base, sizeof base);
        memcpy(meta + 2 * nb, scal, sizeof(char *) * 2 * ns);
        for (size_t i = 0; i < 2 * n_extra; i++)
            meta[2 * (nb + ns) + i] = extra_meta[i];
        rc = floe_st_write(path, e, fs.n, meta, nb + ns + n_extra, err);
    } else {
        floe_err_set(err, "%s: out of memory", path);
    }
    free(meta);
    free(cfg_json);
    free(e);
    free(fs.f);
    return rc;
}

static int meta_int(floe_st_file *f, const char *key, int *out, floe_err *err)
{
    const char *v = floe_st_meta_get(f, key);
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || end == v)
        return floe_err_set(err, "%s: metadata '%s' is %s (expected an integer)", f->path, key,
                            v ? "not an integer" : "missing");
    if (errno == ERANGE || x < INT_MIN || x > INT_MAX) /* never truncated into a valid-looking value */
        return floe_err_set(err, "%s: metadata '%s' = '%s' is outside int's range", f->path, key, v);
    *out = (int)x;
    return 0;
}

static int check_codes(const qfield *q, const char *path, floe_err *err)
{
    int32_t hi = (int32_t)((1ll << (q->code_bits - 1)) - 1), lo = -hi - 1;
    size_t n = q->dtype == FLOE_ST_I8 ? q->bytes : q->bytes / 2;
    for (size_t i = 0; i < n; i++) {
        int32_t v = q->dtype == FLOE_ST_I8 ? ((const int8_t *)q->data)[i] : ((const int16_t *)q->data)[i];
        if (v < lo || v > hi)
            return floe_err_set(err, "%s: tensor '%s': code %d at index %zu is outside the %d-bit range [%d, %d]", path,
                                q->name, v, i, q->code_bits, lo, hi);
    }
    return 0;
}

/* The file holds exactly the tensors of the layout, each with its dtype and shape; reads nothing. */
static int check_tensors(const floe_st_file *f, const qfields *fs, floe_err *err)
{
    unsigned char *known = calloc(f->n_tensors ? f->n_tensors : 1, 1);
    if (!known)
        return floe_err_set(err, "%s: out of memory", f->path);
    int rc = -1;
    for (size_t i = 0; i < fs->n; i++) {
        const qfield *qf = &fs->f[i];
        int ti = floe_st_find(f, qf->name);
        if (ti < 0) {
            floe_err_set(err, "%s: tensor '%s' is missing", f->path, qf->name);
            goto out;
        }
        known[ti] = 1;
        const floe_st_tensor *t = &f->tensors[ti];
        int shape_ok = t->ndim == qf->ndim;
        for (int d = 0; shape_ok && d < qf->ndim; d++)
            shape_ok = t->shape[d] == qf->shape[d];
        if (t->dtype != qf->dtype || !shape_ok) {
            floe_err_set(err,
                         "%s: tensor '%s' is %s with %d dimension(s) [%llu, %llu]; expected %s [%llu, %llu] "
                         "(%d dimension(s))",
                         f->path, qf->name, floe_st_dtype_name(t->dtype), t->ndim,
                         (unsigned long long)(t->ndim > 0 ? t->shape[0] : 0),
                         (unsigned long long)(t->ndim > 1 ? t->shape[1] : 0), floe_st_dtype_name(qf->dtype),
                         (unsigned long long)qf->shape[0], (unsigned long long)qf->shape[1], qf->ndim);
            goto out;
        }
    }
    for (size_t i = 0; i < f->n_tensors; i++)
        if (!known[i]) {
            floe_err_set(err, "%s: unexpected tensor '%s' (not part of a version %s quantized model)", f->path,
                         f->tensors[i].name, FLOE_QMODEL_VERSION);
            goto out;
        }
    rc = 0;
out:
    free(known);
    return rc;
}

int floe_qmodel_load(floe_qmodel *m, const char *path, floe_err *err)
{
    memset(m, 0, sizeof *m);
    floe_st_file f;
    if (floe_st_open(&f, path, err) != 0)
        return -1;
    int rc = -1;
    qfields fs = {0};
    void *stored = NULL;
    unsigned char *smooth = NULL;
    const char *fmt = floe_st_meta_get(&f, "format"), *ver = floe_st_meta_get(&f, "floe.qmodel_version"),
               *cfg_json = floe_st_meta_get(&f, "floe.config");
    floe_model_config cfg;
    floe_qconfig q = floe_qconfig_default();
    if (!fmt || strcmp(fmt, FLOE_QMODEL_FORMAT) != 0) {
        floe_err_set(err, "%s: not a Floe quantized model (metadata 'format' is %s%s%s; expected '%s')", path,
                     fmt ? "'" : "", fmt ? fmt : "missing", fmt ? "'" : "", FLOE_QMODEL_FORMAT);
        goto out;
    }
    if (!ver || (strcmp(ver, FLOE_QMODEL_VERSION) != 0 && strcmp(ver, FLOE_QMODEL_VERSION_MIXED) != 0 &&
                 strcmp(ver, FLOE_QMODEL_VERSION_LINEAR) != 0)) {
        floe_err_set(err, "%s: quantized-model version %s is not supported (this Floe reads versions %s)", path,
                     ver ? ver : "(missing)",
                     FLOE_QMODEL_VERSION ", " FLOE_QMODEL_VERSION_MIXED " and " FLOE_QMODEL_VERSION_LINEAR);
        goto out;
    }
    if (!cfg_json) {
        floe_err_set(err, "%s: metadata 'floe.config' is missing", path);
        goto out;
    }
    char src[4200];
    snprintf(src, sizeof src, "%s: metadata 'floe.config'", path);
    if (floe_model_config_parse_json(cfg_json, strlen(cfg_json), src, &cfg, err) != 0)
        goto out;
    if (meta_int(&f, "floe.wbits", &q.wbits, err) || meta_int(&f, "floe.abits", &q.abits, err) ||
        meta_int(&f, "floe.kvbits", &q.kvbits, err) || meta_int(&f, "floe.head_bits", &q.head_bits, err))
        goto out;
    if (floe_qconfig_scaling_from_meta(&q, floe_st_meta_get(&f, "floe.act_scaling"),
                                       floe_st_meta_get(&f, "floe.act_kmax"), path, err) != 0)
        goto out;
    char what[4200];
    snprintf(what, sizeof what, "%s: metadata 'floe.wbits_layers'", path);
    if (floe_qconfig_parse_layer_wbits(&q, floe_st_meta_get(&f, "floe.wbits_layers"), what, err) != 0 ||
        floe_qconfig_check_layers(&q, cfg.n_layers, cfg.name, what, err) != 0)
        goto out;
    if (floe_qconfig_validate(&q, err) != 0) {
        floe_err_prefix(err, "%s: metadata", path);
        goto out;
    }
    /* SmoothQuant factors where the file has them */
    smooth = calloc(2 * (size_t)cfg.n_layers, 1);
    if (!smooth) {
        floe_err_set(err, "%s: out of memory", path);
        goto out;
    }
    for (int l = 0; l < cfg.n_layers; l++)
        for (int i = 0; i < 2; i++) {
            char n[128];
            snprintf(n, sizeof n, "model.layers.%d.%s.smooth", l, NORM_NAMES[i]);
            smooth[2 * l + i] = floe_st_find(&f, n) >= 0;
        }
    /* Every tensor against the config before anything sized by the config is allocated or computed
     * (floe_st_open has checked each tensor against the file's length): a config larger than the
     * file is refused naming a tensor, in time and memory proportional to the file. */
    if (layout(&fs, &cfg, &q, NULL, smooth) != 0) {
        floe_err_set(err, "%s: out of memory", path);
        goto out;
    }
    if (check_tensors(&f, &fs, err) != 0)
        goto out;
    fs.n = 0;
    if (floe_qmodel_alloc(m, &cfg, &q, err) != 0)
        goto out;
    /* optional SmoothQuant vectors: allocated when the file has them (read below like any tensor) */
    for (int l = 0; l < cfg.n_layers; l++)
        for (int i = 0; i < 2; i++) {
            if (!smooth[2 * l + i])
                continue;
            float *ones = malloc(sizeof(float) * (size_t)cfg.d_model);
            for (int j = 0; ones && j < cfg.d_model; j++)
                ones[j] = 1.0f;
            int r = ones ? floe_qmodel_set_smoothing(m, l, i, ones, err) : floe_err_set(err, "out of memory");
            free(ones);
            if (r != 0) {
                floe_err_prefix(err, "%s", path);
                goto out;
            }
        }
    if (layout(&fs, &cfg, &q, m, smooth) != 0) {
        floe_err_set(err, "%s: out of memory", path);
        goto out;
    }
    size_t total_derived = 0;
    for (size_t i = 0; i < fs.n; i++)
        total_derived += fs.f[i].derived ? fs.f[i].bytes : 0;
    stored = malloc(total_derived ? total_derived : 1);
    if (!stored) {
        floe_err_set(err, "%s: out of memory", path);
        goto out;
    }
    size_t off = 0;
    for (size_t i = 0; i < fs.n; i++) {
        qfield *qf = &fs.f[i];
        void *dst = qf->derived ? (char *)stored + off : qf->data;
        if (floe_st_read_raw(&f, (size_t)floe_st_find(&f, qf->name), dst, qf->bytes, err) != 0)
            goto out;
        if (qf->derived)
            off += qf->bytes;
        if (qf->code_bits && check_codes(qf, path, err) != 0)
            goto out;
    }
    if (floe_qmodel_derive(m, err) != 0) {
        floe_err_prefix(err, "%s", path);
        goto out;
    }
    off = 0;
    for (size_t i = 0; i < fs.n; i++) {
        qfield *qf = &fs.f[i];
        if (!qf->derived)
            continue;
        /* rope tables were rebuilt by derive: refresh the pointers */
        const void *now = strcmp(qf->name, "model.rope.cos") == 0   ? (const void *)m->rope.cos
                          : strcmp(qf->name, "model.rope.sin") == 0 ? (const void *)m->rope.sin
                                                                    : qf->data;
        if (memcmp((char *)stored + off, now, qf->bytes) != 0) {
            floe_err_set(err, "%s: tensor '%s' holds integer constants that differ from those its step sizes give "
                              "(the file was edited, or written by another numerics version)",
                         path, qf->name);
            goto out;
        }
        off += qf->bytes;
    }
    rc = 0;
out:
    free(stored);
    free(smooth);
    free(fs.f);
    floe_st_close(&f);
    if (rc != 0)
        floe_qmodel_free(m);
    return rc;
}
