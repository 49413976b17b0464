/* The serving model's pipeline (sim/serving.h) from verified runs (floe_verify_run, verify/verify.h):
 * the stage times the simulator measured for a prefill and for decode steps at two positions, laid
 * out as the model's pipeline, with the energy figures. */
#ifndef FLOE_VERIFY_SERVING_PIPELINE_H
#define FLOE_VERIFY_SERVING_PIPELINE_H

#include "common/error.h"
#include "compiler/compile.h"
#include "isa/energy_table.h"
#include "isa/machine.h"
#include "models/model_config.h"
#include "sim/serving.h"
#include "verify/verify.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_verify_serving {
    floe_serving_pipeline pipeline; /* its stage array is `stage` below */
    floe_serving_stage *stage;      /* [pipeline.stages]; owned (floe_verify_serving_free) */
    int *layer;                     /* [pipeline.stages]: the stage's layer group, n_layers for the LM head,
                                       -1 for a chip link; owned */
    int *part;                      /* [pipeline.stages]: 0 a whole layer (or the head), 1 a layer's
                                       attention half, 2 its MLP half (floe_stage_time); owned */
    int links;                      /* stages that are chip links */
} floe_verify_serving;

/* Fills s from runs made with options o:
 * - prefill: the prefill priced at o->price_prompt tokens when there is one, else the checked one;
 * - decode: the last checked decode step (position tokens + decode - 1) and the one priced at
 *   o->price_pos when there is one (else the first at every position): pipeline.pos are those
 *   positions; pipeline.decode_j their dynamic energy (the chips' actions and the links: the step's
 *   energy less the chips' static part).
 *
 * runs == 1: r[0] is the whole model's run; its stages are taken as measured.
 * runs == 2: r[0] and r[1] are runs of the same shape with 1 and with 2 layers (random weights: the
 * model is too large to simulate whole). The model's groups are laid out as the plan ps lays them:
 * layer i on chip i / ps->layers_per_chip, or, when a layer is two halves (attention, then MLP) on
 * chips of their own, the halves in order filling chips as the plan's greedy placement does (a chip
 * takes halves while ps->half_cores of them fit); the LM head's groups (one per chip it spans)
 * on the last chips. Layer 0's groups are the 2-layer run's, every later layer's are its layer 1's,
 * the head's its head's; groups on one chip are a network hop apart (as measured there; none
 * measured: 0); a chip boundary is a link stage busy for the residual stream's 2 x d_model bytes
 * per token over the machine's link (floe_links_wire_ps), then its latency and the next chip's
 * instruction loading before the next group (as the 2-layer run loaded a chip starting with a layer
 * group, or with the head; when it had no such chip, as chip 0). The dynamic energy is composed:
 * x(n) = x(1) + (n - 1) (x(2) - x(1)).
 *
 * e (may be NULL: no energy figures) gives the static power of the plan's chips; pipeline.cards is
 * the chips over the machine's chips_per_card, rounded up. Returns 0, or -1 with err set (runs
 * without kept stages, stage lists that do not match, out of memory). */
int floe_verify_serving_pipeline(const floe_verify_run_result *r, int runs, const floe_verify_opts *o,
                                 const floe_model_config *cf, const floe_plan_summary *ps, const floe_machine *mach,
                                 const floe_energy_table *e, floe_verify_serving *s, floe_err *err);
void floe_verify_serving_free(floe_verify_serving *s);

#ifdef __cplusplus
}
#endif

#endif
