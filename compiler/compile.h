/* The compiler: lowers a quantized model (docs/quantized-model.md) to a program for a machine
 * (docs/compiler.md).
 *
 * Every decoder layer, and the LM head, is a group of cores: a main core that holds the residual
 * stream, the KV cache and does the vector work (RMSNorm, RoPE, attention, SiLU), and, when the
 * layer's weights do not fit beside them, weight cores that hold slices of the linear layers
 * (weight-stationary, spatial): output-channel slices for q, k, v, o, gate, up and the LM head, and
 * for the down projection input-row slices whose int32 partial sums are reduced along a chain of
 * neighbouring cores (psend/precv). A group's cores are a run of a chip's serpentine order, so
 * consecutive cores are neighbours. Groups fill chip 0, then chip 1 (a multi-chip pipeline).
 *
 * The host does the embedding lookup (the ISA has no data-dependent addressing) and writes the int16
 * embeddings into region "x" of the first main core; the logits appear in region "logits" of the
 * head's main core. A model that does not fit gets the exact statement of what overflows, where,
 * and by how much.
 *
 * Prefill and decode share one memory plan: a prefill program (o->decode == 0) computes positions
 * 0..tokens-1 (rows 0..tokens-1 of "x" and "logits") and writes the KV cache; a decode program
 * (o->decode == 1) computes the one token at position o->pos (row 0 of "x" and "logits") against the
 * KV cache left in core memory by the prefill and earlier decodes. A decode program carries no
 * memory images: the weights, tables and cache are already on the chip. */
#ifndef FLOE_COMPILER_COMPILE_H
#define FLOE_COMPILER_COMPILE_H

#include <stdint.h>

#include "common/error.h"
#include "isa/machine.h"
#include "isa/program.h"
#include "models/qmodel.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_compile_opts {
    int tokens;             /* prefill length T (1..context): the rows of regions "x" and "logits" */
    int kv_tokens;          /* KV-cache capacity in positions (0: tokens); decode positions are below it */
    int decode;             /* 0: the prefill program; 1: the decode program for position pos */
    int pos;                /* decode: the position (tokens..kv_tokens-1 after a prefill of tokens) */
    uint64_t core_weight_bytes; /* 0: split a layer only when it does not fit one core; else at most this
                                   many bytes of weights and multipliers per core (forces the split) */
    int users;              /* KV caches in core memory, one per user (0 or 1: one) */
    int user;               /* the user (0..users-1) whose cache this program reads and writes */
    int v_block;            /* positions per transposed block of the V cache (0: FLOE_COMPILE_V_BLOCK;
                               at most 4096; capped at the cache's capacity) */
    int attn_ranges;        /* attention cores per KV head, each holding a range of the cache's
                               positions (0: as few as memory allows) */
    int rows;               /* decode: the program computes rows positions pos..pos+rows-1 (0 or 1:
                               one), a chunk of a prompt prefilled after its first `tokens`; at most
                               `tokens` (the rows of region "x") */
    int reuse_rows;         /* token rows per read of a slice's weights (vmmr) when a program computes
                               several rows (a prefill, a chunk): 0 as many as make the vmm unit, not
                               SRAM, the bound (at most `tokens`), kept only where the model needs no
                               more chips than with 1; 1 one row per vmm; else at most 255. Memory is
                               planned for it in prefill and decode programs alike (docs/compiler.md,
                               "Weight reuse in prefill") */
    int images_loaded;      /* 1: the chips already hold this memory plan's images (weights, tables:
                               an earlier prefill program of the same options but pos, user and rows
                               loaded them), so a prefill program carries none, as a decode program */
} floe_compile_opts;

#define FLOE_COMPILE_V_BLOCK 64

