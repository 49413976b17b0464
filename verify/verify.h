/* Bit-exact verification of a quantized model on the simulated chip (docs/compiler.md, "Verification"):
 * the same tokens run through the plain reference integer forward (models/qref.h) and through the
 * compiled program on the simulator; every layer's output (the residual stream) and the logits are
 * compared value by value. */
#ifndef FLOE_VERIFY_VERIFY_H
#define FLOE_VERIFY_VERIFY_H

#include <stdint.h>

#include "common/error.h"
#include "isa/energy_table.h"
#include "isa/machine.h"
#include "compiler/compile.h"
#include "models/qmodel.h"
#include "sim/sim.h"
#include "sim/system.h"

#ifdef __cplusplus
extern "C" {
#endif

/* On a mismatch, the whole tensor that differed, chip and reference side by side (owned by the result
 * that holds it; floe_verify_dump_write saves it). */
typedef struct floe_verify_dump {
    char what[128];             /* layer and tensor, as in the mismatch message */
    int rows, width, pos0;      /* rows are positions pos0 .. pos0 + rows - 1 */
    int32_t *chip, *ref;        /* [rows][width]; NULL when nothing differed */
} floe_verify_dump;

/* Writes the dump as CSV (position,index,chip,reference,differs), atomically. */
int floe_verify_dump_write(const floe_verify_dump *d, const char *path, floe_err *err);
void floe_verify_dump_free(floe_verify_dump *d);

typedef struct floe_verify_result {
    int match;                  /* 1: every compared value is equal */
    uint64_t compared;          /* values compared */
    char mismatch[512];         /* when not: layer, tensor, position, index and both values */
    floe_verify_dump dump;      /* when not: the tensor that differed */
    floe_sim_result sim;        /* what the run cost */
    floe_compile_report compile;/* owned: floe_verify_result_free */
} floe_verify_result;

/* Returns 0 when the comparison ran (match or not: see res->match), -1 when it could not run (the
 * model does not fit, a fault, a deadlock) with err set. */
int floe_verify_prefill(const floe_qmodel *m, const floe_machine *mach, const floe_energy_table *e,
                        const int32_t *tokens, int T, floe_verify_result *res, floe_err *err);
void floe_verify_result_free(floe_verify_result *res);

/* The checking half alone: runs an already compiled program (with its compile report) against the
 * reference. floe_verify_prefill compiles, then calls this. res->compile is left untouched; res must
 * be zeroed or hold an earlier result (whose dump is freed). */
int floe_verify_program(const floe_qmodel *m, const floe_machine *mach, const floe_energy_table *e,
                        const int32_t *tokens, int T, const floe_program *p, const floe_compile_report *rep,
                        floe_verify_result *res, floe_err *err);

/* A model too large for one chip: a multi-chip pipeline (floe_compile_pipeline) run over the system's
 * chip links (sim/system.h). Each chip's hand-off (the residual stream after its last layer) and the
 * logits are compared with the reference; the system timing is for `users` users back to back. */
typedef struct floe_verify_system_result {
    int match;
    uint64_t compared;
    char mismatch[512];
    int chips;
    floe_system_result system; /* owned: floe_verify_system_result_free */
} floe_verify_system_result;

int floe_verify_pipeline(const floe_qmodel *m, const floe_machine *mach, const floe_energy_table *e,
                         const int32_t *tokens, int T, int users, floe_verify_system_result *res, floe_err *err);
void floe_verify_system_result_free(floe_verify_system_result *res);

/* Prefill and decode on one chip or a multi-chip pipeline, with the compiler's options (splitting
 * layers over cores: core_weight_bytes), checked against the reference forward over all
 * tokens + decode tokens: the prefill's layer outputs and logits at positions 0..tokens-1, then
 * every decode step's (one token at position tokens + i, run by the decode program against the KV
 * cache the prefill and earlier decodes left in core memory) at its position: decode gives the
 * same logits as prefill. Each chip keeps its memory from one program to the next (a new simulator
 * per program, loaded with the previous one's core memories: weights, tables and the KV cache stay
 * on the chip; a decode program carries no memory images). */
typedef struct floe_verify_opts {
    int tokens;                 /* prefill length T */
    int decode;                 /* decode steps after the prefill (tokens[T..T+decode-1]) */
    uint64_t core_weight_bytes; /* the compiler's split budget (0: split only what does not fit) */
    int kv_tokens;              /* KV-cache capacity (0 or less than tokens + decode: tokens + decode) */
    int price_pos;              /* > 0: also price (not check) one decode step at this position, on chips
                                   with no state: timing and actions do not depend on the data */
    int users;                  /* KV caches compiled, one per user (0 or 1: one): every user's prefill and
                                   decode steps run in turn on the same chips, each checked against its
                                   own reference (user u's tokens shifted by 37 u through the vocabulary) */
    int v_block;                /* the compiler's V-cache block (floe_compile_opts.v_block; 0: default) */
    int attn_ranges;            /* attention cores per KV head (floe_compile_opts.attn_ranges; 0: as memory needs) */
    int reuse_rows; /* token rows per weight read (floe_compile_opts.reuse_rows; 0: the compiler's choice) */
    int caches;                 /* KV caches compiled (0, or not above `users`: `users`): the memory plan, and
                                   so the mapping, of this many users, of whom `users` are checked */
    int price_prompt;           /* > 0 and not `tokens`: also price (not check) a prefill of this many tokens
                                   (at most the KV cache's positions), compiled with the same options on
                                   fresh chips: timing and actions do not depend on the data; in chunks of
                                   the programs' rows when longer */
    int prefill_chunk;          /* > 0 and below `tokens`: the prefill runs as programs of this many rows
                                   (region "x" holds that many; the first a prefill program, then chunk
                                   programs against the cache, floe_compile_opts.rows), each checked; the
                                   decode programs share that memory plan. 0: one prefill program */
    void (*progress)(void *ctx, const char *what); /* NULL, or called as each part of the run starts
                                   ("reference forward, user 0", "prefill, user 1", "decode step 2 of 2,
                                   user 0", ...), for a long run's progress lines */
    void *progress_ctx;
} floe_verify_opts;

/* One stage of a step through the pipeline, as the serving model takes it (sim/serving.h): a layer
 * group (its main, attention and weight cores), the LM head's group, or the chip link after a chip.
 * Every gap and busy time of a step add up to its latency (the last stage ends with the step). */
typedef struct floe_stage_time {
    int layer;                  /* the group's decoder layer; n_layers for the LM head; -1 for a chip link */
    int part;                   /* 0: a whole layer (or the head); 1: a layer's attention half; 2: its MLP half */
    int chip;                   /* the group's chip; a link's source chip */
    double gap_s;               /* from the previous stage's end (the step's start, for the first) to this
                                   one's start: on-chip network hops, a link's latency and the next chip's
                                   instruction loading (a group is counted from the previous end at the
                                   earliest) */
    double busy_s;              /* a group: its first instruction's start to its last one's end over its
                                   cores; a link: its occupancy, bytes / bandwidth */
} floe_stage_time;

typedef struct floe_step_cost {
    double latency_s;           /* one token (decode) or the whole prefill, chips and links */
    double interval_s;          /* the slowest pipeline stage: a layer group, or a chip link */
    double energy_j;            /* chips' dynamic and static energy and the links, for this step */
    double static_j;            /* of which the chips' static energy while they run this step */
    uint64_t cycles;            /* summed over chips */
    uint64_t macs;
    floe_actions actions;       /* the chips' action counts and the bytes over chip links, for this step
                                   (what energy_j - static_j prices) */
    int programs;               /* programs run one after another (a prompt in chunks; 0 or 1: one): their
                                   times and energies add, and so do every stage's */
    int stages;                 /* of a result's prefill, decode and priced steps: every chip's groups in
                                   order, a link between chips (0 for a step whose stages are not kept) */
    floe_stage_time *stage;     /* [stages]; owned by the result (floe_verify_run_result_free) */
} floe_step_cost;

typedef struct floe_verify_run_result {
    int match;
    uint64_t compared;
    char mismatch[512];
    floe_verify_dump dump;      /* when not: the tensor that differed (floe_verify_run_result_free) */
    int chips;
    int users;                  /* KV caches compiled and checked */
    uint64_t cores, weight_cores, attn_cores, groups;
    uint64_t mem_min, mem_max, mem_total;
    int kv_tokens;              /* KV-cache capacity compiled */
    int reuse_rows;             /* token rows per weight read the programs were compiled for */
    uint64_t kv_bytes_per_layer;/* one user's KV cache over a layer's cores */
    uint64_t users_by_kv;       /* users whose KV caches fit: the compiled ones and as many more as the
                                   fullest core holding a cache has room for */
    floe_step_cost prefill;
    floe_step_cost decode;      /* the last decode step (0 when no decode) */
    int decoded;                /* decode steps run and compared */
    floe_step_cost decode_at;   /* the decode step priced at priced_pos (price_pos) */
    int priced_pos;
    floe_step_cost prefill_at;  /* the prefill priced at priced_prompt tokens (price_prompt) */
    int priced_prompt;
} floe_verify_run_result;

int floe_verify_run(const floe_qmodel *m, const floe_machine *mach, const floe_energy_table *e, const int32_t *tokens,
                    const floe_verify_opts *o, floe_verify_run_result *res, floe_err *err);
void floe_verify_run_result_free(floe_verify_run_result *res);

#ifdef __cplusplus
}
#endif

#endif
