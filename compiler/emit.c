/* The compiler: the emitter (compiler/mapping.h). A group's memory images and instruction streams:
 * the main core's phases and vector work, the weight cores' slices, the partial-sum chains. */
#include "compiler/mapping.h"

static void place_piece(ctx *c, const floe_qlinear *L, const piece *pc, uint64_t *w, uint64_t *mult, int with_mult)
{
    char name[64];
    floe_dtype dt = dt_of_bits(L->bits);
    int k = pc->i1 - pc->i0, rows = pc->r1 - pc->r0;
    uint64_t row = floe_dtype_bytes_for(dt, (uint64_t)k), bytes = row * (uint64_t)rows;
    if (pc->r0 == 0 && pc->r1 == L->out && pc->ni == 1)
        snprintf(name, sizeof name, "%s", lin_name[pc->lin]);
    else if (pc->ni > 1)
        snprintf(name, sizeof name, "%s_%d_%d_in%d_%d", lin_name[pc->lin], pc->r0, pc->r1, pc->i0, pc->i1);
    else
        snprintf(name, sizeof name, "%s_%d_%d", lin_name[pc->lin], pc->r0, pc->r1);
    *w = alloc(c, name, bytes);
    *mult = 0;
    if (with_mult) {
        size_t n = strlen(name);
        snprintf(name + n, sizeof name - n, "_mult");
        *mult = alloc(c, name, 8 * (uint64_t)rows);
    }
    if (!c->p || !c->images || c->failed || c->next > c->mach->core_mem_bytes)
        return;
    uint8_t *buf = calloc(bytes ? bytes : 1, 1);
    uint8_t *mb = malloc(8 * (size_t)rows);
    if (!buf || !mb) {
        free(buf);
        free(mb);
        c->failed = 1;
        floe_err_set(c->err, "compiler: out of memory");
        return;
    }
    for (int n = 0; n < rows; n++) {
        const int8_t *src = L->w + (size_t)(pc->r0 + n) * L->in + pc->i0;
        for (int i = 0; i < k; i++)
            floe_elem_store(buf + (size_t)n * row, dt, (size_t)i, src[i]);
        floe_elem_store(mb + 8 * (size_t)n, FLOE_DT_I32, 0, L->m[pc->r0 + n].m);
        floe_elem_store(mb + 8 * (size_t)n, FLOE_DT_I32, 1, L->m[pc->r0 + n].shift);
    }
    data(c, *w, buf, bytes);
    if (with_mult)
        data(c, *mult, mb, 8 * (size_t)rows);
    free(buf);
    free(mb);
}

/* Where a slice's outputs land on the main core: row j of the phase's batch (the head: row t of the
 * prefill / decode). */
static uint64_t piece_dst(const gemit *G, const piece *pc, int t, int j)
{
    const mainbuf *b = &G->mb;
    const uint64_t J = (uint64_t)j;
    switch (pc->lin) {
    case LIN_Q: return b->q + J * b->qs + 2 * (uint64_t)pc->r0;
    case LIN_K: return b->k16 + J * b->ks + 2 * (uint64_t)pc->r0;
    case LIN_V: return b->vrow + J * b->vs + (uint64_t)pc->r0;
    case LIN_O: return b->r + J * b->rs + 2 * (uint64_t)pc->r0;
    case LIN_GATE: return b->g + J * b->gs + 2 * (uint64_t)pc->r0;
    case LIN_UP: return b->u + J * b->gs + 2 * (uint64_t)pc->r0;
    case LIN_DOWN: return b->r + J * b->rs + 2 * (uint64_t)pc->r0;
    default: return b->lg + 2 * ((uint64_t)t * (uint64_t)(G->g->v1 - G->g->v0) + (uint64_t)(pc->r0 - G->g->v0));
    }
}

/* A phase's input rows on the main core: the first, and the bytes from one to the next. */
static uint64_t phase_input(const gemit *G, int ph)
{
    return ph == PH_O ? G->mb.o : ph == PH_DOWN ? G->mb.mm : G->mb.h;
}
static uint64_t phase_stride(const gemit *G, int ph)
{
    return ph == PH_O ? G->mb.os : ph == PH_DOWN ? G->mb.ms : G->mb.hs;
}

/* The register holding the row stride of a vmmr (set right before it). */
#define STRIDE_REG 7

/* n input rows (row j at x + j * stride) through one slice's weights into n * rows accumulators from
 * ACC_LIN (n * rows within the linear accumulators: batch_of): one vmm when n is 1, else one vmmr. */
static void slice_vmm(ctx *c, uint64_t x, uint64_t stride, uint64_t w, int k, int rows, int n, int64_t xp, int64_t wp)
{
    if (n == 1) {
        OP(c, FLOE_OP_VMM, ACC_LIN, (int64_t)x, (int64_t)w, k, rows, xp, wp, FLOE_MODE_SET);
        return;
    }
    OP(c, FLOE_OP_SETI, STRIDE_REG, (int64_t)stride);
    OP(c, FLOE_OP_VMMR, ACC_LIN, (int64_t)x, (int64_t)w, k, rows, n, STRIDE_REG, xp, wp, FLOE_MODE_SET);
}

/* Token rows a slice of `rows` outputs takes per vmmr: n, or fewer where n * rows would pass the
 * linear accumulators. */
