#include "models/qmodel.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "isa/rmsnorm.h"
#include "isa/silu.h"
#include "isa/token.h"

floe_qconfig floe_qconfig_default(void) { return (floe_qconfig){4, 8, 8, 8, FLOE_ACT_PER_TENSOR, 0, {0}, {{0}}}; }

const char *floe_act_scaling_name(int act_scaling)
{
    return act_scaling == FLOE_ACT_PER_TOKEN ? "per-token" : "per-tensor";
}

int floe_act_scaling_parse(const char *s, int *out)
{
    if (s && strcmp(s, "per-tensor") == 0)
        *out = FLOE_ACT_PER_TENSOR;
    else if (s && strcmp(s, "per-token") == 0)
        *out = FLOE_ACT_PER_TOKEN;
    else
        return -1;
    return 0;
}

int floe_qconfig_set_scaling(floe_qconfig *q, const char *name, long long kmax, floe_err *err)
{
    int sc = FLOE_ACT_PER_TENSOR;
    if (name && floe_act_scaling_parse(name, &sc) != 0)
        return floe_err_set(err, "activation scaling '%s': expected per-tensor or per-token", name);
    if (sc == FLOE_ACT_PER_TENSOR && kmax != 0)
        return floe_err_set(err, "act-kmax %lld: the largest per-token shift needs per-token activation scaling", kmax);
    if (sc == FLOE_ACT_PER_TOKEN && (kmax < 0 || kmax > FLOE_TOKEN_K_MAX))
        return floe_err_set(err, "act-kmax %lld: per-token shifts go up to 1..%d", kmax, FLOE_TOKEN_K_MAX);
    q->act_scaling = sc;
    q->act_kmax = sc == FLOE_ACT_PER_TOKEN ? (kmax ? (int)kmax : FLOE_TOKEN_K_DEFAULT) : 0;
    return 0;
}

int floe_qconfig_scaling_from_meta(floe_qconfig *q, const char *scaling, const char *kmax, const char *path,
                                   floe_err *err)
{
    q->act_scaling = FLOE_ACT_PER_TENSOR;
    q->act_kmax = 0;
    if (scaling && floe_act_scaling_parse(scaling, &q->act_scaling) != 0)
        return floe_err_set(err, "%s: metadata 'floe.act_scaling' is '%s' (expected per-tensor or per-token)", path,
                            scaling);
    if (q->act_scaling == FLOE_ACT_PER_TENSOR) {
        if (kmax)
            return floe_err_set(err, "%s: metadata 'floe.act_kmax' is %s but 'floe.act_scaling' is %s: a per-tensor "
                                     "model has no per-token shift",
                                path, kmax, scaling ? scaling : "absent (per-tensor)");
        return 0;
    }
    char *end = NULL;
    long k = kmax ? strtol(kmax, &end, 10) : -1;
    if (!kmax || *end || end == kmax || k < 1 || k > FLOE_TOKEN_K_MAX)
        return floe_err_set(err, "%s: metadata 'floe.act_kmax' is %s%s%s: a per-token model needs K in 1..%d", path,
                            kmax ? "'" : "", kmax ? kmax : "missing", kmax ? "'" : "", FLOE_TOKEN_K_MAX);
    q->act_kmax = (int)k;
    return 0;
}

