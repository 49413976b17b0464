/* The functional semantics of the core-local instructions (docs/isa.md): vmm, vector, afu and mem.
 * Every result is computed by the numeric core's functions (the isa/ headers), so the simulator is bit-exact
 * with docs/numerics.md by construction. Each instruction also reports its unit's work in cycles and
 * its action counts (for energy). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isa/elem.h"
#include "isa/numerics.h"
#include "sim/sim_state.h"

int sim_fault(floe_err *err, const sim_core *c, const sim_thread *t, const floe_insn *in, const char *fmt, ...)
{
    char msg[FLOE_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const floe_op_info *oi = floe_op_lookup(in->op);
    size_t idx = t->pc < t->n ? t->idx[t->pc] : 0;
    return floe_err_set(err, "core %u (x=%u, y=%u) thread %u, instruction %zu (%s): %s", c->id, c->x, c->y,
                        (unsigned)in->thread, idx, oi ? oi->mnemonic : "?", msg);
}

int sim_mem_operand(floe_sim *s, sim_core *c, sim_thread *t, int64_t field, uint64_t bytes, const char *what,
                    uint64_t *addr, floe_err *err)
{
    (void)s;
    int64_t a = (int64_t)floe_mem_addr(field) + t->r[floe_mem_reg(field)];
    if (a < 0 || (uint64_t)a > c->mem.capacity || bytes > c->mem.capacity - (uint64_t)a) {
        const floe_insn *in = &c->code->insns[t->idx[t->pc]];
        return sim_fault(err, c, t, in, "operand %s: %llu bytes at address %lld (0x%x + r%u) lie outside the "
                         "core's %llu bytes of memory", what, (unsigned long long)bytes, (long long)a,
                         floe_mem_addr(field), floe_mem_reg(field), (unsigned long long)c->mem.capacity);
    }
    *addr = (uint64_t)a;
    return 0;
}

int sim_acc_operand(sim_core *c, sim_thread *t, int64_t field, uint64_t n, uint32_t *index, floe_err *err)
{
    int64_t a = (int64_t)floe_acc_index(field) + t->r[floe_acc_reg(field)];
    if (a < 0 || (uint64_t)a + n > FLOE_ACCUMULATORS) {
        const floe_insn *in = &c->code->insns[t->idx[t->pc]];
        return sim_fault(err, c, t, in, "accumulators %lld..%lld lie outside the %u accumulators", (long long)a,
                         (long long)a + (long long)n - 1, FLOE_ACCUMULATORS);
    }
    *index = (uint32_t)a;
    return 0;
}

int sim_read(floe_sim *s, sim_core *c, uint64_t addr, uint64_t n, floe_err *err)
{
    return floe_memory_note_read(&c->mem, addr, n, s->strict, err);
}

void sim_wrote(sim_core *c, uint64_t addr, uint64_t n)
{
    floe_memory_note_write(&c->mem, addr, n);
    /* prepared vmm weights (expansions, row sums) are stale once their bytes change */
    for (size_t i = 0; i < c->n_vmm_cache;) {
        sim_vmm_entry *e = &c->vmm_cache[i];
        if (addr < e->addr + e->bytes && e->addr < addr + n) {
            floe_vmm_weights_free(&e->w);
            c->vmm_cache[i] = c->vmm_cache[--c->n_vmm_cache];
        } else {
            i++;
        }
    }
}

static uint64_t ceil_div(uint64_t a, uint64_t b) { return b ? (a + b - 1) / b : a; }

static floe_dtype xp_dtype(int64_t xp) { return xp == FLOE_XP_I4 ? FLOE_DT_I4 : xp == FLOE_XP_I8 ? FLOE_DT_I8 : FLOE_DT_I16; }
static floe_dtype wp_dtype(int64_t wp) { return wp == FLOE_WP_I2 ? FLOE_DT_I2 : wp == FLOE_WP_I4 ? FLOE_DT_I4 : FLOE_DT_I8; }

