/* The simulator's scheduler (docs/sim.md): program loading, the event loop, thread control flow,
 * synchronisation, the networks on chip and the statistics. The core-local instructions' semantics
 * are in sim/exec.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <time.h>

#include "sim/sim_state.h"

enum { EV_THREAD = 1, EV_SEM = 2 };

static uint64_t ceil_div(uint64_t a, uint64_t b) { return b ? (a + b - 1) / b : a; }
static uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Bytes of address space this process maps now (/proc/self/statm), 0 where unknown. */
static uint64_t mapped_now(void)
{
    unsigned long long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%llu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    long page = sysconf(_SC_PAGESIZE);
    return (uint64_t)pages * (uint64_t)(page > 0 ? page : 4096);
}

/* Host address space a processor can still map: under an address-space limit, the limit less what
 * the process maps already (its libraries, threads' stacks, the model, other simulators); else the
 * 47 bits of user space of x86-64 and AArch64 (128 TiB). */
static uint64_t host_address_space(int *limited, uint64_t *limit, uint64_t *mapped)
{
    struct rlimit rl;
    *limited = getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY;
    *limit = *limited ? (uint64_t)rl.rlim_cur : (uint64_t)1 << 47;
    *mapped = *limited ? mapped_now() : 0;
    return *limit > *mapped ? *limit - *mapped : 0;
}

/* Refuses a machine whose memories the host cannot map, stating the bytes, before any is mapped (a
 * machine within every documented range, 256 x 256 cores of 4 GiB, asks for 256 TiB). */
static int check_host_fits(const floe_machine *m, floe_err *err)
{
    const uint64_t cores = m->cores_x * m->cores_y; /* each at most 256 */
    const uint64_t per_core =
        floe_memory_host_bytes(m->core_mem_bytes) + FLOE_ACCUMULATORS * sizeof(int32_t) + sizeof(sim_core);
    const double need = (double)cores * (double)per_core + (double)floe_memory_host_bytes(m->framebuffer_bytes);
    int limited;
    uint64_t limit, mapped;
    const uint64_t have = host_address_space(&limited, &limit, &mapped);
    if (need <= (double)have)
        return 0;
    char why[160];
    if (limited)
        snprintf(why, sizeof why, "its address-space limit, ulimit -v, of %llu bytes, less the %llu it maps already",
                 (unsigned long long)limit, (unsigned long long)mapped);
    else
        snprintf(why, sizeof why, "the host's user address space");
    return floe_err_set(err,
                        "simulator: the machine's memories need %.0f bytes (%.3g GB) of host address space "
                        "(%llu cores x %llu bytes with their written bits, and a %llu-byte frame buffer); "
                        "this process may map at most %llu more bytes (%s)",
                        need, need / 1e9, (unsigned long long)cores, (unsigned long long)m->core_mem_bytes,
                        (unsigned long long)m->framebuffer_bytes, (unsigned long long)have, why);
}

int floe_sim_new(floe_sim **out, const floe_machine *m, const floe_energy_table *e, floe_err *err)
{
    *out = NULL;
    if (floe_machine_validate(m, err) != 0)
        return -1;
    if (m->cores_x > 256 || m->cores_y > 256)
        return floe_err_set(err, "machine grid %llu x %llu: the instruction set addresses at most 256 x 256 cores",
                            (unsigned long long)m->cores_x, (unsigned long long)m->cores_y);
    if (check_host_fits(m, err) != 0)
        return -1;
    floe_sim *s = calloc(1, sizeof *s);
    if (!s)
        return floe_err_set(err, "simulator: out of memory");
    s->m = *m;
    if (e) {
        floe_energy_costs(e, &s->cost);
        s->have_energy = 1;
    }
    s->cols = (unsigned)m->cores_x;
    s->rows = (unsigned)m->cores_y;
    s->ncores = (size_t)s->cols * s->rows;
    s->cores = calloc(s->ncores, sizeof *s->cores);
    floe_eq_init(&s->q);
    if (!s->cores) {
        free(s);
        return floe_err_set(err, "simulator: out of memory");
    }
    for (size_t i = 0; i < s->ncores; i++) {
        sim_core *c = &s->cores[i];
        c->id = (unsigned)i;
        c->x = (unsigned)(i % s->cols);
        c->y = (unsigned)(i / s->cols);
        c->stats.x = c->x;
        c->stats.y = c->y;
        char name[48];
        snprintf(name, sizeof name, "core %u (x=%u, y=%u) memory", c->id, c->x, c->y);
        c->acc = calloc(FLOE_ACCUMULATORS, sizeof(int32_t));
        const int had_acc = c->acc != NULL; /* c lives in s, which floe_sim_free releases */
        if (!had_acc || floe_memory_init(&c->mem, name, m->core_mem_bytes, err) != 0) {
            floe_sim_free(s);
            return had_acc ? -1 : floe_err_set(err, "simulator: out of memory");
        }
        for (int d = 0; d < 4; d++)
            for (int ch = 0; ch < SIM_CHANNELS; ch++)
                floe_fifo_init(&c->psum_in[d][ch]);
    }
    if (floe_memory_init(&s->fb, "frame buffer", m->framebuffer_bytes, err) != 0) {
        floe_sim_free(s);
        return -1;
    }
    for (int n = 0; n < FLOE_NOC_COUNT; n++)
        if (floe_noc_init(&s->noc[n], floe_noc_name((floe_noc_id)n), (int)s->cols, (int)s->rows,
                          (uint32_t)m->noc[n].link_bytes_per_cycle, (uint32_t)m->noc[n].hop_cycles, err) != 0) {
            floe_sim_free(s);
            return -1;
        }
    *out = s;
    return 0;
}