int floe_qconfig_validate(const floe_qconfig *q, floe_err *err)
{
    if (q->wbits != 2 && q->wbits != 4 && q->wbits != 8)
        return floe_err_set(err, "weight bits %d: the chip supports 2, 4 or 8", q->wbits);
    if (q->abits != 4 && q->abits != 8)
        return floe_err_set(err, "activation bits %d: the chip supports 4 or 8", q->abits);
    if (q->kvbits != 4 && q->kvbits != 8)
        return floe_err_set(err, "KV-cache bits %d: the chip supports 4 or 8", q->kvbits);
    if (q->head_bits != 4 && q->head_bits != 8)
        return floe_err_set(err, "LM-head weight bits %d: supported are 4 or 8", q->head_bits);
    if (q->act_scaling != FLOE_ACT_PER_TENSOR && q->act_scaling != FLOE_ACT_PER_TOKEN)
        return floe_err_set(err, "activation scaling %d: expected per-tensor or per-token", q->act_scaling);
    if (q->act_scaling == FLOE_ACT_PER_TOKEN && (q->act_kmax < 1 || q->act_kmax > FLOE_TOKEN_K_MAX))
        return floe_err_set(err, "per-token activation scaling: K (act_kmax) %d is outside 1..%d", q->act_kmax,
                            FLOE_TOKEN_K_MAX);
    if (q->act_scaling == FLOE_ACT_PER_TENSOR && q->act_kmax != 0)
        return floe_err_set(err, "act_kmax %d is set but activation scaling is per-tensor", q->act_kmax);
    for (int l = 0; l < FLOE_MODEL_MAX_LAYERS; l++) {
        if (q->layer_wbits[l] != 0 && q->layer_wbits[l] != 2 && q->layer_wbits[l] != 4 && q->layer_wbits[l] != 8)
            return floe_err_set(err, "weight bits %d of layer %d: the chip supports 2, 4 or 8", q->layer_wbits[l], l);
        for (int j = 0; j < FLOE_LAYER_LINEARS; j++) {
            int b = q->linear_wbits[l][j];
            if (b != 0 && b != 2 && b != 4 && b != 8)
                return floe_err_set(err, "weight bits %d of layer %d's %s: the chip supports 2, 4 or 8", b, l,
                                    floe_linear_name(j));
        }
    }
    return 0;
}

static const char *const LINEAR_NAMES[FLOE_LAYER_LINEARS] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                             "gate_proj", "up_proj", "down_proj"};

const char *floe_linear_name(int j) { return j >= 0 && j < FLOE_LAYER_LINEARS ? LINEAR_NAMES[j] : "?"; }

int floe_qconfig_wbits_of(const floe_qconfig *q, int l)
{
    return l >= 0 && l < FLOE_MODEL_MAX_LAYERS && q->layer_wbits[l] ? q->layer_wbits[l] : q->wbits;
}

int floe_qconfig_linear_wbits_of(const floe_qconfig *q, int l, int j)
{
    if (l >= 0 && l < FLOE_MODEL_MAX_LAYERS && j >= 0 && j < FLOE_LAYER_LINEARS && q->linear_wbits[l][j])
        return q->linear_wbits[l][j];
    return floe_qconfig_wbits_of(q, l);
}

int floe_qconfig_has_layer_wbits(const floe_qconfig *q)
{
    for (int l = 0; l < FLOE_MODEL_MAX_LAYERS; l++)
        for (int j = 0; j < FLOE_LAYER_LINEARS; j++)
            if (floe_qconfig_linear_wbits_of(q, l, j) != q->wbits)
                return 1;
    return 0;
}

int floe_qconfig_has_linear_wbits(const floe_qconfig *q)
{
    for (int l = 0; l < FLOE_MODEL_MAX_LAYERS; l++)
        for (int j = 0; j < FLOE_LAYER_LINEARS; j++)
            if (q->linear_wbits[l][j] && q->linear_wbits[l][j] != floe_qconfig_wbits_of(q, l))
                return 1;
    return 0;
}

void floe_qconfig_clear_wbits(floe_qconfig *q)
{
    memset(q->layer_wbits, 0, sizeof q->layer_wbits);
    memset(q->linear_wbits, 0, sizeof q->linear_wbits);
}

int floe_qconfig_check_layers(const floe_qconfig *q, int n_layers, const char *name, const char *what, floe_err *err)
{
    for (int l = n_layers < 0 ? 0 : n_layers; l < FLOE_MODEL_MAX_LAYERS; l++)
        for (int j = -1; j < FLOE_LAYER_LINEARS; j++)
            if (j < 0 ? q->layer_wbits[l] : q->linear_wbits[l][j])
                return floe_err_set(err, "%s: weight bits for layer %d%s%s, but %s has %d layers (0..%d)", what, l,
                                    j < 0 ? "" : "'s ", j < 0 ? "" : floe_linear_name(j), name, n_layers, n_layers - 1);
    return 0;
}

