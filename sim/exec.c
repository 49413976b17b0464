/* The core-local instructions (docs/isa.md): operands, faults, and the dispatch to each unit's
 * semantics (sim/unit_vmm.c, unit_vector.c, unit_afu.c, unit_mem.c, as rtl/ has one file per unit).
 * Every result is computed by the numeric core's functions (the isa/ headers), so the simulator is
 * bit-exact with docs/numerics.md by construction. Each instruction also reports its unit's work in
 * cycles and its action counts (for energy). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isa/elem.h"
#include "isa/numerics.h"
#include "sim/unit.h"

int sim_fault(floe_err *err, const sim_core *c, const sim_thread *t, const floe_insn *in, const char *fmt, ...)
{
    char msg[FLOE_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const floe_op_info *oi = floe_op_lookup(in->op);
    size_t idx = t->pc < t->n ? t->idx[t->pc] : 0;
    return floe_err_set(err, "core %u (x=%u, y=%u) thread %u, instruction %zu (%s): %s", c->id, c->x, c->y,
                        (unsigned)in->thread, idx, oi ? oi->mnemonic : "?", msg);
}

int sim_mem_operand(floe_sim *s, sim_core *c, sim_thread *t, int64_t field, uint64_t bytes, const char *what,
                    uint64_t *addr, floe_err *err)
{
    (void)s;
    int64_t a = (int64_t)floe_mem_addr(field) + t->r[floe_mem_reg(field)];
    if (a < 0 || (uint64_t)a > c->mem.capacity || bytes > c->mem.capacity - (uint64_t)a) {
        const floe_insn *in = &c->code->insns[t->idx[t->pc]];
        return sim_fault(err, c, t, in, "operand %s: %llu bytes at address %lld (0x%x + r%u) lie outside the "
                         "core's %llu bytes of memory", what, (unsigned long long)bytes, (long long)a,
                         floe_mem_addr(field), floe_mem_reg(field), (unsigned long long)c->mem.capacity);
    }
    *addr = (uint64_t)a;
    return 0;
}

int sim_acc_operand(sim_core *c, sim_thread *t, int64_t field, uint64_t n, uint32_t *index, floe_err *err)
{
    int64_t a = (int64_t)floe_acc_index(field) + t->r[floe_acc_reg(field)];
    if (a < 0 || (uint64_t)a + n > FLOE_ACCUMULATORS) {
        const floe_insn *in = &c->code->insns[t->idx[t->pc]];
        return sim_fault(err, c, t, in, "accumulators %lld..%lld lie outside the %u accumulators", (long long)a,
                         (long long)a + (long long)n - 1, FLOE_ACCUMULATORS);
    }
    *index = (uint32_t)a;
    return 0;
}

int sim_read(floe_sim *s, sim_core *c, uint64_t addr, uint64_t n, floe_err *err)
{
    return floe_memory_note_read(&c->mem, addr, n, s->strict, err);
}

void sim_wrote(sim_core *c, uint64_t addr, uint64_t n)
{
    floe_memory_note_write(&c->mem, addr, n);
    /* prepared vmm weights (expansions, row sums) are stale once their bytes change */
    for (size_t i = 0; i < c->n_vmm_cache;) {
        sim_vmm_entry *e = &c->vmm_cache[i];
        if (addr < e->addr + e->bytes && e->addr < addr + n) {
            floe_vmm_weights_free(&e->w);
            c->vmm_cache[i] = c->vmm_cache[--c->n_vmm_cache];
        } else {
            i++;
        }
    }
}

/* Multipliers in memory: 8 bytes each, int32 m then int32 shift, both little-endian. */
int sim_load_mult(const sim_core *c, const sim_thread *t, const floe_insn *in, const uint8_t *p, floe_requant_mult *q,
                  floe_err *err)
{
    q->m = floe_elem_load(p, FLOE_DT_I32, 0);
    q->shift = floe_elem_load(p, FLOE_DT_I32, 1);
    if (q->m < 0 || q->shift < 0 || q->shift > FLOE_REQUANT_MAX_SHIFT)
        return sim_fault(err, c, t, in, "multiplier {m=%d, shift=%d} is not of the form m in [0, 2^31), shift "
                         "in [0, 62]", q->m, q->shift);
    return 0;
}

/* A per-token multiplier (docs/isa.md, vrequantt): {m, shift} then int32 K. */
int sim_load_tok_mult(const sim_core *c, const sim_thread *t, const floe_insn *in, const uint8_t *p,
                      floe_requant_mult *q, int *K, floe_err *err)
{
    if (sim_load_mult(c, t, in, p, q, err))
        return -1;
    *K = floe_elem_load(p, FLOE_DT_I32, 2);
    if (*K < 0 || *K > FLOE_TOKEN_K_MAX)
        return sim_fault(err, c, t, in, "per-token multiplier: K = %d is outside 0..%d", *K, FLOE_TOKEN_K_MAX);
    return 0;
}

int sim_exec_local(floe_sim *s, sim_core *c, sim_thread *t, const floe_insn *in, uint64_t *cycles,
                   floe_actions *act, floe_err *err)
{
    switch (floe_op_lookup(in->op)->unit) {
    case FLOE_UNIT_VMM: return sim_exec_vmm(s, c, t, in, cycles, act, err);
    case FLOE_UNIT_VECTOR: return sim_exec_vector(s, c, t, in, cycles, act, err);
    case FLOE_UNIT_AFU: return sim_exec_afu(s, c, t, in, cycles, act, err);
    case FLOE_UNIT_MEM: return sim_exec_mem(s, c, t, in, cycles, act, err);
    default:
        return sim_fault(err, c, t, in, "not a core-local instruction");
    }
}
