/* The mem unit's instructions (docs/isa.md): copies within core memory and transfers with the frame
 * buffer. */
#include <stdlib.h>
#include <string.h>

#include "sim/unit.h"

int sim_exec_mem(floe_sim *s, sim_core *c, sim_thread *t, const floe_insn *in, uint64_t *cycles, floe_actions *act,
                 floe_err *err)
{
    uint8_t *M = c->mem.bytes;
    uint64_t d = 0, a = 0;
    switch (in->op) {
    case FLOE_OP_COPY: {
        uint64_t nb = (uint64_t)in->f[FLOE_F_COPY_nb];
        OPND(in->f[FLOE_F_COPY_dst], nb, "dst", d);
        OPND(in->f[FLOE_F_COPY_src], nb, "src", a);
        READ(a, nb);
        memmove(M + d, M + a, nb);
        sim_wrote(c, d, nb);
        act->sram_read_bytes += nb;
        act->sram_write_bytes += nb;
        *cycles = ceil_div(2 * nb, s->m.sram_bytes_per_cycle);
        break;
    }
    case FLOE_OP_FILL: {
        uint64_t nb = (uint64_t)in->f[FLOE_F_FILL_nb];
        OPND(in->f[FLOE_F_FILL_dst], nb, "dst", d);
        memset(M + d, (int)in->f[FLOE_F_FILL_byte], nb);
        sim_wrote(c, d, nb);
        act->sram_write_bytes += nb;
        *cycles = ceil_div(nb, s->m.sram_bytes_per_cycle);
        break;
    }
    case FLOE_OP_FBLD:
    case FLOE_OP_FBST: {
        int ld = in->op == FLOE_OP_FBLD;
        uint64_t nb = (uint64_t)in->f[FLOE_F_FBLD_nb], fb = (uint64_t)(uint32_t)in->f[ld ? 1 : 0];
        OPND(in->f[ld ? 0 : 1], nb, ld ? "dst" : "src", d);
        if (floe_memory_check(&s->fb, fb, nb, ld ? "fbld" : "fbst", err) != 0)
            return sim_fault(err, c, t, in, "frame-buffer range 0x%llx + %llu bytes outside its %llu bytes",
                             (unsigned long long)fb, (unsigned long long)nb, (unsigned long long)s->fb.capacity);
        if (ld) {
            if (floe_memory_note_read(&s->fb, fb, nb, s->strict, err))
                return -1;
            memcpy(M + d, floe_memory_ptr(&s->fb, fb), nb);
            sim_wrote(c, d, nb);
            act->sram_write_bytes += nb;
        } else {
            READ(d, nb);
            memcpy(floe_memory_ptr(&s->fb, fb), M + d, nb);
            floe_memory_note_write(&s->fb, fb, nb);
            act->sram_read_bytes += nb;
        }
        act->framebuffer_bytes += nb;
        uint64_t bw = s->m.framebuffer_bytes_per_cycle < s->m.sram_bytes_per_cycle ? s->m.framebuffer_bytes_per_cycle
                                                                                   : s->m.sram_bytes_per_cycle;
        *cycles = ceil_div(nb, bw);
        break;
    }
    default: return sim_fault(err, c, t, in, "not a mem instruction");
    }
    if (*cycles == 0)
        *cycles = 1;
    return 0;
}