/* The linear named by the n characters at s, or -1: its short name, or the Hugging Face tensor
 * name's tail ("self_attn.q_proj", "mlp.down_proj"). */
static int linear_of_name(const char *s, size_t n)
{
    int part = -1; /* 0: self_attn., 1: mlp. */
    if (n > 10 && strncmp(s, "self_attn.", 10) == 0)
        part = 0, s += 10, n -= 10;
    else if (n > 4 && strncmp(s, "mlp.", 4) == 0)
        part = 1, s += 4, n -= 4;
    for (int j = 0; j < FLOE_LAYER_LINEARS; j++)
        if (strlen(LINEAR_NAMES[j]) == n && strncmp(s, LINEAR_NAMES[j], n) == 0)
            return part < 0 || part == (j >= FLOE_LIN_GATE) ? j : -1;
    return -1;
}

int floe_qconfig_parse_layer_wbits(floe_qconfig *q, const char *spec, const char *what, floe_err *err)
{
    /* seen[l][0]: the layer-wide item; seen[l][1 + j]: linear j's */
    unsigned char(*seen)[1 + FLOE_LAYER_LINEARS] = calloc(FLOE_MODEL_MAX_LAYERS, sizeof *seen);
    if (!seen)
        return floe_err_set(err, "%s: out of memory", what);
    const char *p = spec;
    int rc = -1;
    while (p && *p) {
        char *end;
        long l = isdigit((unsigned char)*p) ? strtol(p, &end, 10) : -1;
        if (l < 0)
            end = (char *)p;
        int j = -1;
        char item[48];
        if (end != p && *end == '.' && l >= 0 && l < FLOE_MODEL_MAX_LAYERS) {
            const char *name = end + 1;
            size_t n = strcspn(name, "=,");
            j = linear_of_name(name, n);
            if (j < 0) {
                floe_err_set(err, "%s '%s': layer %ld: unknown linear '%.*s' (%s)", what, spec, l,
                             (int)(n > 40 ? 40 : n), name,
                             "one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, or "
                             "self_attn.q_proj, mlp.down_proj, ...");
                goto out;
            }
            end = (char *)name + n;
        }
        if (end == p || *end != '=' || l < 0 || l >= FLOE_MODEL_MAX_LAYERS) {
            floe_err_set(err,
                         "%s '%s': expected LAYER=BITS or LAYER.LINEAR=BITS[,...] with layers 0..%d and LINEAR one of "
                         "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj (at '%s')",
                         what, spec, FLOE_MODEL_MAX_LAYERS - 1, p);
            goto out;
        }
        if (j < 0)
            snprintf(item, sizeof item, "layer %ld", l);
        else
            snprintf(item, sizeof item, "layer %ld's %s", l, LINEAR_NAMES[j]);
        const char *b = end + 1;
        long bits = isdigit((unsigned char)*b) ? strtol(b, &end, 10) : 0;
        if (!isdigit((unsigned char)*b))
            end = (char *)b;
        if (end == b || (*end != ',' && *end != '\0')) {
            floe_err_set(err, "%s '%s': %s: bits missing or not a number (at '%s')", what, spec, item, b);
            goto out;
        }
        if (bits != 2 && bits != 4 && bits != 8) {
            floe_err_set(err, "%s '%s': %s at %ld bits: the chip supports 2, 4 or 8", what, spec, item, bits);
            goto out;
        }
        if (seen[l][1 + j]) {
            floe_err_set(err, "%s '%s': %s is given twice", what, spec, item);
            goto out;
        }
        seen[l][1 + j] = 1;
        if (j < 0)
            q->layer_wbits[l] = (signed char)bits;
        else
            q->linear_wbits[l][j] = (signed char)bits;
        if (*end == ',' && end[1] == '\0') {
            floe_err_set(err, "%s '%s': expected LAYER=BITS or LAYER.LINEAR=BITS after the last ','", what, spec);
            goto out;
        }
        p = *end == ',' ? end + 1 : end;
    }
    rc = 0;
out:
    free(seen);
    return rc;
}

