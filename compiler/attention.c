/* The compiler: attention (compiler/mapping.h, docs/compiler.md). Scores, softmax and the output
 * over the KV cache, on the main core or on attention cores holding ranges of positions; the V cache
 * in transposed blocks. */
#include "compiler/mapping.h"

/* The transposition of one block of the V cache: its vb rows of hd values (positions) become hd
 * rows of vb values, in the scratch and then copied back in place. Row j is e_j times the block (a
 * vmm of the one-hot row against the block's rows), stored exactly (the identity multiplier): hd
 * vmm's per block of vb positions. */
static void emit_transpose(ctx *c, const mplan *P, uint64_t onehot, uint64_t m_id, uint64_t tscr, uint64_t blk)
{
    const int hd = P->cf->head_dim, B = P->vb;
    OP(c, FLOE_OP_SETI, 1, 0);
    OP(c, FLOE_OP_SETI, 2, 0);
    size_t lp = loop_begin(c, (unsigned)hd, 1, -1); /* r1 = -j, r2 = j * vb */
    OP(c, FLOE_OP_VMM, ACC_LIN, FLOE_MEM(onehot + (uint64_t)hd - 1, 1), (int64_t)blk, hd, B, FLOE_XP_I8, FLOE_WP_I8,
       FLOE_MODE_SET);
    OP(c, FLOE_OP_REQUANT, FLOE_MEM(tscr, 2), ACC_LIN, (int64_t)m_id, B, FLOE_DT_I8, FLOE_SCOPE_TENSOR);
    OP(c, FLOE_OP_ADDI, 2, B);
    loop_end(c, lp);
    OP(c, FLOE_OP_COPY, (int64_t)blk, (int64_t)tscr, (int64_t)B * hd);
}

/* Where position pos's V row of a KV head goes: its row in the block being filled (the cache holds
 * positions r0.. at vt). */
uint64_t fc_v_slot(const mplan *P, uint64_t vt, int r0, int pos)
{
    const int B = P->vb, i = pos - r0;
    return vt + ((uint64_t)(i / B) * B + (uint64_t)(i % B)) * P->cf->head_dim;
}

/* After position pos's V row reached its slot: a block just completed is transposed. */
void fc_emit_v_stored(ctx *c, const mplan *P, uint64_t onehot, uint64_t m_id, uint64_t tscr, uint64_t vt, int r0,
                      int pos)
{
    const int B = P->vb, i = pos - r0;
    if (i % B == B - 1)
        emit_transpose(c, P, onehot, m_id, tscr, vt + (uint64_t)(i / B) * B * P->cf->head_dim);
}

/* acc (hd int32, set) = the sum over positions s = r0..last of p[s - r0] * V[s] (int16 x int8): one
 * vmm per whole block of vb positions (transposed), one per position of the block being filled (its
 * rows); both in hardware loops. */
static void emit_pv(ctx *c, const mplan *P, uint64_t vt, int64_t pr, int64_t acc, int r0, int last)
{
    const int hd = P->cf->head_dim, B = P->vb, n = last - r0 + 1, nf = n / B, rest = n - nf * B;
    int64_t mode = FLOE_MODE_SET;
    if (nf > 0) {
        OP(c, FLOE_OP_VMM, acc, pr, (int64_t)vt, B, hd, FLOE_XP_I16, FLOE_WP_I8, FLOE_MODE_SET);
        if (nf > 1) {
            OP(c, FLOE_OP_SETI, 1, 2 * B);
            OP(c, FLOE_OP_SETI, 2, (int64_t)B * hd);
            size_t lp = loop_begin(c, (unsigned)(nf - 1), 1, 2 * B);
            OP(c, FLOE_OP_VMM, acc, FLOE_MEM(pr, 1), FLOE_MEM(vt, 2), B, hd, FLOE_XP_I16, FLOE_WP_I8, FLOE_MODE_ADD);
            OP(c, FLOE_OP_ADDI, 2, (int64_t)B * hd);
            loop_end(c, lp);
        }
        mode = FLOE_MODE_ADD;
    }
    if (rest > 0) {
        const int64_t pp = pr + 2 * (int64_t)nf * B;
        const uint64_t rows = vt + (uint64_t)nf * B * hd;
        OP(c, FLOE_OP_VMM, acc, pp, (int64_t)rows, 1, hd, FLOE_XP_I16, FLOE_WP_I8, mode);
        if (rest > 1) {
            OP(c, FLOE_OP_SETI, 1, 2);
            OP(c, FLOE_OP_SETI, 2, hd);
            size_t lp = loop_begin(c, (unsigned)(rest - 1), 1, 2);
            OP(c, FLOE_OP_VMM, acc, FLOE_MEM(pp, 1), FLOE_MEM(rows, 2), 1, hd, FLOE_XP_I16, FLOE_WP_I8, FLOE_MODE_ADD);
            OP(c, FLOE_OP_ADDI, 2, hd);
            loop_end(c, lp);
        }
    }
}