static int batch_of(int rows, int n)
{
    int most = rows > 0 ? (ACC_SCORE - ACC_LIN) / rows : n;
    most = most < 1 ? 1 : most;
    return n < most ? n : most;
}

static int core_in_phase(const gemit *G, int k, int ph)
{
    int lo = G->g->slot == G->P->cf->n_layers ? LIN_HEAD : LIN_Q;
    for (int i = 0; i < G->g->npieces; i++) {
        const piece *pc = &G->g->pieces[i];
        if (pc->core == k && pc->lin >= lo && lin_phase(pc->lin) == ph)
            return 1;
    }
    return 0;
}

/* 1 when the weight cores that take phase ph's input are one run k0..k1 of the group (then one
 * multicast per rectangle of the run reaches them all: the whole input vector, each takes its part). */
static int phase_run_scan(const gemit *G, int ph, int *k0, int *k1)
{
    int lo = -1, hi = -1, n = 0;
    for (int k = 1; k < G->nc; k++)
        if (core_in_phase(G, k, ph)) {
            lo = lo < 0 ? k : lo;
            hi = k;
            n++;
        }
    *k0 = lo;
    *k1 = hi;
    return n > 0 && n == hi - lo + 1;
}

/* The same, scanned once per phase when the group's emission starts (a scan per slice made the
 * emitter quadratic in the slices). */
static int phase_run(const gemit *G, int ph, int *k0, int *k1)
{
    *k0 = G->run_k0[ph];
    *k1 = G->run_k1[ph];
    return G->run[ph];
}

/* Multicasts to serpentine indices i0..i1 of the chip: a partial row, a block of full rows, a
 * partial row: at most three rectangles, each exactly cores of the run. */
static void mcast_run(ctx *c, const floe_machine *mach, uint64_t src, uint64_t nb, int i0, int i1)
{
    int cols = (int)mach->cores_x;
    while (i0 <= i1) {
        int row = i0 / cols, row_end = (row + 1) * cols - 1;
        if (i0 % cols == 0 && i1 >= row_end) {
            int last = (i1 + 1) / cols - 1;
            OP(c, FLOE_OP_MCAST, (int64_t)src, (int64_t)nb, 0, row, cols - 1, last, 0);
            i0 = (last + 1) * cols;
            continue;
        }
        int e = i1 < row_end ? i1 : row_end;
        unsigned xa, ya, xb, yb;
        serp(mach, i0, &xa, &ya);
        serp(mach, e, &xb, &yb);
        OP(c, FLOE_OP_MCAST, (int64_t)src, (int64_t)nb, xa < xb ? xa : xb, ya, xa < xb ? xb : xa, ya, 0);
        i0 = e + 1;
    }
}

/* One phase on the main core for n token rows (t0..t0+n-1; batch rows 0..n-1 of its buffers): the
 * input rows out to the weight cores, the local slices, the results back. */
