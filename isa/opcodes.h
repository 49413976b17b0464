/* The instruction table (docs/isa.md): one X-macro list that the encoder, decoder, assembler,
 * disassembler, tests and docs all read, so there is exactly one definition of every instruction.
 *
 * FLOE_OPCODES(X) calls X(IDENT, "mnemonic", opcode, UNIT, fields..., END) once per instruction.
 * A field is F(KIND, name); its width and text syntax come from the kind (FLOE_FIELD_KINDS).
 * Every instruction is 128 bits: opcode (8) | thread (3) | fields packed in order from bit 11, the
 * remaining bits zero.
 */
#ifndef FLOE_ISA_OPCODES_H
#define FLOE_ISA_OPCODES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The units of a core; one name per concept across isa/, sim/, rtl/ and docs. */
#define FLOE_UNITS(X) X(CTRL, "ctrl") X(VMM, "vmm") X(VECTOR, "vector") X(AFU, "afu") X(MEM, "mem") X(NOC, "noc")

typedef enum floe_unit {
#define FLOE_U_(id, name) FLOE_UNIT_##id,
    FLOE_UNITS(FLOE_U_)
#undef FLOE_U_
    FLOE_UNIT_COUNT
} floe_unit;

/* Field kinds: X(KIND, bits, is_signed, "description used in error messages").
 * MEM is a core-memory operand: byte address (low 21 bits) plus an index register (bits 21..23),
 * effective address = address + r[reg] (r0 reads zero). ACC is the same for the accumulator file:
 * index (low 13 bits) plus register (bits 13..15). */
#define FLOE_FIELD_KINDS(X)                                                   \
    X(END, 0, 0, "nothing")                                                   \
    X(MEM, 24, 0, "memory operand (address expression, optionally +rN)")      \
    X(ACC, 16, 0, "accumulator operand (index, optionally +rN)")              \
    X(LEN, 16, 0, "element count 0..65535")                                   \
    X(NB, 21, 0, "byte count 0..2097151")                                     \
    X(CNT, 16, 0, "iteration count 0..65535")                                 \
    X(BODY, 10, 0, "loop body length 1..1023 (a label or a number)")          \
    X(REG, 3, 0, "register r0..r7")                                           \
    X(REGW, 3, 0, "writable register r1..r7")                                 \
    X(IMM, 21, 1, "signed immediate -1048576..1048575")                       \
    X(FB, 32, 0, "frame-buffer byte address 0..4294967295")                   \
    X(DT, 3, 0, "data type i2, i4, i8, i16 or i32")                           \
    X(XP, 2, 0, "activation precision i4, i8 or i16")                         \
    X(WP, 2, 0, "weight precision i2, i4 or i8")                              \
    X(MODE, 1, 0, "accumulate mode add or set")                               \
    X(SCOPE, 1, 0, "multiplier scope tensor or channel")                      \
    X(DIR, 2, 0, "direction n, e, s or w")                                    \
    X(COORD, 8, 0, "core coordinate 0..255")                                  \
    X(CHAN, 4, 0, "channel 0..15")                                            \
    X(TOK, 4, 0, "semaphore 0..15")                                           \
    X(U8, 8, 0, "unsigned 0..255")                                            \
    X(SH, 6, 0, "shift 0..62")                                                \
    X(S8, 8, 1, "signed shift -128..127")

typedef enum floe_field_kind {
#define FLOE_FK_(id, bits, sgn, desc) FLOE_FK_##id,
    FLOE_FIELD_KINDS(FLOE_FK_)
#undef FLOE_FK_
    FLOE_FK_COUNT
} floe_field_kind;

/* Symbolic values of the enumerated kinds (their encodings are the list positions). */
typedef enum { FLOE_DT_I2, FLOE_DT_I4, FLOE_DT_I8, FLOE_DT_I16, FLOE_DT_I32, FLOE_DT_COUNT } floe_dtype;
typedef enum { FLOE_XP_I4, FLOE_XP_I8, FLOE_XP_I16, FLOE_XP_COUNT } floe_xprec;
typedef enum { FLOE_WP_I2, FLOE_WP_I4, FLOE_WP_I8, FLOE_WP_COUNT } floe_wprec;
typedef enum { FLOE_MODE_ADD, FLOE_MODE_SET, FLOE_MODE_COUNT } floe_acc_mode;
typedef enum { FLOE_SCOPE_TENSOR, FLOE_SCOPE_CHANNEL, FLOE_SCOPE_COUNT } floe_scope;
typedef enum { FLOE_DIR_N, FLOE_DIR_E, FLOE_DIR_S, FLOE_DIR_W, FLOE_DIR_COUNT } floe_dir;

