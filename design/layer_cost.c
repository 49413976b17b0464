#include "design/layer_cost.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/deploy_check.h"

double floe_linear_elems(const floe_model_config *cfg, int j)
{
    double d = cfg->d_model, kv = (double)cfg->n_kv_heads * cfg->head_dim, f = cfg->ffn_dim;
    switch (j) {
    case FLOE_LIN_Q:
    case FLOE_LIN_O: return d * d;
    case FLOE_LIN_K:
    case FLOE_LIN_V: return d * kv;
    default: return d * f; /* gate, up, down */
    }
}

double floe_layer_weight_bytes(const floe_model_config *cfg, int b)
{
    double elems = 0;
    for (int j = 0; j < FLOE_LAYER_LINEARS; j++)
        elems += floe_linear_elems(cfg, j);
    return elems * b / 8.0;
}

/* The model of n layers at widths u (every layer as layer 0): latency (us), energy (uJ), weight
 * bytes, chips; `what` names the widths in errors. */
static int price_q(const floe_model_config *cfg, const floe_qconfig *u, int n, const char *what,
                   const floe_machine *mach, const floe_energy_table *e, double fig[FLOE_DESIGN_RESOURCES], int *chips,
                   floe_err *err)
{
    floe_model_config c = *cfg;
    c.n_layers = n;
    floe_cost_opts o = {0};
    floe_cost_result r;
    if (floe_cost_estimate(&c, u, mach, e, &o, &r, err) != 0) {
        floe_err_prefix(err, "pricing %d layer(s) at %s", n, what);
        return -1;
    }
    if (!r.fits)
        return floe_err_set(err, "the model with %d layer(s) at %s does not fit the machine: %s", n, what, r.unfit);
    fig[FLOE_DESIGN_LATENCY] = r.decode_s * 1e6;
    fig[FLOE_DESIGN_ENERGY] = r.energy_j_per_token * 1e6;
    double layer = 0;
    for (int j = 0; j < FLOE_LAYER_LINEARS; j++)
        layer += floe_linear_elems(&c, j) * floe_qconfig_linear_wbits_of(u, 0, j) / 8.0;
    fig[FLOE_DESIGN_MEMORY] = layer * n + (double)c.vocab_size * c.d_model * u->head_bits / 8.0;
    if (chips)
        *chips = r.chips;
    return 0;
}

/* The model of n layers, every layer at b bits. */
static int price(const floe_model_config *cfg, const floe_qconfig *q, int n, int b, const floe_machine *mach,
                 const floe_energy_table *e, double fig[FLOE_DESIGN_RESOURCES], int *chips, floe_err *err)
{
    floe_qconfig u = *q;
    u.wbits = b;
    floe_qconfig_clear_wbits(&u);
    char what[16];
    snprintf(what, sizeof what, "W%d", b);
    return price_q(cfg, &u, n, what, mach, e, fig, chips, err);
}

floe_compile_opts floe_design_plan_opts(const floe_model_config *cfg)
{
    const floe_deploy_check_opts d = floe_deploy_check_defaults();
    const int room = cfg->context - d.tokens, steps = room < 32 ? room : 32;
    const int cap = d.tokens + steps > d.tokens + d.decode ? d.tokens + steps : d.tokens + d.decode;
    return (floe_compile_opts){.tokens = d.tokens, .kv_tokens = cap};
}

int floe_layer_cores(const floe_model_config *cfg, const floe_qconfig *u, const floe_machine *mach,
                     int parts[FLOE_MCK_MAX_PARTS], int *head, int *n_head, int *per_chip, floe_err *err)
{
    const floe_compile_opts o = floe_design_plan_opts(cfg);
    floe_plan_group *g;
    int n;
    if (floe_compile_plan_groups(cfg, u, mach, &o, &g, &n, per_chip, err) != 0)
        return -1;
    int np = 0, nh = 0, rc = 0;
    for (int k = 0; k < FLOE_MCK_MAX_PARTS; k++)
        parts[k] = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (g[i].layer == 0 && np < FLOE_MCK_MAX_PARTS)
            parts[np++] = g[i].cores;
        else if (g[i].layer < 0 && nh < FLOE_DESIGN_MAX_HEAD_SLICES) {
            if (head)
                head[nh] = g[i].cores;
            nh++;
        } else if (g[i].layer == 0 || g[i].layer < 0)
            rc = floe_err_set(err, "the compiler's plan has more groups for a layer or the head than design places");
    }
    free(g);
    if (n_head)
        *n_head = nh;
    return rc;
}