void floe_sim_free(floe_sim *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->cores && i < s->ncores; i++) {
        sim_core *c = &s->cores[i];
        floe_memory_free(&c->mem);
        free(c->acc);
        for (int t = 0; t < FLOE_THREADS; t++)
            free(c->th[t].idx);
        for (size_t f = 0; f < c->n_act_in; f++)
            floe_fifo_free(&c->act_in[f].fifo);
        free(c->act_in);
        for (int d = 0; d < 4; d++)
            for (int ch = 0; ch < SIM_CHANNELS; ch++)
                floe_fifo_free(&c->psum_in[d][ch]);
        for (size_t v = 0; v < c->n_vmm_cache; v++)
            floe_vmm_weights_free(&c->vmm_cache[v].w);
        free(c->region_of);
    }
    free(s->cores);
    floe_memory_free(&s->fb);
    for (int n = 0; n < FLOE_NOC_COUNT; n++)
        floe_noc_free(&s->noc[n]);
    floe_eq_free(&s->q);
    free(s->regions);
    free(s->core_stats);
    free(s);
}

floe_memory *floe_sim_memory(floe_sim *s, unsigned x, unsigned y)
{
    if (x == FLOE_FB && y == FLOE_FB)
        return &s->fb;
    if (x >= s->cols || y >= s->rows)
        return NULL;
    return &s->cores[(size_t)y * s->cols + x].mem;
}

int32_t *floe_sim_accumulators(floe_sim *s, unsigned x, unsigned y)
{
    if (x >= s->cols || y >= s->rows)
        return NULL;
    return s->cores[(size_t)y * s->cols + x].acc;
}

const floe_sim_result *floe_sim_result_get(const floe_sim *s) { return &s->result; }
const floe_machine *floe_sim_machine(const floe_sim *s) { return &s->m; }

const floe_core_stats *floe_sim_core_stats(const floe_sim *s, size_t *n)
{
    *n = s->core_stats ? s->ncores : 0;
    return s->core_stats;
}

const floe_region_stats *floe_sim_region_stats(const floe_sim *s, size_t *n)
{
    *n = s->nregions;
    return s->regions;
}

/* ---- loading --------------------------------------------------------------------------------- */

static int region_index(floe_sim *s, const char *name, uint32_t *out, floe_err *err)
{
    for (size_t i = 0; i < s->nregions; i++)
        if (strcmp(s->regions[i].name, name) == 0) {
            *out = (uint32_t)i;
            return 0;
        }
    if (s->nregions == s->cap_regions) {
        size_t cap = s->cap_regions ? 2 * s->cap_regions : 16;
        floe_region_stats *r = realloc(s->regions, cap * sizeof *r);
        if (!r)
            return floe_err_set(err, "simulator: out of memory");
        s->regions = r;
        s->cap_regions = cap;
    }
    floe_region_stats *r = &s->regions[s->nregions];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->first_cycle = UINT64_MAX;
    *out = (uint32_t)s->nregions++;
    return 0;
}

static int load_core(floe_sim *s, const floe_program *p, const floe_core_code *cc, floe_err *err)
{
    if (cc->x >= s->cols || cc->y >= s->rows)
        return floe_err_set(err, "program has code for core (%u, %u), outside this machine's %u x %u grid", cc->x,
                            cc->y, s->cols, s->rows);
    sim_core *c = &s->cores[(size_t)cc->y * s->cols + cc->x];
    c->code = cc;
    size_t count[FLOE_THREADS] = {0};
    for (size_t i = 0; i < cc->n; i++) {
        if (cc->insns[i].thread >= s->m.threads_per_core)
            return floe_err_set(err, "core (%u, %u) instruction %zu runs on thread %u, but this machine has %llu "
                                     "threads per core", cc->x, cc->y, i, (unsigned)cc->insns[i].thread,
                                (unsigned long long)s->m.threads_per_core);
        count[cc->insns[i].thread]++;
    }
    for (int t = 0; t < FLOE_THREADS; t++) {
        c->th[t].idx = malloc(sizeof(size_t) * (count[t] ? count[t] : 1));
        if (!c->th[t].idx)
            return floe_err_set(err, "simulator: out of memory");
        c->th[t].n = 0;
    }
    for (size_t i = 0; i < cc->n; i++) {
        sim_thread *th = &c->th[cc->insns[i].thread];
        th->idx[th->n++] = i;
    }
    /* Regions: each instruction belongs to the last code label at or before it. */
    c->region_of = malloc(sizeof(uint32_t) * (cc->n ? cc->n : 1));
    if (!c->region_of)
        return floe_err_set(err, "simulator: out of memory");
    size_t first, end;
    floe_program_symbols_of(p, cc->x, cc->y, &first, &end);
    uint32_t cur = UINT32_MAX;
    size_t next = first;
    for (size_t i = 0; i < cc->n; i++) {
        for (; next < end; next++) {
            const floe_symbol *sy = &p->symbols[next];
            if (sy->kind != FLOE_SYM_LABEL)
                continue;
            if (sy->value > i)
                break;
            if (region_index(s, sy->name, &cur, err) != 0)
                return -1;
        }
        if (cur == UINT32_MAX && region_index(s, "(none)", &cur, err) != 0)
            return -1;
        if (i == 0 || c->region_of[i - 1] != cur) { /* count each core once per region */
            int seen = 0;
            for (size_t j = 0; j < i && !seen; j++)
                seen = c->region_of[j] == cur;
            if (!seen)
                s->regions[cur].cores++;
        }
        c->region_of[i] = cur;
    }
    return 0;
}

