/* AdamW (Loshchilov & Hutter) with bias correction and decoupled weight decay, as PyTorch's AdamW:
 *   m = b1 m + (1 - b1) g        v = b2 v + (1 - b2) g^2
 *   p -= lr * ( (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + wd * p )     t = step, from 1
 * Which tensors decay: linear-layer matrices always; embeddings (and an untied LM head) when
 * decay_embeddings is set (default yes, as nanoGPT/llm.c decay every 2-D tensor); RMSNorm gains when
 * decay_norms is set (default no: decaying a gain pulls it towards 0, i.e. towards switching the
 * layer off). floe_adamw_tensor_decay gives the wd to pass for a tensor of a given kind.
 * Elementwise: the same bits for any thread count.
 */
#ifndef FLOE_TRAINER_ADAMW_H
#define FLOE_TRAINER_ADAMW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_adamw_cfg {
    float beta1;          /* 0.9 */
    float beta2;          /* 0.95 */
    float eps;            /* 1e-8 */
    float weight_decay;   /* 0.1 */
    int decay_embeddings; /* 1 */
    int decay_norms;      /* 0 */
} floe_adamw_cfg;

typedef enum floe_decay_class { /* which weight-decay rule a tensor follows */
    FLOE_DECAY_MATRIX,    /* q/k/v/o, gate/up/down projections */
    FLOE_DECAY_EMBEDDING, /* token embedding, untied LM head */
    FLOE_DECAY_NORM       /* RMSNorm gains */
} floe_decay_class;

/* The defaults above. */
floe_adamw_cfg floe_adamw_defaults(void);

/* Weight decay to apply to a tensor of this kind under cfg (cfg->weight_decay or 0). */
float floe_adamw_tensor_decay(const floe_adamw_cfg *cfg, floe_decay_class kind);

/* One update of n parameters with their gradients and moment buffers (m, v start at zero). */
void floe_adamw_update(float *param, const float *grad, float *m, float *v, size_t n, int step, float lr,
                       float beta1, float beta2, float eps, float weight_decay);

/* The same update with both moments stored as bfloat16 (their upper 16 bits; half the optimizer
 * state's memory): each is read as float, updated in float exactly as above, and stored rounded to
 * nearest, ties to even (as floe_f32_to_bf16 for finite values). The parameters stay float. */
void floe_adamw_update_bf16(float *param, const float *grad, uint16_t *m, uint16_t *v, size_t n, int step, float lr,
                            float beta1, float beta2, float eps, float weight_decay);

/* The same update with both moments in 8 bits a value (a quarter of float moments' memory), the
 * block-wise 8-bit optimizer state of Dettmers et al. (2022) with a float-like code: the values are
 * taken in blocks of FLOE_ADAMW_Q8_BLOCK, each block scaled by its largest magnitude (m_scale, v_scale:
 * floe_adamw_q8_blocks(n) floats each), and each scaled value stored as a small float: m as a sign and
 * 4 exponent and 3 mantissa bits (1 down to 2^-17), v as 5 exponent and 3 mantissa bits (1 down to
 * 2^-33), both rounded stochastically (up with the probability of the distance from the code below,
 * from a hash of the step and the index: a change smaller than a code is kept in expectation, not
 * lost; off by less than one code step: 1/8 of the value above 2^(1 - emax) of the block's scale,
 * one smallest code below it). A v that is not zero is never stored as zero: the smallest code
 * instead, so that no update divides by eps alone. Each block is read,
 * updated in float exactly as floe_adamw_update and stored again; blocks are independent, so the bits
 * are the same on any thread count. Codes and scales start at zero (zero moments). */
#define FLOE_ADAMW_Q8_BLOCK 256
size_t floe_adamw_q8_blocks(size_t n);
void floe_adamw_update_q8(float *param, const float *grad, int8_t *m, uint8_t *v, float *m_scale, float *v_scale,
                          size_t n, int step, float lr, float beta1, float beta2, float eps, float weight_decay);
/* A stored moment's value: code times its block's scale (for tests and inspection). */
float floe_adamw_q8_m(int8_t code, float scale);
float floe_adamw_q8_v(uint8_t code, float scale);

#ifdef __cplusplus
}
#endif

#endif
