/* The vmm unit's instructions (docs/isa.md): vmm, vmmr and accclr, with the prepared weights each core
 * caches (sim/vmm.h computes the products). */
#include <stdlib.h>
#include <string.h>

#include "sim/unit.h"

static floe_dtype xp_dtype(int64_t xp)
{
    return xp == FLOE_XP_I4 ? FLOE_DT_I4 : xp == FLOE_XP_I8 ? FLOE_DT_I8 : FLOE_DT_I16;
}
static floe_dtype wp_dtype(int64_t wp)
{
    return wp == FLOE_WP_I2 ? FLOE_DT_I2 : wp == FLOE_WP_I4 ? FLOE_DT_I4 : FLOE_DT_I8;
}

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
static sim_vmm_entry *vmm_add(sim_core *c, uint64_t addr, uint64_t bytes, uint32_t k, uint32_t n, int wp, floe_err *err)
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
static int exec_vmm(floe_sim *s, sim_core *c, sim_thread *t, const floe_insn *in, uint64_t *cycles, floe_actions *act,
                    floe_err *err)
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

int sim_exec_vmm(floe_sim *s, sim_core *c, sim_thread *t, const floe_insn *in, uint64_t *cycles, floe_actions *act,
                 floe_err *err)
{
    if (in->op != FLOE_OP_ACCCLR)
        return exec_vmm(s, c, t, in, cycles, act, err);
    uint32_t a = 0;
    uint64_t n = (uint64_t)in->f[FLOE_F_ACCCLR_n];
    if (sim_acc_operand(c, t, in->f[FLOE_F_ACCCLR_acc], n, &a, err))
        return -1;
    memset(c->acc + a, 0, sizeof(int32_t) * n);
    *cycles = vector_cycles(s, n, FLOE_DT_I16);
    return 0;
}
