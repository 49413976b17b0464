/* The analytical cost tier of design-space exploration (docs/explore.md, "The analytical cost model"): what one
 * decode token, a prefill and a served load cost on a machine, priced in milliseconds from the
 * compiler's memory plan (floe_compile_plan: shapes and bit widths, no weights) and the machine's
 * figures, without compiling or simulating a program.
 *
 * It walks the instruction sequence the compiler emits for a decode step of every layer group (main
 * core, attention cores, weight cores; compiler/emit.c, compiler/attention.c) and charges each
 * instruction as the simulator does (docs/sim.md, "Execution model": work = max(compute at the unit's
 * rate, bytes at the SRAM port), plus the unit's pipeline latency; network transfers as bytes over the
 * link width plus hops; chip links as latency plus bytes over bandwidth; instruction loading per
 * chip). Weight cores of a phase work in parallel; a group's attention heads share the core's threads
 * (port-bound or chain-bound, whichever is longer). Action counts (MACs, vector and lookup ops, SRAM
 * bytes, NoC byte-hops, chip-link bytes) are priced by the energy table like the simulator's, plus
 * every chip's static power while it runs its part of the step.
 *
 * The figures mean what floe_deploy_check's mean (verify/deploy_check.h), so the two tiers compare
 * field by field: decode_s is one user's decode token at the KV cache's last position, alone on the
 * chips (the deployment check prices that step); energy_j_per_token that token's energy, dynamic,
 * links and static. To re-price a point on the simulator with the same meaning, give floe_deploy_check
 * the same tokens (its --tokens), kv_tokens, users, prompt, decode_steps and core_weight_bytes, and its
 * default 2 checked decode steps (bench/bench_cost_model.c does this for every validation point).
 *
 * Units: seconds, joules, watts, bytes, positions (tokens). */
#ifndef FLOE_EXPLORE_COST_MODEL_H
#define FLOE_EXPLORE_COST_MODEL_H

#include <stdint.h>

#include "common/error.h"
#include "compiler/compile.h"
#include "isa/energy_table.h"
#include "isa/machine.h"
#include "models/qmodel.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_cost_opts {
    int kv_tokens;              /* KV-cache positions per user (0: prompt + decode_steps) */
    int users;                  /* as floe_deploy_check_opts: > 0 as asked; 0 the caches that fit, at most one
                                   per layer group; -1 all whose caches fit */
    int prompt;                 /* P: each user's prompt (0: tokens) */
    int decode_steps;           /* D: decode steps per user (0: 32, fewer where the cache ends) */
    uint64_t core_weight_bytes; /* the compiler's split budget (0: split only what does not fit) */
    int tokens;                 /* the plan's prefill rows, as floe deploy-check --tokens (0: 16, at most
                                   the cache) */
} floe_cost_opts;

typedef struct floe_cost_result {
    int fits; /* 0: unfit[] is the plan's statement of what overflows (the other fields are 0) */
    char unfit[FLOE_ERR_MSG_MAX];
    int chips, cards, cores_used; /* of the served users' mapping */
    int users, max_users;         /* served; whose KV caches fit (bisected up to 4096, as the check) */
    int stages;                   /* pipeline stages: layer groups, head slices, chip links */
    int kv_tokens, pos;           /* the cache compiled; the decode position priced (kv_tokens - 1) */
    uint64_t core_mem_high_water; /* bytes on the fullest core (the plan's) */
    double decode_s;              /* one decode token, one user, at pos (chips and links) */
    double load_s;                /* of which instruction loading, over all chips */
    double prefill_s_per_token;   /* a prompt's prefill divided by its tokens: programs of `tokens` rows
                                     as the check prices a longer prompt, weights read once per the
                                     plan's reuse rows */
    double slowest_stage_s;       /* the busiest stage per decode token, averaged over P .. P + D - 1 */
    double token_latency_s;       /* one decode token alone, averaged over P .. P + D - 1 */
    double tokens_per_s;          /* with users: each a P-token prompt then D decode steps, all arriving at
                                     once, through the pipeline's stages as floe_deploy_check serves them
                                     (sim/serving.h) with the stage times this model prices */
    double energy_j_per_token;    /* the decode token at pos: dynamic, links and static (0: no table) */
    double dynamic_j_per_token;   /* of which dynamic and links */
    double power_w;               /* at the served load: decoded tokens' dynamic energy and every chip's
                                     static power over the decode phase, all cards */
    double static_w;              /* every chip's static power */
} floe_cost_result;

/* Prices the model of shape cfg and widths q on mach (e NULL: no energy figures). Returns 0 when it
 * priced the point or found it does not fit (r->fits says which; a model that does not fit is not an
 * error), -1 with err set for bad options (lengths past the context, more users than fit). Everything
 * is borrowed; the function keeps no state, so calls may run in threads side by side, and the same
 * inputs give the same figures. Mixed weight widths are priced as layer 0's for every layer, each
 * linear at its own width (floe_qconfig_linear_wbits_of(q, 0, j)): the plan's summary gives layer 0's
 * mapping only. */
int floe_cost_estimate(const floe_model_config *cfg, const floe_qconfig *q, const floe_machine *mach,
                       const floe_energy_table *e, const floe_cost_opts *o, floe_cost_result *r, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
