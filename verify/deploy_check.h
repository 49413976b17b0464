/* Deployment check (docs/compiler.md, "Deployment check"; `floe deploy-check`): does a quantized model
 * fit a machine, on how many chips, with how much memory per core, for how long a context and how many
 * users, and what does a token cost there when those users are served?
 *
 * The fit comes from the compiler's memory plan (shapes only: milliseconds for real shapes). The cost
 * from running the compiled model on the simulator, prefill then decode against the KV cache, verified
 * bit for bit on the way: the whole model when it needs at most `full_chips` chips; a larger one is
 * priced from two runs of the same shape with one and with two layers (every layer group is alike and
 * schedules are fixed at compile time), x(n) = x(1) + (n - 1) (x(2) - x(1)). Serving is simulated
 * event by event (sim/serving.h) over the pipeline's stages as those runs timed them
 * (verify/serving_pipeline.h).
 *
 * Units: seconds, joules, watts, bytes, positions (tokens).
 */
#ifndef FLOE_VERIFY_DEPLOY_CHECK_H
#define FLOE_VERIFY_DEPLOY_CHECK_H

#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "compiler/compile.h"
#include "isa/energy_table.h"
#include "isa/machine.h"
#include "models/qmodel.h"
#include "sim/energy.h"
#include "sim/serving.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_deploy_check_opts {
    int tokens;                           /* T: the checked prefill's length (>= 1) */
    int decode;                           /* N: decode steps after it, each checked against prefill (>= 1) */
    int kv_tokens;                        /* KV-cache positions per user (0: T + N, or P + D if more) */
    int users;                            /* served users: > 0 as asked; 0 the caches that fit, at most one per layer
                                   group; -1 all whose caches fit */
    int prompt;                           /* P: each served user's prompt (0: T) */
    int decode_steps;                     /* D: decode steps per served user (0: 32, fewer where the cache ends) */
    double arrival_s;                     /* served users arrive this far apart (0: all at once) */
    uint64_t core_weight_bytes;           /* the compiler's split budget (0: split only what does not fit) */
    int full_chips;                       /* simulate whole up to this many chips, else compose from 1 and 2 layers */
    int plan_only;                        /* 1: the memory plan only, no simulation */
    int v_block, attn_ranges, reuse_rows; /* the compiler's mapping options (0: its choice) */
    const char *qmodel;                   /* the quantized model's file, or NULL: random weights (one random layer's
                                   codes back every layer; timing and energy do not depend on values) */
    uint64_t seed;                        /* random weights' seed */
    void (*progress)(void *ctx, const char *what); /* NULL, or called as each part of a run starts
                                   ("prefill, user 0"; composed runs: "the 1-layer model of this shape:
                                   prefill, user 0") */
    void *progress_ctx;
} floe_deploy_check_opts;

/* A decode token's energy by kind for the whole model: its actions and the chips' static energy while
 * they run it (composed from the 1- and 2-layer runs when there are two). */
typedef struct floe_deploy_token_energy {
    int pos;
    floe_actions actions;
    double static_j;
} floe_deploy_token_energy;

/* How far a check got: each stage's fields are valid from that stage on. */
typedef enum floe_deploy_stage {
    FLOE_DEPLOY_NONE,     /* nothing (bad options) */
    FLOE_DEPLOY_PLANNED,  /* fits, plan, context, kv_tokens, max_users */
    FLOE_DEPLOY_MEASURED, /* users .. reuse_rows */
    FLOE_DEPLOY_SERVED,   /* serving and energy */
} floe_deploy_stage;

typedef struct floe_deploy_report {
    floe_deploy_stage stage;
    int tokens, decode, prompt, decode_steps; /* T, N, P, D as resolved */
    /* planned */
    int fits; /* 0: unfit[] says what overflows, where and by how much */
    char unfit[FLOE_ERR_MSG_MAX];
    floe_plan_summary plan;               /* the one-user mapping */
    int kv_tokens;                        /* KV-cache positions per user compiled */
    int max_context;                      /* the longest KV cache this mapping holds (the model's context: all) */
    char context_limit[FLOE_ERR_MSG_MAX]; /* what overflows one position further ("" when all fit) */
    int max_users;                        /* users whose KV caches fit beside everything else (bisected up to 4096) */
    /* measured */
    int users;                    /* U served */
    floe_plan_summary users_plan; /* the mapping of U users' caches */
    int composed;                 /* 1: figures composed from 1- and 2-layer runs */
    uint64_t compared;            /* values compared bit for bit */
    int checked_users;            /* users with their own KV caches checked */
    int priced_pos;               /* the decode position priced (the cache's last when deeper than the check) */
    int priced_past;              /* 1: priced past the checked steps */
    int reuse_rows;               /* token rows per weight read in prefill */
    uint64_t kv_bytes_per_layer;  /* one user's KV cache per layer */
    double decode_s, decode_j, decode_static_j; /* one decode token, one user */
    double prefill_s, prefill_j;                /* the T-token prefill */
    /* served */
    floe_serving_result serving;
    int stages, layer_groups, head_stages, links, cards;
    double static_w;   /* every chip's static power */
    char slowest[48];  /* the slowest stage, in words */
    int priced_energy; /* 1: an energy table was given: the fields below hold */
    floe_energy_cost energy_cost;
    floe_deploy_token_energy token[2]; /* a decode token at the last checked position, and where priced */
    int n_token;
} floe_deploy_report;

/* Runs the check of the model of shape cfg and widths q on mach, priced by e (NULL: no energy).
 * Returns 0 when it ran to the end (rep->fits says whether the model fits; with plan_only the report
 * stops at FLOE_DEPLOY_PLANNED), -1 with err set when it could not (options, a user count that does not
 * fit, a mismatch on the chip, a fault): rep->stage then says what it holds. */
int floe_deploy_check(const floe_model_config *cfg, const floe_qconfig *q, const floe_machine *mach,
                      const floe_energy_table *e, const floe_deploy_check_opts *o, floe_deploy_report *rep,
                      floe_err *err);

/* The model and machine lines that open the report (printed before the check runs, as it may take
 * minutes). machine_name: how to name the machine (its file). */
void floe_deploy_header_print(FILE *f, const floe_model_config *cf, const floe_qconfig *q, const floe_machine *mach,
                              const char *machine_name);

/* The report as `floe deploy-check` prints it, as far as rep->stage reached: the fit (or what does
 * not fit), memory, context and users, the verification, latency, serving and, when priced, energy by
 * kind. o: the options the check ran with. */
void floe_deploy_report_print(FILE *f, const floe_deploy_report *rep, const floe_model_config *cf,
                              const floe_machine *mach, const floe_deploy_check_opts *o);

/* The defaults of `floe deploy-check` (16-token prefill, 2 decode steps, whole up to 128 chips, seed 1). */
floe_deploy_check_opts floe_deploy_check_defaults(void);

/* The decode tokens' actions as CSV (position,action,unit,count,pj_each,energy_j), with a row for the
 * chips' static energy (count in chip-seconds at the chip's static power), written atomically. */
int floe_deploy_energy_csv(const floe_deploy_report *rep, const floe_machine *mach, const char *path, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
