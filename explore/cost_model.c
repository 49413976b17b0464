/* The analytical cost tier (explore/cost_model.h, docs/explore.md "The analytical cost model"): the compiler's
 * decode schedule walked instruction by instruction, each charged as the simulator charges it. */
#include "explore/cost_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isa/lut.h"
#include "isa/opcodes.h"
#include "sim/energy.h"
#include "sim/serving.h"

#define ACC_SCORES 2048 /* the score accumulators (compiler/mapping.h: ACC_HEAD - ACC_SCORE) */
#define ACC_HEADS 2048  /* the head-output accumulators (ACC_TOTAL - ACC_HEAD) */
#define MAX_ROWS 4096   /* a slice's outputs fit the linear-output accumulators */

static uint64_t cdiv(uint64_t a, uint64_t b) { return b ? (a + b - 1) / b : 0; }
static uint64_t umax(uint64_t a, uint64_t b) { return a > b ? a : b; }
static uint64_t round8(uint64_t v) { return (v + 7) & ~(uint64_t)7; }
static uint64_t bytes_for(int bits, uint64_t n) { return (n * (uint64_t)bits + 7) / 8; }

/* What a step's instructions cost: the machine, the model, the actions counted so far, and the
 * instructions of the core being walked (its code crosses the instruction network before it runs). */
typedef struct cm {
    const floe_machine *m;
    const floe_model_config *cf;
    const floe_qconfig *q;
    floe_actions act;
    uint64_t insns;
    int rows;         /* token rows per weight read (1 in decode) */
    int nthr;         /* threads sharing a core's attention heads */
    int tok;          /* per-token activation scaling (docs/numerics.md §10): rmsnormt, requantk, int32 rows */
    uint64_t kv;      /* the KV cache's positions (a range of R attention cores holds ceil(kv / R)) */
    uint64_t vb;      /* positions per transposed block of the V cache (FLOE_COMPILE_V_BLOCK, at most kv) */
    uint64_t port;    /* SRAM port cycles of the instructions walked (shared by a core's threads) */
    uint64_t busy[4]; /* and each unit's busy cycles (U_VMM .. U_MEM: a unit serves one thread at a time) */
    int oom;          /* 1: out of memory on the way (the estimate fails) */
} cm;

/* ---- instructions: cycles until the thread's next instruction may start ------------------------- */

static uint64_t sram(const cm *c, uint64_t bytes) { return cdiv(bytes, c->m->sram_bytes_per_cycle); }

enum { U_VMM, U_VECTOR, U_AFU, U_MEM };

/* busy = max(compute, port) on unit u, then the unit's latency; the port and unit cycles are kept for
 * the threads that share them */
static uint64_t charge(cm *c, int u, uint64_t compute, uint64_t rd, uint64_t wr, uint64_t lat)
{
    uint64_t s = sram(c, rd + wr), busy = umax(umax(compute, s), 1);
    c->act.sram_read_bytes += rd;
    c->act.sram_write_bytes += wr;
    c->port += s;
    c->busy[u] += busy;
    c->insns++;
    return busy + lat;
}

/* A hardware loop's body walked once stands for `times` passes: its actions, port and unit cycles
 * `times` over (its instructions once: the code holds them once). */
typedef struct snap {
    floe_actions act;
    uint64_t port, busy[4], insns;
} snap;

static void snap_take(const cm *c, snap *s)
{
    s->act = c->act;
    s->port = c->port;
    memcpy(s->busy, c->busy, sizeof s->busy);
    s->insns = c->insns;
}

static void snap_repeat(cm *c, const snap *s, uint64_t times)
{
    uint64_t *now = (uint64_t *)&c->act;
    const uint64_t *was = (const uint64_t *)&s->act;
    for (size_t i = 0; i < sizeof c->act / sizeof(uint64_t); i++)
        now[i] += (now[i] - was[i]) * (times - 1);
    c->port += (c->port - s->port) * (times - 1);
    for (int u = 0; u < 4; u++)
        c->busy[u] += (c->busy[u] - s->busy[u]) * (times - 1);
}

static int xp_of(int bits) { return bits == 4 ? FLOE_XP_I4 : bits == 16 ? FLOE_XP_I16 : FLOE_XP_I8; }
static int wp_of(int bits) { return bits == 2 ? FLOE_WP_I2 : bits == 4 ? FLOE_WP_I4 : FLOE_WP_I8; }

/* vmm / vmmr: k inputs of xbits times n outputs of wbits weights, over m rows read once */
static uint64_t i_vmm(cm *c, uint64_t k, uint64_t n, int xbits, int wbits, uint64_t m)
{
    floe_prec p = floe_prec_of(xp_of(xbits), wp_of(wbits));
    uint64_t macs = k * n * m;
    c->act.macs[p] += macs;
    uint64_t comp = umax(1, cdiv(macs, c->m->vmm_macs_per_cycle[p]));
    return charge(c, U_VMM, comp, bytes_for(xbits, k) * m + n * bytes_for(wbits, k), 0, c->m->vmm_latency_cycles);
}

/* c->rows token rows through a slice of n outputs: vmmr's of as many rows as the linear-output
 * accumulators hold (the compiler's batch_of: n x rows within 4096), each reading the weights once */
static uint64_t i_vmm_rows(cm *c, uint64_t k, uint64_t n, int xbits, int wbits)
{
    uint64_t m = (uint64_t)c->rows, most = n ? MAX_ROWS / n : m, t = 0;
    most = most < 1 ? 1 : most;
    for (uint64_t j = 0; j < m; j += most)
        t += i_vmm(c, k, n, xbits, wbits, m - j < most ? m - j : most);
    return t;
}

/* requant / vrequant: n values, multipliers mb bytes, int32 operands in memory inb, results ob; each
 * stream in whole port words of its own */
static uint64_t i_requant(cm *c, uint64_t n, uint64_t mb, uint64_t inb, uint64_t ob)
{
    uint64_t port = sram(c, mb) + sram(c, inb) + sram(c, ob);
    c->act.vector_ops += n;
    return charge(c, U_VECTOR, umax(port, cdiv(n, c->m->vector_ops_per_cycle)), mb + inb, ob,
                  c->m->vector_latency_cycles);
}

/* elementwise: n elements of eb bytes in (na operands), ob bytes each out; ops counted twice at int32 */
static uint64_t i_vec(cm *c, uint64_t n, int na, uint64_t eb, uint64_t ob, int i32)
{
    uint64_t ops = i32 ? 2 * n : n;
    c->act.vector_ops += ops;
    return charge(c, U_VECTOR, umax(1, cdiv(ops, c->m->vector_ops_per_cycle)), (uint64_t)na * n * eb, n * ob,
                  c->m->vector_latency_cycles);
}

static uint64_t pass(const cm *c, uint64_t ops, uint64_t rate, uint64_t bytes)
{
    return 1 + umax(cdiv(ops, rate), sram(c, bytes));
}