typedef struct floe_core_use {
    unsigned x, y;
    int layer;          /* decoder layer, or -1 for the LM head */
    int part;           /* 0: the whole layer (or the head); 1: its attention half; 2: its MLP half */
    int is_main;        /* 1: the group's main core (residual stream, vector work); 0: an attention core
                           (kv_bytes > 0: one KV head's cache and its query heads) or a weight core */
    uint64_t bytes;     /* memory plan: bytes used */
    uint64_t weight_bytes; /* of which weights and their multipliers */
    uint64_t kv_bytes;  /* of which one user's KV cache (the main core, or an attention core) */
    uint64_t insns;
    int vocab0, vocab1; /* the LM head's main core: its region "logits" holds [T][vocab1 - vocab0], the
                           logits of vocabulary rows vocab0..vocab1-1 (a slice when the head spans
                           chips; 0..vocab for the whole head) */
} floe_core_use;

typedef struct floe_compile_report {
    size_t ncores;              /* cores used */
    floe_core_use *cores;       /* [ncores]; owned (floe_compile_report_free) */
    unsigned in_x, in_y;        /* region "x" here receives the embeddings [T][d] int16 */
    unsigned out_x, out_y;      /* region "logits" here holds [T][vocab] int16 (or "x" on a chip without the head) */
    uint64_t mem_min, mem_max, mem_total;
    int reuse_rows; /* token rows per weight read the memory is planned for (1: none) */
} floe_compile_report;

/* The main core of a decoder layer (or the head: layer -1; of a head in vocabulary slices, the first
 * slice's on this chip) in a report, the one that holds the layer's output (of a layer in two
 * halves: the MLP half's), or NULL. */
const floe_core_use *floe_compile_report_main(const floe_compile_report *rep, int layer);

/* One chip. A model that needs more cores than one chip has is refused (see floe_compile_pipeline).
 * Compiles the prefill or, with o->decode, the decode program. */
int floe_compile_prefill(const floe_qmodel *m, const floe_machine *mach, const floe_compile_opts *o,
                         floe_program **out, floe_compile_report *rep, floe_err *err);
void floe_compile_report_free(floe_compile_report *rep);
/* Whether floe_compile_prefill would map a model of this shape onto one chip, from the config alone
 * (the same plan; nothing sized by the weights): 0, or -1 with floe_compile_prefill's refusal. Lets a
 * caller refuse before it builds a model's weights (granite-8b's random weights take 8 GB). */
int floe_compile_check_one_chip(const floe_model_config *cfg, const floe_qconfig *q, const floe_machine *mach,
                                const floe_compile_opts *o, floe_err *err);

/* A multi-chip pipeline: the groups (layers, then the LM head) fill chip 0's cores, then chip 1's,
 * and so on; a group never spans chips. A layer too large for a chip is two groups (its attention
 * and its MLP half); an LM head too large for a chip is vocabulary slices, one group each, each
 * computing the final norm and the logits of its rows (the residual stream passes through). Chip k's output (region "x" of its last main core, or
 * "logits" on the chip with the head) is the input (region "x" of its first main core) of chip
 * k + 1, moved over the chip links. */
typedef struct floe_chip_program {
    floe_program *prog;
    floe_compile_report report;
    int first_slot, last_slot; /* the groups first..last-1 of the pipeline: layers in order (a layer
                                  that does not fit a chip is two groups, its attention and its MLP
                                  half), then the LM head */
} floe_chip_program;

int floe_compile_pipeline(const floe_qmodel *m, const floe_machine *mach, const floe_compile_opts *o,
                          floe_chip_program **chips, int *n_chips, floe_err *err);
void floe_chip_programs_free(floe_chip_program *chips, int n);

/* The same pipeline one chip at a time: a large model's programs (every weight byte is in a prefill
 * program's memory images) need not all be held at once. floe_compile_pipeline_plan places the
 * groups over chips (the model and the options are borrowed: they must outlive the plan);
 * floe_compile_pipeline_chip compiles chip k (0..chips-1) exactly as floe_compile_pipeline does, in
 * any order, as often as wanted (free each with floe_chip_programs_free(c, 1) or
 * floe_chip_program_release). Returns 0 or -1 with err set. */
typedef struct floe_pipeline_plan floe_pipeline_plan;
int floe_compile_pipeline_plan(const floe_qmodel *m, const floe_machine *mach, const floe_compile_opts *o,
                               floe_pipeline_plan **plan, floe_err *err);