static void main_phase(gemit *G, int ph, int t0, int n)
{
    const mplan *P = G->P;
    const gplan *g = G->g;
    ctx *c = &G->wc[0].c;
    const floe_dtype A = dt_of_bits(P->q->abits), C = dt_of_bits(P->q->kvbits);
    const int d = P->cf->d_model, hd = P->cf->head_dim;
    const uint64_t in0 = phase_input(G, ph), st = phase_stride(G, ph);
    int lo = g->slot == P->cf->n_layers ? LIN_HEAD : LIN_Q;
    /* per token: the input row's shift, the byte after its codes, goes along and scales the outputs */
    const int tok = is_tok(P->q);
    const uint64_t kofs = floe_dtype_bytes_for(A, (uint64_t)(ph == PH_DOWN ? P->cf->ffn_dim : d));
    /* the input rows to the weight cores: multicast to their run, or one send each (down: its chunk) */
    int k0, k1;
    const int run = phase_run(G, ph, &k0, &k1);
    for (int j = 0; j < n; j++) {
        const uint64_t in = in0 + (uint64_t)j * st, kaddr = in + kofs;
        if (run) {
            mcast_run(c, P->mach, in, kofs + (tok ? 1 : 0), G->first + k0, G->first + k1);
            continue;
        }
        for (int k = 1; k < G->nc; k++)
            for (int i = 0; i < g->npieces; i++) {
                const piece *pc = &g->pieces[i];
                if (pc->core != k || pc->lin < lo || lin_phase(pc->lin) != ph)
                    continue;
                if (pc->lin == LIN_DOWN) {
                    OP(c, FLOE_OP_SEND, (int64_t)(in + floe_dtype_bytes_for(A, (uint64_t)pc->i0)),
                       (int64_t)floe_dtype_bytes_for(A, (uint64_t)(pc->i1 - pc->i0)), G->cx[k], G->cy[k], 0);
                    if (tok) /* the row's shift after the chunk */
                        OP(c, FLOE_OP_SEND, (int64_t)kaddr, 1, G->cx[k], G->cy[k], 0);
                } else {
                    OP(c, FLOE_OP_SEND, (int64_t)in, (int64_t)floe_dtype_bytes_for(A, (uint64_t)d) + (tok ? 1 : 0),
                       G->cx[k], G->cy[k], 0);
                }
                break;
            }
    }
    /* local slices */
    for (int i = 0; i < g->npieces; i++) {
        const piece *pc = &g->pieces[i];
        if (pc->core != 0 || pc->lin < lo || lin_phase(pc->lin) != ph)
            continue;
        shape s = lin_shape(P, g->slot, pc->lin);
        const int rows = pc->r1 - pc->r0, nb = batch_of(rows, n);
        for (int j0 = 0; j0 < n; j0 += nb) {
            const int m = n - j0 < nb ? n - j0 : nb;
            slice_vmm(c, in0 + (uint64_t)j0 * st + floe_dtype_bytes_for(A, (uint64_t)pc->i0), st, G->wc[0].w[i],
                      pc->i1 - pc->i0, rows, m, xp_of_bits(P->q->abits), wp_of_bits(s.bits));
            for (int j = j0; j < j0 + m; j++) {
                const uint64_t dst = piece_dst(G, pc, t0 + j, j), kaddr = in0 + (uint64_t)j * st + kofs;
                const int64_t acc = ACC_LIN + (int64_t)(j - j0) * rows;
                if (pc->lin == LIN_V && C != FLOE_DT_I8) {
                    for (int e = 0; e < rows; e += hd) { /* saturate to C bits, then widen to one byte each */
                        int ne = rows - e < hd ? rows - e : hd;
                        if (tok)
                            OP(c, FLOE_OP_REQUANTK, (int64_t)G->mb.ctmp, acc + e, (int64_t)G->wc[0].mult[i] + 8 * e,
                               (int64_t)kaddr, ne, C);
                        else
                            OP(c, FLOE_OP_REQUANT, (int64_t)G->mb.ctmp, acc + e, (int64_t)G->wc[0].mult[i] + 8 * e, ne,
                               C, FLOE_SCOPE_CHANNEL);
                        OP(c, FLOE_OP_VSAT, (int64_t)dst + e, (int64_t)G->mb.ctmp, ne, C, FLOE_DT_I8);
                    }
                } else if (tok) {
                    OP(c, FLOE_OP_REQUANTK, (int64_t)dst, acc, (int64_t)G->wc[0].mult[i], (int64_t)kaddr, rows,
                       pc->lin == LIN_V ? FLOE_DT_I8 : FLOE_DT_I16);
                } else {
                    OP(c, FLOE_OP_REQUANT, (int64_t)dst, acc, (int64_t)G->wc[0].mult[i], rows,
                       pc->lin == LIN_V ? FLOE_DT_I8 : FLOE_DT_I16, FLOE_SCOPE_CHANNEL);
                }
            }
        }
    }
    /* results from the weight cores (chain ends), in each core's order: slice by slice, row by row */
    for (int k = 1; k < G->nc; k++)
        for (int i = 0; i < g->npieces; i++) {
            const piece *pc = &g->pieces[i];
            if (pc->core != k || pc->lin < lo || lin_phase(pc->lin) != ph || pc->b != pc->ni - 1)
                continue;
            int rows = pc->r1 - pc->r0;
            if (g->fused && pc->lin == LIN_UP)
                continue;
            for (int j = 0; j < n; j++) {
                if (g->fused && pc->lin == LIN_GATE) { /* silu(gate) * up, requantized: the down projection's input */
                    if (tok) /* per token: the int32 products; the main core scales the whole row */
                        OP(c, FLOE_OP_RECV, (int64_t)(G->mb.p32 + (uint64_t)j * G->mb.ps + 4 * (uint64_t)pc->r0),
                           4 * (int64_t)rows, G->cx[k], G->cy[k], 0);
                    else
                        OP(c, FLOE_OP_RECV,
                           (int64_t)(G->mb.mm + (uint64_t)j * G->mb.ms + floe_dtype_bytes_for(A, (uint64_t)pc->r0)),
                           (int64_t)floe_dtype_bytes_for(A, (uint64_t)rows), G->cx[k], G->cy[k], 0);
                    continue;
                }
                OP(c, FLOE_OP_RECV, (int64_t)piece_dst(G, pc, t0 + j, j), pc->lin == LIN_V ? rows : 2 * rows, G->cx[k],
                   G->cy[k], 0);
            }
        }
}

/* One phase on weight core k for n token rows: the input rows in (row j at in + j * W->ins), each
 * slice's weights read once for all of them (vmmr), the outputs back row by row. */