int floe_sim_load(floe_sim *s, const floe_program *p, floe_err *err)
{
    if (s->loaded)
        return floe_err_set(err, "simulator: a program is already loaded (one simulator runs one program)");
    uint64_t fp = floe_machine_fingerprint(&s->m);
    if (p->fingerprint != fp)
        return floe_err_set(err, "the program was compiled for machine fingerprint %016llx; this machine's is %016llx "
                                 "(compile it for this machine description)",
                            (unsigned long long)p->fingerprint, (unsigned long long)fp);
    if (floe_program_validate(p, err) != 0)
        return -1;
    for (size_t i = 0; i < p->ncores; i++)
        if (load_core(s, p, &p->cores[i], err) != 0)
            return -1;
    for (size_t i = 0; i < p->nimages; i++) {
        const floe_image *im = &p->images[i];
        floe_memory *m = floe_sim_memory(s, im->x, im->y);
        if (!m)
            return floe_err_set(err, "program has a memory image for core (%u, %u), outside this machine's %u x %u grid",
                                im->x, im->y, s->cols, s->rows);
        if (floe_memory_write(m, im->addr, im->bytes, im->len, err) != 0)
            return floe_err_prefix(err, "program image does not fit");
        m->bytes_written = 0; /* loading is not part of the run's energy */
    }
    s->prog = p;
    s->loaded = 1;
    return 0;
}

/* ---- threads ----------------------------------------------------------------------------------- */

/* Moves past the current instruction, closing finished loop iterations. */
static void advance(sim_thread *th)
{
    th->pc++;
    while (th->depth > 0 && th->pc == th->loop[th->depth - 1].end) {
        sim_loop *L = &th->loop[th->depth - 1];
        if (L->reg)
            th->r[L->reg] = (int32_t)((uint32_t)th->r[L->reg] + (uint32_t)L->stride);
        if (--L->remaining > 0) {
            th->pc = L->start;
            break;
        }
        th->depth--;
    }
}

static int push_thread(floe_sim *s, const sim_core *c, unsigned t, uint64_t time, floe_err *err)
{
    if (floe_eq_push_prio(&s->q, time, t, EV_THREAD, c->id * FLOE_THREADS + t, 0) != 0)
        return floe_err_set(err, "simulator: out of memory");
    return 0;
}

static sim_core *core_at(floe_sim *s, int64_t x, int64_t y)
{
    if (x < 0 || y < 0 || x >= (int64_t)s->cols || y >= (int64_t)s->rows)
        return NULL;
    return &s->cores[(size_t)y * s->cols + (size_t)x];
}

static floe_fifo *act_fifo(sim_core *c, unsigned src, unsigned ch, floe_err *err)
{
    for (size_t i = 0; i < c->n_act_in; i++)
        if (c->act_in[i].src == src && c->act_in[i].ch == ch)
            return &c->act_in[i].fifo;
    if (c->n_act_in == c->cap_act_in) {
        size_t cap = c->cap_act_in ? 2 * c->cap_act_in : 4;
        sim_act_fifo *a = realloc(c->act_in, cap * sizeof *a);
        if (!a)
            return floe_err_set(err, "simulator: out of memory"), NULL;
        /* the FIFOs moved: re-point threads blocked on them */
        for (int t = 0; t < FLOE_THREADS; t++)
            if (c->th[t].state == TS_RECV) {
                size_t k = (size_t)((sim_act_fifo *)((char *)c->th[t].wait_fifo - offsetof(sim_act_fifo, fifo)) - c->act_in);
                c->th[t].wait_fifo = &a[k].fifo;
            }
        c->act_in = a;
        c->cap_act_in = cap;
    }
    sim_act_fifo *f = &c->act_in[c->n_act_in++];
    f->src = (uint16_t)src;
    f->ch = (uint8_t)ch;
    floe_fifo_init(&f->fifo);
    return &f->fifo;
}

/* After bytes arrive in `fifo` of core c: a thread blocked on it that can now proceed is rescheduled. */
static int wake_receivers(floe_sim *s, sim_core *c, floe_fifo *fifo, uint64_t now, floe_err *err)
{
    for (unsigned t = 0; t < FLOE_THREADS; t++) {
        sim_thread *th = &c->th[t];
        if ((th->state == TS_RECV || th->state == TS_PRECV) && th->wait_fifo == fifo && fifo->bytes >= th->wait_bytes) {
            th->state = TS_RUN;
            if (push_thread(s, c, t, max64(now, th->since), err) != 0)
                return -1;
        }
    }
    return 0;
}