static uint64_t i_rmsnorm(cm *c, uint64_t n, uint64_t cb, uint64_t ob)
{
    const floe_machine *m = c->m;
    uint64_t seq = pass(c, n, m->vector_ops_per_cycle, 2 * n + 8) + m->vector_latency_cycles + 1 +
                   m->rsqrt_latency_cycles + pass(c, n, m->vector_ops_per_cycle, 2 * n + cb + ob);
    c->act.vector_ops += 2 * n + (cb > 8 ? n : 1);
    c->act.afu_ops += 1;
    return charge(c, U_AFU, seq, 4 * n + 8 + cb, ob, m->afu_latency_cycles);
}

/* The norm of a linear layer's input row: rmsnorm, or per token rmsnormt (the row's shift k after it). */
static uint64_t i_norm(cm *c, uint64_t n, uint64_t ob)
{
    if (!c->tok)
        return i_rmsnorm(c, n, 8, ob);
    const floe_machine *m = c->m;
    uint64_t seq = pass(c, n, m->vector_ops_per_cycle, 2 * n + 8) + m->vector_latency_cycles + 1 +
                   m->rsqrt_latency_cycles + pass(c, n, m->vector_ops_per_cycle, 2 * n + 12 + ob) + 2;
    c->act.vector_ops += 3 * n + (uint64_t)c->q->act_kmax + 1;
    c->act.afu_ops += 1;
    return charge(c, U_AFU, seq, 4 * n + 20, ob + 1, m->afu_latency_cycles);
}

/* A linear slice's outputs: requant per channel, or per token requantk (the input row's shift read). */
static uint64_t i_requant_lin(cm *c, uint64_t n, uint64_t ob)
{
    if (!c->tok)
        return i_requant(c, n, 8 * n, 0, ob);
    c->act.vector_ops += n + 1;
    return charge(c, U_VECTOR, cdiv(n + 1, c->m->vector_ops_per_cycle), 8 * n + 1, ob, c->m->vector_latency_cycles);
}

/* Per token: a whole int32 row to the activation width with its shift (vrequantt, two passes). */
static uint64_t i_vrequantt(cm *c, uint64_t n, uint64_t ob)
{
    const floe_machine *m = c->m;
    uint64_t seq = pass(c, n, m->vector_ops_per_cycle, 4 * n) + m->vector_latency_cycles +
                   pass(c, n, m->vector_ops_per_cycle, 4 * n + 12 + ob) + 2;
    c->act.vector_ops += 2 * n + (uint64_t)c->q->act_kmax + 1;
    return charge(c, U_VECTOR, seq, 4 * n + 12, ob + 1, m->vector_latency_cycles);
}

/* Per token: accumulators stored as int32 (a head's outputs before the row's shift is known). */
static uint64_t i_accst(cm *c, uint64_t n)
{
    c->act.vector_ops += 2 * n;
    return charge(c, U_VECTOR, cdiv(2 * n, c->m->vector_ops_per_cycle), 0, 4 * n, c->m->vector_latency_cycles);
}

/* A head's outputs from the accumulators: requantized, or per token stored as int32. */
static uint64_t i_head_out(cm *c, uint64_t hd)
{
    return c->tok ? i_accst(c, hd) : i_requant(c, hd, 8, 0, bytes_for(c->q->abits, hd));
}

static uint64_t i_softmax(cm *c, uint64_t n)
{
    const floe_machine *m = c->m;
    uint64_t seq = pass(c, n, m->vector_ops_per_cycle, 4 * n) + m->vector_latency_cycles +
                   pass(c, n, m->afu_ops_per_cycle, 4 * n) + m->afu_latency_cycles + 1 + m->recip_latency_cycles +
                   pass(c, n, m->afu_ops_per_cycle, 6 * n);
    c->act.afu_ops += 2 * n + 1;
    c->act.vector_ops += 2 * n;
    return charge(c, U_AFU, seq, 12 * n, 2 * n, m->afu_latency_cycles);
}

static uint64_t i_rope(cm *c, uint64_t n)
{
    uint64_t h = n / 2;
    uint64_t seq = umax(cdiv(h, c->m->vector_ops_per_cycle), 6 * sram(c, 2 * h));
    c->act.vector_ops += 2 * n;
    return charge(c, U_AFU, seq, 2 * n + 4 * h, 2 * n, c->m->afu_latency_cycles);
}

static uint64_t i_lut16(cm *c, uint64_t n, uint64_t ob)
{
    uint64_t table = 4 * (FLOE_LUT16_KNOTS + 2);
    c->act.afu_ops += n;
    return charge(c, U_AFU, cdiv(n, c->m->afu_ops_per_cycle) + sram(c, table), 2 * n + table, ob,
                  c->m->afu_latency_cycles);
}

static uint64_t i_copy(cm *c, uint64_t nb) { return charge(c, U_MEM, 0, nb, nb, c->m->sram_latency_cycles); }

static uint64_t i_ctrl(cm *c)
{
    c->insns++;
    return 1;
}

/* ---- the network on chip ------------------------------------------------------------------------ */

static void serp(const floe_machine *m, uint64_t i, int *x, int *y)
{
    uint64_t cols = m->cores_x, row = i / cols, col = i % cols;
    *x = (int)(row % 2 ? cols - 1 - col : col);
    *y = (int)row;
}

static uint64_t hops(const floe_machine *m, uint64_t a, uint64_t b)
{
    int xa, ya, xb, yb;
    serp(m, a, &xa, &ya);
    serp(m, b, &xb, &yb);
    return (uint64_t)(xa > xb ? xa - xb : xb - xa) + (uint64_t)(ya > yb ? ya - yb : yb - ya);
}

static uint64_t link_cycles(const cm *c, uint64_t nb)
{
    return umax(1, cdiv(nb, c->m->noc[FLOE_NOC_ACT].link_bytes_per_cycle));
}

/* A send of nb bytes from core a to core b started at t: its arrival (cut-through). */
static uint64_t arrival(cm *c, uint64_t a, uint64_t b, uint64_t nb, uint64_t t)
{
    uint64_t h = hops(c->m, a, b);
    c->act.noc_byte_hops[FLOE_NOC_ACT] += nb * h;
    return t + h * c->m->noc[FLOE_NOC_ACT].hop_cycles + link_cycles(c, nb);
}

/* The sender's side of a send: the port read and the link occupancy. */
static uint64_t i_send(cm *c, uint64_t nb)
{
    c->act.sram_read_bytes += nb;
    c->insns++;
    return link_cycles(c, nb);
}

/* A receive waits for its bytes, then takes a cycle. */
static uint64_t i_recv(cm *c, uint64_t t, uint64_t arr, uint64_t nb)
{
    c->act.sram_write_bytes += nb;
    c->insns++;
    return umax(t, arr) + 1;
}

