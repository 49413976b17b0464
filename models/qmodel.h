/* A quantized model (docs/quantized-model.md): integer weight codes and step sizes, and the integer
 * constants derived from them that the chip runs (multipliers, lookup and RoPE tables).
 *
 * Ownership: every array belongs to the floe_qmodel and is released by floe_qmodel_free. The step
 * sizes are the trainer's view; the derived constants (filled by floe_qmodel_derive) are what the
 * integer forward, the compiler and the chip use.
 */
#ifndef FLOE_MODELS_QMODEL_H
#define FLOE_MODELS_QMODEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "isa/lut.h"
#include "isa/requant.h"
#include "isa/rope.h"
#include "models/model_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A decoder layer's linears, in the order of the model file and the compiler. */
enum { FLOE_LIN_Q, FLOE_LIN_K, FLOE_LIN_V, FLOE_LIN_O, FLOE_LIN_GATE, FLOE_LIN_UP, FLOE_LIN_DOWN, FLOE_LAYER_LINEARS };

typedef struct floe_qconfig {
    int wbits;     /* linear weights: 2, 4 or 8 (default 4) */
    int abits;     /* linear-layer inputs: 4 or 8 (default 8) */
    int kvbits;    /* K and V cache: 4 or 8 (default 8) */
    int head_bits; /* LM head weights: 4 or 8 (default 8) */
    int act_scaling; /* linear-layer inputs: FLOE_ACT_PER_TENSOR (default) or FLOE_ACT_PER_TOKEN */
    int act_kmax;    /* per token: K, the largest per-row shift k_t (1..FLOE_TOKEN_K_MAX); else 0 */
    /* per-layer weight bits (mixed precision, e.g. the first and last layers at 8 bits): 0 = wbits,
     * else 2, 4 or 8 for every linear layer of that decoder layer */
    signed char layer_wbits[FLOE_MODEL_MAX_LAYERS];
    /* per-linear weight bits: 0 = the layer's width, else 2, 4 or 8 for linear j (FLOE_LIN_Q ..
     * FLOE_LIN_DOWN) of decoder layer l; a linear's entry wins over its layer's */
    signed char linear_wbits[FLOE_MODEL_MAX_LAYERS][FLOE_LAYER_LINEARS];
} floe_qconfig;

/* The Hugging Face name of linear j: "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
 * "down_proj" ("?" outside 0..6). */
const char *floe_linear_name(int j);

/* The weight bits of decoder layer l's linear layers (the layer-wide width, per-linear entries
 * aside). */
int floe_qconfig_wbits_of(const floe_qconfig *q, int l);
/* The weight bits of linear j (FLOE_LIN_*) of decoder layer l: its own entry, else its layer's. */
int floe_qconfig_linear_wbits_of(const floe_qconfig *q, int l, int j);
/* 1 when some linear's weight bits differ from wbits. */
int floe_qconfig_has_layer_wbits(const floe_qconfig *q);
/* 1 when some linear's weight bits differ from its layer's width (a per-linear mix). */
int floe_qconfig_has_linear_wbits(const floe_qconfig *q);
/* Clears every per-layer and per-linear width (all linears at wbits). */
void floe_qconfig_clear_wbits(floe_qconfig *q);
/* Parses per-layer and per-linear weight bits "ITEM=B[,ITEM=B...]" (e.g. "0=8,3.down_proj=8,5.q_proj=2"),
 * ITEM a layer L (every linear of layer L) or L.NAME with NAME a linear's Hugging Face name
 * (floe_linear_name), into q->layer_wbits and q->linear_wbits. A linear's entry wins over its layer's
 * whatever their order. `what` names the setting or the file's field in errors (a malformed item, a
 * layer outside 0..1023, an unknown linear, bits other than 2, 4 or 8, an item given twice). NULL or
 * "" sets nothing. */
int floe_qconfig_parse_layer_wbits(floe_qconfig *q, const char *spec, const char *what, floe_err *err);
/* Refuses per-layer or per-linear weight bits for a layer the model (n_layers, called name) does not
 * have; `what` names the setting or the file's field. */
int floe_qconfig_check_layers(const floe_qconfig *q, int n_layers, const char *name, const char *what, floe_err *err);
/* Writes the overrides as "L=B,L.NAME=B,..." ("" when none): a layer's entry where its width differs
 * from wbits, then its linears' entries that differ from the layer's width; parsing it back gives
 * every linear the same width. -1 if n is too small. */
int floe_qconfig_format_layer_wbits(const floe_qconfig *q, char *buf, size_t n);
/* A short label of the precision for reports: "W4A8KV8", plus ", per-token K 4" and ", layers 0=8"
 * where they apply (cut to n). */
const char *floe_qconfig_label(const floe_qconfig *q, char *buf, size_t n);

/* Activation scaling of the linear-layer inputs (docs/numerics.md §10, docs/quantized-model.md). */
enum { FLOE_ACT_PER_TENSOR = 0, FLOE_ACT_PER_TOKEN = 1 };