uint64_t floe_sim_done(const floe_machine *m, int op, uint64_t busy, uint64_t compute, uint64_t write_bytes)
{
    uint64_t lat = floe_sim_latency(m, op);
    if (op != FLOE_OP_RECIP && op != FLOE_OP_RSQRT)
        return busy + lat;
    /* The divider and the root stream: operands keep being read while the first ones are in the
     * pipeline, results come out `lat` cycles after their operands at the unit's rate, and the
     * writes follow them through the port. */
    uint64_t w = (write_bytes + m->sram_bytes_per_cycle - 1) / m->sram_bytes_per_cycle;
    uint64_t tail = lat + (w > compute ? w : compute);
    return busy > tail ? busy : tail;
}

uint64_t floe_sim_latency(const floe_machine *m, int op)
{
    if (op == FLOE_OP_RECIP)
        return m->recip_latency_cycles;
    if (op == FLOE_OP_RSQRT)
        return m->rsqrt_latency_cycles;
    const floe_op_info *oi = floe_op_lookup(op);
    switch (oi ? oi->unit : FLOE_UNIT_CTRL) {
    case FLOE_UNIT_VMM: return m->vmm_latency_cycles;
    case FLOE_UNIT_VECTOR: return m->vector_latency_cycles;
    case FLOE_UNIT_AFU: return m->afu_latency_cycles;
    case FLOE_UNIT_MEM: return m->sram_latency_cycles;
    default: return 0;
    }
}

static void account(floe_sim *s, sim_core *c, const floe_insn *in, size_t idx, floe_unit u, uint64_t start,
                    uint64_t busy, const floe_actions *act)
{
    c->stats.insns++;
    c->stats.busy[u] += busy;
    c->stats.sram_bytes[u] += act->sram_read_bytes + act->sram_write_bytes;
    floe_actions_add(&c->stats.actions, act);
    floe_region_stats *r = &s->regions[c->region_of[idx]];
    r->insns++;
    r->busy[u] += busy;
    floe_actions_add(&r->actions, act);
    if (start < r->first_cycle)
        r->first_cycle = start;
    if (start + busy > r->last_cycle)
        r->last_cycle = start + busy;
    if (s->trace && busy)
        floe_trace_span(s->trace, (int)c->id, (int)u, floe_op_lookup(in->op)->mnemonic, floe_unit_name(u), start, busy);
}