static void weight_phase(gemit *G, int k, int ph, int n)
{
    const mplan *P = G->P;
    const gplan *g = G->g;
    wcore *W = &G->wc[k];
    ctx *c = &W->c;
    const floe_dtype A = dt_of_bits(P->q->abits), C = dt_of_bits(P->q->kvbits);
    const int d = P->cf->d_model, tok = is_tok(P->q);
    int lo = g->slot == P->cf->n_layers ? LIN_HEAD : LIN_Q, received = 0;
    uint64_t kofs = 0; /* per token: where an input row's shift lands, from the row's start */
    for (int i = 0; i < g->npieces; i++) {
        const piece *pc = &g->pieces[i];
        if (pc->core != k || pc->lin < lo || lin_phase(pc->lin) != ph)
            continue;
        shape s = lin_shape(P, g->slot, pc->lin);
        const int rows = pc->r1 - pc->r0, nb = batch_of(rows, n);
        int k0, k1, whole = phase_run(G, ph, &k0, &k1) || pc->lin != LIN_DOWN; /* the whole input vector */
        if (!received) {
            uint64_t nbytes = !whole ? floe_dtype_bytes_for(A, (uint64_t)(pc->i1 - pc->i0))
                                     : floe_dtype_bytes_for(A, (uint64_t)(pc->lin == LIN_DOWN ? P->cf->ffn_dim : d));
            kofs = nbytes;
            for (int j = 0; j < n; j++) {
                const uint64_t in = W->in + (uint64_t)j * W->ins;
                if (tok && !whole) { /* the chunk, then the row's shift */
                    OP(c, FLOE_OP_RECV, (int64_t)in, (int64_t)nbytes, G->cx[0], G->cy[0], 0);
                    OP(c, FLOE_OP_RECV, (int64_t)(in + kofs), 1, G->cx[0], G->cy[0], 0);
                } else {
                    OP(c, FLOE_OP_RECV, (int64_t)in, (int64_t)nbytes + (tok ? 1 : 0), G->cx[0], G->cy[0], 0);
                }
            }
            received = 1;
        }
        const uint64_t off = whole ? floe_dtype_bytes_for(A, (uint64_t)pc->i0) : 0;
        for (int j0 = 0; j0 < n; j0 += nb) {
            const int m = n - j0 < nb ? n - j0 : nb;
            slice_vmm(c, W->in + (uint64_t)j0 * W->ins + off, W->ins, W->w[i], pc->i1 - pc->i0, rows, m,
                      xp_of_bits(P->q->abits), wp_of_bits(s.bits));
            if (pc->b > 0) /* the partial sums of the input chunks before this one, from the previous link */
                OP(c, FLOE_OP_PRECV, ACC_LIN, (int64_t)m * rows, dir_to(G->cx[k], G->cy[k], G->cx[k - 1], G->cy[k - 1]),
                   0);
            if (pc->b < pc->ni - 1) {
                OP(c, FLOE_OP_PSEND, ACC_LIN, (int64_t)m * rows, dir_to(G->cx[k], G->cy[k], G->cx[k + 1], G->cy[k + 1]),
                   0);
                continue;
            }
            for (int j = j0; j < j0 + m; j++) {
                const int64_t acc = ACC_LIN + (int64_t)(j - j0) * rows;
                const uint64_t kaddr = W->in + (uint64_t)j * W->ins + kofs;
                if (g->fused && (pc->lin == LIN_GATE || pc->lin == LIN_UP)) { /* kept here for the SwiGLU below */
                    uint64_t gd = (pc->lin == LIN_GATE ? W->fb.g : W->fb.u) + (uint64_t)j * W->fb.gs;
                    if (tok)
                        OP(c, FLOE_OP_REQUANTK, (int64_t)gd, acc, (int64_t)W->mult[i], (int64_t)kaddr, rows,
                           FLOE_DT_I16);
                    else
                        OP(c, FLOE_OP_REQUANT, (int64_t)gd, acc, (int64_t)W->mult[i], rows, FLOE_DT_I16,
                           FLOE_SCOPE_CHANNEL);
                    continue;
                }
                int64_t odt = pc->lin == LIN_V && C != FLOE_DT_I8 ? C : pc->lin == LIN_V ? FLOE_DT_I8 : FLOE_DT_I16;
                uint64_t odst = pc->lin == LIN_V && C != FLOE_DT_I8 ? W->ctmp : W->stage;
                if (tok)
                    OP(c, FLOE_OP_REQUANTK, (int64_t)odst, acc, (int64_t)W->mult[i], (int64_t)kaddr, rows, odt);
                else
                    OP(c, FLOE_OP_REQUANT, (int64_t)odst, acc, (int64_t)W->mult[i], rows, odt, FLOE_SCOPE_CHANNEL);
                if (pc->lin == LIN_V && C != FLOE_DT_I8)
                    OP(c, FLOE_OP_VSAT, (int64_t)W->stage, (int64_t)W->ctmp, rows, C, FLOE_DT_I8);
                OP(c, FLOE_OP_SEND, (int64_t)W->stage, pc->lin == LIN_V ? rows : 2 * rows, G->cx[0], G->cy[0], 0);
            }
        }
    }
    if (ph == PH_GATEUP && g->fused && W->gate_rows) { /* silu(gate) * up, exact in int32, to the cache width */
        const int nr = W->gate_rows;
        const int64_t T16 = FLOE_DT_I16, T32 = FLOE_DT_I32;
        for (int j = 0; j < n; j++) {
            const uint64_t gj = W->fb.g + (uint64_t)j * W->fb.gs, uj = W->fb.u + (uint64_t)j * W->fb.gs;
            OP(c, FLOE_OP_LUT16, (int64_t)W->fb.a, (int64_t)gj, (int64_t)W->fb.silu, nr, T16);
            OP(c, FLOE_OP_VSAT, (int64_t)W->fb.t32, (int64_t)W->fb.a, nr, T16, T32);
            OP(c, FLOE_OP_VSAT, (int64_t)W->fb.u32, (int64_t)uj, nr, T16, T32);
            OP(c, FLOE_OP_VMUL, (int64_t)W->fb.t32, (int64_t)W->fb.t32, (int64_t)W->fb.u32, nr, T32, 0);
            if (tok) { /* per token: the row's shift needs all of it, on the main core */
                OP(c, FLOE_OP_SEND, (int64_t)W->fb.t32, 4 * (int64_t)nr, G->cx[0], G->cy[0], 0);
            } else {
                OP(c, FLOE_OP_VREQUANT, (int64_t)W->fb.mm, (int64_t)W->fb.t32, (int64_t)W->fb.m_mlp, nr, A,
                   FLOE_SCOPE_TENSOR);
                OP(c, FLOE_OP_SEND, (int64_t)W->fb.mm, (int64_t)floe_dtype_bytes_for(A, (uint64_t)nr), G->cx[0],
                   G->cy[0], 0);
            }
        }
    }
}

