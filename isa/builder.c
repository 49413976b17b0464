/* The program-builder API: checked appends to a program. */
#include "isa/builder.h"

#include <stdlib.h>
#include <string.h>

int floe_emit(floe_program *p, unsigned x, unsigned y, const floe_insn *in, floe_err *err)
{
    if (x > 255 || y > 255)
        return floe_err_set(err, "emit: (%u, %u) is not a core (coordinates are 0..255)", x, y);
    if (floe_insn_check(in, err) != 0)
        return -1;
    floe_core_code *cc = floe_program_core(p, x, y, 1);
    if (!cc)
        return floe_err_set(err, "emit: out of memory");
    if (cc->n == cc->cap) {
        size_t nc = cc->cap ? cc->cap * 2 : 64;
        floe_insn *q = realloc(cc->insns, nc * sizeof *q);
        if (!q)
            return floe_err_set(err, "emit: out of memory");
        cc->insns = q;
        cc->cap = nc;
    }
    cc->insns[cc->n++] = *in;
    return 0;
}

int floe_emit_op(floe_program *p, unsigned x, unsigned y, floe_opcode op, unsigned thread,
                 const int64_t *fields, int nfields, floe_err *err)
{
    const floe_op_info *info = floe_op_lookup((unsigned)op);
    if (!info)
        return floe_err_set(err, "emit: unknown opcode 0x%02x", (unsigned)op);
    if (nfields != info->nfields)
        return floe_err_set(err, "emit: %s takes %d fields, got %d", info->mnemonic, info->nfields, nfields);
    if (thread >= FLOE_THREADS)
        return floe_err_set(err, "emit: %s: thread %u out of range 0..%d", info->mnemonic, thread, FLOE_THREADS - 1);
    floe_insn in;
    memset(&in, 0, sizeof in);
    in.op = (uint8_t)op;
    in.thread = (uint8_t)thread;
    for (int i = 0; i < nfields; i++)
        in.f[i] = fields[i];
    return floe_emit(p, x, y, &in, err);
}

size_t floe_here(const floe_program *p, unsigned x, unsigned y)
{
    const floe_core_code *cc = floe_program_core((floe_program *)p, x, y, 0);
    return cc ? cc->n : 0;
}

int floe_loop_begin(floe_program *p, unsigned x, unsigned y, unsigned thread, unsigned count, unsigned reg,
                    int32_t stride, size_t *handle, floe_err *err)
{
    size_t at = floe_here(p, x, y);
    /* body = 1 is a placeholder that floe_loop_end replaces. */
    if (floe_emit_op(p, x, y, FLOE_OP_LOOP, thread, (const int64_t[]){count, 1, reg, stride}, 4, err) != 0)
        return -1;
    *handle = at;
    return 0;
}

int floe_loop_end(floe_program *p, unsigned x, unsigned y, size_t handle, floe_err *err)
{
    floe_core_code *cc = floe_program_core(p, x, y, 0);
    if (!cc || handle >= cc->n || cc->insns[handle].op != FLOE_OP_LOOP)
        return floe_err_set(err, "loop end: %zu is not an open loop of core (%u, %u)", handle, x, y);
    size_t body = cc->n - handle - 1;
    if (body < 1 || body > 1023)
        return floe_err_set(err, "loop end: the body at %zu of core (%u, %u) has %zu instructions, not 1..1023",
                            handle, x, y, body);
    for (size_t j = handle + 1; j < cc->n; j++)
        if (cc->insns[j].thread != cc->insns[handle].thread)
            return floe_err_set(err, "loop end: instruction %zu of core (%u, %u) is on thread %u, the loop on %u",
                                j, x, y, cc->insns[j].thread, cc->insns[handle].thread);
    cc->insns[handle].f[1] = (int64_t)body;
    return 0;
}

int floe_label(floe_program *p, unsigned x, unsigned y, const char *name, floe_err *err)
{
    if (x > 255 || y > 255)
        return floe_err_set(err, "label '%s': (%u, %u) is not a core", name, x, y);
    return floe_program_add_symbol(p, x, y, FLOE_SYM_LABEL, name, (uint32_t)floe_here(p, x, y), 0, err);
}

int floe_region(floe_program *p, unsigned x, unsigned y, const char *name, uint32_t base, uint32_t size,
                floe_err *err)
{
    return floe_program_add_symbol(p, x, y, FLOE_SYM_REGION, name, base, size, err);
}

int floe_data(floe_program *p, unsigned x, unsigned y, uint32_t addr, const void *data, size_t len,
               floe_err *err)
{
    return floe_program_add_image(p, x, y, addr, data, len, err);
}