/* Attention for query heads h0..h1-1 at position pos over the whole cache held here: scores against
 * the K cache (KV head hk's rows at kc + hk * kstride), softmax, the outputs from the V cache (KV
 * head hk's blocks at vt + hk * vtstride), into o.
 * The heads are shared round-robin by the core's threads (each with its own score and output
 * accumulators, z and p rows): the vmm unit is busy for a cycle or two per instruction and its
 * pipeline latency overlaps across threads. */
void fc_emit_attention(ctx *c, const mplan *P, const attnbuf *b, int h0, int h1, int64_t kstride, int64_t vtstride,
                       int pos)
{
    const floe_model_config *cf = P->cf;
    const int hd = cf->head_dim, group = cf->n_heads / cf->n_kv_heads, Tc = P->Tcap;
    const floe_dtype A = dt_of_bits(P->q->abits);
    const int64_t T32 = FLOE_DT_I32, TEN = FLOE_SCOPE_TENSOR;
    const int nt = P->nthr;
    const int64_t mask = (1 << nt) - 1;
    for (int th = 0; nt > 1 && th < nt; th++) { /* q and the caches are ready */
        c->thread = (unsigned)th;
        OP(c, FLOE_OP_BAR, 0, mask);
    }
    for (int hq = h0; hq < h1; hq++) {
        int hk = hq / group - h0 / group, th = (hq - h0) % nt, j = hq - h0;
        const int chunk = (ACC_HEAD - ACC_SCORE) / nt; /* a thread's score accumulators */
        int64_t acc_s = ACC_SCORE + (int64_t)th * chunk, acc_h = ACC_HEAD + (int64_t)th * hd;
        int64_t z = (int64_t)(b->z + 4 * (uint64_t)th * Tc), pr = (int64_t)(b->pr + 2 * (uint64_t)th * Tc);
        c->thread = (unsigned)th;
        for (int s0 = 0; s0 <= pos; s0 += chunk) { /* the scores, chunk positions at a time */
            int n = pos + 1 - s0 < chunk ? pos + 1 - s0 : chunk;
            OP(c, FLOE_OP_VMM, acc_s, (int64_t)b->q + 2 * j * hd, (int64_t)b->kc + hk * kstride + (int64_t)s0 * hd, hd, n,
               FLOE_XP_I16, FLOE_WP_I8, FLOE_MODE_SET);
            OP(c, FLOE_OP_REQUANT, z + 4 * s0, acc_s, (int64_t)b->m_sc, n, T32, TEN);
        }
        OP(c, FLOE_OP_SOFTMAX, pr, z, pos + 1);
        emit_pv(c, P, b->vt + (uint64_t)(hk * vtstride), pr, acc_h, 0, pos);
        if (is_tok(P->q)) /* per token: the int32 outputs; the whole row is scaled once all heads are done */
            OP(c, FLOE_OP_ACCST, (int64_t)b->o + 4 * (int64_t)j * hd, acc_h, hd);
        else
            OP(c, FLOE_OP_REQUANT, (int64_t)b->o + (int64_t)floe_dtype_bytes_for(A, (uint64_t)j * hd), acc_h,
               (int64_t)b->m_ao, hd, A, TEN);
    }
    for (int th = 0; nt > 1 && th < nt; th++) { /* every head's output is in o */
        c->thread = (unsigned)th;
        OP(c, FLOE_OP_BAR, 1, mask);
    }
    c->thread = 0;
}