/* The RMS norms of rows t0..t0+n-1 of x into the n rows of h, by the multiplier(s) at cm (per_channel:
 * one per element, SmoothQuant's; per token: rmsnormt). */
static void norm_rows(gemit *G, int t0, int n, uint64_t cm, int per_channel)
{
    ctx *c = &G->wc[0].c;
    const mainbuf *b = &G->mb;
    const int d = G->P->cf->d_model;
    const floe_dtype A = dt_of_bits(G->P->q->abits);
    for (int j = 0; j < n; j++) {
        const int64_t xt = (int64_t)(b->x + 2 * (uint64_t)(t0 + j) * d), h = (int64_t)(b->h + (uint64_t)j * b->hs);
        if (is_tok(G->P->q))
            OP(c, FLOE_OP_RMSNORMT, h, xt, (int64_t)cm, (int64_t)b->eps, d, A);
        else
            OP(c, FLOE_OP_RMSNORM, h, xt, (int64_t)cm, (int64_t)b->eps, d, A,
               per_channel ? (int64_t)FLOE_SCOPE_CHANNEL : (int64_t)FLOE_SCOPE_TENSOR);
    }
}

/* The attention half of n positions (pos0.., rows t0.. of x) on a layer's main core: norms, q/k/v
 * for all n rows at once, then per row RoPE, the KV cache, the attention (here or on the attention
 * cores), then o for all rows and the residual adds. */
