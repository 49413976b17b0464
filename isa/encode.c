/* The instruction table made concrete, and the 128-bit encoding (docs/isa.md, "Encoding"). */
#include "isa/insn.h"

#include <string.h>

#define F(kind, nm) {FLOE_FK_##kind, #nm}
#define FLOE_ROW_(id, mn, code, unit, ...)                                                         \
    {mn, code, FLOE_UNIT_##unit, (int)(sizeof((floe_field_info[]){__VA_ARGS__}) / sizeof(floe_field_info)) - 1, \
     {__VA_ARGS__}},
static const floe_op_info op_table[] = {FLOE_OPCODES(FLOE_ROW_)};
#undef FLOE_ROW_

enum {
#define FLOE_IDX_(id, ...) IDX_##id,
    FLOE_OPCODES(FLOE_IDX_)
#undef FLOE_IDX_
    IDX_COUNT
};
#undef F

static const floe_kind_info kind_table[] = {
#define FLOE_KI_(id, bits, sgn, desc) {#id, bits, sgn, desc},
    FLOE_FIELD_KINDS(FLOE_KI_)
#undef FLOE_KI_
};

static const char *const unit_names[] = {
#define FLOE_UN_(id, name) name,
    FLOE_UNITS(FLOE_UN_)
#undef FLOE_UN_
};

static const char *const dt_names[] = {"i2", "i4", "i8", "i16", "i32"};
static const char *const xp_names[] = {"i4", "i8", "i16"};
static const char *const wp_names[] = {"i2", "i4", "i8"};
static const char *const mode_names[] = {"add", "set"};
static const char *const scope_names[] = {"tensor", "channel"};
static const char *const dir_names[] = {"n", "e", "s", "w"};