/* "per-tensor" or "per-token". */
const char *floe_act_scaling_name(int act_scaling);
/* Parses "per-tensor" / "per-token"; returns 0 or -1. */
int floe_act_scaling_parse(const char *s, int *out);
/* Sets q's activation scaling from a setting: name "per-tensor" or "per-token" (NULL: per-tensor) and
 * K (0: FLOE_TOKEN_K_DEFAULT for per-token; must be 0 for per-tensor). err names the setting. */
int floe_qconfig_set_scaling(floe_qconfig *q, const char *name, long long kmax, floe_err *err);

/* Sets q->act_scaling and q->act_kmax from a model file's metadata values 'floe.act_scaling' and
 * 'floe.act_kmax' (NULL: absent; both absent means per-tensor, as files written before the option).
 * Refuses, naming the file and the field: an unknown scaling, a per-token model without a valid K,
 * a per-tensor model with a K. */
int floe_qconfig_scaling_from_meta(floe_qconfig *q, const char *scaling, const char *kmax, const char *path,
                                   floe_err *err);

typedef struct floe_qlinear {
    int in, out, bits;
    int8_t *w;              /* [out][in] codes in [-2^(bits-1), 2^(bits-1) - 1]; owned unless borrowed */
    float *s_w;             /* [out] per-output-channel steps; owned unless borrowed */
    floe_requant_mult *m;   /* [out] derived: s_in * s_w[n] / s_out; owned */
    int borrowed;           /* 1: w and s_w are another layer's (floe_qmodel_random_shared), read only */
} floe_qlinear;

typedef struct floe_qlayer {
    floe_qlinear q, k, v, o, gate, up, down;
    /* step sizes (docs/quantized-model.md) */
    float s_attn_in, s_q, s_k, s_kc, s_vc, s_o_in, s_mlp_in, s_g, s_silu, s_u, s_down_in;
    /* derived */
    floe_requant_mult attn_norm_c, mlp_norm_c, m_kcache, m_score, m_attn_out, m_mlp;
    floe_lut16 silu;
    /* SmoothQuant at the norms (optional; NULL when absent; owned, see floe_qmodel_set_smoothing):
     * the output of input_layernorm (smooth_attn) or post_attention_layernorm (smooth_mlp) carries
     * a per-channel factor h_j, i.e. the integer RMSNorm runs per channel with
     * C_j = h_j * sqrt(d) / s_in (derived into attn_norm_cj / mlp_norm_cj, [d] each). */
    float *smooth_attn, *smooth_mlp;
    floe_requant_mult *attn_norm_cj, *mlp_norm_cj;
} floe_qlayer;

typedef struct floe_qmodel {
    floe_model_config cfg;
    floe_qconfig q;
    int16_t *embed;         /* [vocab][d] int16 codes at step s_res; owned */
    float s_res;
    floe_qlayer *layers;    /* [n_layers]; owned */
    floe_qlinear head;      /* LM head [vocab][d] */
    float s_head_in, s_logit;
    /* derived */
    uint64_t eps_q;
    floe_requant_mult head_norm_c;
    floe_rope_table rope;   /* context positions */
    int derived;
} floe_qmodel;

floe_qconfig floe_qconfig_default(void);
/* Checks bit widths against what the numeric contract supports (weights 2/4/8, activations and
 * cache 4/8, head 4/8); err names the setting. */
int floe_qconfig_validate(const floe_qconfig *q, floe_err *err);

/* Allocates a model of this shape with zero codes and unit steps. */
int floe_qmodel_alloc(floe_qmodel *m, const floe_model_config *cfg, const floe_qconfig *q, floe_err *err);

void floe_qmodel_free(floe_qmodel *m);

/* Derives every integer constant from the steps. Refuses a step that is not a positive finite number
 * or that makes a multiplier unrepresentable, naming the layer and tensor. */
int floe_qmodel_derive(floe_qmodel *m, floe_err *err);

/* Gives layer l's input_layernorm (which 0) or post_attention_layernorm (which 1) the per-channel
 * output factors h [d] (copied; positive and finite, else an error naming the channel). */
int floe_qmodel_set_smoothing(floe_qmodel *m, int l, int which, const float *h, floe_err *err);

/* A random model with plausible steps (for tests and cost estimates with random weights): codes
 * uniform over their range, steps chosen so activations neither vanish nor saturate. */
int floe_qmodel_random(floe_qmodel *m, const floe_model_config *cfg, const floe_qconfig *q, uint64_t seed,
                       floe_err *err);

/* The same kind of random model, with one random decoder layer's weight codes and steps backing
 * every layer of its weight bits (the first such layer owns them, the others borrow them: w and s_w
 * are the same arrays; each layer's step sizes and derived multipliers stay its own). A model whose
 * values do not matter (timing and energy do not depend on them) then costs the host one layer's
 * weights instead of n_layers': the 40 layers of the Granite-8B shape take 200 MB, not 8 GB. The
 * reference forward and the compiler see an ordinary model whose layers happen to be equal. */
int floe_qmodel_random_shared(floe_qmodel *m, const floe_model_config *cfg, const floe_qconfig *q, uint64_t seed,
                              floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