int floe_qconfig_format_layer_wbits(const floe_qconfig *q, char *buf, size_t n)
{
    size_t at = 0;
    if (n)
        buf[0] = '\0';
    for (int l = 0; l < FLOE_MODEL_MAX_LAYERS; l++) {
        const int lb = floe_qconfig_wbits_of(q, l);
        for (int j = -1; j < FLOE_LAYER_LINEARS; j++) {
            int b = j < 0 ? lb : floe_qconfig_linear_wbits_of(q, l, j);
            if (b == (j < 0 ? q->wbits : lb))
                continue;
            int w = j < 0 ? snprintf(buf + at, n > at ? n - at : 0, "%s%d=%d", at ? "," : "", l, b)
                          : snprintf(buf + at, n > at ? n - at : 0, "%s%d.%s=%d", at ? "," : "", l, LINEAR_NAMES[j], b);
            if (w < 0 || at + (size_t)w >= n)
                return -1;
            at += (size_t)w;
        }
    }
    return 0;
}

const char *floe_qconfig_label(const floe_qconfig *q, char *buf, size_t n)
{
    char lw[8192];
    if (floe_qconfig_format_layer_wbits(q, lw, sizeof lw) != 0)
        snprintf(lw, sizeof lw, "...");
    snprintf(buf, n, "W%dA%dKV%d%s%.0d%s%s", q->wbits, q->abits, q->kvbits,
             q->act_scaling == FLOE_ACT_PER_TOKEN ? ", per-token K " : "", q->act_kmax, lw[0] ? ", layers " : "", lw);
    return buf;
}

/* borrow: w and s_w will be another layer's (floe_qmodel_random_shared): only m is allocated */
static int lin_alloc(floe_qlinear *l, int in, int out, int bits, int borrow, floe_err *err)
{
    l->in = in;
    l->out = out;
    l->bits = bits;
    l->borrowed = borrow;
    l->w = borrow ? NULL : calloc((size_t)in * out, 1);
    l->s_w = borrow ? NULL : malloc(sizeof(float) * (size_t)out);
    l->m = calloc((size_t)out, sizeof *l->m);
    if ((!borrow && (!l->w || !l->s_w)) || !l->m)
        return floe_err_set(err, "quantized model: out of memory for a %d x %d layer", out, in);
    for (int i = 0; !borrow && i < out; i++)
        l->s_w[i] = 1.0f;
    return 0;
}

static void lin_free(floe_qlinear *l)
{
    if (!l->borrowed) {
        free(l->w);
        free(l->s_w);
    }
    free(l->m);
    memset(l, 0, sizeof *l);
}

#define LAYER_LINEARS(L) (&(L)->q), (&(L)->k), (&(L)->v), (&(L)->o), (&(L)->gate), (&(L)->up), (&(L)->down)

static int first_of_bits(const floe_qmodel *m, int l);