/* The cache entry for weights at addr, or NULL. */
static sim_vmm_entry *vmm_find(sim_core *c, uint64_t addr, uint64_t bytes, uint32_t k, uint32_t n, int wp)
{
    for (size_t i = 0; i < c->n_vmm_cache; i++) {
        sim_vmm_entry *e = &c->vmm_cache[i];
        if (e->addr == addr && e->bytes == bytes && e->k == k && e->n == n && e->wp == wp)
            return e;
    }
    return NULL;
}

/* Prepares weights for the vmm unit: int4 is used in place (only row sums are stored); int8 and
 * int2 are expanded. */
static sim_vmm_entry *vmm_add(sim_core *c, uint64_t addr, uint64_t bytes, uint32_t k, uint32_t n, int wp,
                              floe_err *err)
{
    if (c->n_vmm_cache == SIM_VMM_CACHE) { /* evict the least recently used */
        size_t lru = 0;
        for (size_t i = 1; i < c->n_vmm_cache; i++)
            if (c->vmm_cache[i].last_use < c->vmm_cache[lru].last_use)
                lru = i;
        floe_vmm_weights_free(&c->vmm_cache[lru].w);
        c->vmm_cache[lru] = c->vmm_cache[--c->n_vmm_cache];
    }
    sim_vmm_entry *e = &c->vmm_cache[c->n_vmm_cache];
    const uint8_t *src = floe_memory_ptr(&c->mem, addr);
    int rc;
    if (wp == FLOE_WP_I4) {
        rc = floe_vmm_weights_view_i4(&e->w, src, k, n, err);
    } else if (wp == FLOE_WP_I8) {
        rc = floe_vmm_weights_from_i8(&e->w, (const int8_t *)src, k, n, err);
    } else { /* int2: widen row by row (rows start on a byte) */
        uint64_t row = floe_dtype_bytes_for(FLOE_DT_I2, k);
        int8_t *wide = malloc((size_t)k * n + 1);
        if (!wide)
            return floe_err_set(err, "vmm: out of memory"), NULL;
        for (uint32_t j = 0; j < n; j++)
            for (uint32_t i = 0; i < k; i++)
                wide[(size_t)j * k + i] = (int8_t)floe_elem_load(src + j * row, FLOE_DT_I2, i);
        rc = floe_vmm_weights_from_i8(&e->w, wide, k, n, err);
        free(wide);
    }
    if (rc != 0)
        return NULL;
    e->addr = addr;
    e->bytes = bytes;
    e->k = k;
    e->n = n;
    e->wp = wp;
    e->initialised = 0;
    c->n_vmm_cache++;
    return e;
}

/* Inputs widened to int8/int16 live on the stack up to this many elements (no allocation per vmm). */
#define VMM_STACK_INPUTS 4096

/* One input row through the prepared weights: x widened to the vmm unit's int8 or int16 operands.
 * gcc 12 does not see that the widening loop writes the k elements the product reads. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
static int vmm_row(int32_t *acc, const uint8_t *xs, floe_dtype xdt, uint32_t k, const floe_vmm_weights *w,
                   floe_err *err)
{
    if (xdt == FLOE_DT_I8) {
        floe_vmm_i8(acc, (const int8_t *)xs, 1, w);
    } else if (xdt == FLOE_DT_I4) {
        int8_t stack[VMM_STACK_INPUTS];
        int8_t *xw = k <= VMM_STACK_INPUTS ? stack : malloc(k);
        if (!xw)
            return floe_err_set(err, "vmm: out of memory");
        for (uint32_t i = 0; i < k; i++)
            xw[i] = (int8_t)floe_elem_load(xs, FLOE_DT_I4, i);
        floe_vmm_i8(acc, xw, 1, w);
        if (xw != stack)
            free(xw);
    } else {
        int16_t stack[VMM_STACK_INPUTS];
        int16_t *xw = k <= VMM_STACK_INPUTS ? stack : malloc(sizeof(int16_t) * k);
        if (!xw)
            return floe_err_set(err, "vmm: out of memory");
        for (uint32_t i = 0; i < k; i++)
            xw[i] = (int16_t)floe_elem_load(xs, FLOE_DT_I16, i);
        floe_vmm_i16(acc, xw, 1, w);
        if (xw != stack)
            free(xw);
    }
    return 0;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* vmm (one input row) and vmmr (m rows, row r at x + r * r[xs] bytes, into acc + r * n): the
 * weights are read from memory once per instruction, whatever m is (docs/isa.md, vmmr). */