static void main_attention_rows(gemit *G, int t0, int n, int pos0)
{
    const mplan *P = G->P;
    const floe_model_config *cf = P->cf;
    ctx *c = &G->wc[0].c;
    const mainbuf *b = &G->mb;
    const int d = cf->d_model, hd = cf->head_dim, nh = cf->n_heads, nkv = cf->n_kv_heads;
    const int kvw = nkv * hd, group = nh / nkv, Tc = P->Tcap;
    const floe_dtype A = dt_of_bits(P->q->abits), C = dt_of_bits(P->q->kvbits);
    const int64_t T16 = FLOE_DT_I16, T32 = FLOE_DT_I32, I8 = FLOE_DT_I8, TEN = FLOE_SCOPE_TENSOR;
    const int tok = is_tok(P->q);
    norm_rows(G, t0, n, b->c_attn, b->attn_pc);
    main_phase(G, PH_QKV, t0, n);
    for (int j = 0; j < n; j++) {
        const int pos = pos0 + j;
        const uint64_t q = b->q + (uint64_t)j * b->qs, k16 = b->k16 + (uint64_t)j * b->ks,
                       vrow = b->vrow + (uint64_t)j * b->vs;
        const uint64_t o = b->o + (uint64_t)j * b->os;
        uint64_t cs = b->cosb + 2 * (uint64_t)pos * (hd / 2), sn = b->sinb + 2 * (uint64_t)pos * (hd / 2);
        for (int hh = 0; hh < nh; hh++)
            OP(c, FLOE_OP_ROPE, (int64_t)q + 2 * hh * hd, (int64_t)q + 2 * hh * hd, (int64_t)cs, (int64_t)sn, hd);
        for (int hh = 0; hh < nkv; hh++)
            OP(c, FLOE_OP_ROPE, (int64_t)k16 + 2 * hh * hd, (int64_t)k16 + 2 * hh * hd, (int64_t)cs, (int64_t)sn, hd);
        OP(c, FLOE_OP_VSAT, (int64_t)b->t32, (int64_t)k16, kvw, T16, T32);
        for (int hh = 0; hh < nkv; hh++) { /* the K cache, per KV head: rows of hd bytes over positions */
            uint64_t kt = G->g->attn ? b->krow + (uint64_t)hh * hd : b->kc + ((uint64_t)hh * Tc + (uint64_t)pos) * hd;
            if (C == FLOE_DT_I8) {
                OP(c, FLOE_OP_VREQUANT, (int64_t)kt, (int64_t)b->t32 + 4 * hh * hd, (int64_t)b->m_kc, hd, I8, TEN);
            } else {
                OP(c, FLOE_OP_VREQUANT, (int64_t)b->ctmp, (int64_t)b->t32 + 4 * hh * hd, (int64_t)b->m_kc, hd, C, TEN);
                OP(c, FLOE_OP_VSAT, (int64_t)kt, (int64_t)b->ctmp, hd, C, I8);
            }
        }
        if (G->g->attn) { /* to the attention cores: query heads to the ranges up to pos's, the K and V rows
                             to the range holding pos; back, from each KV head's leader: its heads' outputs */
            const int R = G->g->ranges, ra = pos / G->g->rlen;
            for (int hk = 0; hk < nkv; hk++) {
                const int kl = 1 + hk * R, ko = kl + ra;
                if (ra == 0)
                    OP(c, FLOE_OP_SEND, (int64_t)q + 2 * hk * group * hd, 2 * group * hd, G->cx[kl], G->cy[kl], 0);
                else
                    mcast_run(c, P->mach, q + 2 * (uint64_t)hk * group * hd, 2 * (uint64_t)group * hd, G->first + kl,
                              G->first + ko);
                OP(c, FLOE_OP_SEND, (int64_t)b->krow + hk * hd, hd, G->cx[ko], G->cy[ko], 0);
                OP(c, FLOE_OP_SEND, (int64_t)vrow + hk * hd, hd, G->cx[ko], G->cy[ko], 0);
            }
            continue; /* the outputs come back below, once every row is on its way */
        }
        /* no attention cores: the V rows into their blocks, then every head here */
        const uint64_t vtb = vt_bytes(P, Tc);
        for (int hh = 0; hh < nkv; hh++) {
            OP(c, FLOE_OP_COPY, (int64_t)fc_v_slot(P, b->vt + hh * vtb, 0, pos), (int64_t)vrow + hh * hd, hd);
            fc_emit_v_stored(c, P, b->onehot, b->m_id, b->tscr, b->vt + hh * vtb, 0, pos);
        }
        attnbuf ab = {.m_sc = b->m_sc,
                      .m_ao = b->m_ao,
                      .m_id = b->m_id,
                      .onehot = b->onehot,
                      .kc = b->kc,
                      .vt = b->vt,
                      .tscr = b->tscr,
                      .z = b->z,
                      .pr = b->pr,
                      .q = q,
                      .o = tok ? b->o32 : o,
                      .r0 = 0,
                      .n = Tc,
                      .zlen = Tc};
        fc_emit_attention(c, P, &ab, 0, nh, Tc * hd, (int64_t)vtb, pos);
        if (tok) /* the row of all heads: its shift, its codes */
            OP(c, FLOE_OP_VREQUANTT, (int64_t)o, (int64_t)b->o32, (int64_t)b->m_ao, d, A);
    }
    /* With attention cores, every row's query and K/V rows went out first (each core takes its rows in
     * order, so row j's scores see the cache up to j), so they work on row j + 1 while the main core
     * prepares it; then each KV head's leader's outputs come back, row by row. */
    for (int j = 0; G->g->attn && j < n; j++) {
        const uint64_t o = b->o + (uint64_t)j * b->os;
        for (int hk = 0; hk < nkv; hk++) {
            const int kl = 1 + hk * G->g->ranges;
            if (tok)
                OP(c, FLOE_OP_RECV, (int64_t)(b->o32 + 4 * (uint64_t)hk * group * hd), 4 * (int64_t)group * hd,
                   G->cx[kl], G->cy[kl], 0);
            else
                OP(c, FLOE_OP_RECV, (int64_t)(o + floe_dtype_bytes_for(A, (uint64_t)hk * group * hd)),
                   (int64_t)floe_dtype_bytes_for(A, (uint64_t)group * hd), G->cx[kl], G->cy[kl], 0);
        }
        if (tok)
            OP(c, FLOE_OP_VREQUANTT, (int64_t)o, (int64_t)b->o32, (int64_t)b->m_ao, d, A);
    }
    main_phase(G, PH_O, t0, n);
    for (int j = 0; j < n; j++) {
        const uint64_t xt = b->x + 2 * (uint64_t)(t0 + j) * d;
        OP(c, FLOE_OP_VADD, (int64_t)xt, (int64_t)xt, (int64_t)(b->r + (uint64_t)j * b->rs), d, T16);
    }
}

/* n positions of a layer's group on its main core (phases around it): the attention half, the MLP
 * half, or both. */
static void main_layer_rows(gemit *G, int t0, int n, int pos0)
{
    const mplan *P = G->P;
    const floe_model_config *cf = P->cf;
    ctx *c = &G->wc[0].c;
    const mainbuf *b = &G->mb;
    const int d = cf->d_model, f = cf->ffn_dim;
    const floe_dtype A = dt_of_bits(P->q->abits);
    const int64_t T16 = FLOE_DT_I16, T32 = FLOE_DT_I32, TEN = FLOE_SCOPE_TENSOR;
    const int tok = is_tok(P->q);
    if (G->g->part != PART_MLP)
        main_attention_rows(G, t0, n, pos0);
    if (G->g->part == PART_ATTN)
        return;
    /* MLP */
    norm_rows(G, t0, n, b->c_mlp, b->mlp_pc);
    main_phase(G, PH_GATEUP, t0, n);
    for (int j = 0; j < n; j++) {
        const uint64_t mm = b->mm + (uint64_t)j * b->ms;
        if (G->g->fused && tok)
            OP(c, FLOE_OP_VREQUANTT, (int64_t)mm, (int64_t)(b->p32 + (uint64_t)j * b->ps), (int64_t)b->m_mlp, f, A);
        if (!G->g->fused) {
            const uint64_t gj = b->g + (uint64_t)j * b->gs, uj = b->u + (uint64_t)j * b->gs;
            OP(c, FLOE_OP_LUT16, (int64_t)b->a, (int64_t)gj, (int64_t)b->silu, f, T16);
            OP(c, FLOE_OP_VSAT, (int64_t)b->t32, (int64_t)b->a, f, T16, T32);
            OP(c, FLOE_OP_VSAT, (int64_t)b->u32, (int64_t)uj, f, T16, T32);
            OP(c, FLOE_OP_VMUL, (int64_t)b->t32, (int64_t)b->t32, (int64_t)b->u32, f, T32, 0); /* exact: |a u| < 2^30 */
            if (tok)
                OP(c, FLOE_OP_VREQUANTT, (int64_t)mm, (int64_t)b->t32, (int64_t)b->m_mlp, f, A);
            else
                OP(c, FLOE_OP_VREQUANT, (int64_t)mm, (int64_t)b->t32, (int64_t)b->m_mlp, f, A, TEN);
        }
    }
    main_phase(G, PH_DOWN, t0, n);
    for (int j = 0; j < n; j++) {
        const uint64_t xt = b->x + 2 * (uint64_t)(t0 + j) * d;
        OP(c, FLOE_OP_VADD, (int64_t)xt, (int64_t)xt, (int64_t)(b->r + (uint64_t)j * b->rs), d, T16);
    }
}