/* shared: a layer after the first of its weight bits gets no codes or steps of its own */
static int qmodel_alloc(floe_qmodel *m, const floe_model_config *cfg, const floe_qconfig *q, int shared, floe_err *err)
{
    memset(m, 0, sizeof *m);
    if (floe_qconfig_validate(q, err) != 0 || floe_model_config_validate(cfg, cfg->name, err) != 0)
        return -1;
    if (floe_qconfig_check_layers(q, cfg->n_layers, cfg->name, "per-layer weight bits", err) != 0)
        return -1;
    m->cfg = *cfg;
    m->q = *q;
    int d = cfg->d_model, hd = cfg->head_dim, kv = cfg->n_kv_heads * hd, f = cfg->ffn_dim;
    m->embed = calloc((size_t)cfg->vocab_size * d, sizeof(int16_t));
    m->layers = calloc((size_t)cfg->n_layers, sizeof *m->layers);
    if (!m->embed || !m->layers) {
        floe_qmodel_free(m);
        return floe_err_set(err, "quantized model: out of memory");
    }
    for (int l = 0; l < cfg->n_layers; l++) {
        floe_qlayer *L = &m->layers[l];
        const int b = shared && first_of_bits(m, l) != l;
        floe_qlinear *lins[FLOE_LAYER_LINEARS] = {LAYER_LINEARS(L)};
        const int ins[FLOE_LAYER_LINEARS] = {d, d, d, d, d, d, f}, outs[FLOE_LAYER_LINEARS] = {d, kv, kv, d, f, f, d};
        int rc = 0;
        for (int j = 0; j < FLOE_LAYER_LINEARS; j++)
            rc |= lin_alloc(lins[j], ins[j], outs[j], floe_qconfig_linear_wbits_of(q, l, j), b, err);
        if (rc) {
            floe_qmodel_free(m);
            return -1;
        }
        L->s_attn_in = L->s_q = L->s_k = L->s_kc = L->s_vc = L->s_o_in = L->s_mlp_in = 1.0f;
        L->s_g = L->s_silu = L->s_u = L->s_down_in = 1.0f;
    }
    if (lin_alloc(&m->head, d, cfg->vocab_size, q->head_bits, 0, err) != 0) {
        floe_qmodel_free(m);
        return -1;
    }
    m->s_res = m->s_head_in = m->s_logit = 1.0f;
    return 0;
}

int floe_qmodel_alloc(floe_qmodel *m, const floe_model_config *cfg, const floe_qconfig *q, floe_err *err)
{
    return qmodel_alloc(m, cfg, q, 0, err);
}

void floe_qmodel_free(floe_qmodel *m)
{
    free(m->embed);
    if (m->layers)
        for (int l = 0; l < m->cfg.n_layers; l++) {
            floe_qlinear *lins[7] = {LAYER_LINEARS(&m->layers[l])};
            for (int i = 0; i < 7; i++)
                lin_free(lins[i]);
            free(m->layers[l].smooth_attn);
            free(m->layers[l].smooth_mlp);
            free(m->layers[l].attn_norm_cj);
            free(m->layers[l].mlp_norm_cj);
        }
    free(m->layers);
    lin_free(&m->head);
    floe_rope_table_free(&m->rope);
    memset(m, 0, sizeof *m);
}

static int step_ok(float s) { return isfinite(s) && s > 0.0f; }

/* The multiplier for a real value, or an error naming what it is for. */
static int mult(double M, floe_requant_mult *out, floe_err *err, const char *what, int layer)
{
    if (floe_requant_mult_from_real(M, out) != 0 || M <= 0.0)
        return layer >= 0 ? floe_err_set(err, "layer %d %s: multiplier %g is not representable", layer, what, M)
                          : floe_err_set(err, "%s: multiplier %g is not representable", what, M);
    return 0;
}

/* Row n: ((s_in * s_w[n]) * g) / s_out, g a Granite multiplier folded into the output (1: none; a
 * product with 1 is exact, so a Llama's multipliers are those of s_in * s_w[n] / s_out). */
static int derive_linear(floe_qlinear *l, double s_in, double s_out, double g, const char *name, int layer,
                         floe_err *err)
{
    for (int n = 0; n < l->out; n++) {
        if (!step_ok(l->s_w[n]))
            return floe_err_set(err, "layer %d %s: weight step of row %d is %g (must be positive and finite)", layer,
                                name, n, (double)l->s_w[n]);
        if (mult(s_in * l->s_w[n] * g / s_out, &l->m[n], err, name, layer) != 0)
            return -1;
    }
    return 0;
}