const floe_op_info *floe_op_lookup(unsigned opcode)
{
    switch (opcode) {
#define FLOE_CASE_(id, ...)                                                                        \
    case FLOE_OP_##id:                                                                             \
        return &op_table[IDX_##id];
        FLOE_OPCODES(FLOE_CASE_)
#undef FLOE_CASE_
    default:
        return NULL;
    }
}

const floe_op_info *floe_op_by_mnemonic(const char *mnemonic, size_t len)
{
    for (size_t i = 0; i < IDX_COUNT; i++)
        if (strlen(op_table[i].mnemonic) == len && memcmp(op_table[i].mnemonic, mnemonic, len) == 0)
            return &op_table[i];
    return NULL;
}

const floe_op_info *floe_op_table(size_t *n)
{
    *n = IDX_COUNT;
    return op_table;
}

const floe_kind_info *floe_kind_lookup(floe_field_kind kind)
{
    return (unsigned)kind < FLOE_FK_COUNT ? &kind_table[kind] : NULL;
}

const char *floe_unit_name(floe_unit unit)
{
    return (unsigned)unit < FLOE_UNIT_COUNT ? unit_names[unit] : "?";
}

const char *const *floe_kind_enum_names(floe_field_kind kind, int *n)
{
    switch (kind) {
    case FLOE_FK_DT: *n = FLOE_DT_COUNT; return dt_names;
    case FLOE_FK_XP: *n = FLOE_XP_COUNT; return xp_names;
    case FLOE_FK_WP: *n = FLOE_WP_COUNT; return wp_names;
    case FLOE_FK_MODE: *n = FLOE_MODE_COUNT; return mode_names;
    case FLOE_FK_SCOPE: *n = FLOE_SCOPE_COUNT; return scope_names;
    case FLOE_FK_DIR: *n = FLOE_DIR_COUNT; return dir_names;
    default: *n = 0; return NULL;
    }
}

int floe_dtype_bits(floe_dtype dt)
{
    static const int bits[] = {2, 4, 8, 16, 32};
    return (unsigned)dt < FLOE_DT_COUNT ? bits[dt] : 0;
}

uint64_t floe_dtype_bytes_for(floe_dtype dt, uint64_t n)
{
    return (n * (uint64_t)floe_dtype_bits(dt) + 7) / 8;
}

int floe_field_valid(floe_field_kind kind, int64_t v)
{
    const floe_kind_info *k = floe_kind_lookup(kind);
    if (!k || kind == FLOE_FK_END)
        return 0;
    int n;
    if (floe_kind_enum_names(kind, &n))
        return v >= 0 && v < n;
    if (kind == FLOE_FK_REGW && v == 0)
        return 0;
    if (kind == FLOE_FK_BODY && v == 0)
        return 0;
    if (kind == FLOE_FK_SH && v > 62)
        return 0;
    if (k->is_signed)
        return v >= -((int64_t)1 << (k->bits - 1)) && v < ((int64_t)1 << (k->bits - 1));
    return v >= 0 && v < ((int64_t)1 << k->bits);
}

int floe_insn_check(const floe_insn *in, floe_err *err)
{
    const floe_op_info *op = floe_op_lookup(in->op);
    if (!op)
        return floe_err_set(err, "unknown opcode 0x%02x", in->op);
    if (in->thread >= FLOE_THREADS)
        return floe_err_set(err, "%s: thread %u out of range 0..%d", op->mnemonic, in->thread, FLOE_THREADS - 1);
    for (int i = 0; i < FLOE_MAX_FIELDS; i++) {
        if (i >= op->nfields) {
            if (in->f[i] != 0)
                return floe_err_set(err, "%s: unused field %d is not zero", op->mnemonic, i);
            continue;
        }
        const floe_field_info *fi = &op->fields[i];
        if (!floe_field_valid(fi->kind, in->f[i]))
            return floe_err_set(err, "%s: field '%s' = %lld is not a %s", op->mnemonic, fi->name,
                                (long long)in->f[i], floe_kind_lookup(fi->kind)->desc);
    }
    return 0;
}

/* Bits [pos, pos+bits) of a 128-bit little-endian word held as two uint64. */
static void put_bits(uint64_t w[2], int pos, int bits, uint64_t v)
{
    for (int i = 0; i < bits; i++, pos++)
        if ((v >> i) & 1)
            w[pos >> 6] |= (uint64_t)1 << (pos & 63);
}

static uint64_t get_bits(const uint64_t w[2], int pos, int bits)
{
    uint64_t v = 0;
    for (int i = 0; i < bits; i++, pos++)
        v |= ((w[pos >> 6] >> (pos & 63)) & 1) << i;
    return v;
}

int floe_insn_encode(const floe_insn *in, uint8_t out[FLOE_INSN_BYTES], floe_err *err)
{
    if (floe_insn_check(in, err) != 0)
        return -1;
    const floe_op_info *op = floe_op_lookup(in->op);
    uint64_t w[2] = {0, 0};
    put_bits(w, 0, 8, in->op);
    put_bits(w, 8, 3, in->thread);
    int pos = 11;
    for (int i = 0; i < op->nfields; i++) {
        int bits = floe_kind_lookup(op->fields[i].kind)->bits;
        put_bits(w, pos, bits, (uint64_t)in->f[i] & (((uint64_t)1 << bits) - 1));
        pos += bits;
    }
    for (int i = 0; i < 16; i++)
        out[i] = (uint8_t)(w[i >> 3] >> (8 * (i & 7)));
    return 0;
}

int floe_insn_decode(const uint8_t in[FLOE_INSN_BYTES], floe_insn *out, floe_err *err)
{
    uint64_t w[2] = {0, 0};
    for (int i = 0; i < 16; i++)
        w[i >> 3] |= (uint64_t)in[i] << (8 * (i & 7));
    memset(out, 0, sizeof *out);
    unsigned code = (unsigned)get_bits(w, 0, 8);
    const floe_op_info *op = floe_op_lookup(code);
    if (!op)
        return floe_err_set(err, "unknown opcode 0x%02x", code);
    out->op = (uint8_t)code;
    out->thread = (uint8_t)get_bits(w, 8, 3);
    int pos = 11;
    for (int i = 0; i < op->nfields; i++) {
        const floe_kind_info *k = floe_kind_lookup(op->fields[i].kind);
        uint64_t raw = get_bits(w, pos, k->bits);
        int64_t v = (int64_t)raw;
        if (k->is_signed && (raw >> (k->bits - 1)) & 1)
            v -= (int64_t)1 << k->bits;
        if (!floe_field_valid(op->fields[i].kind, v))
            return floe_err_set(err, "%s: field '%s' = %lld is not a %s", op->mnemonic, op->fields[i].name,
                                (long long)v, k->desc);
        out->f[i] = v;
        pos += k->bits;
    }
    for (int b = pos; b < 128; b++)
        if ((w[b >> 6] >> (b & 63)) & 1)
            return floe_err_set(err, "%s: reserved bit %d is not zero", op->mnemonic, b);
    return 0;
}