/* Executes the network instructions. Returns 1 when the thread blocked (receive without data). */
static int exec_noc(floe_sim *s, sim_core *c, unsigned t, const floe_insn *in, uint64_t now, uint64_t *start,
                    uint64_t *busy, uint64_t *next, floe_actions *act, floe_err *err)
{
    sim_thread *th = &c->th[t];
    uint8_t *M = c->mem.bytes;
    const floe_machine *m = &s->m;
    uint64_t a = 0;
    *start = max64(now, c->unit_free[FLOE_UNIT_NOC]);
    switch (in->op) {
    case FLOE_OP_SEND:
    case FLOE_OP_MCAST: {
        int mc = in->op == FLOE_OP_MCAST;
        uint64_t nb = (uint64_t)in->f[FLOE_F_SEND_nb];
        unsigned ch = (unsigned)in->f[mc ? FLOE_F_MCAST_ch : FLOE_F_SEND_ch];
        int64_t x0 = in->f[mc ? FLOE_F_MCAST_x0 : FLOE_F_SEND_x], y0 = in->f[mc ? FLOE_F_MCAST_y0 : FLOE_F_SEND_y],
                x1 = mc ? in->f[FLOE_F_MCAST_x1] : x0, y1 = mc ? in->f[FLOE_F_MCAST_y1] : y0;
        if (!core_at(s, x0, y0) || !core_at(s, x1, y1) || x0 > x1 || y0 > y1)
            return sim_fault(err, c, th, in, "destination cores (%lld, %lld)..(%lld, %lld) are not a rectangle "
                             "inside the %u x %u grid", (long long)x0, (long long)y0, (long long)x1, (long long)y1,
                             s->cols, s->rows);
        if (sim_mem_operand(s, c, th, in->f[FLOE_F_SEND_src], nb, "src", &a, err) || sim_read(s, c, a, nb, err))
            return -1;
        size_t nd = (size_t)((x1 - x0 + 1) * (y1 - y0 + 1));
        int *dst = malloc(sizeof(int) * nd);
        uint64_t *arr = malloc(sizeof(uint64_t) * nd);
        if (!dst || !arr) {
            free(dst);
            free(arr);
            return floe_err_set(err, "simulator: out of memory");
        }
        size_t k = 0;
        for (int64_t y = y0; y <= y1; y++)
            for (int64_t x = x0; x <= x1; x++)
                dst[k++] = (int)(y * s->cols + x);
        uint64_t hops_before = s->noc[FLOE_NOC_ACT].byte_hops;
        if (mc)
            floe_noc_multicast(&s->noc[FLOE_NOC_ACT], (int)c->id, dst, nd, nb, *start, arr);
        else
            arr[0] = floe_noc_send(&s->noc[FLOE_NOC_ACT], (int)c->id, dst[0], nb, *start);
        act->noc_byte_hops[FLOE_NOC_ACT] += s->noc[FLOE_NOC_ACT].byte_hops - hops_before;
        act->sram_read_bytes += nb;
        int rc = 0;
        for (size_t i = 0; i < nd && rc == 0; i++) {
            sim_core *d = &s->cores[dst[i]];
            floe_fifo *f = act_fifo(d, c->id, ch, err);
            if (!f || floe_fifo_push(f, M + a, nb, arr[i]) != 0)
                rc = f ? floe_err_set(err, "simulator: out of memory") : -1;
            else
                rc = wake_receivers(s, d, f, now, err);
        }
        free(dst);
        free(arr);
        if (rc)
            return -1;
        *busy = max64(1, ceil_div(nb, m->noc[FLOE_NOC_ACT].link_bytes_per_cycle));
        *next = *start + *busy;
        return 0;
    }
    case FLOE_OP_RECV: {
        uint64_t nb = (uint64_t)in->f[FLOE_F_RECV_nb];
        sim_core *src = core_at(s, in->f[FLOE_F_RECV_x], in->f[FLOE_F_RECV_y]);
        if (!src)
            return sim_fault(err, c, th, in, "source core (%lld, %lld) is outside the %u x %u grid",
                             (long long)in->f[FLOE_F_RECV_x], (long long)in->f[FLOE_F_RECV_y], s->cols, s->rows);
        if (sim_mem_operand(s, c, th, in->f[FLOE_F_RECV_dst], nb, "dst", &a, err))
            return -1;
        floe_fifo *f = act_fifo(c, src->id, (unsigned)in->f[FLOE_F_RECV_ch], err);
        if (!f)
            return -1;
        if (f->bytes < nb) {
            th->state = TS_RECV;
            th->wait_fifo = f;
            th->wait_bytes = nb;
            th->since = now;
            return 1;
        }
        uint64_t ready = floe_fifo_take(f, M + a, nb);
        sim_wrote(c, a, nb);
        act->sram_write_bytes += nb;
        *start = max64(*start, ready);
        *busy = 1;
        *next = *start + 1;
        return 0;
    }
    case FLOE_OP_PSEND:
    case FLOE_OP_PRECV: {
        uint32_t ai = 0;
        uint64_t n = (uint64_t)in->f[FLOE_F_PSEND_n];
        int dir = (int)in->f[FLOE_F_PSEND_dir];
        unsigned ch = (unsigned)in->f[FLOE_F_PSEND_ch];
        static const int dx[4] = {0, 1, 0, -1}, dy[4] = {-1, 0, 1, 0}; /* n e s w */
        sim_core *nbr = core_at(s, (int64_t)c->x + dx[dir], (int64_t)c->y + dy[dir]);
        if (!nbr)
            return sim_fault(err, c, th, in, "there is no neighbour to the %c of this core", "nesw"[dir]);
        if (sim_acc_operand(c, th, in->f[FLOE_F_PSEND_acc], n, &ai, err))
            return -1;
        uint8_t *buf = malloc(4 * n + 1);
        if (!buf)
            return floe_err_set(err, "simulator: out of memory");
        if (in->op == FLOE_OP_PSEND) {
            for (uint64_t i = 0; i < n; i++)
                for (int b = 0; b < 4; b++)
                    buf[4 * i + b] = (uint8_t)((uint32_t)c->acc[ai + i] >> (8 * b));
            uint64_t hops_before = s->noc[FLOE_NOC_PSUM].byte_hops;
            uint64_t arrival = floe_noc_send(&s->noc[FLOE_NOC_PSUM], (int)c->id, (int)nbr->id, 4 * n, *start);
            act->noc_byte_hops[FLOE_NOC_PSUM] += s->noc[FLOE_NOC_PSUM].byte_hops - hops_before;
            floe_fifo *f = &nbr->psum_in[(dir + 2) % 4][ch];
            int rc = floe_fifo_push(f, buf, 4 * n, arrival);
            free(buf);
            if (rc != 0)
                return floe_err_set(err, "simulator: out of memory");
            if (wake_receivers(s, nbr, f, now, err) != 0)
                return -1;
            *busy = max64(1, ceil_div(4 * n, m->noc[FLOE_NOC_PSUM].link_bytes_per_cycle));
            *next = *start + *busy;
            return 0;
        }
        floe_fifo *f = &c->psum_in[dir][ch];
        if (f->bytes < 4 * n) {
            free(buf);
            th->state = TS_PRECV;
            th->wait_fifo = f;
            th->wait_bytes = 4 * n;
            th->since = now;
            return 1;
        }
        uint64_t ready = floe_fifo_take(f, buf, 4 * n);
        for (uint64_t i = 0; i < n; i++) {
            uint32_t v = (uint32_t)buf[4 * i] | (uint32_t)buf[4 * i + 1] << 8 | (uint32_t)buf[4 * i + 2] << 16 |
                         (uint32_t)buf[4 * i + 3] << 24;
            c->acc[ai + i] = (int32_t)((uint32_t)c->acc[ai + i] + v); /* wrap-around, as every accumulation */
        }
        free(buf);
        *start = max64(*start, ready);
        *busy = max64(1, ceil_div(n, m->vector_ops_per_cycle));
        *next = *start + *busy;
        return 0;
    }
    case FLOE_OP_WSTREAM: {
        uint64_t nb = (uint64_t)in->f[FLOE_F_WSTREAM_nb], fb = (uint64_t)(uint32_t)in->f[FLOE_F_WSTREAM_fb];
        if (sim_mem_operand(s, c, th, in->f[FLOE_F_WSTREAM_dst], nb, "dst", &a, err))
            return -1;
        if (floe_memory_check(&s->fb, fb, nb, "wstream", err) != 0)
            return sim_fault(err, c, th, in, "frame-buffer range 0x%llx + %llu bytes outside its %llu bytes",
                             (unsigned long long)fb, (unsigned long long)nb, (unsigned long long)s->fb.capacity);
        if (floe_memory_note_read(&s->fb, fb, nb, s->strict, err) != 0)
            return -1;
        memcpy(M + a, floe_memory_ptr(&s->fb, fb), nb);
        sim_wrote(c, a, nb);
        /* The frame-buffer port is shared by the chip; weights enter the weight network at the top edge
         * of the grid and travel down their column (y + 1 hops). */
        *start = max64(*start, s->fb_free);
        s->fb_free = *start + ceil_div(nb, m->framebuffer_bytes_per_cycle);
        uint64_t hops = c->y + 1;
        *busy = max64(1, ceil_div(nb, m->noc[FLOE_NOC_WEIGHT].link_bytes_per_cycle));
        *next = *start + hops * m->noc[FLOE_NOC_WEIGHT].hop_cycles + *busy;
        act->framebuffer_bytes += nb;
        act->noc_byte_hops[FLOE_NOC_WEIGHT] += nb * hops;
        act->sram_write_bytes += nb;
        return 0;
    }
    case FLOE_OP_SIG: {
        sim_core *d = core_at(s, in->f[FLOE_F_SIG_x], in->f[FLOE_F_SIG_y]);
        if (!d)
            return sim_fault(err, c, th, in, "core (%lld, %lld) is outside the %u x %u grid",
                             (long long)in->f[FLOE_F_SIG_x], (long long)in->f[FLOE_F_SIG_y], s->cols, s->rows);
        int hops = floe_noc_hops(&s->noc[FLOE_NOC_ACT], (int)c->id, (int)d->id);
        uint64_t arrival = *start + 1 + (uint64_t)hops * m->noc[FLOE_NOC_ACT].hop_cycles;
        if (floe_eq_push_prio(&s->q, arrival, 0, EV_SEM, d->id, (uint64_t)in->f[FLOE_F_SIG_tok]) != 0)
            return floe_err_set(err, "simulator: out of memory");
        *busy = 1;
        *next = *start + 1;
        return 0;
    }
    default:
        return sim_fault(err, c, th, in, "not a noc instruction");
    }
}

