/* The program-builder API the compiler uses (docs/isa.md, "Building programs in C").
 *
 *   floe_program *p = floe_program_new(floe_machine_fingerprint(m));
 *   floe_region(p, 0, 0, "x", 0x0000, 256, &err);
 *   size_t loop;
 *   floe_loop_begin(p, 0, 0, 0, 16, 1, 64, &loop, &err);     // 16 times, r1 += 64 per iteration
 *   floe_emit_op(p, 0, 0, FLOE_OP_VMM, 0, (const int64_t[]){FLOE_ACC(0, 0), FLOE_MEM(0x0, 1),
 *                FLOE_MEM(0x4000, 1), 64, 64, FLOE_XP_I8, FLOE_WP_I4, FLOE_MODE_ADD}, 8, &err);
 *   floe_loop_end(p, 0, 0, loop, &err);
 *
 * Every call checks its arguments and returns 0, or -1 with err set and the program unchanged.
 */
#ifndef FLOE_ISA_BUILDER_H
#define FLOE_ISA_BUILDER_H

#include "isa/program.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Appends one instruction to core (x, y)'s stream. */
int floe_emit(floe_program *p, unsigned x, unsigned y, const floe_insn *in, floe_err *err);
/* Appends instruction `op` for `thread` with its fields in table order (nfields must match). */
int floe_emit_op(floe_program *p, unsigned x, unsigned y, floe_opcode op, unsigned thread,
                 const int64_t *fields, int nfields, floe_err *err);
/* The index the next instruction of core (x, y) will get. */
size_t floe_here(const floe_program *p, unsigned x, unsigned y);

/* Opens a static loop: emits `loop count, body, reg, stride` with the body length left open and
 * returns its index in *handle. floe_loop_end closes it: the body is every instruction emitted since,
 * which must be 1..1023 instructions of the same thread. */
int floe_loop_begin(floe_program *p, unsigned x, unsigned y, unsigned thread, unsigned count, unsigned reg,
                    int32_t stride, size_t *handle, floe_err *err);
int floe_loop_end(floe_program *p, unsigned x, unsigned y, size_t handle, floe_err *err);

/* A label at the current position of core (x, y) (kept in the program's symbols). */
int floe_label(floe_program *p, unsigned x, unsigned y, const char *name, floe_err *err);
/* A named memory region of core (x, y) or of the frame buffer (FLOE_FB, FLOE_FB). */
int floe_region(floe_program *p, unsigned x, unsigned y, const char *name, uint32_t base, uint32_t size,
                floe_err *err);
/* Initial contents of memory at (x, y), addr. */
int floe_data(floe_program *p, unsigned x, unsigned y, uint32_t addr, const void *data, size_t len,
               floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
