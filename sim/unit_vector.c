/* The vector unit's instructions (docs/isa.md): elementwise integer ops, row reductions and
 * requantization. */
#include <stdlib.h>
#include <string.h>

#include "sim/unit.h"

int sim_exec_vector(floe_sim *s, sim_core *c, sim_thread *t, const floe_insn *in, uint64_t *cycles, floe_actions *act,
                    floe_err *err)
{
    uint8_t *M = c->mem.bytes;
    uint64_t d = 0, a = 0, b = 0, m = 0;
    uint64_t n;
    switch (in->op) {
    case FLOE_OP_VADD:
    case FLOE_OP_VMUL:
    case FLOE_OP_VMAX: {
        n = (uint64_t)in->f[FLOE_F_VADD_n];
        floe_dtype dt = (floe_dtype)in->f[FLOE_F_VADD_dt];
        uint64_t nb = floe_dtype_bytes_for(dt, n);
        OPND(in->f[FLOE_F_VADD_dst], nb, "dst", d);
        OPND(in->f[FLOE_F_VADD_a], nb, "a", a);
        OPND(in->f[FLOE_F_VADD_b], nb, "b", b);
        READ(a, nb);
        READ(b, nb);
        int bits = floe_dtype_bits(dt);
        int32_t *tmp = malloc(sizeof(int32_t) * (n ? n : 1));
        if (!tmp)
            return floe_err_set(err, "out of memory");
        for (uint64_t i = 0; i < n; i++) {
            int32_t x = floe_elem_load(M + a, dt, i), y = floe_elem_load(M + b, dt, i);
            int64_t v;
            if (in->op == FLOE_OP_VADD)
                v = (int64_t)x + y;
            else if (in->op == FLOE_OP_VMUL)
                v = floe_requant_raw(x, (floe_requant_mult){y, (int32_t)in->f[FLOE_F_VMUL_sh]});
            else
                v = x > y ? x : y;
            tmp[i] = floe_sat_bits(v, bits);
        }
        for (uint64_t i = 0; i < n; i++) /* operands are read before results are written */
            floe_elem_store(M + d, dt, i, tmp[i]);
        free(tmp);
        sim_wrote(c, d, nb);
        act->sram_read_bytes += 2 * nb;
        act->sram_write_bytes += nb;
        act->vector_ops += dt == FLOE_DT_I32 ? 2 * n : n;
        *cycles = vector_cycles(s, n, dt);
        return 0;
    }
    case FLOE_OP_VSHIFT:
    case FLOE_OP_VSAT: {
        n = (uint64_t)in->f[FLOE_F_VSHIFT_n];
        floe_dtype from = (floe_dtype)in->f[in->op == FLOE_OP_VSAT ? FLOE_F_VSAT_from : FLOE_F_VSHIFT_dt];
        floe_dtype to = in->op == FLOE_OP_VSAT ? (floe_dtype)in->f[FLOE_F_VSAT_to] : from;
        uint64_t nin = floe_dtype_bytes_for(from, n), nout = floe_dtype_bytes_for(to, n);
        OPND(in->f[FLOE_F_VSHIFT_dst], nout, "dst", d);
        OPND(in->f[FLOE_F_VSHIFT_a], nin, "a", a);
        READ(a, nin);
        int32_t *tmp = malloc(sizeof(int32_t) * (n ? n : 1));
        if (!tmp)
            return floe_err_set(err, "out of memory");
        int bits = floe_dtype_bits(to);
        int amount = in->op == FLOE_OP_VSHIFT ? (int)in->f[FLOE_F_VSHIFT_amount] : 0;
        for (uint64_t i = 0; i < n; i++) {
            int32_t x = floe_elem_load(M + a, from, i);
            int64_t v = x;
            if (in->op == FLOE_OP_VSHIFT) {
                if (amount >= 0)
                    v = x == 0         ? 0
                        : amount >= 32 ? (x > 0 ? INT64_MAX : INT64_MIN)
                                       : (int64_t)x * ((int64_t)1 << amount);
                else
                    v = -amount > 32 ? 0 : floe_requant_raw(x, (floe_requant_mult){1, -amount});
            }
            tmp[i] = floe_sat_bits(v, bits);
        }
        for (uint64_t i = 0; i < n; i++)
            floe_elem_store(M + d, to, i, tmp[i]);
        free(tmp);
        sim_wrote(c, d, nout);
        act->sram_read_bytes += nin;
        act->sram_write_bytes += nout;
        act->vector_ops += n;
        *cycles = vector_cycles(s, n, from);
        return 0;
    }
    case FLOE_OP_VSUM:
    case FLOE_OP_VSUMSQ:
    case FLOE_OP_VMAXR: {
        n = (uint64_t)in->f[FLOE_F_VSUM_n];
        floe_dtype dt = (floe_dtype)in->f[FLOE_F_VSUM_dt];
        uint64_t nb = floe_dtype_bytes_for(dt, n), ob = in->op == FLOE_OP_VSUMSQ ? 8 : 4;
        OPND(in->f[FLOE_F_VSUM_dst], ob, "dst", d);
        OPND(in->f[FLOE_F_VSUM_a], nb, "a", a);
        READ(a, nb);
        uint32_t sum = 0;
        uint64_t sumsq = 0;
        int32_t mx = INT32_MIN;
        for (uint64_t i = 0; i < n; i++) {
            int32_t x = floe_elem_load(M + a, dt, i);
            sum += (uint32_t)x;
            sumsq += (uint64_t)((int64_t)x * x);
            mx = x > mx ? x : mx;
        }
        if (in->op == FLOE_OP_VSUMSQ)
            store_u64(M + d, sumsq);
        else
            floe_elem_store(M + d, FLOE_DT_I32, 0, in->op == FLOE_OP_VSUM ? (int32_t)sum : mx);
        sim_wrote(c, d, ob);
        act->sram_read_bytes += nb;
        act->sram_write_bytes += ob;
        act->vector_ops += n;
        /* The result exists only after the last element is in, so it cannot share a port word with
         * the operand reads: its own word after them (the caller's pooled port time,
         * ceil((nb + ob) / port), is one word short whenever the result fits the last read's slack;
         * the RTL core measured +5.5% against it). */
        uint64_t w = s->m.sram_bytes_per_cycle;
        uint64_t port = ceil_div(nb, w) + ceil_div(ob, w), work = vector_cycles(s, n, dt);
        *cycles = port > work ? port : work;
        return 0;
    }
    case FLOE_OP_REQUANT:
    case FLOE_OP_VREQUANT: {
        n = (uint64_t)in->f[FLOE_F_REQUANT_n];
        floe_dtype dt = (floe_dtype)in->f[FLOE_F_REQUANT_dt];
        int per_channel = in->f[FLOE_F_REQUANT_scope] == FLOE_SCOPE_CHANNEL;
        uint64_t ob = floe_dtype_bytes_for(dt, n), mb = 8 * (per_channel ? n : 1);
        const int32_t *src;
        uint32_t ai = 0;
        OPND(in->f[FLOE_F_REQUANT_dst], ob, "dst", d);
        if (in->op == FLOE_OP_REQUANT) {
            if (sim_acc_operand(c, t, in->f[FLOE_F_REQUANT_acc], n, &ai, err))
                return -1;
            src = c->acc + ai;
            a = 0;
        } else {
            OPND(in->f[FLOE_F_VREQUANT_a], 4 * n, "a", a);
            READ(a, 4 * n);
            src = NULL;
        }
        OPND(in->f[FLOE_F_REQUANT_mult], mb, "mult", m);
        READ(m, mb);
        int bits = floe_dtype_bits(dt);
        int32_t *tmp = malloc(sizeof(int32_t) * (n ? n : 1));
        if (!tmp)
            return floe_err_set(err, "out of memory");
        floe_requant_mult q = {0, 0};
        for (uint64_t i = 0; i < n; i++) {
            if (i == 0 || per_channel)
                if (sim_load_mult(c, t, in, M + m + 8 * (per_channel ? i : 0), &q, err)) {
                    free(tmp);
                    return -1;
                }
            int32_t x = src ? src[i] : floe_elem_load(M + a, FLOE_DT_I32, i);
            tmp[i] = floe_requant_bits(x, q, bits);
        }
        for (uint64_t i = 0; i < n; i++)
            floe_elem_store(M + d, dt, i, tmp[i]);
        free(tmp);
        sim_wrote(c, d, ob);
        act->sram_read_bytes += mb + (src ? 0 : 4 * n);
        act->sram_write_bytes += ob;
        act->vector_ops += n;
        /* The multipliers, the int32 operands (vrequant) and the results are separate streams, each in
         * whole port words: the first result needs its multiplier read before it, so they do not
         * share a word (the caller's pooled port time, ceil(all bytes / port), was a word short on
         * short tiles: the RTL core measured +20% on the per-token model's requant tiles at
         * northpole size, docs/rtl.md). */
        uint64_t w = s->m.sram_bytes_per_cycle;
        uint64_t port = ceil_div(mb, w) + ceil_div(src ? 0 : 4 * n, w) + ceil_div(ob, w);
        uint64_t work = vector_cycles(s, n, FLOE_DT_I16);
        *cycles = port > work ? port : work;
        return 0;
    }
    case FLOE_OP_VREQUANTT: {
        n = (uint64_t)in->f[FLOE_F_VREQUANTT_n];
        floe_dtype dt = (floe_dtype)in->f[FLOE_F_VREQUANTT_dt];
        uint64_t ob = floe_dtype_bytes_for(dt, n);
        OPND(in->f[FLOE_F_VREQUANTT_dst], ob + 1, "dst", d);
        OPND(in->f[FLOE_F_VREQUANTT_a], 4 * n, "a", a);
        OPND(in->f[FLOE_F_VREQUANTT_mult], 12, "mult", m);
        READ(a, 4 * n);
        READ(m, 12);
        floe_requant_mult q;
        int K;
        if (sim_load_tok_mult(c, t, in, M + m, &q, &K, err))
            return -1;
        int32_t *tmp = malloc(sizeof(int32_t) * 2 * (n ? n : 1)), *y = tmp + (n ? n : 1);
        if (!tmp)
            return floe_err_set(err, "out of memory");
        for (uint64_t i = 0; i < n; i++)
            tmp[i] = floe_elem_load(M + a, FLOE_DT_I32, i);
        int32_t hi = (int32_t)(((int64_t)1 << (floe_dtype_bits(dt) - 1)) - 1);
        int k = floe_token_requant_row(y, tmp, n, q, K, -hi - 1, hi);
        for (uint64_t i = 0; i < n; i++)
            floe_elem_store(M + d, dt, i, y[i]);
        M[d + ob] = (uint8_t)(int8_t)k;
        free(tmp);
        sim_wrote(c, d, ob + 1);
        act->sram_read_bytes += 4 * n + 12;
        act->sram_write_bytes += ob + 1;
        act->vector_ops += 2 * n + (uint64_t)K + 1; /* requant, max reduction, trial requants */
        /* The core's passes (docs/sim.md): the row's max |x| (a vector reduction), the requant of
         * the row again by M * 2^k (k's trials are one combinational search before it), k's byte. */
        *cycles = pass_cycles(s, n, s->m.vector_ops_per_cycle, 4 * n) + s->m.vector_latency_cycles +
                  pass_cycles(s, n, s->m.vector_ops_per_cycle, 4 * n + 12 + ob) + 2;
        return 0;
    }
    case FLOE_OP_REQUANTK: {
        n = (uint64_t)in->f[FLOE_F_REQUANTK_n];
        floe_dtype dt = (floe_dtype)in->f[FLOE_F_REQUANTK_dt];
        uint64_t ob = floe_dtype_bytes_for(dt, n), mb = 8 * n, kb = 0;
        uint32_t ai = 0;
        OPND(in->f[FLOE_F_REQUANTK_dst], ob, "dst", d);
        if (sim_acc_operand(c, t, in->f[FLOE_F_REQUANTK_acc], n, &ai, err))
            return -1;
        OPND(in->f[FLOE_F_REQUANTK_mult], mb, "mult", m);
        OPND(in->f[FLOE_F_REQUANTK_k], 1, "k", kb);
        READ(m, mb);
        READ(kb, 1);
        int k = (int8_t)M[kb];
        if (k < 0 || k > FLOE_TOKEN_K_MAX)
            return sim_fault(err, c, t, in, "per-token shift k = %d is outside 0..%d", k, FLOE_TOKEN_K_MAX);
        int32_t hi = (int32_t)(((int64_t)1 << (floe_dtype_bits(dt) - 1)) - 1);
        int32_t *tmp = malloc(sizeof(int32_t) * (n ? n : 1));
        if (!tmp)
            return floe_err_set(err, "out of memory");
        for (uint64_t i = 0; i < n; i++) {
            floe_requant_mult q;
            if (sim_load_mult(c, t, in, M + m + 8 * i, &q, err)) {
                free(tmp);
                return -1;
            }
            tmp[i] = floe_requant_k(c->acc[ai + i], q, k, -hi - 1, hi);
        }
        for (uint64_t i = 0; i < n; i++)
            floe_elem_store(M + d, dt, i, tmp[i]);
        free(tmp);
        sim_wrote(c, d, ob);
        act->sram_read_bytes += mb + 1;
        act->sram_write_bytes += ob;
        act->vector_ops += n + 1;
        *cycles = vector_cycles(s, n + 1, FLOE_DT_I16);
        return 0;
    }
    case FLOE_OP_MULTMUL: {
        n = (uint64_t)in->f[FLOE_F_MULTMUL_n];
        int per_channel = in->f[FLOE_F_MULTMUL_scope] == FLOE_SCOPE_CHANNEL;
        uint64_t bb = 8 * (per_channel ? n : 1);
        OPND(in->f[FLOE_F_MULTMUL_dst], 8 * n, "dst", d);
        OPND(in->f[FLOE_F_MULTMUL_a], 8 * n, "a", a);
        OPND(in->f[FLOE_F_MULTMUL_b], bb, "b", b);
        READ(a, 8 * n);
        READ(b, bb);
        floe_requant_mult *tmp = malloc(sizeof *tmp * (n ? n : 1));
        if (!tmp)
            return floe_err_set(err, "out of memory");
        for (uint64_t i = 0; i < n; i++) {
            floe_requant_mult x, y;
            if (sim_load_mult(c, t, in, M + a + 8 * i, &x, err) ||
                sim_load_mult(c, t, in, M + b + 8 * (per_channel ? i : 0), &y, err)) {
                free(tmp);
                return -1;
            }
            tmp[i] = floe_requant_mult_mul(x, y);
        }
        for (uint64_t i = 0; i < n; i++)
            store_mult(M + d + 8 * i, tmp[i]);
        free(tmp);
        sim_wrote(c, d, 8 * n);
        act->sram_read_bytes += 8 * n + bb;
        act->sram_write_bytes += 8 * n;
        act->vector_ops += 2 * n;
        *cycles = vector_cycles(s, n, FLOE_DT_I32);
        return 0;
    }
    case FLOE_OP_ACCST:
    case FLOE_OP_ACCLD: {
        n = (uint64_t)in->f[FLOE_F_ACCST_n];
        uint32_t ai = 0;
        int st = in->op == FLOE_OP_ACCST;
        OPND(in->f[st ? 0 : 1], 4 * n, st ? "dst" : "src", d);
        if (sim_acc_operand(c, t, in->f[st ? 1 : 0], n, &ai, err))
            return -1;
        if (st) {
            for (uint64_t i = 0; i < n; i++)
                floe_elem_store(M + d, FLOE_DT_I32, i, c->acc[ai + i]);
            sim_wrote(c, d, 4 * n);
            act->sram_write_bytes += 4 * n;
        } else {
            READ(d, 4 * n);
            for (uint64_t i = 0; i < n; i++)
                c->acc[ai + i] = floe_elem_load(M + d, FLOE_DT_I32, i);
            act->sram_read_bytes += 4 * n;
        }
        act->vector_ops += 2 * n;
        *cycles = vector_cycles(s, n, FLOE_DT_I32);
        return 0;
    }
    default: return sim_fault(err, c, t, in, "not a vector instruction");
    }
}
