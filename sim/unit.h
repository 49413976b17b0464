/* What the core-local units' instruction semantics share (sim/exec.c and sim/unit_*.c): cycle counts,
 * multipliers in memory, and the operand macros. Internal to the simulator. */
#ifndef FLOE_SIM_UNIT_H
#define FLOE_SIM_UNIT_H

#include "isa/elem.h"
#include "isa/numerics.h"
#include "sim/sim_state.h"

#ifdef __cplusplus
extern "C" {
#endif

static inline uint64_t ceil_div(uint64_t a, uint64_t b) { return b ? (a + b - 1) / b : a; }

/* Multipliers in memory: 8 bytes each, int32 m then int32 shift, both little-endian; a fault when not
 * of the contract's form. */
int sim_load_mult(const sim_core *c, const sim_thread *t, const floe_insn *in, const uint8_t *p, floe_requant_mult *q,
                  floe_err *err);
/* A per-token multiplier (docs/isa.md, vrequantt): {m, shift} then int32 K. */
int sim_load_tok_mult(const sim_core *c, const sim_thread *t, const floe_insn *in, const uint8_t *p,
                      floe_requant_mult *q, int *K, floe_err *err);

static inline void store_mult(uint8_t *p, floe_requant_mult q)
{
    floe_elem_store(p, FLOE_DT_I32, 0, q.m);
    floe_elem_store(p, FLOE_DT_I32, 1, q.shift);
}

static inline uint64_t load_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline void store_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Vector-unit work: n elements, i32 elements counting twice. */
static inline uint64_t vector_cycles(const floe_sim *s, uint64_t n, floe_dtype dt)
{
    uint64_t ops = dt == FLOE_DT_I32 ? 2 * n : n;
    uint64_t c = ceil_div(ops, s->m.vector_ops_per_cycle);
    return c ? c : 1;
}

static inline uint64_t afu_cycles(const floe_sim *s, uint64_t ops)
{
    uint64_t c = ceil_div(ops, s->m.afu_ops_per_cycle);
    return c ? c : 1;
}

/* One pass of a composite over its row (docs/sim.md, composites): the sequencer's cycle that issues
 * it, then `ops` on a unit of `rate` ops per cycle or its own `bytes` through the SRAM port, whichever
 * is longer; the passes run one after the other. */
static inline uint64_t pass_cycles(const floe_sim *s, uint64_t ops, uint64_t rate, uint64_t bytes)
{
    uint64_t c = ceil_div(ops, rate), p = ceil_div(bytes, s->m.sram_bytes_per_cycle);
    c = c > p ? c : p;
    return 1 + (c ? c : 1);
}

#define OPND(field, bytes, name, out)                                                                                  \
    do {                                                                                                               \
        if (sim_mem_operand(s, c, t, (field), (bytes), (name), &(out), err))                                           \
            return -1;                                                                                                 \
    } while (0)
#define READ(addr, bytes)                                                                                              \
    do {                                                                                                               \
        if (sim_read(s, c, (addr), (bytes), err))                                                                      \
            return -1;                                                                                                 \
    } while (0)

/* Each unit's instructions: results into core memory or the accumulators, the unit's work in *cycles,
 * its actions counted in *act; -1 with err set on a fault. */
int sim_exec_vmm(floe_sim *s, sim_core *c, sim_thread *t, const floe_insn *in, uint64_t *cycles, floe_actions *act,
                 floe_err *err);
int sim_exec_vector(floe_sim *s, sim_core *c, sim_thread *t, const floe_insn *in, uint64_t *cycles, floe_actions *act,
                    floe_err *err);
int sim_exec_afu(floe_sim *s, sim_core *c, sim_thread *t, const floe_insn *in, uint64_t *cycles, floe_actions *act,
                 floe_err *err);
int sim_exec_mem(floe_sim *s, sim_core *c, sim_thread *t, const floe_insn *in, uint64_t *cycles, floe_actions *act,
                 floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