/* Runs thread t of core c at cycle `now` until it issues one instruction or blocks. */
static int step(floe_sim *s, sim_core *c, unsigned t, uint64_t now, floe_err *err)
{
    sim_thread *th = &c->th[t];
    if (th->pc >= th->n) {
        th->state = TS_DONE;
        th->since = now;
        return 0;
    }
    size_t idx = th->idx[th->pc];
    const floe_insn *in = &c->code->insns[idx];
    floe_unit u = floe_op_lookup(in->op)->unit;
    floe_actions act;
    memset(&act, 0, sizeof act);
    uint64_t start = now, busy = 0, next = now;
    switch (in->op) {
    case FLOE_OP_NOP:
        next = now + 1;
        advance(th);
        break;
    case FLOE_OP_HALT:
        th->state = TS_DONE;
        th->since = now;
        account(s, c, in, idx, u, now, 0, &act);
        return 0;
    case FLOE_OP_LOOP: {
        uint32_t count = (uint32_t)in->f[FLOE_F_LOOP_count], body = (uint32_t)in->f[FLOE_F_LOOP_body];
        if (count == 0) {
            th->pc += body;
            advance(th);
        } else {
            if (th->depth == SIM_LOOP_DEPTH)
                return sim_fault(err, c, th, in, "loops nest deeper than %d", SIM_LOOP_DEPTH);
            th->loop[th->depth++] = (sim_loop){th->pc + 1, th->pc + 1 + body, count, (uint8_t)in->f[FLOE_F_LOOP_reg],
                                               (int32_t)in->f[FLOE_F_LOOP_stride]};
            th->pc++;
        }
        next = now + 1;
        break;
    }
    case FLOE_OP_SETI:
    case FLOE_OP_ADDI: {
        unsigned r = (unsigned)in->f[FLOE_F_SETI_reg];
        int32_t v = (int32_t)in->f[FLOE_F_SETI_imm];
        th->r[r] = in->op == FLOE_OP_SETI ? v : (int32_t)((uint32_t)th->r[r] + (uint32_t)v);
        next = now + 1;
        advance(th);
        break;
    }
    case FLOE_OP_WAIT: {
        unsigned tok = (unsigned)in->f[FLOE_F_WAIT_tok], n = (unsigned)in->f[FLOE_F_WAIT_n];
        if (c->sem[tok] < n) {
            th->state = TS_SEM;
            th->wait_tok = tok;
            th->wait_n = n;
            th->since = now;
            return 0;
        }
        c->sem[tok] -= n;
        advance(th);
        break;
    }
    case FLOE_OP_BAR: {
        unsigned id = (unsigned)in->f[FLOE_F_BAR_id], mask = (unsigned)in->f[FLOE_F_BAR_mask];
        if (!(mask & (1u << t)))
            return sim_fault(err, c, th, in, "barrier mask 0x%02x does not include the calling thread %u", mask, t);
        c->bar_arrived[id] |= (uint8_t)(1u << t);
        if ((c->bar_arrived[id] & mask) != mask) {
            th->state = TS_BAR;
            th->bar_id = id;
            th->since = now;
            return 0;
        }
        c->bar_arrived[id] &= (uint8_t)~mask;
        for (unsigned o = 0; o < FLOE_THREADS; o++) {
            sim_thread *ot = &c->th[o];
            if (o != t && (mask & (1u << o)) && ot->state == TS_BAR && ot->bar_id == id) {
                ot->state = TS_RUN;
                advance(ot);
                if (push_thread(s, c, o, now, err) != 0)
                    return -1;
            }
        }
        advance(th);
        break;
    }
    default:
        if (u == FLOE_UNIT_NOC) {
            int r = exec_noc(s, c, t, in, now, &start, &busy, &next, &act, err);
            if (r < 0)
                return -1;
            if (r == 1)
                return 0; /* blocked on a receive */
            c->unit_free[u] = start + busy;
        } else {
            if (sim_exec_local(s, c, th, in, &busy, &act, err) != 0)
                return -1;
            /* The core memory's port is shared by the core's units: an instruction holds it for its
             * bytes at the SRAM bandwidth, and takes at least that long itself (streaming weights is
             * memory-bound at decode, as on the chip). */
            uint64_t sram = ceil_div(act.sram_read_bytes + act.sram_write_bytes, s->m.sram_bytes_per_cycle);
            start = max64(now, c->unit_free[u]);
            if (sram)
                start = max64(start, c->sram_free);
            if (in->op == FLOE_OP_FBLD || in->op == FLOE_OP_FBST) { /* the chip's shared frame-buffer port */
                start = max64(start, s->fb_free);
                s->fb_free = start + busy;
            }
            uint64_t compute = busy;
            busy = max64(busy, sram);
            if (sram)
                c->sram_free = start + sram;
            c->unit_free[u] = start + busy;
            next = start + floe_sim_done(&s->m, in->op, busy, compute, act.sram_write_bytes);
        }
        advance(th);
        break;
    }
    account(s, c, in, idx, u, start, busy, &act);
    return push_thread(s, c, t, next, err);
}

