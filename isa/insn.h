/* One instruction, decoded; its 128-bit encoding (docs/isa.md, "Encoding").
 *
 * A decoded instruction is the opcode, the thread and one integer per field, in the order of the
 * instruction table (isa/opcodes.h). Encoding is canonical: decode(encode(i)) == i, and decode
 * refuses any word that encode could not have produced (unknown opcode, thread or enumeration out
 * of range, non-zero bits past the last field), so every valid binary has exactly one meaning.
 */
#ifndef FLOE_ISA_INSN_H
#define FLOE_ISA_INSN_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "isa/opcodes.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_insn {
    uint8_t op;                    /* floe_opcode */
    uint8_t thread;                /* 0..FLOE_THREADS-1 */
    int64_t f[FLOE_MAX_FIELDS];    /* field values in table order; unused entries are 0 */
} floe_insn;

typedef struct floe_field_info {
    floe_field_kind kind;
    const char *name;
} floe_field_info;

typedef struct floe_op_info {
    const char *mnemonic;
    uint8_t opcode;
    floe_unit unit;
    int nfields;
    floe_field_info fields[FLOE_MAX_FIELDS + 1]; /* ends with an END entry */
} floe_op_info;

typedef struct floe_kind_info {
    const char *name;     /* "MEM" */
    int bits;
    int is_signed;
    const char *desc;     /* for error messages */
} floe_kind_info;

/* The table entry of an opcode, or NULL if the opcode does not exist. */
const floe_op_info *floe_op_lookup(unsigned opcode);
/* The table entry with this mnemonic, or NULL. */
const floe_op_info *floe_op_by_mnemonic(const char *mnemonic, size_t len);
/* Every instruction in table order: *n gets the count. */
const floe_op_info *floe_op_table(size_t *n);
const floe_kind_info *floe_kind_lookup(floe_field_kind kind);
const char *floe_unit_name(floe_unit unit);

/* Symbolic names of an enumerated kind (DT, XP, WP, MODE, SCOPE, DIR): *n gets the count; NULL for
 * the numeric kinds. */
const char *const *floe_kind_enum_names(floe_field_kind kind, int *n);

/* Bits per element of a data type (2, 4, 8, 16, 32; 0 for a value outside floe_dtype). */
int floe_dtype_bits(floe_dtype dt);
/* Bytes occupied by n elements of dt (int4: 2 per byte, int2: 4 per byte, rounded up). */
uint64_t floe_dtype_bytes_for(floe_dtype dt, uint64_t n);

/* Is value a legal value for a field of this kind? (range, enumeration, REGW != r0, BODY >= 1,
 * MEM/ACC register bits). */
int floe_field_valid(floe_field_kind kind, int64_t value);

/* Checks every field and the thread; on error names the field. */
int floe_insn_check(const floe_insn *in, floe_err *err);
/* Encodes into 16 little-endian bytes. Returns 0, or -1 (invalid instruction, err set). */
int floe_insn_encode(const floe_insn *in, uint8_t out[FLOE_INSN_BYTES], floe_err *err);
/* Decodes 16 bytes. Returns 0, or -1 for a word that is not a canonical instruction. */
int floe_insn_decode(const uint8_t in[FLOE_INSN_BYTES], floe_insn *out, floe_err *err);

/* Memory operand helpers. */
static inline uint32_t floe_mem_addr(int64_t v) { return (uint32_t)(v & ((1 << FLOE_MEM_ADDR_BITS) - 1)); }
static inline unsigned floe_mem_reg(int64_t v) { return (unsigned)((v >> FLOE_MEM_ADDR_BITS) & 7); }
static inline uint32_t floe_acc_index(int64_t v) { return (uint32_t)(v & ((1 << FLOE_ACC_INDEX_BITS) - 1)); }
static inline unsigned floe_acc_reg(int64_t v) { return (unsigned)((v >> FLOE_ACC_INDEX_BITS) & 7); }

#ifdef __cplusplus
}
#endif

#endif
