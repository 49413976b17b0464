/* A sweep description (docs/explore.md): a base machine and energy table, and axes over machine and
 * energy keys, model shapes, precisions, context length and users, whose product is the set of points
 * `floe explore` prices; constraints on inputs or figures select the points a front is drawn from.
 *
 * The file is `key = value` lines ('#' starts a comment):
 *   machine = configs/northpole.csv        the base machine (paths relative to the sweep file)
 *   energy = configs/energy-northpole.csv  the base energy table (optional: no energy figures)
 *   area = configs/area-northpole.csv      the area table (optional: no area figure)
 *   model = 3b, granite-8b                 built-in names or config.json paths
 *   precision = W4A8KV8, W2A8KV8           W<w>A<a>KV<kv>[H<head>]
 *   context = 2048                         KV-cache positions per user
 *   users = max                            served users: a count, or max (every cache that fits)
 *   prompt = 128   decode_steps = 32       each served user's prompt and decode steps
 *   core_mem_bytes = 1048576 .. 4194304 *2 any machine or energy key: a list, A .. B +STEP or *FACTOR
 *   cores_x:cores_y = 16:16, 32:32         tied keys: their values move together
 *   constraint chips <= 16                 on an axis or a figure (explore.h's columns)
 *   tier = analytic | sim                  how every point is priced (default analytic)
 *   reprice = front | none | all           simulator re-pricing of analytic points (default front)
 *   full_chips = 8                         the simulator tier composes models beyond this many chips
 *   qmodel = w4.safetensors, w2.safetensors  quantized models: a point whose shape and widths are
 *                                          one's carries its validation perplexity (explore/accuracy.h)
 *   eval_corpus = fortunes   eval_windows = 32   the validation text and windows for it
 *   objectives = latency_us, energy_uj_per_token, chips   the front's figures (tokens_per_s and
 *                                          users_served are maximised, the others minimised; default:
 *                                          latency, energy when priced, chips, area when priced, ppl)
 * A key with one value is a setting, with several an axis; the points are the product of the axes,
 * in file order, the last varying fastest. Every value is checked when the file is read: errors
 * name the file, line, key and value. */
#ifndef FLOE_EXPLORE_SWEEP_H
#define FLOE_EXPLORE_SWEEP_H

#include <stdint.h>

#include "common/error.h"
#include "explore/area.h"
#include "isa/energy_table.h"
#include "isa/machine.h"
#include "models/model_config.h"
#include "models/qmodel.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_SWEEP_MAX_AXES 64
#define FLOE_SWEEP_MAX_TIED 8
#define FLOE_SWEEP_MAX_VALUES 65536    /* per axis */
#define FLOE_SWEEP_MAX_POINTS 10000000 /* the product of the axes */
#define FLOE_SWEEP_MAX_CONSTRAINTS 32
#define FLOE_SWEEP_KEY_MAX 64
#define FLOE_SWEEP_MAX_QMODELS 16

/* What an axis key sets. */
typedef enum floe_axis_kind {
    FLOE_AXIS_MACHINE, /* a machine key (isa/machine.h) */
    FLOE_AXIS_ENERGY,  /* an energy-table key (isa/energy_table.h) */
    FLOE_AXIS_MODEL,   /* a model shape */
    FLOE_AXIS_PRECISION,
    FLOE_AXIS_CONTEXT,
    FLOE_AXIS_USERS, /* a count, or max */
    FLOE_AXIS_PROMPT,
    FLOE_AXIS_DECODE_STEPS,
} floe_axis_kind;

typedef struct floe_sweep_axis {
    int n_keys; /* 1, or tied keys */
    char key[FLOE_SWEEP_MAX_TIED][FLOE_SWEEP_KEY_MAX];
    floe_axis_kind kind[FLOE_SWEEP_MAX_TIED];
    const floe_kv_key *kv[FLOE_SWEEP_MAX_TIED]; /* machine and energy keys: the schema entry */
    int n_values;
    char **values; /* n_values x n_keys strings, value v of key k at [v * n_keys + k] (owned) */
    int line;      /* where the file gives it */
} floe_sweep_axis;

typedef enum floe_cmp_op { FLOE_CMP_LE, FLOE_CMP_LT, FLOE_CMP_GE, FLOE_CMP_GT, FLOE_CMP_EQ } floe_cmp_op;

typedef struct floe_sweep_constraint {
    char name[FLOE_SWEEP_KEY_MAX]; /* an axis key or a figure's column */
    floe_cmp_op op;
    double value;
    int line;
} floe_sweep_constraint;

typedef enum floe_sweep_tier { FLOE_TIER_ANALYTIC, FLOE_TIER_SIM } floe_sweep_tier;
/* "analytic" or "sim", as the journal and the CSV write a tier. */
const char *floe_sweep_tier_name(floe_sweep_tier t);
typedef enum floe_sweep_reprice { FLOE_REPRICE_FRONT, FLOE_REPRICE_NONE, FLOE_REPRICE_ALL } floe_sweep_reprice;

typedef struct floe_sweep {
    char path[4096];
    char machine_path[4096], energy_path[4096], area_path[4096]; /* resolved; "" when not given */
    floe_machine machine;                                        /* the base */
    floe_energy_table energy;                                    /* the base, when energy_path is set */
    floe_area_table area;                                        /* when area_path is set (has_area) */
    int has_area;
    floe_sweep_tier tier;
    floe_sweep_reprice reprice;
    int full_chips;
    int n_axes; /* every key given, settings (one value) included */
    floe_sweep_axis axes[FLOE_SWEEP_MAX_AXES];
    int n_qmodels;
    char qmodels[FLOE_SWEEP_MAX_QMODELS][4096]; /* resolved paths */
    char eval_corpus[1024];                     /* "": fortunes */
    int eval_windows;                           /* validation windows per model (default 32; 0: all) */
    int n_objectives;                           /* 0: the default */
    char objectives[8][FLOE_SWEEP_KEY_MAX];
    int n_constraints;
    floe_sweep_constraint constraints[FLOE_SWEEP_MAX_CONSTRAINTS];
    uint64_t n_points;
} floe_sweep;

/* Reads and checks a sweep file. On error returns -1 with err naming path:line, the key and the value;
 * nothing is left allocated. */
int floe_sweep_load(const char *path, floe_sweep *s, floe_err *err);
/* The same from text; `path` names it in messages and anchors relative paths. */
int floe_sweep_parse(const char *path, const char *text, size_t len, floe_sweep *s, floe_err *err);
void floe_sweep_free(floe_sweep *s);

/* Point p's value of axis a (an index into axis a's values). */
int floe_sweep_value_index(const floe_sweep *s, uint64_t p, int a);

/* The axis that sets a key, or -1. */
int floe_sweep_find_axis(const floe_sweep *s, const char *key);

/* "W4A8KV8" or "W4A8KV8H4" into q (head 8 unless given); -1 with err naming the text. */
int floe_precision_parse(const char *text, floe_qconfig *q, floe_err *err);

/* Whether x satisfies `op value`. */
int floe_cmp_holds(floe_cmp_op op, double x, double value);
const char *floe_cmp_name(floe_cmp_op op);

#ifdef __cplusplus
}
#endif

#endif