/* The attention output row of a group of query heads, from the accumulators: int32 (per token) or
 * requantized. */
static void emit_head_outputs(ctx *c, const mplan *P, const attnbuf *b, int group)
{
    const int hd = P->cf->head_dim;
    for (int j = 0; j < group; j++)
        if (is_tok(P->q))
            OP(c, FLOE_OP_ACCST, (int64_t)b->o + 4 * (int64_t)j * hd, ACC_HEAD + (int64_t)j * hd, hd);
        else
            OP(c, FLOE_OP_REQUANT, (int64_t)b->o + (int64_t)floe_dtype_bytes_for(dt_of_bits(P->q->abits), (uint64_t)j * hd),
               ACC_HEAD + (int64_t)j * hd, (int64_t)b->m_ao, hd, dt_of_bits(P->q->abits), FLOE_SCOPE_TENSOR);
}

static uint64_t head_out_bytes(const mplan *P, int group)
{
    const uint64_t n = (uint64_t)group * P->cf->head_dim;
    return is_tok(P->q) ? 4 * n : floe_dtype_bytes_for(dt_of_bits(P->q->abits), n);
}

/* One position on the attention core of KV head hk when its cache is on one core: its query heads,
 * K and V rows in, its heads' outputs out. */
void fc_attn_row(gemit *G, int hk, const attnbuf *ab, int pos)
{
    const mplan *P = G->P;
    const int hd = P->cf->head_dim, group = P->cf->n_heads / P->cf->n_kv_heads;
    ctx *c = &G->wc[1 + hk].c;
    OP(c, FLOE_OP_RECV, (int64_t)ab->q, 2 * group * hd, G->cx[0], G->cy[0], 0);
    OP(c, FLOE_OP_RECV, (int64_t)(ab->kc + (uint64_t)pos * hd), hd, G->cx[0], G->cy[0], 0);
    OP(c, FLOE_OP_RECV, (int64_t)fc_v_slot(P, ab->vt, 0, pos), hd, G->cx[0], G->cy[0], 0);
    fc_emit_v_stored(c, P, ab->onehot, ab->m_id, ab->tscr, ab->vt, 0, pos);
    fc_emit_attention(c, P, ab, hk * group, (hk + 1) * group, 0, 0, pos);
    OP(c, FLOE_OP_SEND, (int64_t)ab->o, (int64_t)head_out_bytes(P, group), G->cx[0], G->cy[0], 0);
}

/* One position on attention core r of KV head hk when its cache is spread over R cores of rlen
 * positions (docs/compiler.md, "KV caches over several cores"). The ranges up to the one holding
 * pos take part: each computes its positions' scores; the leader (r = 0) gathers the whole row,
 * runs the softmax and sends each range its probabilities; each computes its part of p V, and the
 * partial sums travel down the chain of neighbours to the leader (precv adds them: int32 sums are
 * exact in any order), which scales the heads' outputs and sends them to the main core. Every value
 * is the one-core computation's. */