int fc_emit_group(const mplan *P, const floe_qmodel *m, const gplan *g, floe_program *p, int chip_first,
                  int images, int rows, int pos0, int recv_from, unsigned px, unsigned py, int send_to,
                  unsigned nx, unsigned ny, floe_core_use *use, floe_err *err)
{
    const floe_model_config *cf = P->cf;
    const int head = g->slot == cf->n_layers, d = cf->d_model;
    const floe_dtype C = dt_of_bits(P->q->kvbits);
    char what[64];
    fc_what_of(P, g->slot, what, sizeof what);
    gemit G = {.P = P,
               .g = g,
               .nc = g->ncores,
               .first = chip_first,
               .wc = calloc((size_t)g->ncores, sizeof(wcore)),
               .cx = calloc((size_t)g->ncores, sizeof(unsigned)),
               .cy = calloc((size_t)g->ncores, sizeof(unsigned))};
    int rc = -1;
    attnbuf *ab = NULL;
    if (!G.wc || !G.cx || !G.cy) {
        floe_err_set(err, "compiler: out of memory");
        goto out;
    }
    for (int ph = 0; ph < PH_COUNT; ph++)
        G.run[ph] = phase_run_scan(&G, ph, &G.run_k0[ph], &G.run_k1[ph]);
    for (int k = 0; k < G.nc; k++) {
        serp(P->mach, chip_first + k, &G.cx[k], &G.cy[k]);
        G.wc[k].c = (ctx){p, P->mach, G.cx[k], G.cy[k], 0, 0, what, err, 0, images, 0};
        G.wc[k].w = calloc((size_t)g->npieces + 1, sizeof(uint64_t));
        G.wc[k].mult = calloc((size_t)g->npieces + 1, sizeof(uint64_t));
        if (!G.wc[k].w || !G.wc[k].mult) {
            floe_err_set(err, "compiler: out of memory");
            goto out;
        }
    }
    /* memory: the main core's buffers, then every core's weight slices */
    G.mb.vocab_rows = g->v1 - g->v0;
    fc_alloc_main(&G.wc[0].c, P, g->slot, g->part, g->attn, g->fused, &G.mb);
    ab = calloc((size_t)g->attn + 1, sizeof *ab);
    if (!ab) {
        floe_err_set(err, "compiler: out of memory");
        goto out;
    }
    for (int k = 1; k <= g->attn; k++)
        fc_alloc_attn(&G.wc[k].c, P, g->slot, g->ranges, g->rlen, (k - 1) % g->ranges, &ab[k - 1]);
    for (int i = 0; i < g->npieces; i++) {
        const piece *pc = &g->pieces[i];
        place_piece(&G.wc[pc->core].c, lin_of(m, g->slot, pc->lin), pc, &G.wc[pc->core].w[i], &G.wc[pc->core].mult[i],
                    pc->b == pc->ni - 1);
    }
    for (int k = 1 + g->attn; k < G.nc; k++) { /* a weight core's input and output buffers */
        int maxrows = 0, in = 0;
        for (int i = 0; i < g->npieces; i++) {
            const piece *pc = &g->pieces[i];
            if (pc->core != k)
                continue;
            maxrows = pc->r1 - pc->r0 > maxrows ? pc->r1 - pc->r0 : maxrows;
            int k0, k1, need = pc->lin != LIN_DOWN ? d : phase_run(&G, PH_DOWN, &k0, &k1) ? cf->ffn_dim : pc->i1 - pc->i0;
            in = need > in ? need : in;
        }
        wcore *W = &G.wc[k];
        W->ins = row_stride(P, in);
        W->in = alloc(&W->c, "in", (uint64_t)P->B * W->ins);
        W->stage = alloc(&W->c, "stage", 2 * (uint64_t)maxrows);
        W->ctmp = C != FLOE_DT_I8 ? alloc(&W->c, "ctmp", (uint64_t)maxrows) : 0;
        for (int i = 0; g->fused && i < g->npieces; i++)
            if (g->pieces[i].core == k && g->pieces[i].lin == LIN_GATE) {
                W->gate_rows = g->pieces[i].r1 - g->pieces[i].r0;
                fc_alloc_fused(&W->c, P, g->slot, W->gate_rows, &W->fb);
            }
    }
    for (int k = 0; k < G.nc; k++) {
        ctx *c = &G.wc[k].c;
        if (c->failed)
            goto out;
        if (c->next > P->mach->core_mem_bytes) {
            floe_err_set(err, "%s needs %llu bytes on core (%u, %u)%s; the machine has %llu bytes per core: %llu bytes short",
                         what, (unsigned long long)c->next, c->x, c->y, k == 0 ? "" : " (a weight core)",
                         (unsigned long long)P->mach->core_mem_bytes,
                         (unsigned long long)(c->next - P->mach->core_mem_bytes));
            goto out;
        }
    }
    if (!head && ((!g->split && (d > ACC_SCORE || cf->n_kv_heads * cf->head_dim > ACC_SCORE)) ||
                  cf->head_dim > ACC_TOTAL - ACC_HEAD || P->vb > ACC_SCORE ||
                  (g->ranges > 1 && cf->n_heads / cf->n_kv_heads * cf->head_dim > ACC_TOTAL - ACC_HEAD))) {
        floe_err_set(err, "layer %d: a row of %d outputs or a head of %d does not fit the accumulator layout of this "
                          "compiler", g->slot, d, cf->head_dim);
        goto out;
    }
    /* code */
    /* the group's regions: "layer<L>", or "lm_head" (a slice of the head: "lm_head_v<first row>", so the
       slices of one chip keep their own spans), with "_a" and "_w" for attention and weight cores */
    char base[32];
    if (!head)
        snprintf(base, sizeof base, "layer%d", g->slot);
    else if (g->v0 == 0 && g->v1 == cf->vocab_size)
        snprintf(base, sizeof base, "lm_head");
    else
        snprintf(base, sizeof base, "lm_head_v%d", g->v0);
    for (int k = 0; k < G.nc; k++) {
        char label[48];
        snprintf(label, sizeof label, "%s%s", base, k == 0 ? "" : k <= g->attn ? "_a" : "_w");
        if (p && floe_label(p, G.cx[k], G.cy[k], label, err) != 0)
            goto out;
    }
    ctx *mc = &G.wc[0].c;
    if (recv_from)
        OP(mc, FLOE_OP_RECV, (int64_t)G.mb.x, 2 * (int64_t)rows * d, px, py, 0);
    /* B rows at a time: every slice's weights are read once per B rows (vmmr) */
    for (int t0 = 0; t0 < rows; t0 += P->B) {
        const int n = rows - t0 < P->B ? rows - t0 : P->B;
        if (head) {
            norm_rows(&G, t0, n, G.mb.cn, 0);
            main_phase(&G, PH_QKV, t0, n);
        } else {
            main_layer_rows(&G, t0, n, pos0 + t0);
        }
        for (int j = 0; j < n; j++)
            for (int k = 1; k <= g->attn; k++)
                if (g->ranges == 1)
                    fc_attn_row(&G, k - 1, &ab[k - 1], pos0 + t0 + j);
                else
                    fc_attn_range_row(&G, (k - 1) / g->ranges, (k - 1) % g->ranges, &ab[k - 1], pos0 + t0 + j);
        for (int k = 1 + g->attn; k < G.nc; k++)
            for (int ph = 0; ph < PH_COUNT; ph++)
                weight_phase(&G, k, ph, n);
    }
    if (send_to)
        OP(mc, FLOE_OP_SEND, (int64_t)G.mb.x, 2 * (int64_t)rows * d, nx, ny, 0);
    for (int k = 0; k < G.nc; k++) {
        if (G.wc[k].c.failed)
            goto out;
        uint64_t wb = 0;
        for (int i = 0; i < g->npieces; i++)
            if (g->pieces[i].core == k) {
                shape s = lin_shape(P, g->slot, g->pieces[i].lin);
                wb += row_bytes(s.bits, g->pieces[i].i1 - g->pieces[i].i0) * (uint64_t)(g->pieces[i].r1 - g->pieces[i].r0);
                if (g->pieces[i].b == g->pieces[i].ni - 1)
                    wb += 8 * (uint64_t)(g->pieces[i].r1 - g->pieces[i].r0);
            }
        uint64_t kv = 0; /* one user's KV cache on this core: K rows, V^T blocks, the filling block's V rows */
        if (!head && k == 0 && !g->attn && g->part != PART_MLP)
            kv = (uint64_t)cf->n_kv_heads * ((uint64_t)P->Tcap * cf->head_dim + vt_bytes(P, P->Tcap));
        else if (!head && k > 0 && k <= g->attn)
            kv = (uint64_t)ab[k - 1].n * cf->head_dim + vt_bytes(P, ab[k - 1].n);
        use[k] = (floe_core_use){G.cx[k], G.cy[k], head ? -1 : g->slot, g->part, k == 0, G.wc[k].c.next, wb, kv,
                                 G.wc[k].c.insns, head ? g->v0 : 0, head ? g->v1 : 0};
    }
    rc = 0;
out:
    for (int k = 0; G.wc && k < G.nc; k++) {
        free(G.wc[k].w);
        free(G.wc[k].mult);
    }
    free(G.wc);
    free(G.cx);
    free(G.cy);
    free(ab);
    return rc;
}