/* Multicast rectangles covering serpentine indices i0..i1 (a partial row, full rows, a partial row). */
static int mcast_rects(const floe_machine *m, uint64_t i0, uint64_t i1)
{
    uint64_t cols = m->cores_x;
    int n = 0;
    while (i0 <= i1) {
        uint64_t row_end = (i0 / cols + 1) * cols - 1;
        if (i0 % cols == 0 && i1 >= row_end)
            i0 = ((i1 + 1) / cols) * cols;
        else
            i0 = (i1 < row_end ? i1 : row_end) + 1;
        n++;
    }
    return n;
}

/* ---- a layer group ------------------------------------------------------------------------------ */

enum { PART_ALL, PART_ATTN, PART_MLP };

typedef struct grp {
    int head, part;      /* the LM head (a vocabulary slice of vrows rows); or a layer, whole or a half */
    int ncores, attn, R; /* cores; attention cores, R ranges per KV head */
    int W;               /* weight cores (0: everything on the main core) */
    int vrows;           /* the head: its rows */
    uint64_t first;      /* the main core's serpentine index on its chip */
    int chip;
    uint64_t span;      /* cycles, from its input's arrival to its last instruction */
    uint64_t insns;     /* the most instructions of one of its cores */
    uint64_t insns_all; /* of all its cores */
} grp;

typedef struct lin {
    uint64_t in, out;
    int bits;
    uint64_t ob; /* result bytes per row sent back */
} lin;

/* Rows of a linear of `out` rows that weight core j holds (the compiler's spread: multiples of 8). */
static uint64_t slice_rows(uint64_t out, int W, int j)
{
    uint64_t per = round8(cdiv(out, (uint64_t)W)), r0 = per * (uint64_t)j;
    return r0 >= out ? 0 : out - r0 < per ? out - r0 : per;
}

/* One phase over the weight cores (output-channel slices): the input multicast to their run, each
 * core's vmm, requant and send per slice (with SwiGLU on its gate and up rows when fused), the main
 * core's receives in core order. Returns the main core's time after the last receive. */
static uint64_t phase_slices(cm *c, const grp *g, uint64_t t, const lin *l, int nl, uint64_t in_nb, int fused,
                             uint64_t *winsns)
{
    const int A = c->q->abits;
    const uint64_t w0 = g->first + 1 + (uint64_t)g->attn, w1 = g->first + (uint64_t)g->ncores - 1;
    const int rects = mcast_rects(c->m, w0, w1);
    uint64_t s_in = link_cycles(c, in_nb), t0 = t;
    for (int r = 0; r < rects; r++)
        t += i_send(c, in_nb);
    c->act.noc_byte_hops[FLOE_NOC_ACT] += in_nb * (uint64_t)(g->W + (int)hops(c->m, g->first, w0));
    uint64_t tm = t, vert_free = 0;
    for (int j = 0; j < g->W; j++) {
        const uint64_t wc = w0 + (uint64_t)j, h = hops(c->m, g->first, wc);
        uint64_t insns0 = c->insns, mr = 0;
        uint64_t tw = t0 + s_in * (uint64_t)rects + h * c->m->noc[FLOE_NOC_ACT].hop_cycles;
        tw = i_recv(c, tw, tw, in_nb);
        for (int i = 0; i < nl; i++) {
            uint64_t rows = slice_rows(l[i].out, g->W, j);
            if (!rows)
                continue;
            tw += i_vmm_rows(c, l[i].in, rows, A, l[i].bits);
            for (int r = 0; r < c->rows; r++) { /* each row requantized (its multipliers read again), sent */
                tw += i_requant_lin(c, rows, (fused ? 2 : l[i].ob) * rows);
                if (fused)
                    continue;
                uint64_t nb = l[i].ob * rows, s = tw;
                tw += i_send(c, nb);
                uint64_t arr = arrival(c, wc, g->first, nb, s);
                arr = umax(arr, vert_free + link_cycles(c, nb)); /* the results converge on the main core */
                vert_free = arr;
                tm = i_recv(c, tm, arr, nb);
                mr++; /* the main core's */
            }
        }
        if (fused) { /* silu(gate) * up on this core's rows, requantized, back as the down projection's input */
            uint64_t rows = slice_rows(l[0].out, g->W, j);
            for (int r = 0; rows && r < c->rows; r++) {
                tw += i_lut16(c, rows, 2 * rows);
                tw += i_vec(c, rows, 1, 2, 4, 0);
                tw += i_vec(c, rows, 1, 2, 4, 0);
                tw += i_vec(c, rows, 2, 4, 4, 1);
                if (!c->tok) /* per token the int32 products go to the main core, which scales the row */
                    tw += i_requant(c, rows, 8, 4 * rows, bytes_for(A, rows));
                uint64_t nb = c->tok ? 4 * rows : bytes_for(A, rows), s = tw;
                tw += i_send(c, nb);
                uint64_t arr = umax(arrival(c, wc, g->first, nb, s), vert_free + link_cycles(c, nb));
                vert_free = arr;
                tm = i_recv(c, tm, arr, nb);
                mr++; /* the main core's */
            }
        }
        *winsns += c->insns - insns0 - mr; /* the weight core's own */
    }
    return tm;
}

/* The down projection over chains of two neighbours: input-row halves, partial sums from link 0 to
 * link 1 on the partial-sum network, link 1 requantizes and sends its rows. */
static uint64_t phase_down(cm *c, const grp *g, uint64_t t, uint64_t *winsns)
{
    const int A = c->q->abits, bits = floe_qconfig_linear_wbits_of(c->q, 0, FLOE_LIN_DOWN);
    const uint64_t d = (uint64_t)c->cf->d_model, f = (uint64_t)c->cf->ffn_dim, in_nb = bytes_for(A, f);
    const uint64_t w0 = g->first + 1 + (uint64_t)g->attn, w1 = g->first + (uint64_t)g->ncores - 1;
    const int rects = mcast_rects(c->m, w0, w1), pairs = g->W / 2;
    const uint64_t chunk = round8(cdiv(f, 2)), per = round8(cdiv(d, (uint64_t)pairs));
    const floe_noc *pn = &c->m->noc[FLOE_NOC_PSUM];
    uint64_t s_in = link_cycles(c, in_nb), t0 = t;
    for (int r = 0; r < rects; r++)
        t += i_send(c, in_nb);
    c->act.noc_byte_hops[FLOE_NOC_ACT] += in_nb * (uint64_t)(g->W + (int)hops(c->m, g->first, w0));
    uint64_t tm = t, vert_free = 0;
    for (int a = 0; a < pairs; a++) {
        uint64_t r0 = per * (uint64_t)a;
        if (r0 >= d)
            break;
        uint64_t rows = d - r0 < per ? d - r0 : per, insns0 = c->insns, mr = 0;
        uint64_t c0 = w0 + 2 * (uint64_t)a, c1 = c0 + 1;
        uint64_t t_0 = t0 + s_in * (uint64_t)rects + hops(c->m, g->first, c0) * c->m->noc[FLOE_NOC_ACT].hop_cycles;
        uint64_t t_1 = t0 + s_in * (uint64_t)rects + hops(c->m, g->first, c1) * c->m->noc[FLOE_NOC_ACT].hop_cycles;
        uint64_t m = (uint64_t)c->rows;
        t_0 = i_recv(c, t_0, t_0, in_nb) + i_vmm_rows(c, chunk, rows, A, bits);
        uint64_t ps = umax(1, cdiv(4 * rows * m, pn->link_bytes_per_cycle));
        c->insns++;
        c->act.noc_byte_hops[FLOE_NOC_PSUM] += 4 * rows * m;
        uint64_t parr = t_0 + pn->hop_cycles + ps;
        t_1 = i_recv(c, t_1, t_1, in_nb) + i_vmm_rows(c, f - chunk, rows, A, bits);
        t_1 = umax(t_1, parr) + umax(1, cdiv(rows * m, c->m->vector_ops_per_cycle));
        c->insns++;
        for (uint64_t r = 0; r < m; r++) {
            t_1 += i_requant_lin(c, rows, 2 * rows);
            uint64_t nb = 2 * rows, s = t_1;
            t_1 += i_send(c, nb);
            uint64_t arr = umax(arrival(c, c1, g->first, nb, s), vert_free + link_cycles(c, nb));
            vert_free = arr;
            tm = i_recv(c, tm, arr, nb);
            mr++; /* the main core's */
        }
        *winsns += c->insns - insns0 - mr; /* the chain's two cores' own */
    }
    return tm;
}

