/* The trainer's integer-exact forward of a quantized model (docs/quantized-model.md), batched and fast.
 *
 * It computes exactly the integers of models/qref.c (and of the chip) for B sequences of T tokens at
 * once, and keeps every tensor the QAT backward needs. Where floats are provably exact it uses them:
 * a linear layer's accumulator is a float GEMM on integer-valued operands when
 * in * max|x| * max|w| < 2^24 (fp32 represents every partial sum exactly), a double GEMM otherwise
 * (exact below 2^53). Attention's products (int16 x int8 over a head, Q15 probabilities x cache)
 * exceed 2^24, so they run in int32 loops that the compiler vectorizes. Everything else (RMSNorm,
 * RoPE, softmax, SiLU table, requantization) calls the isa/ functions of the contract directly.
 *
 * Buffers: one allocation for batches up to maxB x maxT (floe_qfwd_init); a forward runs on any
 * B <= maxB, T <= maxT. Integer tensors are stored as int8 where they are activation codes (4 or
 * 8 bits: what the int8 GEMM reads), as int16 where they are 16-bit or narrower, as int32 or float
 * where they are accumulators (a float holds an exact integer). Ownership: everything
 * belongs to the floe_qfwd; the model is borrowed for the call.
 * Threads: rows (and (sequence, head) pairs in attention) are split among OpenMP threads; integer
 * results cannot depend on the split.
 */
#ifndef FLOE_TRAINER_QFORWARD_H
#define FLOE_TRAINER_QFORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "models/qmodel.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_QFWD_KHIST 9 /* shifts 0..FLOE_TOKEN_K_MAX */

typedef struct floe_qfwd_layer {
    int16_t *x;      /* [N, C] residual codes entering the layer (step s_res) */
    int8_t *h1;      /* [N, C] attn_in codes (A: 4 or 8 bits, so int8) */
    int16_t *q;      /* [N, Q] query codes after RoPE (int16, step s_q) */
    int16_t *k;      /* [N, KV] key codes after RoPE, before the cache (int16, step s_k) */
    int16_t *kc;     /* [N, KV] key cache codes (C, step s_kc) */
    float *vacc;     /* [N, KV] v accumulators (exact integers; value = acc * s_attn_in * s_wv[n]) */
    int16_t *v;      /* [N, KV] value cache codes (C, step s_vc) */
    int32_t *oacc;   /* [N, Q] sum_s p v (value = acc * 2^-15 * s_vc) */
    int8_t *o;       /* [N, Q] attention output codes (A, step s_o_in) */
    int16_t *xmid;   /* [N, C] residual after attention */
    int8_t *h2;      /* [N, C] mlp_in codes */
    int16_t *g, *u;  /* [N, F] gate and up codes (int16); SiLU(g) is not kept: a table lookup away */
    int8_t *mh;      /* [N, F] down_in codes (A, step s_down_in) */
    /* per-token scaling (docs/numerics.md §10): row r of an input point has the step s * 2^-k[r];
     * all zero for a per-tensor model */
    int8_t *k1, *ko, *k2, *km; /* [N] shifts of attn_in, attn_out (o_in), mlp_in, down_in */
} floe_qfwd_layer;

typedef struct floe_qfwd {
    floe_model_config cfg;
    int maxB, maxT;
    int B, T;                 /* shape of the last forward */
    floe_qfwd_layer *layers;  /* [n_layers] */
    int16_t *xf;              /* [N, C] residual after the last layer */
    int8_t *hf;               /* [N, C] head_in codes */
    int8_t *kf;               /* [N] head_in per-token shifts (zero for per-tensor) */
    /* per-token models: rows by shift k at attn_in, o_in, mlp_in, down_in (all layers) and head_in,
     * summed over the forwards since floe_qfwd_init */
    uint64_t khist[5][FLOE_QFWD_KHIST];
    int16_t *logits;          /* [N, V] logit codes (int16, step s_logit) */
    /* scratch */
    /* accumulators, float or int32 from the int8 GEMM: [N, max(C, Q, F)] for a layer, [head_rows, V]
     * for a slice of the LM head's positions (an [N, V] one would be as large as the logits in float,
     * 1 GB for Llama 3 at 2,048 tokens); acc_n = max(maxN * max(C, Q, F), V), head_rows = acc_n / V */
    float *acc;
    size_t acc_n;
    int head_rows;
    double *dacc; /* [acc_n], for the double GEMM path; NULL until needed */
    /* weight codes as float for the fp32 GEMM path; NULL until needed (the int8 GEMM reads the codes) */
    float *wcodes;
    size_t wcodes_n;
    float *xcodes; /* a linear layer's input codes as float for the fp32 GEMM path; NULL until needed */
    size_t xcodes_n;
    double *dcodes, *dx;      /* double copies for the exact double path; NULL until needed */
    size_t dcodes_n, dx_n;
    void *mem;                /* one block for all of the above */
} floe_qfwd;

int floe_qfwd_init(floe_qfwd *f, const floe_model_config *cfg, int maxB, int maxT, floe_err *err);
void floe_qfwd_free(floe_qfwd *f);

/* The integer forward of m (derived) over tokens [B, T] (ids checked by the caller; B <= maxB,
 * T <= maxT <= m's context). Returns 0, or -1 with err set (out of memory for the double path). */
int floe_qfwd_forward(floe_qfwd *f, const floe_qmodel *m, const int32_t *tokens, int B, int T, floe_err *err);

/* Row t (t + 1 values, keys 0..t) of the Q15 attention probabilities of head h of sequence b in layer
 * l of the last forward of m, recomputed from the saved query and key-cache codes: the integers that
 * forward used (they are not kept: B x heads x T^2 of them per layer, 4 GiB for a 1B model at 2,048
 * tokens). z: t + 1 ints of scratch. Thread-safe. */
void floe_qfwd_prob_row(const floe_qfwd *f, const floe_qmodel *m, int l, int b, int h, int t, int16_t *prow,
                        int32_t *z);

/* Calls fn for every tensor of the last forward in the order and under the names of
 * floe_qref_forward's trace, for sequence b (rows of that sequence only), widened to int32. */
typedef void (*floe_qfwd_trace_fn)(void *ctx, const char *name, int layer, const int32_t *data, size_t rows,
                                   size_t width);
int floe_qfwd_trace(const floe_qfwd *f, const floe_qmodel *m, int b, floe_qfwd_trace_fn fn, void *ctx,
                    floe_err *err);

/* Prints the per-token shift histogram (khist) as one line per input point, percentages of rows;
 * nothing for a model without per-token rows. */
void floe_qfwd_khist_print(const floe_qfwd *f, int K);
/* The same from a copy of the counts. */
void floe_qfwd_khist_print_counts(const uint64_t khist[5][FLOE_QFWD_KHIST], int K);

#ifdef __cplusplus
}
#endif

#endif
