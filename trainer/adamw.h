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

#ifdef __cplusplus
}
#endif

#endif
