/* The activation-function unit's instructions (docs/isa.md): lookup tables, exp2, softmax, recip,
 * rsqrt, and the sequenced composites rmsnorm, rmsnormt and rope. */
#include <stdlib.h>
#include <string.h>

#include "sim/unit.h"

/* Which field of an afu instruction is its element count (docs/isa.md). */
static uint64_t afu_len(const floe_insn *in)
{
    switch (in->op) {
    case FLOE_OP_EXP2:
    case FLOE_OP_SOFTMAX:
    case FLOE_OP_RECIP:
    case FLOE_OP_RSQRT: return (uint64_t)in->f[FLOE_F_EXP2_n];
    case FLOE_OP_LUT8:
    case FLOE_OP_LUT16: return (uint64_t)in->f[FLOE_F_LUT8_n];
    case FLOE_OP_RMSNORM: return (uint64_t)in->f[FLOE_F_RMSNORM_n];
    case FLOE_OP_RMSNORMT: return (uint64_t)in->f[FLOE_F_RMSNORMT_n];
    default: return (uint64_t)in->f[FLOE_F_ROPE_n];
    }
}

int sim_exec_afu(floe_sim *s, sim_core *c, sim_thread *t, const floe_insn *in, uint64_t *cycles, floe_actions *act,
                 floe_err *err)
{
    uint8_t *M = c->mem.bytes;
    uint64_t d = 0, a = 0, tb = 0, b = 0;
    uint64_t n = afu_len(in);
    uint64_t ops = n, in_bytes = 0, out_bytes = 0;
    uint64_t vops = 0, seq = 0; /* a composite's vector-unit ops and its pass-by-pass cycles */
    switch (in->op) {
    case FLOE_OP_LUT8: {
        OPND(in->f[FLOE_F_LUT8_dst], 2 * n, "dst", d);
        OPND(in->f[FLOE_F_LUT8_src], n, "src", a);
        OPND(in->f[FLOE_F_LUT8_table], 512, "table", tb);
        READ(a, n);
        READ(tb, 512);
        floe_lut8 L;
        for (int i = 0; i < 256; i++)
            L.v[i] = (int16_t)floe_elem_load(M + tb, FLOE_DT_I16, (size_t)i);
        int16_t *tmp = malloc(sizeof(int16_t) * (n ? n : 1));
        if (!tmp)
            return floe_err_set(err, "out of memory");
        for (uint64_t i = 0; i < n; i++)
            tmp[i] = floe_lut8_apply(&L, (int8_t)M[a + i]);
        for (uint64_t i = 0; i < n; i++)
            floe_elem_store(M + d, FLOE_DT_I16, i, tmp[i]);
        free(tmp);
        in_bytes = n + 512;
        out_bytes = 2 * n;
        break;
    }
    case FLOE_OP_LUT16: {
        floe_dtype dt = (floe_dtype)in->f[FLOE_F_LUT16_dt];
        out_bytes = floe_dtype_bytes_for(dt, n);
        OPND(in->f[FLOE_F_LUT16_dst], out_bytes, "dst", d);
        OPND(in->f[FLOE_F_LUT16_src], 2 * n, "src", a);
        OPND(in->f[FLOE_F_LUT16_table], 4 * (FLOE_LUT16_KNOTS + 2), "table", tb);
        READ(a, 2 * n);
        READ(tb, 4 * (FLOE_LUT16_KNOTS + 2));
        floe_lut16 L;
        for (int i = 0; i < FLOE_LUT16_KNOTS; i++) {
            L.v[i] = floe_elem_load(M + tb, FLOE_DT_I32, (size_t)i);
            if (L.v[i] < -FLOE_LUT16_KNOT_LIMIT || L.v[i] > FLOE_LUT16_KNOT_LIMIT)
                return sim_fault(err, c, t, in, "lut16 knot %d is %d, outside +-2^20", i, L.v[i]);
        }
        L.lo = floe_elem_load(M + tb, FLOE_DT_I32, FLOE_LUT16_KNOTS);
        L.hi = floe_elem_load(M + tb, FLOE_DT_I32, FLOE_LUT16_KNOTS + 1);
        if (L.lo > L.hi)
            return sim_fault(err, c, t, in, "lut16 output range [%d, %d] is empty", L.lo, L.hi);
        int bits = floe_dtype_bits(dt);
        int32_t *tmp = malloc(sizeof(int32_t) * (n ? n : 1));
        if (!tmp)
            return floe_err_set(err, "out of memory");
        for (uint64_t i = 0; i < n; i++)
            tmp[i] = floe_sat_bits(floe_lut16_apply(&L, (int16_t)floe_elem_load(M + a, FLOE_DT_I16, i)), bits);
        for (uint64_t i = 0; i < n; i++)
            floe_elem_store(M + d, dt, i, tmp[i]);
        free(tmp);
        in_bytes = 2 * n + 4 * (FLOE_LUT16_KNOTS + 2);
        break;
    }
    case FLOE_OP_EXP2:
    case FLOE_OP_RECIP: {
        int recip = in->op == FLOE_OP_RECIP;
        out_bytes = (recip ? 8 : 4) * n;
        OPND(in->f[FLOE_F_EXP2_dst], out_bytes, "dst", d);
        OPND(in->f[FLOE_F_EXP2_src], 4 * n, "src", a);
        READ(a, 4 * n);
        uint32_t *src = malloc(sizeof(uint32_t) * (n ? n : 1));
        if (!src)
            return floe_err_set(err, "out of memory");
        for (uint64_t i = 0; i < n; i++)
            src[i] = (uint32_t)floe_elem_load(M + a, FLOE_DT_I32, i);
        for (uint64_t i = 0; i < n; i++) {
            if (recip)
                store_mult(M + d + 8 * i, floe_recip_u32(src[i]));
            else
                floe_elem_store(M + d, FLOE_DT_I32, i, (int32_t)floe_exp2_neg((int32_t)src[i]));
        }
        free(src);
        in_bytes = 4 * n;
        break;
    }
    case FLOE_OP_RSQRT: {
        out_bytes = 8 * n;
        OPND(in->f[FLOE_F_RSQRT_dst], out_bytes, "dst", d);
        OPND(in->f[FLOE_F_RSQRT_src], 8 * n, "src", a);
        READ(a, 8 * n);
        uint64_t *src = malloc(sizeof(uint64_t) * (n ? n : 1));
        if (!src)
            return floe_err_set(err, "out of memory");
        for (uint64_t i = 0; i < n; i++)
            src[i] = load_u64(M + a + 8 * i);
        for (uint64_t i = 0; i < n; i++)
            store_mult(M + d + 8 * i, floe_rsqrt_u64(src[i]));
        free(src);
        in_bytes = 8 * n;
        break;
    }
    case FLOE_OP_SOFTMAX: {
        if (n > FLOE_SOFTMAX_MAX_LEN)
            return sim_fault(err, c, t, in, "softmax row of %llu scores exceeds %d", (unsigned long long)n,
                             FLOE_SOFTMAX_MAX_LEN);
        out_bytes = 2 * n;
        OPND(in->f[FLOE_F_SOFTMAX_dst], out_bytes, "dst", d);
        OPND(in->f[FLOE_F_SOFTMAX_src], 4 * n, "src", a);
        READ(a, 4 * n);
        int32_t *z = malloc(sizeof(int32_t) * (n ? n : 1));
        int16_t *p = malloc(sizeof(int16_t) * (n ? n : 1));
        if (!z || !p) {
            free(z);
            free(p);
            return floe_err_set(err, "out of memory");
        }
        for (uint64_t i = 0; i < n; i++)
            z[i] = floe_elem_load(M + a, FLOE_DT_I32, i);
        floe_softmax_row(p, z, n);
        for (uint64_t i = 0; i < n; i++)
            floe_elem_store(M + d, FLOE_DT_I16, i, p[i]);
        free(z);
        free(p);
        /* The core's passes (docs/sim.md): the row's max (vector reduction), exp2 of z - max summed
         * (nothing written), the reciprocal of the sum (one element, its pipeline latency), exp2
         * again scaled by it into the result; the row is read three times. */
        in_bytes = 12 * n;
        ops = 2 * n + 1;
        vops = 2 * n; /* the max and the scaling */
        seq = pass_cycles(s, n, s->m.vector_ops_per_cycle, 4 * n) + s->m.vector_latency_cycles +
              pass_cycles(s, n, s->m.afu_ops_per_cycle, 4 * n) + s->m.afu_latency_cycles + 1 +
              s->m.recip_latency_cycles + pass_cycles(s, n, s->m.afu_ops_per_cycle, 4 * n + out_bytes);
        break;
    }
    case FLOE_OP_RMSNORM: {
        floe_dtype dt = (floe_dtype)in->f[FLOE_F_RMSNORM_dt];
        int per_channel = in->f[FLOE_F_RMSNORM_scope] == FLOE_SCOPE_CHANNEL;
        uint64_t cb = 8 * (per_channel ? n : 1);
        out_bytes = floe_dtype_bytes_for(dt, n);
        uint64_t e = 0;
        OPND(in->f[FLOE_F_RMSNORM_dst], out_bytes, "dst", d);
        OPND(in->f[FLOE_F_RMSNORM_src], 2 * n, "src", a);
        OPND(in->f[FLOE_F_RMSNORM_c], cb, "c", b);
        OPND(in->f[FLOE_F_RMSNORM_eps], 8, "eps", e);
        READ(a, 2 * n);
        READ(b, cb);
        READ(e, 8);
        int16_t *q = malloc(sizeof(int16_t) * (n ? n : 1));
        int32_t *y = malloc(sizeof(int32_t) * (n ? n : 1));
        floe_requant_mult *cm = malloc(sizeof *cm * (per_channel && n ? n : 1));
        if (!q || !y || !cm) {
            free(q);
            free(y);
            free(cm);
            return floe_err_set(err, "out of memory");
        }
        for (uint64_t i = 0; i < n; i++)
            q[i] = (int16_t)floe_elem_load(M + a, FLOE_DT_I16, i);
        for (uint64_t i = 0; i < (per_channel ? n : 1); i++)
            if (sim_load_mult(c, t, in, M + b + 8 * i, &cm[i], err)) {
                free(q);
                free(y);
                free(cm);
                return -1;
            }
        int bits = floe_dtype_bits(dt);
        int32_t hi = (int32_t)(((int64_t)1 << (bits - 1)) - 1);
        floe_rmsnorm_row(y, q, n, load_u64(M + e), cm, per_channel, -hi - 1, hi);
        for (uint64_t i = 0; i < n; i++)
            floe_elem_store(M + d, dt, i, y[i]);
        free(q);
        free(y);
        free(cm);
        /* The core's passes (docs/sim.md): the sum of squares with eps (the row and eps read), the
         * root of one element (its pipeline latency), then the requant of the row again by r x c[j]
         * (the row and c read, the result written); each pass waits for the one before. */
        in_bytes = 4 * n + cb + 8;
        ops = 1;
        vops = 2 * n + (per_channel ? n : 1);
        seq = pass_cycles(s, n, s->m.vector_ops_per_cycle, 2 * n + 8) + s->m.vector_latency_cycles + 1 +
              s->m.rsqrt_latency_cycles + pass_cycles(s, n, s->m.vector_ops_per_cycle, 2 * n + cb + out_bytes);
        break;
    }
    case FLOE_OP_RMSNORMT: {
        floe_dtype dt = (floe_dtype)in->f[FLOE_F_RMSNORMT_dt];
        uint64_t ob = floe_dtype_bytes_for(dt, n), e = 0;
        out_bytes = ob + 1;
        OPND(in->f[FLOE_F_RMSNORMT_dst], out_bytes, "dst", d);
        OPND(in->f[FLOE_F_RMSNORMT_src], 2 * n, "src", a);
        OPND(in->f[FLOE_F_RMSNORMT_c], 12, "c", b);
        OPND(in->f[FLOE_F_RMSNORMT_eps], 8, "eps", e);
        READ(a, 2 * n);
        READ(b, 12);
        READ(e, 8);
        floe_requant_mult cm;
        int K;
        if (sim_load_tok_mult(c, t, in, M + b, &cm, &K, err))
            return -1;
        int16_t *q = malloc(sizeof(int16_t) * (n ? n : 1));
        int32_t *y = malloc(sizeof(int32_t) * (n ? n : 1));
        if (!q || !y) {
            free(q);
            free(y);
            return floe_err_set(err, "out of memory");
        }
        for (uint64_t i = 0; i < n; i++)
            q[i] = (int16_t)floe_elem_load(M + a, FLOE_DT_I16, i);
        int32_t hi = (int32_t)(((int64_t)1 << (floe_dtype_bits(dt) - 1)) - 1);
        int k = floe_rmsnorm_row_token(y, q, n, load_u64(M + e), cm, K, -hi - 1, hi);
        for (uint64_t i = 0; i < n; i++)
            floe_elem_store(M + d, dt, i, y[i]);
        M[d + ob] = (uint8_t)(int8_t)k;
        free(q);
        free(y);
        /* rmsnorm's passes (max |q| kept beside the sum of squares), the requant by M * 2^k, then
         * k's byte (docs/sim.md) */
        in_bytes = 4 * n + 12 + 8;
        ops = 1;
        vops = 3 * n + (uint64_t)K + 1; /* squares, max |q|, requant, the multiplier product, k's trials */
        seq = pass_cycles(s, n, s->m.vector_ops_per_cycle, 2 * n + 8) + s->m.vector_latency_cycles + 1 +
              s->m.rsqrt_latency_cycles + pass_cycles(s, n, s->m.vector_ops_per_cycle, 2 * n + 12 + ob) + 2;
        break;
    }
    case FLOE_OP_ROPE: {
        if (n % 2)
            return sim_fault(err, c, t, in, "rope length %llu is odd", (unsigned long long)n);
        uint64_t h = n / 2, co = 0, si = 0;
        OPND(in->f[FLOE_F_ROPE_dst], 2 * n, "dst", d);
        OPND(in->f[FLOE_F_ROPE_src], 2 * n, "src", a);
        OPND(in->f[FLOE_F_ROPE_cos], 2 * h, "cos", co);
        OPND(in->f[FLOE_F_ROPE_sin], 2 * h, "sin", si);
        READ(a, 2 * n);
        READ(co, 2 * h);
        READ(si, 2 * h);
        int16_t *x = malloc(sizeof(int16_t) * (n + 2 * h + 1));
        if (!x)
            return floe_err_set(err, "out of memory");
        int16_t *cs = x + n, *sn = x + n + h;
        for (uint64_t i = 0; i < n; i++)
            x[i] = (int16_t)floe_elem_load(M + a, FLOE_DT_I16, i);
        for (uint64_t i = 0; i < h; i++) {
            cs[i] = (int16_t)floe_elem_load(M + co, FLOE_DT_I16, i);
            sn[i] = (int16_t)floe_elem_load(M + si, FLOE_DT_I16, i);
        }
        floe_rope_table view = {1, (int)h, cs, sn};
        floe_rope_rotate_i16(x, &view, 0);
        for (uint64_t i = 0; i < n; i++)
            floe_elem_store(M + d, FLOE_DT_I16, i, x[i]);
        free(x);
        in_bytes = 2 * n + 4 * h;
        out_bytes = 2 * n;
        /* The core's rope unit (docs/rtl.md) rotates one pair per vector lane and cycle (four
         * products, two sums): h pairs at the vector rate, one pass, usually port-bound. Its six
         * streams of h int16 (both halves of x, cos, sin; both halves of the result) are six
         * address ranges: each takes whole port words of its own. */
        ops = 0;
        vops = 2 * n;
        seq = ceil_div(h, s->m.vector_ops_per_cycle);
        uint64_t words = 6 * ceil_div(2 * h, s->m.sram_bytes_per_cycle);
        seq = seq > words ? seq : words;
        seq = seq ? seq : 1;
        break;
    }
    default: return sim_fault(err, c, t, in, "not an afu instruction");
    }
    sim_wrote(c, d, out_bytes);
    act->sram_read_bytes += in_bytes;
    act->sram_write_bytes += out_bytes;
    act->afu_ops += ops;
    act->vector_ops += vops;
    *cycles = seq ? seq : afu_cycles(s, ops);
    /* A lookup needs its table before the first element: the table's bytes cross the SRAM port
     * first, so they do not overlap the lookups (the core's overall port time, max'ed in by the
     * caller, still covers the streams). Checked against the RTL core (docs/rtl.md). */
    if (in->op == FLOE_OP_LUT8 || in->op == FLOE_OP_LUT16)
        *cycles += ceil_div(in->op == FLOE_OP_LUT8 ? 512 : 4 * (FLOE_LUT16_KNOTS + 2), s->m.sram_bytes_per_cycle);
    return 0;
}