static int exec_vmm(floe_sim *s, sim_core *c, sim_thread *t, const floe_insn *in, uint64_t *cycles,
                    floe_actions *act, floe_err *err)
{
    _Static_assert(FLOE_F_VMM_acc == FLOE_F_VMMR_acc && FLOE_F_VMM_x == FLOE_F_VMMR_x &&
                       FLOE_F_VMM_w == FLOE_F_VMMR_w && FLOE_F_VMM_k == FLOE_F_VMMR_k && FLOE_F_VMM_n == FLOE_F_VMMR_n,
                   "vmm and vmmr share their operand fields");
    const int rows_form = in->op == FLOE_OP_VMMR;
    uint32_t k = (uint32_t)in->f[FLOE_F_VMM_k], n = (uint32_t)in->f[FLOE_F_VMM_n],
             m = rows_form ? (uint32_t)in->f[FLOE_F_VMMR_m] : 1;
    int64_t xp = in->f[rows_form ? FLOE_F_VMMR_xp : FLOE_F_VMM_xp],
            wp = in->f[rows_form ? FLOE_F_VMMR_wp : FLOE_F_VMM_wp],
            mode = in->f[rows_form ? FLOE_F_VMMR_mode : FLOE_F_VMM_mode];
    int64_t stride = rows_form ? t->r[in->f[FLOE_F_VMMR_xs]] : 0;
    floe_dtype xdt = xp_dtype(xp), wdt = wp_dtype(wp);
    uint64_t xbytes = floe_dtype_bytes_for(xdt, k), wbytes = (uint64_t)n * floe_dtype_bytes_for(wdt, k);
    uint32_t a = 0;
    uint64_t xa = 0, wa = 0;
    if (sim_acc_operand(c, t, in->f[FLOE_F_VMM_acc], (uint64_t)n * m, &a, err) ||
        sim_mem_operand(s, c, t, in->f[FLOE_F_VMM_w], m ? wbytes : 0, "w", &wa, err))
        return -1;
    if (sim_mem_operand(s, c, t, in->f[FLOE_F_VMM_x], m ? xbytes : 0, "x", &xa, err))
        return -1;
    for (uint32_t r = 0; r < m; r++) { /* every input row inside memory, then read */
        int64_t ra = (int64_t)xa + stride * r;
        if (ra < 0 || (uint64_t)ra > c->mem.capacity || xbytes > c->mem.capacity - (uint64_t)ra)
            return sim_fault(err, c, t, in,
                             "input row %u: %llu bytes at address %lld (row stride r%lld = %lld) lie "
                             "outside the core's %llu bytes of memory",
                             r, (unsigned long long)xbytes, (long long)ra, (long long)in->f[FLOE_F_VMMR_xs],
                             (long long)stride, (unsigned long long)c->mem.capacity);
        if (sim_read(s, c, (uint64_t)ra, xbytes, err))
            return -1;
    }
    /* Weights a cache entry has seen fully written stay so (bytes never become unwritten, and a write
     * drops the entry), so only their bytes are counted; otherwise the read is checked. */
    sim_vmm_entry *e = k && n && m ? vmm_find(c, wa, wbytes, k, n, (int)wp) : NULL;
    uint64_t uninit_before = c->mem.uninit_reads;
    if (m == 0)
        ;
    else if (e && e->initialised)
        c->mem.bytes_read += wbytes;
    else if (sim_read(s, c, wa, wbytes, err))
        return -1;
    int32_t *acc = c->acc + a;
    if (mode == FLOE_MODE_SET)
        memset(acc, 0, sizeof(int32_t) * n * m);
    if (k && n && m) {
        if (!e && !(e = vmm_add(c, wa, wbytes, k, n, (int)wp, err)))
            return -1;
        if (!e->initialised) /* then the read above was checked */
            e->initialised = c->mem.uninit_reads == uninit_before;
        e->last_use = ++c->vmm_clock;
        for (uint32_t r = 0; r < m; r++)
            if (vmm_row(acc + (size_t)r * n, floe_memory_ptr(&c->mem, xa + (uint64_t)(stride * r)), xdt, k, &e->w, err))
                return -1;
    }
    floe_prec p = floe_prec_of((int)xp, (int)wp);
    uint64_t macs = (uint64_t)k * n * m;
    act->macs[p] += macs;
    act->sram_read_bytes += xbytes * m + (m ? wbytes : 0);
    *cycles = ceil_div(macs, s->m.vmm_macs_per_cycle[p]);
    if (*cycles == 0)
        *cycles = 1;
    return 0;
}