/* The same phase on the main core itself (a group whose weights all fit it). */
static uint64_t phase_local(cm *c, uint64_t t, const lin *l, int nl)
{
    const int A = c->q->abits;
    for (int i = 0; i < nl; i++) {
        t += i_vmm_rows(c, l[i].in, l[i].out, A, l[i].bits);
        for (int r = 0; r < c->rows; r++) /* each row requantized, its multipliers read again */
            t += i_requant_lin(c, l[i].out, l[i].ob * l[i].out);
    }
    return t;
}

/* The sum over n positions of p V (emit_pv): a vmm per whole transposed block, one per row of the
 * block being filled, in hardware loops. */
static uint64_t pv(cm *c, uint64_t n)
{
    const uint64_t hd = (uint64_t)c->cf->head_dim, nf = n / c->vb, rest = n - nf * c->vb;
    uint64_t t = 0;
    snap sn;
    if (nf > 0) {
        t += i_vmm(c, c->vb, hd, 16, 8, 1);
        if (nf > 1) { /* a loop over the other blocks: vmm, addi */
            t += 3 * i_ctrl(c);
            snap_take(c, &sn);
            uint64_t body = i_vmm(c, c->vb, hd, 16, 8, 1) + i_ctrl(c);
            snap_repeat(c, &sn, nf - 1);
            t += body * (nf - 1);
        }
    }
    if (rest > 0) {
        t += i_vmm(c, 1, hd, 16, 8, 1);
        if (rest > 1) { /* a loop over the other rows of the block being filled */
            t += 3 * i_ctrl(c);
            snap_take(c, &sn);
            uint64_t body = i_vmm(c, 1, hd, 16, 8, 1) + i_ctrl(c);
            snap_repeat(c, &sn, rest - 1);
            t += body * (rest - 1);
        }
    }
    return t;
}

/* The transposition of a V block that position pos completes (emit_transpose), or 0. */
static uint64_t transpose(cm *c, uint64_t i)
{
    if (i % c->vb != c->vb - 1)
        return 0;
    const uint64_t hd = (uint64_t)c->cf->head_dim;
    uint64_t t = 3 * i_ctrl(c);
    snap sn;
    snap_take(c, &sn);
    uint64_t body = i_vmm(c, hd, c->vb, 8, 8, 1) + i_requant(c, c->vb, 8, 0, c->vb) + i_ctrl(c);
    snap_repeat(c, &sn, hd);
    return t + body * hd + i_copy(c, c->vb * hd);
}

/* One query head's scores over n positions (chunks of the thread's accumulators), into int32 z. */
static uint64_t scores(cm *c, uint64_t n, uint64_t chunk)
{
    const uint64_t hd = (uint64_t)c->cf->head_dim;
    uint64_t t = 0;
    for (uint64_t s0 = 0; s0 < n; s0 += chunk) {
        uint64_t m = n - s0 < chunk ? n - s0 : chunk;
        t += i_vmm(c, hd, m, 16, 8, 1) + i_requant(c, m, 8, 0, 4 * m);
    }
    return t;
}

/* fc_emit_attention: nh query heads over the cache's positions 0..pos on one core, shared round-robin
 * by its threads: the longer of one thread's chain of heads and the port cycles of all heads. */
static uint64_t attention_heads(cm *c, uint64_t nh, uint64_t pos)
{
    const uint64_t hd = (uint64_t)c->cf->head_dim, nt = (uint64_t)c->nthr, n = pos + 1;
    uint64_t p0 = c->port, b0[4], b1[4], b2[4];
    memcpy(b0, c->busy, sizeof b0);
    uint64_t chain = 0, sc_busy = 0, sm_busy = 0, pv_chain = 0, ho = 0;
    for (uint64_t h = 0; h < nh; h++) {
        uint64_t sc = scores(c, n, ACC_SCORES / nt);
        memcpy(b1, c->busy, sizeof b1);
        uint64_t sm = i_softmax(c, n);
        memcpy(b2, c->busy, sizeof b2);
        pv_chain = pv(c, n);
        ho = i_head_out(c, hd);
        chain = sc + sm + pv_chain + ho;
        if (h == 0) {
            sc_busy = b1[U_VMM] - b0[U_VMM] + b1[U_VECTOR] - b0[U_VECTOR];
            sm_busy = b2[U_AFU] - b1[U_AFU];
        }
    }
    if (nt == 1 || nh == 1)
        return chain * nh;
    uint64_t bound = c->port - p0; /* the threads share the port and each unit */
    for (int u = 0; u < 4; u++)
        bound = umax(bound, c->busy[u] - b0[u]);
    /* the threads start together, so their scores queue for the port one after another, then their
     * softmaxes for the lookup unit; the last head's output follows its softmax */
    uint64_t staged = nh * sc_busy + nh * sm_busy + c->m->afu_latency_cycles + pv_chain + ho;
    return umax(umax(chain * cdiv(nh, nt), bound), staged) + 2;
}

/* The attention of one user's token at pos on a group's attention cores (R ranges per KV head), from
 * the main core's sends at t_send[hk] on; returns when the main core has every head's output. */