void fc_attn_range_row(gemit *G, int hk, int r, const attnbuf *ab, int pos)
{
    const mplan *P = G->P;
    const gplan *g = G->g;
    const int hd = P->cf->head_dim, group = P->cf->n_heads / P->cf->n_kv_heads, R = g->ranges, L = g->rlen;
    const int ra = pos / L; /* the range that holds pos */
    if (r > ra)
        return;
    const int k = 1 + hk * R + r, kl = 1 + hk * R, last = ab->r0 + ab->n - 1 < pos ? ab->r0 + ab->n - 1 : pos;
    const int n = last - ab->r0 + 1, chunk = ACC_HEAD - ACC_SCORE;
    const int64_t T32 = FLOE_DT_I32, TEN = FLOE_SCOPE_TENSOR;
    ctx *c = &G->wc[k].c;
    OP(c, FLOE_OP_RECV, (int64_t)ab->q, 2 * group * hd, G->cx[0], G->cy[0], 0);
    if (r == ra) {
        OP(c, FLOE_OP_RECV, (int64_t)(ab->kc + (uint64_t)(pos - ab->r0) * hd), hd, G->cx[0], G->cy[0], 0);
        OP(c, FLOE_OP_RECV, (int64_t)fc_v_slot(P, ab->vt, ab->r0, pos), hd, G->cx[0], G->cy[0], 0);
        fc_emit_v_stored(c, P, ab->onehot, ab->m_id, ab->tscr, ab->vt, ab->r0, pos);
    }
    for (int j = 0; j < group; j++) /* this range's scores */
        for (int s0 = 0; s0 < n; s0 += chunk) {
            int m = n - s0 < chunk ? n - s0 : chunk;
            OP(c, FLOE_OP_VMM, ACC_SCORE, (int64_t)ab->q + 2 * j * hd, (int64_t)ab->kc + (int64_t)s0 * hd, hd, m,
               FLOE_XP_I16, FLOE_WP_I8, FLOE_MODE_SET);
            OP(c, FLOE_OP_REQUANT, (int64_t)ab->z + 4 * ((int64_t)j * ab->zlen + s0), ACC_SCORE, (int64_t)ab->m_sc, m, T32,
               TEN);
        }
    if (r > 0) { /* to the leader, and back its probabilities */
        for (int j = 0; j < group; j++)
            OP(c, FLOE_OP_SEND, (int64_t)ab->z + 4 * (int64_t)j * ab->zlen, 4 * (int64_t)n, G->cx[kl], G->cy[kl], 0);
        for (int j = 0; j < group; j++)
            OP(c, FLOE_OP_RECV, (int64_t)ab->pr + 2 * (int64_t)j * ab->zlen, 2 * (int64_t)n, G->cx[kl], G->cy[kl], 0);
    } else {
        for (int rr = 1; rr <= ra; rr++) {
            int nr = (rr + 1) * L - 1 < pos ? L : pos - rr * L + 1;
            for (int j = 0; j < group; j++)
                OP(c, FLOE_OP_RECV, (int64_t)ab->z + 4 * ((int64_t)j * ab->zlen + (int64_t)rr * L), 4 * (int64_t)nr,
                   G->cx[kl + rr], G->cy[kl + rr], 0);
        }
        for (int j = 0; j < group; j++)
            OP(c, FLOE_OP_SOFTMAX, (int64_t)ab->pr + 2 * (int64_t)j * ab->zlen, (int64_t)ab->z + 4 * (int64_t)j * ab->zlen,
               pos + 1);
        for (int rr = 1; rr <= ra; rr++) {
            int nr = (rr + 1) * L - 1 < pos ? L : pos - rr * L + 1;
            for (int j = 0; j < group; j++)
                OP(c, FLOE_OP_SEND, (int64_t)ab->pr + 2 * ((int64_t)j * ab->zlen + (int64_t)rr * L), 2 * (int64_t)nr,
                   G->cx[kl + rr], G->cy[kl + rr], 0);
        }
    }
    for (int j = 0; j < group; j++) /* this range's part of every head's output */
        emit_pv(c, P, ab->vt, (int64_t)ab->pr + 2 * (int64_t)j * ab->zlen, ACC_HEAD + (int64_t)j * hd, ab->r0, last);
    const int64_t nacc = (int64_t)group * hd;
    if (r < ra) /* the partial sums of the ranges after this one, from the next core */
        OP(c, FLOE_OP_PRECV, ACC_HEAD, nacc, dir_to(G->cx[k], G->cy[k], G->cx[k + 1], G->cy[k + 1]), 0);
    if (r > 0) {
        OP(c, FLOE_OP_PSEND, ACC_HEAD, nacc, dir_to(G->cx[k], G->cy[k], G->cx[k - 1], G->cy[k - 1]), 0);
        return;
    }
    emit_head_outputs(c, P, ab, group);
    OP(c, FLOE_OP_SEND, (int64_t)ab->o, (int64_t)head_out_bytes(P, group), G->cx[0], G->cy[0], 0);
}