int floe_qmodel_set_smoothing(floe_qmodel *m, int l, int which, const float *h, floe_err *err)
{
    const int d = m->cfg.d_model;
    const char *norm = which ? "post_attention_layernorm" : "input_layernorm";
    if (l < 0 || l >= m->cfg.n_layers)
        return floe_err_set(err, "smoothing: layer %d of %d", l, m->cfg.n_layers);
    for (int j = 0; j < d; j++)
        if (!(isfinite(h[j]) && h[j] > 0.0f))
            return floe_err_set(err, "layer %d %s smoothing: channel %d is %g (must be positive and finite)", l, norm,
                                j, (double)h[j]);
    floe_qlayer *L = &m->layers[l];
    float **sv = which ? &L->smooth_mlp : &L->smooth_attn;
    floe_requant_mult **cj = which ? &L->mlp_norm_cj : &L->attn_norm_cj;
    if (!*sv)
        *sv = malloc(sizeof(float) * (size_t)d);
    if (!*cj)
        *cj = calloc((size_t)d, sizeof(floe_requant_mult));
    if (!*sv || !*cj)
        return floe_err_set(err, "layer %d %s smoothing: out of memory", l, norm);
    memcpy(*sv, h, sizeof(float) * (size_t)d);
    m->derived = 0;
    return 0;
}

/* Per-channel norm multipliers C_j = h_j * sqrt(d) / s_in. */
static int derive_smoothing(const float *h, floe_requant_mult *cj, int d, double sqrt_d, double s_in,
                            const char *what, int l, floe_err *err)
{
    for (int j = 0; h && j < d; j++)
        if (mult((double)h[j] * sqrt_d / s_in, &cj[j], err, what, l) != 0)
            return -1;
    return 0;
}

/* The RoPE tables for the context: theta^(-2i/hd), or llama3's scaled frequencies (the same function
 * as the float model's, isa/rope.h) as data of the same Q14 tables. */
static int rope_tables(floe_rope_table *t, const floe_model_config *c, floe_err *err)
{
    if (c->rope_scaling != FLOE_ROPE_LLAMA3)
        return floe_rope_table_build(t, c->context, c->head_dim, c->rope_theta, err);
    double *f = malloc(sizeof(double) * (size_t)(c->head_dim / 2));
    if (!f)
        return floe_err_set(err, "rope: out of memory");
    floe_rope_llama3_inv_freq(f, c->head_dim, c->rope_theta, c->rope_factor, c->rope_low_freq_factor,
                              c->rope_high_freq_factor, c->rope_original_context);
    int rc = floe_rope_table_build_freq(t, c->context, c->head_dim, f, err);
    free(f);
    return rc;
}