static uint64_t attention_cores(cm *c, const grp *g, uint64_t tm, const uint64_t *t_q, uint64_t pos, uint64_t *amax,
                                uint64_t *atotal)
{
    const floe_model_config *cf = c->cf;
    const uint64_t hd = (uint64_t)cf->head_dim, nkv = (uint64_t)cf->n_kv_heads,
                   group = (uint64_t)(cf->n_heads / cf->n_kv_heads);
    const uint64_t R = (uint64_t)g->R;
    const int A = c->q->abits;
    const floe_noc *pn = &c->m->noc[FLOE_NOC_PSUM];
    const uint64_t rlen = cdiv(c->kv, R), ra = pos / rlen, qb = 2 * group * hd,
                   ob = c->tok ? 4 * group * hd : bytes_for(A, group * hd);
    const uint64_t nr = ra + 1;
    uint64_t *tr = calloc(4 * nr, sizeof *tr), *zarr = tr + nr, *parr = zarr + nr, *ins = parr + nr;
    if (!tr) { /* floe_cost_estimate reports it */
        c->oom = 1;
        return tm;
    }
    uint64_t out_free = 0, i0;
#define COUNT(r, stmt)                                                                                                 \
    do {                                                                                                               \
        i0 = c->insns;                                                                                                 \
        stmt;                                                                                                          \
        ins[r] += c->insns - i0;                                                                                       \
    } while (0)
    for (uint64_t hk = 0; hk < nkv; hk++) {
        uint64_t kl = g->first + 1 + hk * R;
        memset(ins, 0, sizeof *ins * nr);
        for (uint64_t r = 0; r < nr; r++) { /* queries (and the K, V rows) in; this range's scores */
            uint64_t core = kl + r, n = r < ra ? rlen : pos - ra * rlen + 1, t = 0;
            uint64_t a = arrival(c, g->first, core, qb, t_q[hk]);
            COUNT(r, t = i_recv(c, a, a, qb));
            if (r == ra) {
                uint64_t ak = arrival(c, g->first, core, hd, t_q[hk] + link_cycles(c, qb));
                uint64_t av = arrival(c, g->first, core, hd, t_q[hk] + link_cycles(c, qb) + 1);
                COUNT(r, t = i_recv(c, i_recv(c, t, ak, hd), av, hd); t += transpose(c, pos - r * rlen));
            }
            if (R == 1) { /* the whole cache here: the heads over the core's threads, back to the main core */
                uint64_t s;
                COUNT(r, t += attention_heads(c, group, pos); s = t; t += i_send(c, ob));
                uint64_t arr = umax(arrival(c, core, g->first, ob, s), out_free + link_cycles(c, ob));
                out_free = arr;
                tm = i_recv(c, tm, arr, ob);
                tr[r] = t;
                break;
            }
            for (uint64_t j = 0; j < group; j++)
                COUNT(r, t += scores(c, n, ACC_SCORES));
            if (r > 0) {
                uint64_t s = t;
                for (uint64_t j = 0; j < group; j++)
                    COUNT(r, t += i_send(c, 4 * n));
                zarr[r] = arrival(c, core, kl, 4 * n * group, s);
            }
            tr[r] = t;
        }
        if (R > 1) {
            /* the leader: every range's scores, the softmax of each query head's whole row, the
             * probabilities back */
            uint64_t tl = tr[0];
            for (uint64_t r = 1; r < nr; r++)
                for (uint64_t j = 0; j < group; j++)
                    COUNT(0, tl = i_recv(c, tl, zarr[r], 0));
            for (uint64_t j = 0; j < group; j++)
                COUNT(0, tl += i_softmax(c, pos + 1));
            for (uint64_t r = 1; r < nr; r++) {
                uint64_t n = r < ra ? rlen : pos - ra * rlen + 1, s = tl;
                for (uint64_t j = 0; j < group; j++)
                    COUNT(0, tl += i_send(c, 2 * n));
                parr[r] = arrival(c, kl, kl + r, 2 * n * group, s);
            }
            tr[0] = tl;
            for (uint64_t r = 1; r < nr; r++)
                for (uint64_t j = 0; j < group; j++)
                    COUNT(r, tr[r] = i_recv(c, tr[r], parr[r], 0));
            for (uint64_t r = 0; r < nr; r++) { /* this range's part of every head's output */
                uint64_t n = r < ra ? rlen : pos - ra * rlen + 1;
                for (uint64_t j = 0; j < group; j++)
                    COUNT(r, tr[r] += pv(c, n));
            }
            /* the partial sums down the chain to the leader */
            uint64_t nacc = group * hd, carry = 0;
            for (uint64_t r = nr; r-- > 0;) {
                if (r + 1 < nr) {
                    tr[r] = umax(tr[r], carry) + umax(1, cdiv(nacc, c->m->vector_ops_per_cycle));
                    COUNT(r, i_ctrl(c));
                }
                if (r > 0) {
                    uint64_t ps = umax(1, cdiv(4 * nacc, pn->link_bytes_per_cycle));
                    COUNT(r, i_ctrl(c));
                    c->act.noc_byte_hops[FLOE_NOC_PSUM] += 4 * nacc;
                    carry = tr[r] + pn->hop_cycles + ps;
                }
            }
            tl = tr[0];
            for (uint64_t j = 0; j < group; j++)
                COUNT(0, tl += i_head_out(c, hd));
            uint64_t s = tl;
            COUNT(0, tl += i_send(c, ob));
            uint64_t arr = umax(arrival(c, kl, g->first, ob, s), out_free + link_cycles(c, ob));
            out_free = arr;
            tm = i_recv(c, tm, arr, ob);
        }
        for (uint64_t r = 0; r < nr; r++) {
            *amax = umax(*amax, ins[r]);
            *atotal += ins[r];
        }
    }
#undef COUNT
    free(tr);
    return tm;
}

/* A group's decode step for the token at pos: its main core's instruction sequence (main_layer_rows,
 * fc_emit_group), with the phases on its weight and attention cores. t: when its input is in. */
