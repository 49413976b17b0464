/* Serving many users on a pipeline (docs/sim.md, "Serving"): an event-driven model of U users in
 * flight through S stages (a compiled model's layer groups over its chips, the LM head's group, and
 * the chip links between chips).
 *
 * - Each user arrives (user u at u x arrival_s), runs the prefill of its P-token prompt through the
 *   stages (the prompt's end is its first token), then D decode steps at positions P, P + 1, ...,
 *   P + D - 1. Autoregressive: a user's next decode token enters stage 0 only after its previous
 *   token left the last stage.
 * - A prompt prefilled as C programs (chunks of its rows) is C jobs: chunk c + 1 enters a stage once
 *   chunk c has left it (it attends over the positions chunk c wrote there), so the chunks of one
 *   prompt are in different stages at once, as a pipelined prefill is; each chunk takes 1/C of the
 *   prompt's gap and busy time at every stage. The prompt's end is its last chunk leaving the last
 *   stage.
 * - A stage works on one job of one user at a time (a prefill chunk, or a decode token), first come
 *   first served (at equal times the lower user first). Before a stage takes a job there is its
 *   gap (network hops, a chip link's latency, a chip's instruction loading): the job is on its way
 *   and the stage is free for others meanwhile.
 * - A decode step's stage times depend on the position: the caller gives them at two positions and
 *   the model takes them linearly in between (and beyond: extrapolated, never below 0). A decode
 *   step attends over one more cached key per position, so its work grows linearly with the position.
 *
 * Times are converted to integer picoseconds (rounded) before anything happens, and events are
 * ordered by (time, user, push order): the same inputs give the same outputs, bit for bit. */
#ifndef FLOE_SIM_SERVING_H
#define FLOE_SIM_SERVING_H

#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_serving_time {
    double gap_s;  /* >= 0: from the previous stage's end (stage 0: the user's arrival, or its previous
                      token leaving the last stage) until this stage may take the token */
    double busy_s; /* >= 0: the stage is occupied this long */
} floe_serving_time;

typedef struct floe_serving_stage {
    floe_serving_time prefill;   /* a user's whole prompt */
    floe_serving_time decode[2]; /* one decode token at positions pos[0] and pos[1] (floe_serving_pipeline) */
} floe_serving_stage;

typedef struct floe_serving_pipeline {
    int stages;                      /* S >= 1 */
    const floe_serving_stage *stage; /* [S], in pipeline order; not owned */
    int pos[2];                      /* 0 <= pos[0] <= pos[1]; equal: decode[0] at every position */
    double decode_j[2];              /* >= 0: dynamic energy (chips' actions and links) of one decode token
                                        through all stages at pos[0] and pos[1], joules (0, 0: no energy) */
    double static_w;                 /* >= 0: every chip's static power together, watts */
    int cards;                       /* >= 1: cards the chips sit on (power per card) */
    int prefill_chunks;              /* 0 or 1: a prompt's prefill is one job; C > 1: C pipelined chunks, each
                                        1/C of the stages' prefill times (at most 65536) */
} floe_serving_pipeline;

typedef struct floe_serving_load {
    int users;        /* U >= 1 */
    int prompt;       /* P >= 1: prompt tokens per user (its prefill) */
    int decode_steps; /* D >= 1: decode steps per user, at positions P .. P + D - 1 */
    double arrival_s; /* >= 0: user u arrives at u x arrival_s (0: all at once) */
} floe_serving_load;

typedef struct floe_serving_result {
    uint64_t tokens;         /* decoded tokens: U x D */
    /* inter-token latency: for every user and decode step, the time from its previous token (the
       prompt's end for the first step) to this step's token leaving the last stage; U x D samples */
    double itl_mean_s, itl_p99_s, itl_max_s; /* p99: the nearest-rank 99th percentile */
    /* time to first token: a user's prefill end minus its arrival (queueing included) */
    double ttft_mean_s, ttft_max_s;
    /* the decode phase: from the first prompt's end (the earliest a decode step can start) to the
       last decode token leaving the last stage */
    double decode_start_s, decode_end_s;
    double tokens_per_s;     /* tokens / (decode_end_s - decode_start_s) */
    double token_latency_s;  /* one decode token alone (no other user): the sum of every stage's gap and
                                busy time, averaged over positions P .. P + D - 1 */
    int slowest_stage;       /* the stage with the largest busy time averaged over those positions */
    double slowest_busy_s;   /* that average */
    double energy_per_token_j; /* (dynamic energy of the decoded tokens + static_w x the decode phase) / tokens */
    double power_per_card_w;   /* the same energy / the decode phase / cards */
    double makespan_s;       /* the last token's time (the first user arrives at 0) */
} floe_serving_result;

/* Simulates the load on the pipeline. Returns 0, or -1 with err set for invalid input (no stage, a
 * negative or non-finite time or energy, positions out of order, no user, U x D over 2^24 tokens)
 * or when out of memory. */
int floe_serving_run(const floe_serving_pipeline *p, const floe_serving_load *l, floe_serving_result *res,
                     floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
