/* Random valid instructions and programs for the ISA's property tests (and the fuzzers' seeds). */
#ifndef FLOE_TESTS_ISA_RANDOM_H
#define FLOE_TESTS_ISA_RANDOM_H

#include <string.h>

#include "common/rng.h"
#include "isa/builder.h"

/* A valid value for a field of this kind, biased towards the extremes of its range. */
static inline int64_t isa_random_field(floe_rng *r, floe_field_kind kind)
{
    const floe_kind_info *k = floe_kind_lookup(kind);
    int n;
    if (floe_kind_enum_names(kind, &n))
        return (int64_t)floe_rng_below(r, (uint64_t)n);
    switch (kind) {
    case FLOE_FK_REGW: return 1 + (int64_t)floe_rng_below(r, 7);
    case FLOE_FK_BODY: return 1 + (int64_t)floe_rng_below(r, 1023);
    case FLOE_FK_SH: return (int64_t)floe_rng_below(r, 63);
    case FLOE_FK_MEM: return FLOE_MEM(floe_rng_below(r, 1u << FLOE_MEM_ADDR_BITS), floe_rng_below(r, 8));
    case FLOE_FK_ACC: return FLOE_ACC(floe_rng_below(r, 1u << FLOE_ACC_INDEX_BITS), floe_rng_below(r, 8));
    default: break;
    }
    int64_t lo = k->is_signed ? -((int64_t)1 << (k->bits - 1)) : 0;
    int64_t hi = k->is_signed ? ((int64_t)1 << (k->bits - 1)) - 1 : ((int64_t)1 << k->bits) - 1;
    switch (floe_rng_below(r, 4)) {
    case 0: return lo;
    case 1: return hi;
    default: return floe_rng_range(r, lo, hi);
    }
}

/* A random valid instruction (never a loop: loops need a body). */
static inline floe_insn isa_random_insn(floe_rng *r, unsigned thread)
{
    size_t n;
    const floe_op_info *t = floe_op_table(&n);
    const floe_op_info *op;
    do
        op = &t[floe_rng_below(r, n)];
    while (op->opcode == FLOE_OP_LOOP);
    floe_insn in;
    memset(&in, 0, sizeof in);
    in.op = op->opcode;
    in.thread = (uint8_t)thread;
    for (int i = 0; i < op->nfields; i++)
        in.f[i] = isa_random_field(r, op->fields[i].kind);
    return in;
}

/* Emits `count` instructions of `thread` on core (x, y), some in (nested) loops. Returns 0 or -1. */
static inline int isa_random_code(floe_rng *r, floe_program *p, unsigned x, unsigned y, unsigned thread, int count,
                                  int depth, floe_err *err)
{
    while (count > 0) {
        if (depth < 3 && count >= 2 && floe_rng_below(r, 5) == 0) {
            int body = 1 + (int)floe_rng_below(r, (uint64_t)(count - 1 < 8 ? count - 1 : 8));
            size_t h;
            if (floe_loop_begin(p, x, y, thread, (unsigned)floe_rng_below(r, 65536), (unsigned)floe_rng_below(r, 8),
                                (int32_t)floe_rng_range(r, -1048576, 1048575), &h, err) != 0 ||
                isa_random_code(r, p, x, y, thread, body, depth + 1, err) != 0 || floe_loop_end(p, x, y, h, err) != 0)
                return -1;
            count -= body + 1;
            continue;
        }
        floe_insn in = isa_random_insn(r, thread);
        if (floe_emit(p, x, y, &in, err) != 0)
            return -1;
        count--;
    }
    return 0;
}

/* A random program: a few cores with code on several threads, regions, labels and images, and some
 * frame-buffer regions and images. */
static inline floe_program *isa_random_program(floe_rng *r, floe_err *err)
{
    floe_program *p = floe_program_new(floe_rng_u64(r));
    int ncores = 1 + (int)floe_rng_below(r, 4);
    for (int c = 0; c < ncores + 1; c++) {
        int fb = c == ncores;
        unsigned x = fb ? FLOE_FB : (unsigned)floe_rng_below(r, 256), y = fb ? FLOE_FB : (unsigned)floe_rng_below(r, 256);
        uint32_t space = fb ? 1u << 24 : 1u << FLOE_MEM_ADDR_BITS;
        int nreg = (int)floe_rng_below(r, 4);
        for (int i = 0; i < nreg; i++) {
            char name[32];
            snprintf(name, sizeof name, "%s_%d_%d", fb ? "fb" : "reg", c, i);
            uint32_t base = (uint32_t)floe_rng_below(r, space / 2);
            if (floe_region(p, x, y, name, base, (uint32_t)floe_rng_below(r, space / 2), err) != 0)
                goto fail;
        }
        int nimg = (int)floe_rng_below(r, 3);
        for (int i = 0; i < nimg; i++) {
            uint8_t data[100];
            size_t len = 1 + floe_rng_below(r, sizeof data);
            for (size_t j = 0; j < len; j++)
                data[j] = (uint8_t)floe_rng_below(r, 256);
            /* one image per slot of 128 bytes: never overlapping */
            if (floe_data(p, x, y, (uint32_t)(i * 128 + 4096 * (int)floe_rng_below(r, 64)),
                          data, len, err) != 0) {
                floe_err_clear(err); /* two images drew the same slot: skip */
            }
        }
        if (fb || floe_program_core(p, x, y, 0))
            continue;
        int nthreads = 1 + (int)floe_rng_below(r, 3);
        for (int t = 0; t < nthreads; t++) {
            unsigned thread = (unsigned)floe_rng_below(r, FLOE_THREADS);
            char name[32];
            snprintf(name, sizeof name, "t%u_start_%d", thread, t);
            if (floe_rng_below(r, 2) && floe_label(p, x, y, name, err) != 0)
                goto fail;
            if (isa_random_code(r, p, x, y, thread, 1 + (int)floe_rng_below(r, 40), 0, err) != 0)
                goto fail;
        }
        if (floe_label(p, x, y, "end", err) != 0)
            goto fail;
    }
    return p;
fail:
    floe_program_free(p);
    return NULL;
}

#endif