int floe_qmodel_derive(floe_qmodel *m, floe_err *err)
{
    const floe_model_config *c = &m->cfg;
    const double LOG2E = 1.4426950408889634074;
    if (!step_ok(m->s_res) || !step_ok(m->s_head_in) || !step_ok(m->s_logit))
        return floe_err_set(err, "model steps (residual %g, head input %g, logits %g) must be positive and finite",
                            (double)m->s_res, (double)m->s_head_in, (double)m->s_logit);
    m->eps_q = floe_rmsnorm_eps_q(c->rms_eps, (size_t)c->d_model, m->s_res);
    double sqrt_d = sqrt((double)c->d_model), sqrt_hd = sqrt((double)c->head_dim);
    /* Granite's multipliers, folded into existing multipliers (docs/quantized-model.md): residual_multiplier
     * into o_proj's and down_proj's rows, 1 / logits_scaling into the LM head's, attention_multiplier in
     * place of 1 / sqrt(head_dim) in the scores'. A Llama's are 1 (exact) and the division by sqrt_hd. */
    const int granite = c->family == FLOE_FAMILY_GRANITE;
    const double rm = granite ? c->residual_multiplier : 1.0, inv_ls = granite ? 1.0 / c->logits_scaling : 1.0;
    for (int l = 0; l < c->n_layers; l++) {
        floe_qlayer *L = &m->layers[l];
        const float steps[11] = {L->s_attn_in, L->s_q, L->s_k, L->s_kc, L->s_vc, L->s_o_in,
                                 L->s_mlp_in, L->s_g, L->s_silu, L->s_u, L->s_down_in};
        static const char *const sn[11] = {"s_attn_in", "s_q", "s_k", "s_kc", "s_vc", "s_o_in",
                                           "s_mlp_in", "s_g", "s_silu", "s_u", "s_down_in"};
        for (int i = 0; i < 11; i++)
            if (!step_ok(steps[i]))
                return floe_err_set(err, "layer %d: step %s is %g (must be positive and finite)", l, sn[i],
                                    (double)steps[i]);
        floe_qlinear *lins[7] = {LAYER_LINEARS(L)};
        const double s_in[7] = {L->s_attn_in, L->s_attn_in, L->s_attn_in, L->s_o_in, L->s_mlp_in, L->s_mlp_in, L->s_down_in};
        const double s_out[7] = {L->s_q, L->s_k, L->s_vc, m->s_res, L->s_g, L->s_u, m->s_res};
        const double g[7] = {1.0, 1.0, 1.0, rm, 1.0, 1.0, rm};
        for (int i = 0; i < 7; i++)
            if (derive_linear(lins[i], s_in[i], s_out[i], g[i], LINEAR_NAMES[i], l, err) != 0)
                return -1;
        const double score = granite ? (double)L->s_q * L->s_kc * LOG2E * 256.0 * c->attention_multiplier
                                     : (double)L->s_q * L->s_kc * LOG2E * 256.0 / sqrt_hd;
        if (mult(sqrt_d / L->s_attn_in, &L->attn_norm_c, err, "input_layernorm", l) ||
            mult(sqrt_d / L->s_mlp_in, &L->mlp_norm_c, err, "post_attention_layernorm", l) ||
            mult((double)L->s_k / L->s_kc, &L->m_kcache, err, "k cache", l) ||
            mult(score, &L->m_score, err, "attention scores", l) ||
            mult(ldexp((double)L->s_vc, -15) / L->s_o_in, &L->m_attn_out, err, "attention output", l) ||
            mult((double)L->s_silu * L->s_u / L->s_down_in, &L->m_mlp, err, "mlp product", l))
            return -1;
        if ((L->smooth_attn || L->smooth_mlp) && m->q.act_scaling == FLOE_ACT_PER_TOKEN)
            return floe_err_set(err, "layer %d: SmoothQuant's per-channel norm factors and per-token activation "
                                     "scaling are not combined (docs/quantized-model.md)", l);
        if (derive_smoothing(L->smooth_attn, L->attn_norm_cj, c->d_model, sqrt_d, L->s_attn_in,
                             "input_layernorm smoothing", l, err) ||
            derive_smoothing(L->smooth_mlp, L->mlp_norm_cj, c->d_model, sqrt_d, L->s_mlp_in,
                             "post_attention_layernorm smoothing", l, err))
            return -1;
        floe_silu_lut16_build(&L->silu, L->s_g, L->s_silu, 16);
    }
    if (derive_linear(&m->head, m->s_head_in, m->s_logit, inv_ls, "lm_head", -1, err) != 0 ||
        mult(sqrt_d / m->s_head_in, &m->head_norm_c, err, "model.norm", -1) != 0)
        return -1;
    floe_rope_table_free(&m->rope);
    if (rope_tables(&m->rope, c, err) != 0)
        return -1;
    m->derived = 1;
    return 0;
}

static void random_linear(floe_rng *r, floe_qlinear *l)
{
    int32_t hi = (1 << (l->bits - 1)) - 1;
    for (size_t i = 0; i < (size_t)l->in * l->out; i++)
        l->w[i] = (int8_t)floe_rng_range(r, -hi - 1, hi);
    /* real weights ~ N(0, 1/in): the step of a b-bit grid covering about 3 standard deviations */
    for (int n = 0; n < l->out; n++) {
        double u = floe_rng_uniform(r);
        l->s_w[n] = (float)(3.0 / sqrt((double)l->in) / (hi + 1) * (0.75 + 0.5 * u));
    }
}