int floe_layer_cost_price(const floe_model_config *cfg, const floe_qconfig *q, int base_bits, const int *widths,
                          int n_widths, const floe_machine *mach, const floe_energy_table *e, floe_layer_cost *out,
                          floe_err *err)
{
    memset(out, 0, sizeof *out);
    if (cfg->n_layers < 2)
        return floe_err_set(err,
                            "a layer's cost is priced by difference of n and n - 1 layers: the model needs 2 "
                            "or more decoder layers (it has %d)",
                            cfg->n_layers);
    if (n_widths < 1 || n_widths > FLOE_DESIGN_MAX_WIDTHS)
        return floe_err_set(err, "1 to %d candidate widths (got %d)", FLOE_DESIGN_MAX_WIDTHS, n_widths);
    const int n = cfg->n_layers;
    out->n_widths = n_widths;
    /* the fixed part, by difference at the base width */
    double base[FLOE_DESIGN_RESOURCES], less[FLOE_DESIGN_RESOURCES];
    if (price(cfg, q, n, base_bits, mach, e, base, NULL, err) != 0 ||
        price(cfg, q, n - 1, base_bits, mach, e, less, NULL, err) != 0)
        return -1;
    for (int r = 0; r < FLOE_DESIGN_RESOURCES; r++)
        out->fixed[r] = base[r] - n * (base[r] - less[r]);
    out->fixed[FLOE_DESIGN_MEMORY] = (double)cfg->vocab_size * cfg->d_model * q->head_bits / 8.0;
    /* a layer's share at each width: the uniform model less the fixed part, over n (so the uniform
       model is priced as a whole; n - 1 layers can map differently from n) */
    for (int w = 0; w < n_widths; w++) {
        out->widths[w] = widths[w];
        if (price(cfg, q, n, widths[w], mach, e, out->uniform[w], &out->chips[w], err) != 0)
            return -1;
        for (int r = 0; r < FLOE_DESIGN_MEMORY; r++) {
            const double share = (out->uniform[w][r] - out->fixed[r]) / n;
            out->layer[w][r] = share > 0 ? share : 0;
        }
        out->layer[w][FLOE_DESIGN_MEMORY] = floe_layer_weight_bytes(cfg, widths[w]);
        floe_qconfig u = *q;
        u.wbits = widths[w];
        floe_qconfig_clear_wbits(&u);
        floe_err pe; /* a width the plan does not map is never placed */
        if (floe_layer_cores(cfg, &u, mach, out->cores[w], out->head_cores, &out->n_head, &out->per_chip, &pe) != 0)
            out->cores[w][0] = -1;
    }
    return 0;
}

int floe_combo_count(int n_widths)
{
    int c = 1;
    for (int j = 0; j < FLOE_LAYER_LINEARS; j++)
        c *= n_widths;
    return c;
}

int floe_combo_digit(int c, int j, int n_widths)
{
    for (int k = 0; k < j; k++)
        c /= n_widths;
    return c % n_widths;
}

/* Every layer's seven linears at combination c's widths. */
static floe_qconfig combo_qconfig(const floe_qconfig *q, const floe_layer_cost *lc, int n, int c)
{
    floe_qconfig u = *q;
    floe_qconfig_clear_wbits(&u);
    for (int l = 0; l < n; l++)
        for (int j = 0; j < FLOE_LAYER_LINEARS; j++)
            u.linear_wbits[l][j] = (signed char)lc->widths[floe_combo_digit(c, j, lc->n_widths)];
    return u;
}

int floe_combo_cost_price(const floe_model_config *cfg, const floe_qconfig *q, const floe_layer_cost *lc,
                          const floe_machine *mach, const floe_energy_table *e, double *combo, floe_err *err)
{
    const int n = cfg->n_layers, nc = floe_combo_count(lc->n_widths);
    floe_err *errs = calloc((size_t)nc, sizeof *errs);
    int *rcs = calloc((size_t)nc, sizeof *rcs);
    if (!errs || !rcs) {
        free(errs), free(rcs);
        return floe_err_set(err, "pricing the combinations of widths: out of memory");
    }
#pragma omp parallel for schedule(dynamic, 16)
    for (int c = 0; c < nc; c++) {
        floe_qconfig u = combo_qconfig(q, lc, n, c);
        char what[96];
        int o = snprintf(what, sizeof what, "widths");
        for (int j = 0; j < FLOE_LAYER_LINEARS; j++)
            o += snprintf(what + o, sizeof what - (size_t)o, " %d", u.linear_wbits[0][j]);
        double all[FLOE_DESIGN_RESOURCES] = {0};
        rcs[c] = price_q(cfg, &u, n, what, mach, e, all, NULL, &errs[c]) != 0;
        for (int r = 0; !rcs[c] && r < FLOE_DESIGN_RESOURCES; r++) {
            const double share = (all[r] - lc->fixed[r]) / n;
            combo[(size_t)c * FLOE_DESIGN_RESOURCES + r] = share > 0 ? share : 0;
        }
    }
    int rc = 0;
    for (int c = 0; c < nc && rc == 0; c++)
        if (rcs[c]) {
            *err = errs[c];
            rc = -1;
        }
    free(errs), free(rcs);
    return rc;
}

void floe_combo_cores(const floe_model_config *cfg, const floe_qconfig *q, const floe_layer_cost *lc,
                      const floe_machine *mach, int *cores)
{
    const int n = cfg->n_layers, nc = floe_combo_count(lc->n_widths);
#pragma omp parallel for schedule(dynamic, 16)
    for (int c = 0; c < nc; c++) {
        floe_qconfig u = combo_qconfig(q, lc, n, c);
        int per_chip;
        floe_err pe;
        if (floe_layer_cores(cfg, &u, mach, cores + (size_t)c * FLOE_MCK_MAX_PARTS, NULL, NULL, &per_chip, &pe) != 0)
            cores[(size_t)c * FLOE_MCK_MAX_PARTS] = -1;
    }
}