static uint64_t group_step(cm *c, grp *g, uint64_t pos)
{
    const floe_model_config *cf = c->cf;
    const int A = c->q->abits;
    int wb[FLOE_LAYER_LINEARS]; /* every layer priced with layer 0's widths, as the plan's summary maps it */
    for (int j = 0; j < FLOE_LAYER_LINEARS; j++)
        wb[j] = floe_qconfig_linear_wbits_of(c->q, 0, j);
    const uint64_t d = (uint64_t)cf->d_model, f = (uint64_t)cf->ffn_dim, hd = (uint64_t)cf->head_dim;
    const uint64_t nh = (uint64_t)cf->n_heads, nkv = (uint64_t)cf->n_kv_heads, kvw = nkv * hd;
    const uint64_t m = (uint64_t)c->rows;
    uint64_t i_main0 = c->insns, winsns = 0, ainsns = 0, atotal = 0;
    uint64_t t = 0;
    if (g->head) {
        lin h = {d, (uint64_t)g->vrows, c->q->head_bits, 2};
        for (uint64_t r = 0; r < m; r++)
            t += i_norm(c, d, bytes_for(A, d));
        t = g->W ? phase_slices(c, g, t, &h, 1, bytes_for(A, d) * m, 0, &winsns) : phase_local(c, t, &h, 1);
        g->insns = umax(c->insns - i_main0 - winsns, g->W ? cdiv(winsns, (uint64_t)g->W) : 0);
        g->insns_all = c->insns - i_main0;
        return t;
    }
    if (g->part != PART_MLP) {
        for (uint64_t r = 0; r < m; r++)
            t += i_norm(c, d, bytes_for(A, d));
        lin qkv[3] = {{d, d, wb[FLOE_LIN_Q], 2}, {d, kvw, wb[FLOE_LIN_K], 2}, {d, kvw, wb[FLOE_LIN_V], 1}};
        uint64_t *t_q = g->attn ? calloc(m * nkv, sizeof *t_q) : NULL, t_rows = 0; /* sends to the attention cores */
        c->oom |= g->attn && !t_q;
        t = g->W ? phase_slices(c, g, t, qkv, 3, bytes_for(A, d) * m, 0, &winsns) : phase_local(c, t, qkv, 3);
        for (uint64_t r = 0; r < m; r++) {
            for (uint64_t h = 0; h < nh + nkv; h++)
                t += i_rope(c, hd);
            t += i_vec(c, kvw, 1, 2, 4, 0);
            for (uint64_t h = 0; h < nkv; h++)
                t += i_requant(c, hd, 8, 4 * hd, hd);
            if (g->attn) { /* every row's queries and K, V rows out first; the outputs come back below */
                for (uint64_t h = 0; h < nkv; h++) {
                    if (t_q)
                        t_q[r * nkv + h] = t;
                    t += i_send(c, 2 * (nh / nkv) * hd) + i_send(c, hd) + i_send(c, hd);
                }
            } else {
                for (uint64_t h = 0; h < nkv; h++)
                    t += i_copy(c, hd) + transpose(c, pos);
                t += attention_heads(c, nh, pos);
                if (c->tok) /* the row of all heads: its shift, its codes */
                    t += i_vrequantt(c, d, bytes_for(A, d));
            }
        }
        for (uint64_t r = 0; t_q && r < m; r++) { /* the attention cores take the rows in order */
            for (uint64_t h = 0; h < nkv; h++)
                t_q[r * nkv + h] = umax(t_q[r * nkv + h], t_rows);
            t = attention_cores(c, g, t, t_q + r * nkv, pos, &ainsns, &atotal);
            t_rows = t;
            if (c->tok)
                t += i_vrequantt(c, d, bytes_for(A, d));
        }
        free(t_q);
        lin o = {d, d, wb[FLOE_LIN_O], 2};
        t = g->W ? phase_slices(c, g, t, &o, 1, bytes_for(A, d) * m, 0, &winsns) : phase_local(c, t, &o, 1);
        for (uint64_t r = 0; r < m; r++)
            t += i_vec(c, d, 2, 2, 2, 0);
    }
    if (g->part != PART_ATTN) {
        for (uint64_t r = 0; r < m; r++)
            t += i_norm(c, d, bytes_for(A, d));
        lin gu[2] = {{d, f, wb[FLOE_LIN_GATE], 2}, {d, f, wb[FLOE_LIN_UP], 2}};
        if (g->W) {
            t = phase_slices(c, g, t, gu, 2, bytes_for(A, d) * m, 1, &winsns);
            for (uint64_t r = 0; c->tok && r < m; r++)
                t += i_vrequantt(c, f, bytes_for(A, f));
        } else {
            t = phase_local(c, t, gu, 2);
            for (uint64_t r = 0; r < m; r++) {
                t += i_lut16(c, f, 2 * f);
                t += i_vec(c, f, 1, 2, 4, 0) + i_vec(c, f, 1, 2, 4, 0) + i_vec(c, f, 2, 4, 4, 1);
                t += c->tok ? i_vrequantt(c, f, bytes_for(A, f)) : i_requant(c, f, 8, 4 * f, bytes_for(A, f));
            }
        }
        lin dn = {f, d, wb[FLOE_LIN_DOWN], 2};
        t = g->W ? phase_down(c, g, t, &winsns) : phase_local(c, t, &dn, 1);
        for (uint64_t r = 0; r < m; r++)
            t += i_vec(c, d, 2, 2, 2, 0);
    }
    uint64_t main = c->insns - i_main0 - winsns - atotal;
    g->insns = umax(main, umax(ainsns, g->W ? cdiv(winsns, (uint64_t)g->W) : 0));
    g->insns_all = c->insns - i_main0;
    return t;
}

/* ---- the pipeline ------------------------------------------------------------------------------- */

#define MAX_GROUPS 4096

typedef struct pipe {
    grp g[MAX_GROUPS];
    int n, chips;
} pipe;

/* The plan's groups in pipeline order and their chips (groups fill a chip while their cores fit). */
static int lay_out(const floe_model_config *cf, const floe_machine *mach, const floe_plan_summary *s, pipe *p)
{
    const int per_chip = (int)(mach->cores_x * mach->cores_y), nkv = cf->n_kv_heads;
    int n = 0;
    for (int l = 0; l < cf->n_layers; l++) {
        int parts = s->layer_halves ? 2 : 1;
        for (int h = 0; h < parts; h++) {
            if (n >= MAX_GROUPS)
                return -1;
            grp *g = &p->g[n++];
            memset(g, 0, sizeof *g);
            g->part = parts == 1 ? PART_ALL : h == 0 ? PART_ATTN : PART_MLP;
            g->ncores = parts == 1 ? s->layer_cores : s->half_cores[h];
            g->attn = g->part == PART_MLP ? 0 : s->layer_attn_cores;
            g->R = g->attn ? g->attn / nkv : 0;
            g->W = g->ncores - 1 - g->attn;
        }
    }
    for (int h = 0; h < s->head_slices; h++) {
        if (n >= MAX_GROUPS)
            return -1;
        grp *g = &p->g[n++];
        memset(g, 0, sizeof *g);
        g->head = 1;
        int per = (int)round8(cdiv((uint64_t)cf->vocab_size, (uint64_t)s->head_slices));
        g->vrows = h + 1 < s->head_slices ? per : cf->vocab_size - per * (s->head_slices - 1);
        g->ncores = s->head_cores / s->head_slices + (h < s->head_cores % s->head_slices);
        g->W = g->ncores > 1 ? g->ncores - 1 : 0;
    }
    int chip = 0, used = 0;
    for (int k = 0; k < n; k++) {
        if (used + p->g[k].ncores > per_chip) {
            chip++;
            used = 0;
        }
        p->g[k].chip = chip;
        p->g[k].first = (uint64_t)used;
        used += p->g[k].ncores;
    }
    p->n = n;
    p->chips = chip + 1;
    return 0;
}

typedef struct step {
    double latency_s, load_s, static_j, dynamic_j, slowest_s;
    int stages;
    floe_serving_time st[2 * MAX_GROUPS]; /* every group's and chip link's gap and busy time, in order */
} step;