#define FLOE_MEM_ADDR_BITS 21
#define FLOE_ACC_INDEX_BITS 13
#define FLOE_THREADS 8
#define FLOE_REGS 8
#define FLOE_SEMAPHORES 16
#define FLOE_INSN_BYTES 16
#define FLOE_MAX_FIELDS 10

/* Operand values for MEM and ACC fields. */
#define FLOE_MEM(addr, reg) ((int64_t)(addr) | ((int64_t)(reg) << FLOE_MEM_ADDR_BITS))
#define FLOE_ACC(index, reg) ((int64_t)(index) | ((int64_t)(reg) << FLOE_ACC_INDEX_BITS))

/* Opcodes are grouped by unit: ctrl 0x0_, vmm 0x1_, vector 0x2_, afu 0x3_, mem 0x4_, noc 0x5_. */
#define FLOE_OPCODES(X)                                                                              \
    /* ctrl: sequencing and synchronisation of a core's threads */                                  \
    X(NOP, "nop", 0x00, CTRL, F(END, _))                                                            \
    X(HALT, "halt", 0x01, CTRL, F(END, _))                                                          \
    X(LOOP, "loop", 0x02, CTRL, F(CNT, count), F(BODY, body), F(REG, reg), F(IMM, stride), F(END, _)) \
    X(SETI, "seti", 0x03, CTRL, F(REGW, reg), F(IMM, imm), F(END, _))                               \
    X(ADDI, "addi", 0x04, CTRL, F(REGW, reg), F(IMM, imm), F(END, _))                               \
    X(WAIT, "wait", 0x05, CTRL, F(TOK, tok), F(U8, n), F(END, _))                                   \
    X(BAR, "bar", 0x06, CTRL, F(U8, id), F(U8, mask), F(END, _))                                    \
    /* vmm: weight-stationary vector-matrix multiply into int32 accumulators */                     \
    X(VMM, "vmm", 0x10, VMM, F(ACC, acc), F(MEM, x), F(MEM, w), F(LEN, k), F(LEN, n), F(XP, xp),    \
      F(WP, wp), F(MODE, mode), F(END, _))                                                          \
    X(ACCCLR, "accclr", 0x11, VMM, F(ACC, acc), F(LEN, n), F(END, _))                               \
    X(VMMR, "vmmr", 0x12, VMM, F(ACC, acc), F(MEM, x), F(MEM, w), F(LEN, k), F(LEN, n), F(U8, m),   \
      F(REG, xs), F(XP, xp), F(WP, wp), F(MODE, mode), F(END, _))                                   \
    /* vector: elementwise integer ops, row reductions, requantization */                           \
    X(VADD, "vadd", 0x20, VECTOR, F(MEM, dst), F(MEM, a), F(MEM, b), F(LEN, n), F(DT, dt), F(END, _)) \
    X(VMUL, "vmul", 0x21, VECTOR, F(MEM, dst), F(MEM, a), F(MEM, b), F(LEN, n), F(DT, dt), F(SH, sh), \
      F(END, _))                                                                                    \
    X(VMAX, "vmax", 0x22, VECTOR, F(MEM, dst), F(MEM, a), F(MEM, b), F(LEN, n), F(DT, dt), F(END, _)) \
    X(VSHIFT, "vshift", 0x23, VECTOR, F(MEM, dst), F(MEM, a), F(LEN, n), F(DT, dt), F(S8, amount),  \
      F(END, _))                                                                                    \
    X(VSAT, "vsat", 0x24, VECTOR, F(MEM, dst), F(MEM, a), F(LEN, n), F(DT, from), F(DT, to), F(END, _)) \
    X(VSUM, "vsum", 0x25, VECTOR, F(MEM, dst), F(MEM, a), F(LEN, n), F(DT, dt), F(END, _))          \
    X(VSUMSQ, "vsumsq", 0x26, VECTOR, F(MEM, dst), F(MEM, a), F(LEN, n), F(DT, dt), F(END, _))      \
    X(VMAXR, "vmaxr", 0x27, VECTOR, F(MEM, dst), F(MEM, a), F(LEN, n), F(DT, dt), F(END, _))        \
    X(REQUANT, "requant", 0x28, VECTOR, F(MEM, dst), F(ACC, acc), F(MEM, mult), F(LEN, n), F(DT, dt), \
      F(SCOPE, scope), F(END, _))                                                                   \
    X(VREQUANT, "vrequant", 0x29, VECTOR, F(MEM, dst), F(MEM, a), F(MEM, mult), F(LEN, n), F(DT, dt), \
      F(SCOPE, scope), F(END, _))                                                                   \
    X(MULTMUL, "multmul", 0x2A, VECTOR, F(MEM, dst), F(MEM, a), F(MEM, b), F(LEN, n), F(SCOPE, scope), \
      F(END, _))                                                                                    \
    X(ACCST, "accst", 0x2B, VECTOR, F(MEM, dst), F(ACC, acc), F(LEN, n), F(END, _))                 \
    X(ACCLD, "accld", 0x2C, VECTOR, F(ACC, acc), F(MEM, src), F(LEN, n), F(END, _))                 \
    X(VREQUANTT, "vrequantt", 0x2D, VECTOR, F(MEM, dst), F(MEM, a), F(MEM, mult), F(LEN, n), F(DT, dt),   \
      F(END, _))                                                                                    \
    X(REQUANTK, "requantk", 0x2E, VECTOR, F(MEM, dst), F(ACC, acc), F(MEM, mult), F(MEM, k), F(LEN, n),  \
      F(DT, dt), F(END, _))                                                                         \
    /* afu: lookup tables and integer nonlinearities */                                            \
    X(LUT8, "lut8", 0x30, AFU, F(MEM, dst), F(MEM, src), F(MEM, table), F(LEN, n), F(END, _))       \
    X(LUT16, "lut16", 0x31, AFU, F(MEM, dst), F(MEM, src), F(MEM, table), F(LEN, n), F(DT, dt),     \
      F(END, _))                                                                                    \
    X(EXP2, "exp2", 0x32, AFU, F(MEM, dst), F(MEM, src), F(LEN, n), F(END, _))                      \
    X(SOFTMAX, "softmax", 0x33, AFU, F(MEM, dst), F(MEM, src), F(LEN, n), F(END, _))                \
    X(RECIP, "recip", 0x34, AFU, F(MEM, dst), F(MEM, src), F(LEN, n), F(END, _))                    \
    X(RSQRT, "rsqrt", 0x35, AFU, F(MEM, dst), F(MEM, src), F(LEN, n), F(END, _))                    \
    X(RMSNORM, "rmsnorm", 0x36, AFU, F(MEM, dst), F(MEM, src), F(MEM, c), F(MEM, eps), F(LEN, n),   \
      F(DT, dt), F(SCOPE, scope), F(END, _))                                                        \
    X(ROPE, "rope", 0x37, AFU, F(MEM, dst), F(MEM, src), F(MEM, cos), F(MEM, sin), F(LEN, n), F(END, _)) \
    X(RMSNORMT, "rmsnormt", 0x38, AFU, F(MEM, dst), F(MEM, src), F(MEM, c), F(MEM, eps), F(LEN, n),       \
      F(DT, dt), F(END, _))                                                                         \
    /* mem: copies within core memory and transfers with the frame buffer */                        \
    X(COPY, "copy", 0x40, MEM, F(MEM, dst), F(MEM, src), F(NB, nb), F(END, _))                      \
    X(FILL, "fill", 0x41, MEM, F(MEM, dst), F(NB, nb), F(U8, byte), F(END, _))                      \
    X(FBLD, "fbld", 0x42, MEM, F(MEM, dst), F(FB, fb), F(NB, nb), F(END, _))                        \
    X(FBST, "fbst", 0x43, MEM, F(FB, fb), F(MEM, src), F(NB, nb), F(END, _))                        \
    /* noc: activations, partial sums, weight streaming, signals */                                 \
    X(SEND, "send", 0x50, NOC, F(MEM, src), F(NB, nb), F(COORD, x), F(COORD, y), F(CHAN, ch), F(END, _)) \
    X(MCAST, "mcast", 0x51, NOC, F(MEM, src), F(NB, nb), F(COORD, x0), F(COORD, y0), F(COORD, x1),  \
      F(COORD, y1), F(CHAN, ch), F(END, _))                                                         \
    X(RECV, "recv", 0x52, NOC, F(MEM, dst), F(NB, nb), F(COORD, x), F(COORD, y), F(CHAN, ch), F(END, _)) \
    X(PSEND, "psend", 0x53, NOC, F(ACC, acc), F(LEN, n), F(DIR, dir), F(CHAN, ch), F(END, _))       \
    X(PRECV, "precv", 0x54, NOC, F(ACC, acc), F(LEN, n), F(DIR, dir), F(CHAN, ch), F(END, _))       \
    X(WSTREAM, "wstream", 0x55, NOC, F(MEM, dst), F(FB, fb), F(NB, nb), F(END, _))                  \
    X(SIG, "sig", 0x56, NOC, F(TOK, tok), F(COORD, x), F(COORD, y), F(END, _))

