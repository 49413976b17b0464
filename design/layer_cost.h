/* What a decoder layer's weight width costs on a machine (docs/design-choice.md, "Cost per
 * choice"): decode latency and energy per token from the analytical cost model
 * (explore/cost_model.h), and the bytes of the layer's weight codes.
 *
 * The cost model prices uniform widths (it reads layer 0's mapping from the plan), so a layer's
 * share at width b is measured by difference: with C_n(b) the price of the model with n decoder
 * layers all at b, a layer costs C_n(b) - C_{n-1}(b), and the fixed part (embedding, LM head,
 * instruction loading, links) is C_n(b) - n * (C_n(b) - C_{n-1}(b)), taken at the base width. This
 * is exact when layers are alike (one shape) and their costs add (no layer's width changes
 * another's mapping); where a width changes the number of chips, the fixed part moves with it and
 * the share is an approximation, which floe_deploy_check on the chosen model then settles. Memory
 * is exact: the layer's seven weight matrices' elements times b / 8 bytes. Per linear
 * (floe_linear_cost_price) the same by difference, one linear of every layer at a time. */
#ifndef FLOE_DESIGN_LAYER_COST_H
#define FLOE_DESIGN_LAYER_COST_H

#include "common/error.h"
#include "explore/cost_model.h"
#include "isa/energy_table.h"
#include "isa/machine.h"
#include "models/qmodel.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_DESIGN_MAX_WIDTHS 3

/* The resources a width uses, in the order budgets name them. */
enum { FLOE_DESIGN_LATENCY, FLOE_DESIGN_ENERGY, FLOE_DESIGN_MEMORY, FLOE_DESIGN_RESOURCES };

typedef struct floe_layer_cost {
    int n_widths;
    int widths[FLOE_DESIGN_MAX_WIDTHS];
    /* per width and resource: one decoder layer's share; units us, uJ (0: no energy table), bytes */
    double layer[FLOE_DESIGN_MAX_WIDTHS][FLOE_DESIGN_RESOURCES];
    double fixed[FLOE_DESIGN_RESOURCES];                           /* the rest of the model at the base width */
    double uniform[FLOE_DESIGN_MAX_WIDTHS][FLOE_DESIGN_RESOURCES]; /* the whole model priced at each width */
    int chips[FLOE_DESIGN_MAX_WIDTHS];                             /* of the uniform model at each width */
    /* per linear (floe_linear_cost_price): linear j of one decoder layer at width w, and the rest of
       the model; linear[j][w] >= 0, the cheapest width of each linear's latency and energy at 0 and
       their difference to the base in linear_fixed */
    double linear[FLOE_LAYER_LINEARS][FLOE_DESIGN_MAX_WIDTHS][FLOE_DESIGN_RESOURCES];
    double linear_fixed[FLOE_DESIGN_RESOURCES];
} floe_layer_cost;

/* Prices cfg (n_layers >= 2) with q's other widths at each of widths[n_widths] (2, 4 or 8) and at
 * base_bits. Returns 0, or -1 with err set (a width at which the model does not fit the machine,
 * naming what overflows; the cost model's errors). e NULL: energies 0. Everything is borrowed. */
int floe_layer_cost_price(const floe_model_config *cfg, const floe_qconfig *q, int base_bits, const int *widths,
                          int n_widths, const floe_machine *mach, const floe_energy_table *e, floe_layer_cost *out,
                          floe_err *err);

/* The per-linear shares, after floe_layer_cost_price filled out: with B the model all at base_bits
 * and X(j, b) the model whose every layer has linear j at b (the others at base_bits), linear j of
 * one layer costs (X(j, b) - B) / n_layers of latency and energy (the cost model prices each linear
 * at its own width, every layer as layer 0); memory is exact (the matrix's elements times b / 8).
 * The smallest share of each linear is moved into linear_fixed so that every share is >= 0. Returns
 * 0, or -1 with err as floe_layer_cost_price. */
int floe_linear_cost_price(const floe_model_config *cfg, const floe_qconfig *q, int base_bits, const floe_machine *mach,
                           const floe_energy_table *e, floe_layer_cost *out, floe_err *err);

/* Prices a mix q (any per-layer and per-linear widths) the way floe_layer_cost_price prices a width:
 * each layer as the difference of the models of n and n - 1 layers all with that layer's widths
 * (what its widths do to its mapping included), plus lc->fixed (the base width's rest), into
 * fig[FLOE_DESIGN_RESOURCES] (memory exact). Returns 0, or -1 with err. */
int floe_mix_cost_price(const floe_model_config *cfg, const floe_qconfig *q, const floe_layer_cost *lc,
                        const floe_machine *mach, const floe_energy_table *e, double fig[FLOE_DESIGN_RESOURCES],
                        floe_err *err);

/* Bytes of the weight codes of one decoder layer of cfg at b bits (exact). */
double floe_layer_weight_bytes(const floe_model_config *cfg, int b);
/* Elements of linear j (FLOE_LIN_*) of one decoder layer of cfg. */
double floe_linear_elems(const floe_model_config *cfg, int j);

#ifdef __cplusplus
}
#endif

#endif