/* The first layer before l whose every linear has the weight bits of l's, or l itself. */
static int first_of_bits(const floe_qmodel *m, int l)
{
    for (int j = 0; j < l; j++) {
        int same = 1;
        for (int k = 0; k < FLOE_LAYER_LINEARS && same; k++)
            same = floe_qconfig_linear_wbits_of(&m->q, j, k) == floe_qconfig_linear_wbits_of(&m->q, l, k);
        if (same)
            return j;
    }
    return l;
}

/* Random codes and steps; shared: a layer borrows the codes and steps of the first layer of its
 * weight bits. */
static int random_model(floe_qmodel *m, const floe_model_config *cfg, const floe_qconfig *q, uint64_t seed,
                        int shared, floe_err *err)
{
    if (qmodel_alloc(m, cfg, q, shared, err) != 0)
        return -1;
    floe_rng r;
    floe_rng_seed(&r, seed);
    for (size_t i = 0; i < (size_t)cfg->vocab_size * cfg->d_model; i++)
        m->embed[i] = (int16_t)floe_rng_range(&r, -4096, 4096);
    m->s_res = 1.0f / 4096; /* embeddings of magnitude ~ 1 */
    double a = (1 << (q->abits - 1)) - 1, c = (1 << (q->kvbits - 1)) - 1;
    for (int l = 0; l < cfg->n_layers; l++) {
        floe_qlayer *L = &m->layers[l];
        floe_qlinear *lins[7] = {LAYER_LINEARS(L)};
        const int from = shared ? first_of_bits(m, l) : l;
        floe_qlinear *src[7] = {LAYER_LINEARS(&m->layers[from])};
        for (int i = 0; i < 7; i++) {
            if (from == l) {
                random_linear(&r, lins[i]);
                continue;
            }
            lins[i]->w = src[i]->w;
            lins[i]->s_w = src[i]->s_w;
        }
        /* normalised inputs are ~N(0, 1): cover 4 standard deviations */
        L->s_attn_in = L->s_mlp_in = (float)(4.0 / a);
        L->s_q = L->s_k = (float)(8.0 / 32767);
        L->s_kc = L->s_vc = (float)(4.0 / c);
        L->s_o_in = L->s_down_in = (float)(4.0 / a);
        L->s_g = L->s_u = L->s_silu = (float)(8.0 / 32767);
    }
    random_linear(&r, &m->head);
    m->s_head_in = (float)(4.0 / a);
    if (q->act_scaling == FLOE_ACT_PER_TOKEN) /* per token: the per-tensor step covers the largest rows (16
                                                  standard deviations), so rows take shifts 0..K */
        for (int l = 0; l < cfg->n_layers; l++) {
            floe_qlayer *L = &m->layers[l];
            float f = (float)(1 << (1 + l % 3));
            L->s_attn_in *= f, L->s_mlp_in *= 2 * f, L->s_o_in *= f, L->s_down_in *= 4;
            m->s_head_in = (float)(16.0 / a);
        }
    m->s_logit = (float)(16.0 / 32767);
    if (floe_qmodel_derive(m, err) != 0) {
        floe_qmodel_free(m);
        return -1;
    }
    return 0;
}

int floe_qmodel_random(floe_qmodel *m, const floe_model_config *cfg, const floe_qconfig *q, uint64_t seed,
                       floe_err *err)
{
    return random_model(m, cfg, q, seed, 0, err);
}

int floe_qmodel_random_shared(floe_qmodel *m, const floe_model_config *cfg, const floe_qconfig *q, uint64_t seed,
                              floe_err *err)
{
    return random_model(m, cfg, q, seed, 1, err);
}