int floe_pipeline_plan_chips(const floe_pipeline_plan *plan);
/* The groups of the pipeline (every chip's main cores, in order: layers, layer halves, head slices). */
int floe_pipeline_plan_groups(const floe_pipeline_plan *plan);
int floe_compile_pipeline_chip(const floe_pipeline_plan *plan, int k, floe_chip_program *chip, floe_err *err);
/* Frees one chip's program and report (chip itself is the caller's). */
void floe_chip_program_release(floe_chip_program *chip);
void floe_pipeline_plan_free(floe_pipeline_plan *plan);

/* The memory plan alone, from the shapes and bit widths (no weights needed, so it runs for real
 * shapes such as Granite-8B in milliseconds): chips and cores needed, memory per core. Returns -1
 * with the exact overflow statement when the model does not fit (a group larger than a chip, a main
 * core that overflows, more chips than the system has). */
typedef struct floe_plan_summary {
    int chips;
    uint64_t cores;              /* cores in use over all chips */
    uint64_t weight_cores;       /* of which weight cores */
    uint64_t mem_min, mem_max, mem_total;
    int layer_cores, head_cores; /* cores of the group of layer 0, and of the LM head */
    int layer_attn_cores;        /* of which attention cores (0: attention on the main core) */
    int layer_halves;            /* 2: layer 0 is two groups on chips of their own (attention, then the MLP);
                                    0: one group */
    int half_cores[2];           /* with halves: the cores of layer 0's attention half and MLP half (groups
                                    fill chips in order, a chip taking groups while their cores fit) */
    int layers_per_chip;         /* groups of layers on chip 0 */
    int head_slices;             /* the LM head's vocabulary slices (1: the whole head on one chip) */
    int reuse_rows;              /* token rows per weight read planned for (1: none) */
} floe_plan_summary;

int floe_compile_plan(const floe_model_config *cfg, const floe_qconfig *q, const floe_machine *mach,
                      const floe_compile_opts *o, floe_plan_summary *sum, floe_err *err);

/* How the plan places its groups on chips, in one place (the plan and design/mck.h's chips budget
 * both call it): the groups go in pipeline order (layer 0's, layer 1's, ..., then the LM head's
 * slices), each a run of one chip's cores; a group of n cores (n <= per_chip) goes on the current
 * chip when it fits beside the `used` cores there, else it opens the next chip. (*chip, *used) is the
 * placement so far, (0, 0) before the first group; the plan needs chip + 1 chips. Next fit with the
 * order fixed is monotone in that state: from a state no greater in the order (chip, then used), the
 * same groups never end on a greater one (design/mck.c proves it where it relies on it). */
static inline void floe_plan_next_fit(int per_chip, int n, int *chip, int *used)
{
    if (*used + n > per_chip) {
        (*chip)++;
        *used = 0;
    }
    *used += n;
}

/* One group of the plan: a decoder layer (or its attention or MLP half) or a slice of the LM head. */
typedef struct floe_plan_group {
    int layer; /* decoder layer, or -1 for the LM head */
    int part;  /* 0: the whole layer (or a head slice); 1: the attention half; 2: the MLP half */
    int cores;
} floe_plan_group;

/* The groups whose placement gives floe_compile_plan's chips, in pipeline order, with the cores per
 * chip: floe_compile_plan's chips are floe_plan_next_fit over their cores from (0, 0), plus 1. A
 * group's cores depend only on its own layer's widths (and the machine, the options, the activation,
 * cache and head widths), not on the other layers'. With o->reuse_rows 0 the plan keeps more token
 * rows per weight read only where they need no more chips than one row (and the same layout), so the
 * groups are those of the one-row plan. Every group's memory plan (at one row) is checked as
 * floe_compile_plan checks its plan's. *groups is allocated (the caller frees it). Returns 0, or -1
 * with floe_compile_plan's refusal (the system's chip count is not checked here). */
int floe_compile_plan_groups(const floe_model_config *cfg, const floe_qconfig *q, const floe_machine *mach,
                             const floe_compile_opts *o, floe_plan_group **groups, int *n, int *per_chip,
                             floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
