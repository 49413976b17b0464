/* Elements of each data type in core memory (docs/isa.md, "Operands"): the one definition of the
 * layout every instruction reads and writes.
 *
 * Little-endian two's complement. i4 packs two per byte (element 2k in bits 3..0, as floe_pack_i4),
 * i2 four per byte (element 4k + j in bits 2j+1..2j); an operand starts at a byte boundary.
 */
#ifndef FLOE_ISA_ELEM_H
#define FLOE_ISA_ELEM_H

#include <stddef.h>
#include <stdint.h>

#include "isa/opcodes.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element i of an operand of type dt at base, sign-extended. */
static inline int32_t floe_elem_load(const uint8_t *base, floe_dtype dt, size_t i)
{
    switch (dt) {
    case FLOE_DT_I2: {
        unsigned v = (base[i >> 2] >> (2 * (i & 3))) & 3u;
        return (int32_t)(v ^ 2u) - 2;
    }
    case FLOE_DT_I4: {
        unsigned v = (base[i >> 1] >> (4 * (i & 1))) & 15u;
        return (int32_t)(v ^ 8u) - 8;
    }
    case FLOE_DT_I8: return (int8_t)base[i];
    case FLOE_DT_I16: return (int16_t)(uint16_t)(base[2 * i] | (base[2 * i + 1] << 8));
    default: {
        const uint8_t *p = base + 4 * i;
        return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    }
    }
}

/* Stores the low bits(dt) bits of v as element i (callers saturate first: sat_dt). Neighbouring
 * packed elements are left unchanged. */
static inline void floe_elem_store(uint8_t *base, floe_dtype dt, size_t i, int32_t v)
{
    uint32_t u = (uint32_t)v;
    switch (dt) {
    case FLOE_DT_I2: {
        unsigned sh = 2 * (unsigned)(i & 3);
        base[i >> 2] = (uint8_t)((base[i >> 2] & ~(3u << sh)) | ((u & 3u) << sh));
        return;
    }
    case FLOE_DT_I4: {
        unsigned sh = 4 * (unsigned)(i & 1);
        base[i >> 1] = (uint8_t)((base[i >> 1] & ~(15u << sh)) | ((u & 15u) << sh));
        return;
    }
    case FLOE_DT_I8: base[i] = (uint8_t)u; return;
    case FLOE_DT_I16:
        base[2 * i] = (uint8_t)u;
        base[2 * i + 1] = (uint8_t)(u >> 8);
        return;
    default:
        for (int k = 0; k < 4; k++)
            base[4 * i + (size_t)k] = (uint8_t)(u >> (8 * k));
        return;
    }
}

#ifdef __cplusplus
}
#endif

#endif