/* Multipliers in memory: 8 bytes each, int32 m then int32 shift, both little-endian. */
static int load_mult(const sim_core *c, const sim_thread *t, const floe_insn *in, const uint8_t *p,
                     floe_requant_mult *q, floe_err *err)
{
    q->m = floe_elem_load(p, FLOE_DT_I32, 0);
    q->shift = floe_elem_load(p, FLOE_DT_I32, 1);
    if (q->m < 0 || q->shift < 0 || q->shift > FLOE_REQUANT_MAX_SHIFT)
        return sim_fault(err, c, t, in, "multiplier {m=%d, shift=%d} is not of the form m in [0, 2^31), shift "
                         "in [0, 62]", q->m, q->shift);
    return 0;
}

/* A per-token multiplier (docs/isa.md, vrequantt): {m, shift} then int32 K. */
static int load_tok_mult(const sim_core *c, const sim_thread *t, const floe_insn *in, const uint8_t *p,
                         floe_requant_mult *q, int *K, floe_err *err)
{
    if (load_mult(c, t, in, p, q, err))
        return -1;
    *K = floe_elem_load(p, FLOE_DT_I32, 2);
    if (*K < 0 || *K > FLOE_TOKEN_K_MAX)
        return sim_fault(err, c, t, in, "per-token multiplier: K = %d is outside 0..%d", *K, FLOE_TOKEN_K_MAX);
    return 0;
}

static void store_mult(uint8_t *p, floe_requant_mult q)
{
    floe_elem_store(p, FLOE_DT_I32, 0, q.m);
    floe_elem_store(p, FLOE_DT_I32, 1, q.shift);
}

static uint64_t load_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void store_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Vector-unit work: n elements, i32 elements counting twice. */
static uint64_t vector_cycles(const floe_sim *s, uint64_t n, floe_dtype dt)
{
    uint64_t ops = dt == FLOE_DT_I32 ? 2 * n : n;
    uint64_t c = ceil_div(ops, s->m.vector_ops_per_cycle);
    return c ? c : 1;
}

static uint64_t afu_cycles(const floe_sim *s, uint64_t ops)
{
    uint64_t c = ceil_div(ops, s->m.afu_ops_per_cycle);
    return c ? c : 1;
}

/* One pass of a composite over its row (docs/sim.md, composites): the sequencer's cycle that issues
 * it, then `ops` on a unit of `rate` ops per cycle or its own `bytes` through the SRAM port, whichever
 * is longer; the passes run one after the other. */