/* One program through every group and chip: chip by chip, its instruction loading, its groups one
 * after another (the residual stream over the NoC between them), then the chip link. The program
 * computes `rows` token rows at pos in batches of B (the compiler's emit: full batches, then the rest;
 * a decode step: 1 of 1). Stage times are taken as the deployment check takes them (verify/verify.h,
 * floe_stage_time): a group from the previous stage's end to its last instruction, a link its bytes
 * over bandwidth, its latency the next group's gap. */
static void run_step(cm *c, pipe *p, uint64_t pos, int rows, int B, const floe_energy_cost *ec, step *st)
{
    const floe_machine *m = c->m;
    const uint64_t d = (uint64_t)c->cf->d_model, xb = 2 * d * (uint64_t)rows;
    const floe_noc *in = &m->noc[FLOE_NOC_INSTR];
    const double clk = (double)m->clock_hz, chip_w = ec ? floe_energy_static_w(ec, m) : 0.0;
    const int full = rows / B, rest = rows % B;
    uint64_t pcie = 0, eth = 0;
    memset(st, 0, sizeof *st);
    memset(&c->act, 0, sizeof c->act);
    for (int k = 0; k < p->n; k++) {
        grp *g = &p->g[k];
        uint64_t span = 0, insns = 0, all = 0;
        if (full > 0) {
            floe_actions a0 = c->act;
            c->rows = B;
            span = group_step(c, g, pos) * (uint64_t)full;
            uint64_t *now = (uint64_t *)&c->act, *was = (uint64_t *)&a0; /* the same batch again */
            for (size_t i = 0; i < sizeof c->act / sizeof(uint64_t); i++)
                now[i] += (now[i] - was[i]) * (uint64_t)(full - 1);
            insns = g->insns * (uint64_t)full;
            all = g->insns_all * (uint64_t)full;
        }
        if (rest > 0) { /* the last, shorter batch */
            c->rows = rest;
            span += group_step(c, g, pos);
            insns += g->insns;
            all += g->insns_all;
        }
        g->span = span;
        g->insns = insns;
        g->insns_all = all;
    }
    c->rows = 1;
    double t_s = 0, gap_s = 0; /* the step so far; the next stage's gap */
    int k = 0, ns = 0;
    for (int chip = 0; chip < p->chips; chip++) {
        uint64_t load = 0, t = 0;
        int k0 = k;
        for (; k < p->n && p->g[k].chip == chip; k++) {
            const grp *g = &p->g[k];
            int x, y;
            serp(m, g->first + (uint64_t)g->ncores - 1, &x, &y);
            load = umax(load, cdiv((uint64_t)FLOE_INSN_BYTES * g->insns, in->link_bytes_per_cycle) +
                                  (uint64_t)(y + 1) * in->hop_cycles);
            c->act.noc_byte_hops[FLOE_NOC_INSTR] += (uint64_t)FLOE_INSN_BYTES * g->insns_all * (uint64_t)(y + 1);
        }
        t = load;
        gap_s += (double)load / clk;
        for (int j = k0; j < k; j++) {
            const grp *g = &p->g[j];
            uint64_t busy = g->span + 1; /* its input's receive, then its instructions */
            if (j + 1 < k) {             /* the residual stream to the next group's main core */
                uint64_t s = t + busy;
                busy += i_send(c, xb);
                uint64_t arr = arrival(c, g->first, p->g[j + 1].first, xb, s);
                st->st[ns++] = (floe_serving_time){gap_s, (double)busy / clk};
                gap_s = (double)(arr - s - (busy - g->span - 1)) / clk;
                t = arr;
            } else {
                st->st[ns++] = (floe_serving_time){gap_s, (double)busy / clk};
                gap_s = 0;
                t += busy;
            }
            st->slowest_s = st->slowest_s > (double)busy / clk ? st->slowest_s : (double)busy / clk;
        }
        double chip_s = (double)t / clk;
        t_s += chip_s;
        st->load_s += (double)load / clk;
        st->static_j += chip_s * chip_w;
        if (chip + 1 < p->chips) { /* the chip link: latency and bytes over bandwidth */
            uint64_t ca = (uint64_t)chip / m->chips_per_card, cb = (uint64_t)(chip + 1) / m->chips_per_card;
            int same = ca / m->cards_per_server == cb / m->cards_per_server;
            double bw = (double)(same ? m->pcie_bytes_per_s : m->eth_bytes_per_s);
            double lat = (double)(same ? m->pcie_latency_ns : m->eth_latency_ns) * 1e-9, wire = (double)xb / bw;
            t_s += lat + wire;
            st->st[ns++] = (floe_serving_time){0, wire};
            gap_s = lat;
            st->slowest_s = st->slowest_s > wire ? st->slowest_s : wire;
            if (same)
                pcie += xb;
            else
                eth += xb;
        }
    }
    st->stages = ns;
    st->latency_s = t_s;
    if (ec) {
        floe_energy_breakdown b;
        floe_energy_of(&c->act, ec, 0.0, 0, 0, &b);
        st->dynamic_j = b.total_j + ((double)pcie * ec->pcie_pj_per_byte + (double)eth * ec->eth_pj_per_byte) * 1e-12;
    }
}

/* The prefill of a P-token prompt as the deployment check runs it (verify/verify.h, price_prompt): up
 * to T tokens one program of P rows; longer, programs of T rows (region "x" holds T), one after
 * another on the same chips, each loading its instructions and attending over the positions the
 * earlier ones wrote (priced at its rows' middle position). A program's rows go in batches of the
 * plan's reuse rows B (at most its rows), each reading the weights once. The programs' latencies,
 * energies and stage times add into *pf (one: scratch); returns how many there are, the chunks the
 * serving model pipelines a prompt in. */
static int run_prefill(cm *c, pipe *p, int P, int T, int B, const floe_energy_cost *ec, step *pf, step *one)
{
    const int chunk = P <= T ? P : T, b = B < chunk ? B : chunk;
    int n = 0;
    for (int p0 = 0; p0 < P; p0 += chunk, n++) {
        const int rows = P - p0 < chunk ? P - p0 : chunk;
        step *s = n == 0 ? pf : one;
        run_step(c, p, (uint64_t)(p0 + rows / 2), rows, b, ec, s);
        if (n == 0)
            continue;
        pf->latency_s += s->latency_s;
        pf->load_s += s->load_s;
        pf->static_j += s->static_j;
        pf->dynamic_j += s->dynamic_j;
        pf->slowest_s = pf->slowest_s > s->slowest_s ? pf->slowest_s : s->slowest_s;
        for (int i = 0; i < s->stages; i++) {
            pf->st[i].gap_s += s->st[i].gap_s;
            pf->st[i].busy_s += s->st[i].busy_s;
        }
    }
    return n;
}

/* ---- the estimate ------------------------------------------------------------------------------- */

