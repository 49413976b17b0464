#include "tests/sim/ref_interp.h"

#include <stdlib.h>
#include <string.h>

#include "isa/elem.h"
#include "isa/numerics.h"

typedef struct {
    int32_t r[8];
} regs;

static int64_t ea(const regs *R, int64_t f) { return (int64_t)floe_mem_addr(f) + R->r[floe_mem_reg(f)]; }
static int64_t ai(const regs *R, int64_t f) { return (int64_t)floe_acc_index(f) + R->r[floe_acc_reg(f)]; }
static int ok(const ref_core *c, int64_t a, uint64_t n) { return a >= 0 && (uint64_t)a + n <= c->mem_bytes; }

static floe_requant_mult mult_at(const uint8_t *p)
{
    floe_requant_mult q = {floe_elem_load(p, FLOE_DT_I32, 0), floe_elem_load(p, FLOE_DT_I32, 1)};
    return q;
}
static void put_mult(uint8_t *p, floe_requant_mult q)
{
    floe_elem_store(p, FLOE_DT_I32, 0, q.m);
    floe_elem_store(p, FLOE_DT_I32, 1, q.shift);
}
static int valid_mult(floe_requant_mult q) { return q.m >= 0 && q.shift >= 0 && q.shift <= 62; }
static uint64_t u64_at(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* One instruction; a copy of every operand is taken before any result is written. */
static int exec1(ref_core *c, regs *R, const floe_insn *in)
{
    uint8_t *M = c->mem;
    int64_t *f = (int64_t *)in->f;
    switch (in->op) {
    case FLOE_OP_NOP:
    case FLOE_OP_HALT:
        return 0;
    case FLOE_OP_SETI: R->r[f[FLOE_F_SETI_reg]] = (int32_t)f[FLOE_F_SETI_imm]; return 0;
    case FLOE_OP_ADDI:
        R->r[f[FLOE_F_ADDI_reg]] = (int32_t)((uint32_t)R->r[f[FLOE_F_ADDI_reg]] + (uint32_t)f[FLOE_F_ADDI_imm]);
        return 0;
    case FLOE_OP_VMM: {
        floe_dtype xd = f[FLOE_F_VMM_xp] == FLOE_XP_I4   ? FLOE_DT_I4
                        : f[FLOE_F_VMM_xp] == FLOE_XP_I8 ? FLOE_DT_I8
                                                         : FLOE_DT_I16;
        floe_dtype wd = f[FLOE_F_VMM_wp] == FLOE_WP_I2   ? FLOE_DT_I2
                        : f[FLOE_F_VMM_wp] == FLOE_WP_I4 ? FLOE_DT_I4
                                                         : FLOE_DT_I8;
        uint64_t k = (uint64_t)f[FLOE_F_VMM_k], n = (uint64_t)f[FLOE_F_VMM_n], row = floe_dtype_bytes_for(wd, k);
        int64_t a = ai(R, f[FLOE_F_VMM_acc]), x = ea(R, f[FLOE_F_VMM_x]), w = ea(R, f[FLOE_F_VMM_w]);
        if (a < 0 || a + (int64_t)n > (1 << 13) || !ok(c, x, floe_dtype_bytes_for(xd, k)) || !ok(c, w, n * row))
            return -1;
        for (uint64_t j = 0; j < n; j++) {
            int32_t s = f[FLOE_F_VMM_mode] == FLOE_MODE_SET ? 0 : c->acc[a + j];
            for (uint64_t i = 0; i < k; i++)
                s = floe_mac_wrap(s, floe_elem_load(M + x, xd, i), floe_elem_load(M + w + j * row, wd, i));
            c->acc[a + j] = s;
        }
        return 0;
    }
    case FLOE_OP_VMMR: { /* m rows, each one vmm: row r at x + r * r[xs], into acc + r * n */
        floe_dtype xd = f[FLOE_F_VMMR_xp] == FLOE_XP_I4   ? FLOE_DT_I4
                        : f[FLOE_F_VMMR_xp] == FLOE_XP_I8 ? FLOE_DT_I8
                                                          : FLOE_DT_I16;
        floe_dtype wd = f[FLOE_F_VMMR_wp] == FLOE_WP_I2   ? FLOE_DT_I2
                        : f[FLOE_F_VMMR_wp] == FLOE_WP_I4 ? FLOE_DT_I4
                                                          : FLOE_DT_I8;
        uint64_t k = (uint64_t)f[FLOE_F_VMMR_k], n = (uint64_t)f[FLOE_F_VMMR_n], m = (uint64_t)f[FLOE_F_VMMR_m],
                 row = floe_dtype_bytes_for(wd, k);
        int64_t a = ai(R, f[FLOE_F_VMMR_acc]), x = ea(R, f[FLOE_F_VMMR_x]), w = ea(R, f[FLOE_F_VMMR_w]),
                st = R->r[f[FLOE_F_VMMR_xs]];
        if (a < 0 || a + (int64_t)(n * m) > (1 << 13) || (m && !ok(c, w, n * row)))
            return -1;
        for (uint64_t r = 0; r < m; r++)
            if (!ok(c, x + st * (int64_t)r, floe_dtype_bytes_for(xd, k)))
                return -1;
        for (uint64_t r = 0; r < m; r++)
            for (uint64_t j = 0; j < n; j++) {
                int32_t s = f[FLOE_F_VMMR_mode] == FLOE_MODE_SET ? 0 : c->acc[a + r * n + j];
                for (uint64_t i = 0; i < k; i++)
                    s = floe_mac_wrap(s, floe_elem_load(M + x + st * (int64_t)r, xd, i),
                                      floe_elem_load(M + w + j * row, wd, i));
                c->acc[a + r * n + j] = s;
            }
        return 0;
    }
    case FLOE_OP_ACCCLR: {
        int64_t a = ai(R, f[FLOE_F_ACCCLR_acc]);
        if (a < 0 || a + f[FLOE_F_ACCCLR_n] > (1 << 13))
            return -1;
        memset(c->acc + a, 0, 4 * (size_t)f[FLOE_F_ACCCLR_n]);
        return 0;
    }
    case FLOE_OP_VADD:
    case FLOE_OP_VMUL:
    case FLOE_OP_VMAX: {
        uint64_t n = (uint64_t)f[FLOE_F_VADD_n], nb = floe_dtype_bytes_for((floe_dtype)f[FLOE_F_VADD_dt], n);
        int64_t d = ea(R, f[FLOE_F_VADD_dst]), a = ea(R, f[FLOE_F_VADD_a]), b = ea(R, f[FLOE_F_VADD_b]);
        if (!ok(c, d, nb) || !ok(c, a, nb) || !ok(c, b, nb))
            return -1;
        int32_t *t = malloc(4 * (n + 1));
        for (uint64_t i = 0; i < n; i++) {
            int32_t x = floe_elem_load(M + a, (floe_dtype)f[FLOE_F_VADD_dt], i),
                    y = floe_elem_load(M + b, (floe_dtype)f[FLOE_F_VADD_dt], i);
            int64_t v = in->op == FLOE_OP_VADD ? (int64_t)x + y
                        : in->op == FLOE_OP_VMAX
                            ? (x > y ? x : y)
                            : floe_requant_raw(x, (floe_requant_mult){y, (int32_t)f[FLOE_F_VMUL_sh]});
            t[i] = floe_sat_bits(v, floe_dtype_bits((floe_dtype)f[FLOE_F_VADD_dt]));
        }
        for (uint64_t i = 0; i < n; i++)
            floe_elem_store(M + d, (floe_dtype)f[FLOE_F_VADD_dt], i, t[i]);
        free(t);
        return 0;
    }
    case FLOE_OP_VSHIFT:
    case FLOE_OP_VSAT: {
        uint64_t n = (uint64_t)f[FLOE_F_VSHIFT_n];
        floe_dtype from = (floe_dtype)f[in->op == FLOE_OP_VSAT ? FLOE_F_VSAT_from : FLOE_F_VSHIFT_dt],
                   to = in->op == FLOE_OP_VSAT ? (floe_dtype)f[FLOE_F_VSAT_to] : from;
        int64_t d = ea(R, f[FLOE_F_VSHIFT_dst]), a = ea(R, f[FLOE_F_VSHIFT_a]);
        if (!ok(c, d, floe_dtype_bytes_for(to, n)) || !ok(c, a, floe_dtype_bytes_for(from, n)))
            return -1;
        int32_t *t = malloc(4 * (n + 1));
        for (uint64_t i = 0; i < n; i++) {
            int64_t v = floe_elem_load(M + a, from, i);
            if (in->op == FLOE_OP_VSHIFT) {
                int sh = (int)f[FLOE_F_VSHIFT_amount];
                if (sh >= 0) {
                    __extension__ __int128 w = (__int128)v * ((__int128)1 << (sh > 40 ? 40 : sh));
                    v = w > INT64_MAX ? INT64_MAX : w < INT64_MIN ? INT64_MIN : (int64_t)w;
                } else {
                    v = -sh > 32 ? 0 : floe_requant_raw((int32_t)v, (floe_requant_mult){1, -sh});
                }
            }
            t[i] = floe_sat_bits(v, floe_dtype_bits(to));
        }
        for (uint64_t i = 0; i < n; i++)
            floe_elem_store(M + d, to, i, t[i]);
        free(t);
        return 0;
    }
    case FLOE_OP_VSUM:
    case FLOE_OP_VSUMSQ:
    case FLOE_OP_VMAXR: {
        uint64_t n = (uint64_t)f[FLOE_F_VSUM_n];
        int64_t d = ea(R, f[FLOE_F_VSUM_dst]), a = ea(R, f[FLOE_F_VSUM_a]);
        if (!ok(c, d, in->op == FLOE_OP_VSUMSQ ? 8 : 4) ||
            !ok(c, a, floe_dtype_bytes_for((floe_dtype)f[FLOE_F_VSUM_dt], n)))
            return -1;
        uint64_t sq = 0;
        uint32_t sum = 0;
        int32_t mx = INT32_MIN;
        for (uint64_t i = 0; i < n; i++) {
            int32_t x = floe_elem_load(M + a, (floe_dtype)f[FLOE_F_VSUM_dt], i);
            sum += (uint32_t)x;
            sq += (uint64_t)((int64_t)x * x);
            if (x > mx)
                mx = x;
        }
        if (in->op == FLOE_OP_VSUMSQ)
            for (int i = 0; i < 8; i++)
                M[d + i] = (uint8_t)(sq >> (8 * i));
        else
            floe_elem_store(M + d, FLOE_DT_I32, 0, in->op == FLOE_OP_VSUM ? (int32_t)sum : mx);
        return 0;
    }
    case FLOE_OP_REQUANT:
    case FLOE_OP_VREQUANT: {
        uint64_t n = (uint64_t)f[FLOE_F_REQUANT_n];
        int pc = f[FLOE_F_REQUANT_scope] == FLOE_SCOPE_CHANNEL;
        int64_t d = ea(R, f[FLOE_F_REQUANT_dst]), m = ea(R, f[FLOE_F_REQUANT_mult]);
        if (!ok(c, d, floe_dtype_bytes_for((floe_dtype)f[FLOE_F_REQUANT_dt], n)) || !ok(c, m, 8 * (pc ? n : 1)))
            return -1;
        int32_t *src = malloc(4 * (n + 1));
        if (in->op == FLOE_OP_REQUANT) {
            int64_t a = ai(R, f[FLOE_F_REQUANT_acc]);
            if (a < 0 || a + (int64_t)n > (1 << 13)) {
                free(src);
                return -1;
            }
            memcpy(src, c->acc + a, 4 * n);
        } else {
            int64_t a = ea(R, f[FLOE_F_VREQUANT_a]);
            if (!ok(c, a, 4 * n)) {
                free(src);
                return -1;
            }
            for (uint64_t i = 0; i < n; i++)
                src[i] = floe_elem_load(M + a, FLOE_DT_I32, i);
        }
        for (uint64_t i = 0; i < n; i++) {
            floe_requant_mult q = mult_at(M + m + 8 * (pc ? i : 0));
            if (!valid_mult(q)) {
                free(src);
                return -1;
            }
            src[i] = floe_requant_bits(src[i], q, floe_dtype_bits((floe_dtype)f[FLOE_F_REQUANT_dt]));
        }
        for (uint64_t i = 0; i < n; i++)
            floe_elem_store(M + d, (floe_dtype)f[FLOE_F_REQUANT_dt], i, src[i]);
        free(src);
        return 0;
    }
    case FLOE_OP_MULTMUL: {
        uint64_t n = (uint64_t)f[FLOE_F_MULTMUL_n];
        int pc = f[FLOE_F_MULTMUL_scope] == FLOE_SCOPE_CHANNEL;
        int64_t d = ea(R, f[FLOE_F_MULTMUL_dst]), a = ea(R, f[FLOE_F_MULTMUL_a]), b = ea(R, f[FLOE_F_MULTMUL_b]);
        if (!ok(c, d, 8 * n) || !ok(c, a, 8 * n) || !ok(c, b, 8 * (pc ? n : 1)))
            return -1;
        floe_requant_mult *t = malloc(sizeof *t * (n + 1));
        for (uint64_t i = 0; i < n; i++) {
            floe_requant_mult x = mult_at(M + a + 8 * i), y = mult_at(M + b + 8 * (pc ? i : 0));
            if (!valid_mult(x) || !valid_mult(y)) {
                free(t);
                return -1;
            }
            t[i] = floe_requant_mult_mul(x, y);
        }
        for (uint64_t i = 0; i < n; i++)
            put_mult(M + d + 8 * i, t[i]);
        free(t);
        return 0;
    }
    case FLOE_OP_ACCST:
    case FLOE_OP_ACCLD: {
        int st = in->op == FLOE_OP_ACCST;
        uint64_t n = (uint64_t)f[FLOE_F_ACCST_n];
        int64_t m = ea(R, f[st ? 0 : 1]), a = ai(R, f[st ? 1 : 0]);
        if (!ok(c, m, 4 * n) || a < 0 || a + (int64_t)n > (1 << 13))
            return -1;
        for (uint64_t i = 0; i < n; i++) {
            if (st)
                floe_elem_store(M + m, FLOE_DT_I32, i, c->acc[a + i]);
            else
                c->acc[a + i] = floe_elem_load(M + m, FLOE_DT_I32, i);
        }
        return 0;
    }
    case FLOE_OP_LUT8: {
        uint64_t n = (uint64_t)f[FLOE_F_LUT8_n];
        int64_t d = ea(R, f[FLOE_F_LUT8_dst]), a = ea(R, f[FLOE_F_LUT8_src]), t = ea(R, f[FLOE_F_LUT8_table]);
        if (!ok(c, d, 2 * n) || !ok(c, a, n) || !ok(c, t, 512))
            return -1;
        int16_t *o = malloc(2 * (n + 1));
        for (uint64_t i = 0; i < n; i++)
            o[i] = (int16_t)floe_elem_load(M + t, FLOE_DT_I16, (size_t)((int8_t)M[a + i] + 128));
        for (uint64_t i = 0; i < n; i++)
            floe_elem_store(M + d, FLOE_DT_I16, i, o[i]);
        free(o);
        return 0;
    }
    case FLOE_OP_LUT16: {
        uint64_t n = (uint64_t)f[FLOE_F_LUT16_n];
        floe_dtype dt = (floe_dtype)f[FLOE_F_LUT16_dt];
        int64_t d = ea(R, f[FLOE_F_LUT16_dst]), a = ea(R, f[FLOE_F_LUT16_src]), t = ea(R, f[FLOE_F_LUT16_table]);
        if (!ok(c, d, floe_dtype_bytes_for(dt, n)) || !ok(c, a, 2 * n) || !ok(c, t, 1036))
            return -1;
        floe_lut16 L;
        for (int i = 0; i < 257; i++) {
            L.v[i] = floe_elem_load(M + t, FLOE_DT_I32, (size_t)i);
            if (L.v[i] < -(1 << 20) || L.v[i] > (1 << 20))
                return -1;
        }
        L.lo = floe_elem_load(M + t, FLOE_DT_I32, 257);
        L.hi = floe_elem_load(M + t, FLOE_DT_I32, 258);
        if (L.lo > L.hi)
            return -1;
        int32_t *o = malloc(4 * (n + 1));
        for (uint64_t i = 0; i < n; i++)
            o[i] = floe_sat_bits(floe_lut16_apply(&L, (int16_t)floe_elem_load(M + a, FLOE_DT_I16, i)), floe_dtype_bits(dt));
        for (uint64_t i = 0; i < n; i++)
            floe_elem_store(M + d, dt, i, o[i]);
        free(o);
        return 0;
    }
    case FLOE_OP_EXP2:
    case FLOE_OP_RECIP:
    case FLOE_OP_RSQRT:
    case FLOE_OP_SOFTMAX: {
        uint64_t n = (uint64_t)f[FLOE_F_EXP2_n];
        int64_t d = ea(R, f[FLOE_F_EXP2_dst]), a = ea(R, f[FLOE_F_EXP2_src]);
        uint64_t ib = in->op == FLOE_OP_RSQRT ? 8 : 4;
        uint64_t ob = in->op == FLOE_OP_EXP2 ? 4 : in->op == FLOE_OP_SOFTMAX ? 2 : 8;
        if (!ok(c, d, ob * n) || !ok(c, a, ib * n))
            return -1;
        uint8_t *o = malloc(ob * n + 1);
        if (in->op == FLOE_OP_SOFTMAX) {
            int32_t *z = calloc(n + 1, 4);
            int16_t *p = calloc(n + 1, 2);
            for (uint64_t i = 0; i < n; i++)
                z[i] = floe_elem_load(M + a, FLOE_DT_I32, i);
            floe_softmax_row(p, z, n);
            for (uint64_t i = 0; i < n; i++)
                floe_elem_store(o, FLOE_DT_I16, i, p[i]);
            free(z);
            free(p);
        }
        for (uint64_t i = 0; in->op != FLOE_OP_SOFTMAX && i < n; i++) {
            if (in->op == FLOE_OP_EXP2)
                floe_elem_store(o, FLOE_DT_I32, i, (int32_t)floe_exp2_neg(floe_elem_load(M + a, FLOE_DT_I32, i)));
            else if (in->op == FLOE_OP_RECIP)
                put_mult(o + 8 * i, floe_recip_u32((uint32_t)floe_elem_load(M + a, FLOE_DT_I32, i)));
            else
                put_mult(o + 8 * i, floe_rsqrt_u64(u64_at(M + a + 8 * i)));
        }
        memcpy(M + d, o, ob * n);
        free(o);
        return 0;
    }
    case FLOE_OP_RMSNORM: {
        uint64_t n = (uint64_t)f[FLOE_F_RMSNORM_n];
        floe_dtype dt = (floe_dtype)f[FLOE_F_RMSNORM_dt];
        int pc = f[FLOE_F_RMSNORM_scope] == FLOE_SCOPE_CHANNEL;
        int64_t d = ea(R, f[FLOE_F_RMSNORM_dst]), a = ea(R, f[FLOE_F_RMSNORM_src]), cm = ea(R, f[FLOE_F_RMSNORM_c]),
                e = ea(R, f[FLOE_F_RMSNORM_eps]);
        if (!ok(c, d, floe_dtype_bytes_for(dt, n)) || !ok(c, a, 2 * n) || !ok(c, cm, 8 * (pc ? n : 1)) || !ok(c, e, 8))
            return -1;
        int16_t *q = malloc(2 * (n + 1));
        int32_t *y = malloc(4 * (n + 1));
        floe_requant_mult *C = malloc(sizeof *C * (n + 1));
        for (uint64_t i = 0; i < n; i++)
            q[i] = (int16_t)floe_elem_load(M + a, FLOE_DT_I16, i);
        int bad = 0;
        for (uint64_t i = 0; i < (pc ? n : 1); i++)
            bad |= !valid_mult(C[i] = mult_at(M + cm + 8 * i));
        if (!bad) {
            int bits = floe_dtype_bits(dt);
            int32_t hi = (int32_t)(((int64_t)1 << (bits - 1)) - 1);
            floe_rmsnorm_row(y, q, n, u64_at(M + e), C, pc, -hi - 1, hi);
            for (uint64_t i = 0; i < n; i++)
                floe_elem_store(M + d, dt, i, y[i]);
        }
        free(q);
        free(y);
        free(C);
        return bad ? -1 : 0;
    }
    case FLOE_OP_ROPE: {
        uint64_t n = (uint64_t)f[FLOE_F_ROPE_n], h = n / 2;
        int64_t d = ea(R, f[FLOE_F_ROPE_dst]), a = ea(R, f[FLOE_F_ROPE_src]), co = ea(R, f[FLOE_F_ROPE_cos]),
                si = ea(R, f[FLOE_F_ROPE_sin]);
        if (n % 2 || !ok(c, d, 2 * n) || !ok(c, a, 2 * n) || !ok(c, co, 2 * h) || !ok(c, si, 2 * h))
            return -1;
        int32_t *x = malloc(4 * (n + 1));
        for (uint64_t i = 0; i < n; i++)
            x[i] = floe_elem_load(M + a, FLOE_DT_I16, i);
        int32_t *y = malloc(4 * (n + 1));
        for (uint64_t i = 0; i < h; i++) { /* the formula of docs/isa.md, written out */
            int32_t cc = floe_elem_load(M + co, FLOE_DT_I16, i), ss = floe_elem_load(M + si, FLOE_DT_I16, i);
            y[i] = floe_sat_i16((x[i] * cc - x[i + h] * ss + 8192) >> 14);
            y[i + h] = floe_sat_i16((x[i + h] * cc + x[i] * ss + 8192) >> 14);
        }
        for (uint64_t i = 0; i < n; i++)
            floe_elem_store(M + d, FLOE_DT_I16, i, y[i]);
        free(x);
        free(y);
        return 0;
    }
    case FLOE_OP_COPY: {
        int64_t d = ea(R, f[FLOE_F_COPY_dst]), a = ea(R, f[FLOE_F_COPY_src]);
        if (!ok(c, d, (uint64_t)f[FLOE_F_COPY_nb]) || !ok(c, a, (uint64_t)f[FLOE_F_COPY_nb]))
            return -1;
        memmove(M + d, M + a, (size_t)f[FLOE_F_COPY_nb]);
        return 0;
    }
    case FLOE_OP_FILL: {
        int64_t d = ea(R, f[FLOE_F_FILL_dst]);
        if (!ok(c, d, (uint64_t)f[FLOE_F_FILL_nb]))
            return -1;
        memset(M + d, (int)f[FLOE_F_FILL_byte], (size_t)f[FLOE_F_FILL_nb]);
        return 0;
    }
    case FLOE_OP_FBLD:
    case FLOE_OP_FBST: {
        int ld = in->op == FLOE_OP_FBLD;
        int64_t m = ea(R, f[ld ? 0 : 1]);
        uint64_t fb = (uint64_t)(uint32_t)f[ld ? 1 : 0], nb = (uint64_t)f[FLOE_F_FBLD_nb];
        if (!ok(c, m, nb) || fb + nb > c->fb_bytes)
            return -1;
        if (ld)
            memcpy(M + m, c->fb + fb, nb);
        else
            memcpy(c->fb + fb, M + m, nb);
        return 0;
    }
    default:
        return -1; /* not covered */
    }
}

static int run_range(ref_core *c, regs *R, const floe_core_code *code, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        const floe_insn *in = &code->insns[i];
        if (in->op == FLOE_OP_HALT)
            return 1;
        if (in->op == FLOE_OP_LOOP) {
            size_t body = (size_t)in->f[FLOE_F_LOOP_body];
            for (uint32_t it = 0; it < (uint32_t)in->f[FLOE_F_LOOP_count]; it++) {
                int r = run_range(c, R, code, i + 1, i + 1 + body);
                if (r)
                    return r;
                if (in->f[FLOE_F_LOOP_reg])
                    R->r[in->f[FLOE_F_LOOP_reg]] =
                        (int32_t)((uint32_t)R->r[in->f[FLOE_F_LOOP_reg]] + (uint32_t)in->f[FLOE_F_LOOP_stride]);
            }
            i += body;
            continue;
        }
        if (exec1(c, R, in) != 0)
            return -1;
    }
    return 0;
}

int ref_run(ref_core *c, const floe_core_code *code)
{
    regs R;
    memset(&R, 0, sizeof R);
    return run_range(c, &R, code, 0, code->n) < 0 ? -1 : 0;
}
