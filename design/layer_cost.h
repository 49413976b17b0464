/* What a decoder layer's weight width costs on a machine (docs/design-choice.md, "Cost per
 * choice"): decode latency and energy per token from the analytical cost model
 * (explore/cost_model.h), and the bytes of the layer's weight codes.
 *
 * The cost model prices a model whose layers are alike (it reads layer 0's mapping from the plan),
 * so a layer's share is measured from uniform models: with C_n(b) the price of the model with n
 * decoder layers all at b, the fixed part (embedding, LM head, instruction loading, links) is
 * F = C_n(base) - n * (C_n(base) - C_{n-1}(base)), and a layer at b costs (C_n(b) - F) / n, so that
 * the uniform model at b is priced as a whole (the difference C_n(b) - C_{n-1}(b) is not used for
 * the share: the plan of n - 1 layers can differ from the plan of n). A mix is the sum of its
 * layers' shares plus F: exact when its costs add (no layer's width changes another's mapping);
 * where a width changes the number of chips, the fixed part moves with it and the sum is an
 * approximation, which floe_deploy_check on the chosen model then settles. Memory is exact: the
 * layer's seven weight matrices' elements times b / 8 bytes. Per linear (floe_combo_cost_price)
 * the same for every combination of the seven linears' widths. */
#ifndef FLOE_DESIGN_LAYER_COST_H
#define FLOE_DESIGN_LAYER_COST_H

#include "common/error.h"
#include "compiler/compile.h"
#include "design/mck.h"
#include "explore/cost_model.h"
#include "isa/energy_table.h"
#include "isa/machine.h"
#include "models/qmodel.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_DESIGN_MAX_WIDTHS 3
#define FLOE_DESIGN_MAX_HEAD_SLICES 64 /* the compiler slices an LM head into at most 64 */

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
    /* the compiler's placement (floe_layer_cores): a layer's parts' cores at each width (first < 0: the
       plan does not map it), the LM head's slices' cores, the cores per chip */
    int cores[FLOE_DESIGN_MAX_WIDTHS][FLOE_MCK_MAX_PARTS];
    int head_cores[FLOE_DESIGN_MAX_HEAD_SLICES];
    int n_head, per_chip;
} floe_layer_cost;

/* Prices cfg (n_layers >= 2) with q's other widths at each of widths[n_widths] (2, 4 or 8) and at
 * base_bits, and places a layer at each width (cores, floe_layer_cores). Returns 0, or -1 with err set (a width at which the model does not fit the machine,
 * naming what overflows; the cost model's errors). e NULL: energies 0. Everything is borrowed. */
int floe_layer_cost_price(const floe_model_config *cfg, const floe_qconfig *q, int base_bits, const int *widths,
                          int n_widths, const floe_machine *mach, const floe_energy_table *e, floe_layer_cost *out,
                          floe_err *err);

/* Per linear: the combinations of widths of one layer's seven linears, n_widths^7 of them;
 * combination c gives linear j (FLOE_LIN_*) widths[floe_combo_digit(c, j, n_widths)]. */
int floe_combo_count(int n_widths);
int floe_combo_digit(int c, int j, int n_widths);

/* The options of the compiler's plan whose chips a chips budget bounds: floe_deploy_check's defaults
 * (a 16-token prefill, a cache for the prompt and up to 32 decode steps). */
floe_compile_opts floe_design_plan_opts(const floe_model_config *cfg);

/* A decoder layer's share of the compiler's placement at widths u (every layer as layer 0,
 * floe_compile_plan_groups with floe_design_plan_opts): its parts' cores in order (one group, or its
 * attention and MLP halves; 0 for a part it lacks), the LM head's slices' cores into head[*n_head]
 * (head may be NULL) and the cores per chip. A group's cores depend on its own layer's widths only, so
 * the placement of a mix is these parts layer after layer, then the head (design/mck.h). Returns 0, or
 * -1 with err when the plan does not map u. */
int floe_layer_cores(const floe_model_config *cfg, const floe_qconfig *u, const floe_machine *mach,
                     int parts[FLOE_MCK_MAX_PARTS], int *head, int *n_head, int *per_chip, floe_err *err);

/* Prices every combination (after floe_layer_cost_price filled lc): one layer with combination c
 * costs (C_n(c) - lc->fixed) / n, C_n(c) the model of n layers all with c, so that the model all at c
 * sums to C_n(c) exactly and what c does to the layer's mapping (its cores, the split of its linears)
 * is in the figure (a share below 0 counts 0); memory exact. The model of n - 1 layers is not used
 * here: its plan can differ from the n-layer one (on S/northpole 148 of the 2187 combinations price
 * 3 layers slower than 4). combo[c * FLOE_DESIGN_RESOURCES + r], the
 * caller's array of floe_combo_count(lc->n_widths) * FLOE_DESIGN_RESOURCES doubles. The
 * combinations are priced in OpenMP threads, each into its own slots (the same figures on any
 * thread count). Returns 0, or -1 with err (the first combination that fails, in order). */
int floe_combo_cost_price(const floe_model_config *cfg, const floe_qconfig *q, const floe_layer_cost *lc,
                          const floe_machine *mach, const floe_energy_table *e, double *combo, floe_err *err);
/* Each combination's parts' cores (floe_layer_cores) into cores[c * FLOE_MCK_MAX_PARTS + part], the
 * caller's array of floe_combo_count(lc->n_widths) * FLOE_MCK_MAX_PARTS; -1 first where the plan does
 * not map it. In OpenMP threads, as the prices. */
void floe_combo_cores(const floe_model_config *cfg, const floe_qconfig *q, const floe_layer_cost *lc,
                      const floe_machine *mach, int *cores);

/* Bytes of the weight codes of one decoder layer of cfg at b bits (exact). */
double floe_layer_weight_bytes(const floe_model_config *cfg, int b);
/* Elements of linear j (FLOE_LIN_*) of one decoder layer of cfg. */
double floe_linear_elems(const floe_model_config *cfg, int j);

#ifdef __cplusplus
}
#endif

#endif