static int nthreads(const floe_machine *m, const floe_model_config *cf)
{
    int nt = (int)m->threads_per_core;
    nt = nt > 8 ? 8 : nt < 1 ? 1 : nt;
    nt = nt > cf->n_heads ? cf->n_heads : nt;
    while (nt > 1 && nt * cf->head_dim > ACC_HEADS)
        nt--;
    return nt;
}

int floe_cost_estimate(const floe_model_config *cf, const floe_qconfig *q, const floe_machine *mach,
                       const floe_energy_table *e, const floe_cost_opts *o, floe_cost_result *r, floe_err *err)
{
    memset(r, 0, sizeof *r);
    int T = o->tokens > 0 ? o->tokens : 16, P = o->prompt > 0 ? o->prompt : T;
    int kv = o->kv_tokens;
    int D = o->decode_steps;
    if (kv <= 0)
        kv = P + (D > 0 ? D : 32);
    if (kv > cf->context)
        return floe_err_set(err, "a KV cache of %d positions: the model's context is %d", kv, cf->context);
    if (T > kv)
        T = kv;
    int room = kv - P;
    if (D <= 0)
        D = room < 32 ? room : 32;
    if (D < 1 || D > room)
        return floe_err_set(err, "a %d-token prompt and %d decode step(s) need %d positions: the KV cache holds %d", P,
                            D < 1 ? 1 : D, P + (D < 1 ? 1 : D), kv);
    floe_compile_opts co = {.tokens = T, .kv_tokens = kv, .core_weight_bytes = o->core_weight_bytes};
    floe_plan_summary ps;
    floe_err perr;
    r->kv_tokens = kv;
    r->pos = kv - 1;
    if (floe_compile_plan(cf, q, mach, &co, &ps, &perr) != 0) {
        snprintf(r->unfit, sizeof r->unfit, "%s", perr.msg);
        return 0;
    }
    r->fits = 1;
    int ulo = 1, uhi = 4096; /* the users whose caches fit, bisected as the deployment check does */
    while (ulo < uhi) {
        int mid = ulo + (uhi - ulo + 1) / 2;
        floe_compile_opts mo = co;
        floe_plan_summary ms;
        mo.users = mid;
        if (floe_compile_plan(cf, q, mach, &mo, &ms, &perr) == 0)
            ulo = mid;
        else
            uhi = mid - 1;
    }
    r->max_users = ulo;
    if (o->users > r->max_users)
        return floe_err_set(err, "--users %d: the KV caches of %d user(s) of %d positions fit (%d short)", o->users,
                            r->max_users, kv, o->users - r->max_users);
    int n = cf->n_layers;
    r->users = o->users > 0 ? o->users : o->users < 0 || r->max_users < n + 1 ? r->max_users : n + 1;
    co.users = r->users;
    if (floe_compile_plan(cf, q, mach, &co, &ps, &perr) != 0)
        return floe_err_set(err, "%d users: %s", r->users, perr.msg);
    /* the pipeline and the steps' stage times: large, and each call's own (estimates may run in
     * threads side by side) */
    struct work {
        pipe p;
        step at, chk, pf, one;
    } *wk = calloc(1, sizeof *wk);
    if (!wk)
        return floe_err_set(err, "out of memory for the cost model's pipeline");
    pipe *pp = &wk->p;
    if (lay_out(cf, mach, &ps, pp) != 0) {
        free(wk);
        return floe_err_set(err, "more than %d groups in the pipeline", MAX_GROUPS);
    }
    r->chips = ps.chips;
    r->cards = (int)cdiv((uint64_t)ps.chips, mach->chips_per_card);
    r->cores_used = (int)ps.cores;
    r->core_mem_high_water = ps.mem_max;
    r->stages = pp->n + ps.chips - 1;
    floe_energy_cost ec;
    if (e)
        floe_energy_costs(e, &ec);
    cm c = {.m = mach,
            .cf = cf,
            .q = q,
            .rows = 1,
            .nthr = nthreads(mach, cf),
            .tok = q->act_scaling == FLOE_ACT_PER_TOKEN,
            .kv = (uint64_t)kv,
            .vb = kv < FLOE_COMPILE_V_BLOCK ? (uint64_t)kv : FLOE_COMPILE_V_BLOCK};
    /* decode at the cache's last position (the check's priced step), and at the last checked one
     * (T + 1: the check runs 2 decode steps after its prefill) for the serving line between them */
    step *at = &wk->at, *chk = &wk->chk, *pf = &wk->pf;
    const int p0 = T + 1 < kv - 1 ? T + 1 : kv - 1;
    run_step(&c, pp, (uint64_t)(kv - 1), 1, 1, e ? &ec : NULL, at);
    run_step(&c, pp, (uint64_t)p0, 1, 1, e ? &ec : NULL, chk);
    const int chunks = run_prefill(&c, pp, P, T, ps.reuse_rows > 0 ? ps.reuse_rows : 1, e ? &ec : NULL, pf, &wk->one);
    if (c.oom) {
        free(wk);
        return floe_err_set(err, "out of memory for the cost model's attention ranges");
    }
    r->decode_s = at->latency_s;
    r->load_s = at->load_s;
    r->prefill_s_per_token = pf->latency_s / (double)P;
    double x = 0.5 * (double)(2 * P + D - 1); /* the mean position served */
    double w = kv - 1 > p0 ? (x - p0) / (double)(kv - 1 - p0) : 0.0;
    r->token_latency_s = chk->latency_s + w * (at->latency_s - chk->latency_s);
    r->slowest_stage_s = chk->slowest_s + w * (at->slowest_s - chk->slowest_s);
    floe_serving_stage *sv = calloc((size_t)at->stages, sizeof *sv);
    if (!sv) {
        int n = at->stages;
        free(wk);
        return floe_err_set(err, "out of memory for %d stages", n);
    }
    for (int i = 0; i < at->stages; i++)
        sv[i] = (floe_serving_stage){pf->st[i], {chk->st[i], at->st[i]}};
    double chip_w = e ? floe_energy_static_w(&ec, mach) : 0.0;
    r->static_w = chip_w * (double)ps.chips;
    floe_serving_pipeline sp = {.stages = at->stages,
                                .stage = sv,
                                .pos = {p0, kv - 1},
                                .decode_j = {chk->dynamic_j, at->dynamic_j},
                                .static_w = r->static_w,
                                .cards = r->cards,
                                .prefill_chunks = chunks};
    floe_serving_load load = {r->users, P, D, 0.0};
    floe_serving_result res;
    int rc = floe_serving_run(&sp, &load, &res, err);
    free(sv);
    if (rc != 0) {
        free(wk);
        return -1;
    }
    r->tokens_per_s = res.tokens_per_s;
    if (e) {
        r->dynamic_j_per_token = at->dynamic_j;
        r->energy_j_per_token = at->dynamic_j + at->static_j;
        r->power_w = res.power_per_card_w * (double)r->cards;
    }
    free(wk);
    return 0;
}
