/* The compiler: lowers a quantized model (docs/quantized-model.md) to a program for a machine
 * (docs/compiler.md). This first mapping is a layer pipeline on one chip: decoder layer l runs on
 * core l (row-major), the LM head on the next core; each core holds its layer's weights (weight-
 * stationary), computes all positions of a prefill, and sends the residual stream to the next core.
 * The host does the embedding lookup (the ISA has no data-dependent addressing) and writes the
 * int16 embeddings into region "x" of the first core; the logits appear in region "logits" of the
 * head core. A model that does not fit gets the exact statement of what overflows, where, and by
 * how much. */
#ifndef FLOE_MODELS_COMPILE_H
#define FLOE_MODELS_COMPILE_H

#include <stdint.h>

#include "common/error.h"
#include "isa/machine.h"
#include "isa/program.h"
#include "models/qmodel.h"

typedef struct floe_compile_opts {
    int tokens; /* prefill length T (1..context) */
} floe_compile_opts;

typedef struct floe_core_use {
    unsigned x, y;
    int layer;          /* decoder layer, or -1 for the LM head */
    uint64_t bytes;     /* memory plan: bytes used */
    uint64_t insns;
} floe_core_use;

typedef struct floe_compile_report {
    size_t ncores;              /* cores used */
    floe_core_use *cores;       /* [ncores]; owned (floe_compile_report_free) */
    unsigned in_x, in_y;        /* region "x" here receives the embeddings [T][d] int16 */
    unsigned out_x, out_y;      /* region "logits" here holds [T][vocab] int16 */
    uint64_t mem_min, mem_max, mem_total;
} floe_compile_report;

/* One chip. A model that needs more cores than one chip has is refused (see floe_compile_pipeline). */
int floe_compile_prefill(const floe_qmodel *m, const floe_machine *mach, const floe_compile_opts *o,
                         floe_program **out, floe_compile_report *rep, floe_err *err);
void floe_compile_report_free(floe_compile_report *rep);

/* A multi-chip pipeline: the layers and the LM head, one core each in order, fill chip 0's cores,
 * then chip 1's, and so on. Chip k's output (region "x" of its last core, or "logits" on the chip
 * with the head) is the input (region "x" of core (0, 0)) of chip k + 1, moved over the chip links. */
typedef struct floe_chip_program {
    floe_program *prog;
    floe_compile_report report;
    int first_slot, last_slot; /* slots first..last-1; slot n_layers is the LM head */
} floe_chip_program;

int floe_compile_pipeline(const floe_qmodel *m, const floe_machine *mach, const floe_compile_opts *o,
                          floe_chip_program **chips, int *n_chips, floe_err *err);
void floe_chip_programs_free(floe_chip_program *chips, int n);

#endif