typedef enum floe_opcode {
#define FLOE_OP_(id, mn, code, unit, ...) FLOE_OP_##id = code,
    FLOE_OPCODES(FLOE_OP_)
#undef FLOE_OP_
} floe_opcode;

/* Instruction fields by name: FLOE_F_<OP>_<field> is the field's index in floe_insn.f, e.g.
 * in->f[FLOE_F_VMM_k]. They come from the table above, so a renamed or removed field is a compile error
 * where it is read, and a reordered one moves with it. (FLOE_F_<OP>__ is the END marker's index: the
 * instruction's field count; FLOE_F_<OP>_first_ is -1, so that each instruction's fields count from 0
 * within the one enumeration.) */
#define FLOE_FIELD_NAME_(kind, name) name
#define FLOE_FIELD_ENUM_(id, name) FLOE_F_##id##_##name,
#define FLOE_EACH1_(m, id, a) m(id, a)
#define FLOE_EACH2_(m, id, a, ...) m(id, a) FLOE_EACH1_(m, id, __VA_ARGS__)
#define FLOE_EACH3_(m, id, a, ...) m(id, a) FLOE_EACH2_(m, id, __VA_ARGS__)
#define FLOE_EACH4_(m, id, a, ...) m(id, a) FLOE_EACH3_(m, id, __VA_ARGS__)
#define FLOE_EACH5_(m, id, a, ...) m(id, a) FLOE_EACH4_(m, id, __VA_ARGS__)
#define FLOE_EACH6_(m, id, a, ...) m(id, a) FLOE_EACH5_(m, id, __VA_ARGS__)
#define FLOE_EACH7_(m, id, a, ...) m(id, a) FLOE_EACH6_(m, id, __VA_ARGS__)
#define FLOE_EACH8_(m, id, a, ...) m(id, a) FLOE_EACH7_(m, id, __VA_ARGS__)
#define FLOE_EACH9_(m, id, a, ...) m(id, a) FLOE_EACH8_(m, id, __VA_ARGS__)
#define FLOE_EACH10_(m, id, a, ...) m(id, a) FLOE_EACH9_(m, id, __VA_ARGS__)
#define FLOE_EACH11_(m, id, a, ...) m(id, a) FLOE_EACH10_(m, id, __VA_ARGS__)
#define FLOE_EACH_N_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, n, ...) FLOE_EACH##n##_
#define FLOE_EACH_(m, id, ...) FLOE_EACH_N_(__VA_ARGS__, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)(m, id, __VA_ARGS__)
#define FLOE_OP_FIELDS_(id, mn, code, unit, ...)                                                                       \
    FLOE_F_##id##_first_ = -1, FLOE_EACH_(FLOE_FIELD_ENUM_, id, __VA_ARGS__)
#define F FLOE_FIELD_NAME_
typedef enum floe_field_index { FLOE_OPCODES(FLOE_OP_FIELDS_) } floe_field_index; /* one type: names compare */
#undef F

#ifdef __cplusplus
}
#endif

#endif