static int raise_sem(floe_sim *s, sim_core *c, unsigned tok, uint64_t now, floe_err *err)
{
    c->sem[tok]++;
    for (unsigned t = 0; t < FLOE_THREADS; t++) {
        sim_thread *th = &c->th[t];
        if (th->state == TS_SEM && th->wait_tok == tok && c->sem[tok] >= th->wait_n) {
            c->sem[tok] -= th->wait_n;
            th->state = TS_RUN;
            advance(th);
            if (push_thread(s, c, t, now, err) != 0)
                return -1;
        }
    }
    return 0;
}

static int deadlock_report(floe_sim *s, uint64_t now, floe_err *err)
{
    char msg[FLOE_ERR_MSG_MAX];
    size_t len = (size_t)snprintf(msg, sizeof msg, "deadlock at cycle %llu: no event can happen, yet",
                                  (unsigned long long)now);
    int shown = 0, blocked = 0;
    for (size_t i = 0; i < s->ncores; i++) {
        sim_core *c = &s->cores[i];
        for (unsigned t = 0; t < FLOE_THREADS; t++) {
            sim_thread *th = &c->th[t];
            if (th->state == TS_DONE || th->n == 0)
                continue;
            blocked++;
            if (shown == 6 || len >= sizeof msg - 1)
                continue;
            shown++;
            const floe_insn *in = &c->code->insns[th->idx[th->pc]];
            char why[200];
            switch (th->state) {
            case TS_SEM:
                snprintf(why, sizeof why, "waits for semaphore %u >= %u (it is %u)", th->wait_tok, th->wait_n,
                         c->sem[th->wait_tok]);
                break;
            case TS_BAR:
                snprintf(why, sizeof why, "waits at barrier %u (threads arrived: 0x%02x of 0x%02x)", th->bar_id,
                         c->bar_arrived[th->bar_id], (unsigned)in->f[FLOE_F_BAR_mask]);
                break;
            case TS_RECV:
                snprintf(why, sizeof why, "waits for %llu bytes from core (%lld, %lld) on channel %lld (%llu queued)",
                         (unsigned long long)th->wait_bytes, (long long)in->f[FLOE_F_RECV_x],
                         (long long)in->f[FLOE_F_RECV_y], (long long)in->f[FLOE_F_RECV_ch],
                         (unsigned long long)th->wait_fifo->bytes);
                break;
            case TS_PRECV:
                snprintf(why, sizeof why,
                         "waits for %llu bytes of partial sums from the %c neighbour on channel %lld "
                         "(%llu queued)",
                         (unsigned long long)th->wait_bytes, "nesw"[in->f[FLOE_F_PRECV_dir]],
                         (long long)in -> f[FLOE_F_PRECV_ch], (unsigned long long)th -> wait_fifo -> bytes);
                break;
            default:
                snprintf(why, sizeof why, "is stuck");
            }
            len += (size_t)snprintf(msg + len, sizeof msg - len, "%s core (%u, %u) thread %u at instruction %zu (%s) %s",
                                    shown > 1 ? ";" : "", c->x, c->y, t, th->idx[th->pc],
                                    floe_op_lookup(in->op)->mnemonic, why);
        }
    }
    if (blocked > shown && len < sizeof msg - 1)
        snprintf(msg + len, sizeof msg - len, "; and %d more blocked thread(s)", blocked - shown);
    return floe_err_set(err, "%s", msg);
}

