/* The micro-commands of the core wrapper (rtl/core.sv, docs/rtl.md "The core wrapper"): one source
 * for their codes, printed into floe_rtl_pkg by rtl/gen/floe_rtl_gen.c and used by the co-simulation
 * harness (rtl/check/) that derives each command from an ISA instruction. */
#ifndef FLOE_RTL_CORE_CMD_H
#define FLOE_RTL_CORE_CMD_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FLOE_CORE_CMD_VMM,      /* vmm: acc, a = x, b = w, k, n, x16, w4, set */
    FLOE_CORE_CMD_REQUANT,  /* requant: dst, acc, m = mult, n, dt, chan */
    FLOE_CORE_CMD_VREQUANT, /* vrequant: dst, a (int32), m = mult, n, dt, chan */
    FLOE_CORE_CMD_VADD,     /* vadd: dst, a, b, n, dt */
    FLOE_CORE_CMD_VMAX,     /* vmax: dst, a, b, n, dt */
    FLOE_CORE_CMD_VSHIFT,   /* vshift: dst, a, n, dt, amount (-31..31) */
    FLOE_CORE_CMD_VSAT,     /* vsat: dst, a, n, dt = from, dt2 = to */
    FLOE_CORE_CMD_EXP2,     /* exp2 (afu): dst, a, n */
    FLOE_CORE_CMD_LUT8,     /* lut8 (afu): dst, a (int8), b = table (256 int16), n */
    FLOE_CORE_CMD_LUT16,    /* lut16 (afu): dst, a (int16), b = table (257 int32 knots, lo, hi), n, dt */
    FLOE_CORE_CMD_VMUL,     /* vmul: dst, a, b, n, dt, amount = sh (0..62) */
    FLOE_CORE_CMD_RECIP,    /* recip (afu): dst (multipliers), a (uint32), n */
    FLOE_CORE_CMD_RSQRT,    /* rsqrt (afu): dst (multipliers), a (uint64), n */
    FLOE_CORE_CMD_VSUM,     /* vsum: dst (int32), a, n, dt */
    FLOE_CORE_CMD_VSUMSQ,   /* vsumsq: dst (uint64), a, n, dt */
    FLOE_CORE_CMD_VMAXR,    /* vmaxr: dst (int32), a, n, dt */
    /* composites: the core's sequencer runs them as passes over the row (docs/rtl.md) */
    FLOE_CORE_CMD_RMSNORM,  /* rmsnorm: dst, a (int16), b = c (multipliers), m = eps (uint64), n, dt, chan */
    FLOE_CORE_CMD_SOFTMAX,  /* softmax: dst (int16), a (int32 scores), n */
    FLOE_CORE_CMD_ROPE,     /* rope: dst, a = src (int16), b = cos, m = sin (int16), n (even) */
    /* per-token activation scaling (docs/numerics.md §10): k as one int8 after the row */
    FLOE_CORE_CMD_RMSNORMT,  /* rmsnormt: dst, a (int16), b = c ({m, shift, K}), m = eps, n, dt */
    FLOE_CORE_CMD_VREQUANTT, /* vrequantt: dst, a (int32), m = mult ({m, shift, K}), n, dt */
    FLOE_CORE_CMD_REQUANTK,  /* requantk: dst, acc, m = mult (per channel), b = k (int8), n, dt */
    FLOE_CORE_CMD_MULTMUL,   /* multmul: dst, a (multipliers), m = b (multipliers), n, chan */
    FLOE_CORE_CMD_COUNT
} floe_core_cmd;

static const char *const floe_core_cmd_names[FLOE_CORE_CMD_COUNT] = {
    "VMM", "REQUANT", "VREQUANT", "VADD", "VMAX", "VSHIFT", "VSAT", "EXP2", "LUT8", "LUT16", "VMUL", "RECIP", "RSQRT", "VSUM", "VSUMSQ", "VMAXR",
    "RMSNORM", "SOFTMAX", "ROPE", "RMSNORMT", "VREQUANTT", "REQUANTK", "MULTMUL",
};

#ifdef __cplusplus
}
#endif

#endif