static uint64_t pass_cycles(const floe_sim *s, uint64_t ops, uint64_t rate, uint64_t bytes)
{
    uint64_t c = ceil_div(ops, rate), p = ceil_div(bytes, s->m.sram_bytes_per_cycle);
    c = c > p ? c : p;
    return 1 + (c ? c : 1);
}

#define OPND(field, bytes, name, out)                                                                         \
    do {                                                                                                 \
        if (sim_mem_operand(s, c, t, (field), (bytes), (name), &(out), err))                             \
            return -1;                                                                                   \
    } while (0)
#define READ(addr, bytes)                                                                                \
    do {                                                                                                 \
        if (sim_read(s, c, (addr), (bytes), err))                                                        \
            return -1;                                                                                   \
    } while (0)

static int exec_vector(floe_sim *s, sim_core *c, sim_thread *t, const floe_insn *in, uint64_t *cycles,
                       floe_actions *act, floe_err *err)
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
                    v = x == 0 ? 0 : amount >= 32 ? (x > 0 ? INT64_MAX : INT64_MIN) : (int64_t)x * ((int64_t)1 << amount);
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
                if (load_mult(c, t, in, M + m + 8 * (per_channel ? i : 0), &q, err)) {
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
        if (load_tok_mult(c, t, in, M + m, &q, &K, err))
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
            if (load_mult(c, t, in, M + m + 8 * i, &q, err)) {
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
            if (load_mult(c, t, in, M + a + 8 * i, &x, err) ||
                load_mult(c, t, in, M + b + 8 * (per_channel ? i : 0), &y, err)) {
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
    default:
        return sim_fault(err, c, t, in, "not a vector instruction");
    }
}

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

static int exec_afu(floe_sim *s, sim_core *c, sim_thread *t, const floe_insn *in, uint64_t *cycles,
                    floe_actions *act, floe_err *err)
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
            if (load_mult(c, t, in, M + b + 8 * i, &cm[i], err)) {
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
        seq = pass_cycles(s, n, s->m.vector_ops_per_cycle, 2 * n + 8) + s->m.vector_latency_cycles +
              1 + s->m.rsqrt_latency_cycles + pass_cycles(s, n, s->m.vector_ops_per_cycle, 2 * n + cb + out_bytes);
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
        if (load_tok_mult(c, t, in, M + b, &cm, &K, err))
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
    default:
        return sim_fault(err, c, t, in, "not an afu instruction");
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

static int exec_mem(floe_sim *s, sim_core *c, sim_thread *t, const floe_insn *in, uint64_t *cycles,
                    floe_actions *act, floe_err *err)
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
    default:
        return sim_fault(err, c, t, in, "not a mem instruction");
    }
    if (*cycles == 0)
        *cycles = 1;
    return 0;
}

int sim_exec_local(floe_sim *s, sim_core *c, sim_thread *t, const floe_insn *in, uint64_t *cycles,
                   floe_actions *act, floe_err *err)
{
    switch (floe_op_lookup(in->op)->unit) {
    case FLOE_UNIT_VMM:
        if (in->op == FLOE_OP_ACCCLR) {
            uint32_t a = 0;
            uint64_t n = (uint64_t)in->f[FLOE_F_ACCCLR_n];
            if (sim_acc_operand(c, t, in->f[FLOE_F_ACCCLR_acc], n, &a, err))
                return -1;
            memset(c->acc + a, 0, sizeof(int32_t) * n);
            *cycles = vector_cycles(s, n, FLOE_DT_I16);
            return 0;
        }
        return exec_vmm(s, c, t, in, cycles, act, err);
    case FLOE_UNIT_VECTOR:
        return exec_vector(s, c, t, in, cycles, act, err);
    case FLOE_UNIT_AFU:
        return exec_afu(s, c, t, in, cycles, act, err);
    case FLOE_UNIT_MEM:
        return exec_mem(s, c, t, in, cycles, act, err);
    default:
        return sim_fault(err, c, t, in, "not a core-local instruction");
    }
}