static int open_trace(floe_sim *s, const floe_sim_options *o, floe_err *err)
{
    floe_trace *tr = &s->trace_storage;
    if (floe_trace_open(tr, o->trace_path, (double)s->m.clock_hz, o->trace_max_events, err) != 0)
        return -1;
    for (size_t i = 0; i < s->ncores; i++) {
        sim_core *c = &s->cores[i];
        if (!c->code)
            continue;
        char name[64];
        snprintf(name, sizeof name, "core %u (x=%u, y=%u)", c->id, c->x, c->y);
        for (int u = 0; u < FLOE_UNIT_COUNT; u++)
            floe_trace_name(tr, (int)c->id, u == 0 ? name : NULL, u, floe_unit_name((floe_unit)u));
    }
    s->trace = tr;
    return 0;
}

int floe_sim_run(floe_sim *s, const floe_sim_options *o, floe_err *err)
{
    static const floe_sim_options defaults = {0};
    if (!o)
        o = &defaults;
    if (!s->loaded)
        return floe_err_set(err, "simulator: no program loaded");
    if (s->ran)
        return floe_err_set(err, "simulator: the program has already run (make a new simulator)");
    s->ran = 1;
    s->strict = o->strict;
    double t0 = now_seconds();
    if (o->trace_path && open_trace(s, o, err) != 0)
        return -1;
    floe_sim_result *R = &s->result;
    memset(R, 0, sizeof *R);

    /* Instruction loading: each core's code arrives over the instruction network from the top edge
     * of the grid before its threads start (y + 1 hops). */
    const floe_noc *inoc = &s->m.noc[FLOE_NOC_INSTR];
    int rc = 0;
    for (size_t i = 0; i < s->ncores && rc == 0; i++) {
        sim_core *c = &s->cores[i];
        if (!c->code) {
            for (unsigned t = 0; t < FLOE_THREADS; t++)
                c->th[t].state = TS_DONE;
            continue;
        }
        uint64_t bytes = (uint64_t)c->code->n * FLOE_INSN_BYTES;
        uint64_t ready = ceil_div(bytes, inoc->link_bytes_per_cycle) + (c->y + 1) * inoc->hop_cycles;
        c->stats.actions.noc_byte_hops[FLOE_NOC_INSTR] += bytes * (c->y + 1);
        R->load_cycles = max64(R->load_cycles, ready);
        for (unsigned t = 0; t < FLOE_THREADS && rc == 0; t++) {
            if (c->th[t].n == 0) {
                c->th[t].state = TS_DONE;
                continue;
            }
            rc = push_thread(s, c, t, ready, err);
        }
    }
    floe_event e;
    uint64_t now = 0;
    while (rc == 0 && floe_eq_pop(&s->q, &e) == 0) {
        now = e.time;
        R->events++;
        if (o->max_cycles && now > o->max_cycles) {
            rc = floe_err_set(err, "the simulation passed the limit of %llu cycles", (unsigned long long)o->max_cycles);
            break;
        }
        if (e.kind == EV_THREAD) {
            sim_core *c = &s->cores[e.target / FLOE_THREADS];
            rc = step(s, c, e.target % FLOE_THREADS, now, err);
        } else {
            rc = raise_sem(s, &s->cores[e.target], (unsigned)e.arg, now, err);
        }
    }
    if (rc == 0)
        for (size_t i = 0; i < s->ncores && rc == 0; i++)
            for (unsigned t = 0; t < FLOE_THREADS; t++)
                if (s->cores[i].th[t].state != TS_DONE) {
                    rc = deadlock_report(s, now, err);
                    break;
                }
    if (s->trace) {
        if (rc == 0)
            rc = floe_trace_close(s->trace, err);
        else
            floe_trace_abort(s->trace);
        s->trace = NULL;
    }
    if (rc != 0)
        return -1;

    /* Totals. */
    s->core_stats = calloc(s->ncores, sizeof *s->core_stats);
    if (!s->core_stats)
        return floe_err_set(err, "simulator: out of memory");
    for (size_t i = 0; i < s->ncores; i++) {
        sim_core *c = &s->cores[i];
        for (unsigned t = 0; t < FLOE_THREADS; t++)
            if (c->th[t].n)
                c->stats.finish_cycle = max64(c->stats.finish_cycle, c->th[t].since);
        c->stats.mem_high_water = c->mem.high_water;
        R->cycles = max64(R->cycles, c->stats.finish_cycle);
        R->instructions += c->stats.insns;
        R->uninit_reads += c->mem.uninit_reads;
        R->mem_high_water_max = max64(R->mem_high_water_max, c->mem.high_water);
        floe_actions_add(&R->actions, &c->stats.actions);
        s->core_stats[i] = c->stats;
    }
    R->uninit_reads += s->fb.uninit_reads;
    R->seconds = (double)R->cycles / (double)s->m.clock_hz;
    if (s->have_energy) {
        R->have_energy = 1;
        floe_energy_of(&R->actions, &s->cost, R->seconds, s->ncores, 1, &R->energy);
    }
    R->host_seconds = now_seconds() - t0;
    return 0;
}
