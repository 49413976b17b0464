/* Weight-rotation analysis (SiLQ): how far QAT moved the weights, and whether the move is more than a
 * rotation (docs/trainer.md, "Weight-rotation analysis").
 *
 * For a teacher matrix A and a student matrix B of the same shape [rows, cols] (W is [out, in], y = W x):
 *   Frobenius   ||A - B||_F
 *   Procrustes  min over orthogonal R of ||A R - B||_F   (side INPUT: R is [cols, cols], a change of
 *               basis of the layer's input, W x = (W R)(R^T x), the kind of rotation QuaRot/SpinQuant
 *               insert), or min over R of ||R A - B||_F (side OUTPUT: R is [rows, rows]).
 * The minimum is sqrt(||A||^2 + ||B||^2 - 2 * nuclear norm of M), M = A^T B (INPUT) or B A^T (OUTPUT),
 * the best R being U V^T from M's SVD (Schoenemann 1966). The singular values come from LAPACK's
 * dgesdd (OpenBLAS); every sum is in double. R = I is a candidate, so Procrustes <= Frobenius; the
 * reported value is clamped to that (and to >= 0) against the last bits of rounding.
 */
#ifndef FLOE_TRAINER_WEIGHT_ANALYSIS_H
#define FLOE_TRAINER_WEIGHT_ANALYSIS_H

#include <stddef.h>

#include "common/error.h"
#include "models/param_names.h"
#include "models/qmodel.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum floe_wa_side {
    FLOE_WA_INPUT = 0, /* rotate the input space: min ||A R - B||, R in O(cols) (default) */
    FLOE_WA_OUTPUT,    /* rotate the output space: min ||R A - B||, R in O(rows) */
} floe_wa_side;

typedef struct floe_wa_dist {
    double teacher_norm;   /* ||A||_F */
    double student_norm;   /* ||B||_F */
    double frobenius;      /* ||A - B||_F */
    double frobenius_rel;  /* frobenius / ||A||_F (0 when A = 0 and B = 0; inf when only A = 0) */
    double procrustes;     /* min_R ||A R - B||_F or ||R A - B||_F */
    double procrustes_rel; /* procrustes / ||A||_F */
} floe_wa_dist;

/* "input" / "output" <-> side; parse returns -1 for anything else. */
const char *floe_wa_side_name(floe_wa_side side);
int floe_wa_side_parse(const char *s, floe_wa_side *side);

/* Distances between two row-major float matrices [rows, cols]. Returns -1 (err set) on out of memory
 * or a failed SVD. */
int floe_wa_distances(const float *a, const float *b, size_t rows, size_t cols, floe_wa_side side, floe_wa_dist *d,
                      floe_err *err);

/* One analysed tensor of a model. */
typedef struct floe_wa_row {
    int layer;          /* block index, -1 for the LM head */
    const char *tensor; /* "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head" */
    char name[FLOE_PARAM_NAME_MAX]; /* the Hugging Face name of the teacher tensor */
    size_t rows, cols;
    floe_wa_dist d;
} floe_wa_row;

/* Rows a model gives: 7 per layer plus the LM head. */
size_t floe_wa_row_count(const floe_model_config *cfg);

/* Compares a float teacher (parameter table + flat buffer, models/param_names.h) with a quantized
 * student. The teacher's RMSNorm gains are folded into the linear layer that follows them, as the
 * quantized model does (W'[n][i] = W[n][i] g[i]: input_layernorm into q, k, v; post_attention_layernorm
 * into gate, up; model.norm into the LM head, which is embed_tokens when the teacher ties it); the
 * student's weights are its codes times its per-row steps. Every shape is checked before any work: a
 * different number of layers or a tensor whose shape differs is refused naming the tensor and both
 * shapes. rows receives floe_wa_row_count(tcfg) entries (caller-allocated), in the order layer 0
 * q..down, layer 1 ..., LM head. progress (may be NULL) is called after each tensor. */
int floe_wa_model(const floe_model_config *tcfg, const floe_param_table *t, const float *params,
                  const floe_qmodel *student, floe_wa_side side, floe_wa_row *rows,
                  void (*progress)(void *ctx, size_t done, size_t total), void *ctx, floe_err *err);

/* Writes rows as CSV atomically: header FLOE_WA_CSV_HEADER, one line per row (layer -1 for the head). */
#define FLOE_WA_CSV_HEADER "layer,tensor,rows,cols,teacher_norm,frobenius,frobenius_rel,procrustes,procrustes_rel\n"
int floe_wa_write_csv(const char *path, const floe_wa_row *rows, size_t n, floe_err *err);

/* Plots the relative distances per layer (one line per tensor kind, Frobenius solid and Procrustes
 * dashed; the LM head as points at x = n_layers) as a PNG with gnuplot. */
int floe_wa_plot(const char *png, const floe_wa_row *rows, size_t n, int n_layers, floe_wa_side side,
                 floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
