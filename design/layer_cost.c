#include "design/layer_cost.h"

#include <string.h>

double floe_layer_weight_bytes(const floe_model_config *cfg, int b)
{
    double d = cfg->d_model, kv = (double)cfg->n_kv_heads * cfg->head_dim, f = cfg->ffn_dim;
    double elems = d * d * 2 + d * kv * 2 + d * f * 3; /* q, o; k, v; gate, up, down */
    return elems * b / 8.0;
}

/* The model of n layers, every layer at b bits: latency (us), energy (uJ), chips. */
static int price(const floe_model_config *cfg, const floe_qconfig *q, int n, int b, const floe_machine *mach,
                 const floe_energy_table *e, double fig[FLOE_DESIGN_RESOURCES], int *chips, floe_err *err)
{
    floe_model_config c = *cfg;
    c.n_layers = n;
    floe_qconfig u = *q;
    u.wbits = b;
    memset(u.layer_wbits, 0, sizeof u.layer_wbits);
    floe_cost_opts o = {0};
    floe_cost_result r;
    if (floe_cost_estimate(&c, &u, mach, e, &o, &r, err) != 0) {
        floe_err_prefix(err, "pricing %d layer(s) at W%d", n, b);
        return -1;
    }
    if (!r.fits)
        return floe_err_set(err, "the model with %d layer(s) at W%d does not fit the machine: %s", n, b, r.unfit);
    fig[FLOE_DESIGN_LATENCY] = r.decode_s * 1e6;
    fig[FLOE_DESIGN_ENERGY] = r.energy_j_per_token * 1e6;
    fig[FLOE_DESIGN_MEMORY] = floe_layer_weight_bytes(&c, b) * n + (double)c.vocab_size * c.d_model * u.head_bits / 8.0;
    if (chips)
        *chips = r.chips;
    return 0;
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
    for (int w = 0; w < n_widths; w++) {
        double less[FLOE_DESIGN_RESOURCES];
        out->widths[w] = widths[w];
        if (price(cfg, q, n, widths[w], mach, e, out->uniform[w], &out->chips[w], err) != 0 ||
            price(cfg, q, n - 1, widths[w], mach, e, less, NULL, err) != 0)
            return -1;
        for (int r = 0; r < FLOE_DESIGN_RESOURCES; r++) /* a mapping change can make a difference negative */
            out->layer[w][r] = out->uniform[w][r] > less[r] ? out->uniform[w][r] - less[r] : 0;
        out->layer[w][FLOE_DESIGN_MEMORY] = floe_layer_weight_bytes(cfg, widths[w]);
    }
    double base[FLOE_DESIGN_RESOURCES], less[FLOE_DESIGN_RESOURCES];
    if (price(cfg, q, n, base_bits, mach, e, base, NULL, err) != 0 ||
        price(cfg, q, n - 1, base_bits, mach, e, less, NULL, err) != 0)
        return -1;
    for (int r = 0; r < FLOE_DESIGN_RESOURCES; r++)
        out->fixed[r] = base[r] - n * (base[r] - less[r]);
    out->fixed[FLOE_DESIGN_MEMORY] = (double)cfg->vocab_size * cfg->d_model * q->head_bits / 8.0;
    return 0;
}
