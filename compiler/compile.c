#include "compiler/compile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isa/builder.h"
#include "isa/elem.h"
#include "isa/insn.h"

/* Accumulator file layout (FLOE_ACC_INDEX_BITS indexes 8192): linear outputs, scores, head outputs. */
#define ACC_LIN 0
#define ACC_SCORE 4096
#define ACC_HEAD 6144
#define ACC_TOTAL 8192
#define MAX_PIECE_ROWS 4096 /* a slice's outputs fit the linear-output accumulators */
#define MIN_RANGE 64        /* positions: the shortest KV-cache range idle cores are given */

/* The linear layers of a group, in the order a token meets them. */
enum { LIN_Q, LIN_K, LIN_V, LIN_O, LIN_GATE, LIN_UP, LIN_DOWN, LIN_HEAD, LIN_COUNT };
static const char *const lin_name[LIN_COUNT] = {"wq", "wk", "wv", "wo", "wgate", "wup", "wdown", "wlm"};
/* Phases: the linears that share one input vector. */
enum { PH_QKV, PH_O, PH_GATEUP, PH_DOWN, PH_COUNT };
static int lin_phase(int lin)
{
    return lin <= LIN_V ? PH_QKV : lin == LIN_O ? PH_O : lin <= LIN_UP ? PH_GATEUP : lin == LIN_DOWN ? PH_DOWN : PH_QKV;
}

typedef struct ctx {
    floe_program *p; /* NULL: a dry run (the memory plan only) */
    const floe_machine *mach;
    unsigned x, y;
    uint64_t next;  /* bump allocator */
    uint64_t insns;
    const char *what; /* "layer 3", "the LM head": for messages */
    floe_err *err;
    int failed;
    int images;     /* 0: allocate, but write no memory images (a decode program) */
    unsigned thread; /* the thread the next instructions are for */
} ctx;

static uint64_t alloc(ctx *c, const char *name, uint64_t bytes)
{
    uint64_t a = (c->next + 7) & ~(uint64_t)7;
    c->next = a + bytes;
    if (c->p && !c->failed && c->next <= FLOE_CORE_MEM_LIMIT && bytes <= UINT32_MAX &&
        floe_region(c->p, c->x, c->y, name, (uint32_t)a, (uint32_t)bytes, c->err) != 0)
        c->failed = 1;
    return a;
}

static void data(ctx *c, uint64_t addr, const void *d, size_t n)
{
    if (c->p && c->images && !c->failed && c->next <= c->mach->core_mem_bytes &&
        floe_data(c->p, c->x, c->y, (uint32_t)addr, d, n, c->err) != 0)
        c->failed = 1;
}

static void op(ctx *c, floe_opcode o, const int64_t *f, size_t n)
{
    c->insns++;
    if (c->p && !c->failed && floe_emit_op(c->p, c->x, c->y, o, c->thread, f, n, c->err) != 0)
        c->failed = 1;
}

/* A hardware loop over the next instructions of the current thread (count > 0). */
static size_t loop_begin(ctx *c, unsigned count, unsigned reg, int32_t stride)
{
    size_t h = 0;
    c->insns++;
    if (c->p && !c->failed && floe_loop_begin(c->p, c->x, c->y, c->thread, count, reg, stride, &h, c->err) != 0)
        c->failed = 1;
    return h;
}

static void loop_end(ctx *c, size_t h)
{
    if (c->p && !c->failed && floe_loop_end(c->p, c->x, c->y, h, c->err) != 0)
        c->failed = 1;
}

#define OP(c, o, ...)                                                                                    \
    do {                                                                                                 \
        const int64_t f_[] = {__VA_ARGS__};                                                             \
        op(c, o, f_, sizeof f_ / sizeof f_[0]);                                                          \
    } while (0)

static floe_dtype dt_of_bits(int bits) { return bits == 2 ? FLOE_DT_I2 : bits == 4 ? FLOE_DT_I4 : FLOE_DT_I8; }
static int64_t xp_of_bits(int bits) { return bits == 4 ? FLOE_XP_I4 : FLOE_XP_I8; }
static int64_t wp_of_bits(int bits) { return bits == 2 ? FLOE_WP_I2 : bits == 4 ? FLOE_WP_I4 : FLOE_WP_I8; }
static uint64_t round8(uint64_t v) { return (v + 7) & ~(uint64_t)7; }
/* Per-token scaling (docs/numerics.md §10): a linear-layer input row carries its shift k as one byte
 * right after its codes; buffers that hold such a row get 8 more bytes. */
static int is_tok(const floe_qconfig *q) { return q->act_scaling == FLOE_ACT_PER_TOKEN; }
static uint64_t in_bytes(floe_dtype A, uint64_t n, int tok) { return floe_dtype_bytes_for(A, n) + (tok ? 8 : 0); }

/* ---- the plan: shapes, slices, cores ---------------------------------------------------------- */

typedef struct piece {
    int lin;
    int r0, r1;    /* output rows */
    int i0, i1;    /* input elements (the down projection's chunk; else 0..in) */
    int b, ni;     /* link b of a partial-sum chain of ni cores (ni == 1: no chain) */
    int core;      /* index in the group's cores; 0 is the main core */
} piece;

/* A layer's group is the whole layer, or one of its two halves on chips of their own when the whole
 * does not fit a chip (docs/compiler.md, "A layer over two chips"): attention (norm, q/k/v, the KV
 * caches, o, the residual add) then the MLP (norm, gate/up, down, the residual add). */
enum { PART_ALL, PART_ATTN, PART_MLP };

typedef struct gplan {
    int slot;      /* layer, or n_layers for the LM head */
    int part;      /* PART_*: the whole layer (and always for the head) or one half */
    int copy_of;   /* plan only: the group whose pieces this one shares (layers alike), or -1 */
    int v0, v1;    /* the LM head: its vocabulary rows v0..v1-1 (a slice when the head spans chips) */
    int ncores;
    int npieces, cap_pieces;
    piece *pieces;
    int split;     /* 0: everything on the main core */
    int fused;     /* split layer: SwiGLU on the weight cores (their gate and up rows) */
    int attn;      /* attention cores, cores 1..attn: ranges per KV head (core 1 + hk * ranges + r holds
                      positions r * rlen.. of KV head hk's cache and its query heads); 0: attention on the
                      main core */
    int ranges, rlen;
    uint64_t main_base; /* main core's bytes before its weights */
    uint64_t weight_bytes;
} gplan;

typedef struct shape {
    int in, out, bits;
} shape;

typedef struct mplan {
    const floe_model_config *cf;
    const floe_qconfig *q;
    const floe_qmodel *m; /* may be NULL (plan only) */
    const floe_machine *mach;
    int T, Tcap;
    int nthr;         /* threads sharing a main core's attention heads */
    int vb;           /* the V cache's transposition block, in positions */
    int force_ranges; /* > 0: attention cores per KV head (the cache's ranges), else as memory needs */
    int users, user;  /* KV caches compiled, and the one this program uses */
    uint64_t budget;
    int ngroups;
    gplan *g;
    /* placement */
    int chips;
    int *chip_of;     /* [ngroups] */
    int *first_core;  /* [ngroups] serpentine index of the group's main core on its chip */
} mplan;

/* The linears a group holds, first..last (the down projection is last when present). */
static void group_lins(const mplan *P, int slot, int part, int *first, int *last)
{
    if (slot == P->cf->n_layers) {
        *first = *last = LIN_HEAD;
        return;
    }
    *first = part == PART_MLP ? LIN_GATE : LIN_Q;
    *last = part == PART_ATTN ? LIN_O : LIN_DOWN;
}

static shape lin_shape(const mplan *P, int slot, int lin)
{
    const floe_model_config *c = P->cf;
    int d = c->d_model, kvw = c->n_kv_heads * c->head_dim, f = c->ffn_dim;
    int bits = lin == LIN_HEAD ? P->q->head_bits : floe_qconfig_wbits_of(P->q, slot);
    if (P->m) {
        const floe_qlinear *L = lin == LIN_HEAD ? &P->m->head : NULL;
        if (lin != LIN_HEAD) {
            const floe_qlayer *Y = &P->m->layers[slot];
            const floe_qlinear *all[7] = {&Y->q, &Y->k, &Y->v, &Y->o, &Y->gate, &Y->up, &Y->down};
            L = all[lin];
        }
        bits = L->bits;
    }
    switch (lin) {
    case LIN_Q: case LIN_O: return (shape){d, d, bits};
    case LIN_K: case LIN_V: return (shape){d, kvw, bits};
    case LIN_GATE: case LIN_UP: return (shape){d, f, bits};
    case LIN_DOWN: return (shape){f, d, bits};
    default: return (shape){d, c->vocab_size, bits};
    }
}

/* A group's rows of a linear: lo..hi-1 (the LM head: its vocabulary slice). */
static void lin_rows(const mplan *P, const gplan *g, int lin, int *lo, int *hi)
{
    *lo = lin == LIN_HEAD ? g->v0 : 0;
    *hi = lin == LIN_HEAD ? g->v1 : lin_shape(P, g->slot, lin).out;
}

static const floe_qlinear *lin_of(const floe_qmodel *m, int slot, int lin)
{
    if (lin == LIN_HEAD)
        return &m->head;
    const floe_qlayer *Y = &m->layers[slot];
    const floe_qlinear *all[7] = {&Y->q, &Y->k, &Y->v, &Y->o, &Y->gate, &Y->up, &Y->down};
    return all[lin];
}

static uint64_t row_bytes(int bits, int k) { return floe_dtype_bytes_for(dt_of_bits(bits), (uint64_t)k); }

/* ---- a main core's buffers (shared by the plan and the emitter) -------------------------------- */

typedef struct mainbuf {
    uint64_t c_attn, c_mlp, m_kc, m_sc, m_ao, m_mlp, eps, silu, cosb, sinb;
    uint64_t x, h, q, k16, t32, ctmp, kc, vt, tscr, z, pr, o, r, g, u, a, u32, mm;
    uint64_t m_id, onehot; /* the V-cache transposition's identity multiplier and one-hot row */
    uint64_t cn, lg; /* the head */
    uint64_t krow, vrow; /* this position's K rows (with attention cores, to send them) and V rows */
    uint64_t o32, p32;   /* per token: the attention outputs and (fused) the SwiGLU products as int32 rows */
    int attn_pc, mlp_pc; /* SmoothQuant at the norms: c_attn / c_mlp hold d per-channel multipliers */
    int vocab_rows;      /* the head: the logits' row length (its vocabulary slice); set before alloc_main */
} mainbuf;

/* A weight core's SwiGLU (split layers): its gate and up rows, silu(gate) * up, requantized to
 * the down projection's input; only those rows go back to the main core. */
typedef struct fusedbuf {
    uint64_t silu, m_mlp, g, u, a, t32, u32, mm;
} fusedbuf;

static uint64_t place_mult(ctx *c, const char *name, floe_requant_mult q);
static const floe_requant_mult zero_mult;

static void alloc_fused(ctx *c, const mplan *P, int slot, int rows, fusedbuf *b)
{
    const floe_qlayer *L = P->m ? &P->m->layers[slot] : NULL;
    b->silu = alloc(c, "silu_lut", 4 * (FLOE_LUT16_KNOTS + 2));
    if (L)
        data(c, b->silu, &L->silu, 4 * (FLOE_LUT16_KNOTS + 2));
    b->m_mlp = place_mult(c, "m_mlp", L ? L->m_mlp : zero_mult);
    b->g = alloc(c, "g", 2 * (uint64_t)rows);
    b->u = alloc(c, "u", 2 * (uint64_t)rows);
    b->a = alloc(c, "a", 2 * (uint64_t)rows);
    b->t32 = alloc(c, "t32", 4 * (uint64_t)rows);
    b->u32 = alloc(c, "u32", 4 * (uint64_t)rows);
    b->mm = alloc(c, "mm", floe_dtype_bytes_for(dt_of_bits(P->q->abits), (uint64_t)rows));
}

/* An attention core's buffers: one KV head's cache for positions r0..r0+n-1 (a range of the
 * cache; all of it when the head has one attention core) and its group of query heads. The V cache
 * is kept in blocks of vb positions (vt: n rows of head_dim, by blocks): a whole block transposed
 * ([head_dim][vb]), so that the attention output is one vmm per block; the block being filled (and a
 * range's last, partial block) as rows ([vb][head_dim]). tscr is the transposition's scratch. z and pr
 * hold the scores and probabilities: one row of the whole cache per thread (one core per head), or
 * one row per query head (zlen positions: the whole cache on a range's leader, n elsewhere). */
typedef struct attnbuf {
    uint64_t m_sc, m_ao, m_id, onehot, kc, vt, tscr, z, pr, q, o;
    int r0, n, zlen;
} attnbuf;

static uint64_t place_mult(ctx *c, const char *name, floe_requant_mult q)
{
    uint64_t a = alloc(c, name, 8);
    uint8_t b[8];
    floe_elem_store(b, FLOE_DT_I32, 0, q.m);
    floe_elem_store(b, FLOE_DT_I32, 1, q.shift);
    data(c, a, b, 8);
    return a;
}

/* A per-token multiplier (docs/isa.md, vrequantt): {m, shift, K}. */
static uint64_t place_tmult(ctx *c, const char *name, floe_requant_mult q, int K)
{
    uint64_t a = alloc(c, name, 16);
    uint8_t b[16] = {0};
    floe_elem_store(b, FLOE_DT_I32, 0, q.m);
    floe_elem_store(b, FLOE_DT_I32, 1, q.shift);
    floe_elem_store(b, FLOE_DT_I32, 2, K);
    data(c, a, b, 16);
    return a;
}

/* The multiplier of a per-token producer (tok: with K) or a plain one. */
static uint64_t place_pmult(ctx *c, const char *name, floe_requant_mult q, const floe_qconfig *qc)
{
    return is_tok(qc) ? place_tmult(c, name, q, qc->act_kmax) : place_mult(c, name, q);
}

/* n multipliers (one per channel) in a row of 8-byte (m, shift) pairs. */
static uint64_t place_mults(ctx *c, const char *name, const floe_requant_mult *q, int n)
{
    uint64_t a = alloc(c, name, 8 * (uint64_t)n);
    uint8_t *b = malloc(8 * (size_t)n);
    if (!b)
        return a; /* the allocation's own error path reports memory; nothing to write */
    for (int i = 0; i < n; i++) {
        floe_elem_store(b + 8 * i, FLOE_DT_I32, 0, q[i].m);
        floe_elem_store(b + 8 * i, FLOE_DT_I32, 1, q[i].shift);
    }
    data(c, a, b, 8 * (uint64_t)n);
    free(b);
    return a;
}

static uint64_t place_u64(ctx *c, const char *name, uint64_t v)
{
    uint64_t a = alloc(c, name, 8);
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    data(c, a, b, 8);
    return a;
}

static const floe_requant_mult zero_mult = {0, 0};
/* acc * 2^30 / 2^30: every int32 exactly (the V-cache transposition stores its int8 values). */
static const floe_requant_mult ident_mult = {1 << 30, 30};

/* 2 hd - 1 bytes, a single 1 in the middle: the hd bytes from onehot + hd - 1 - j are e_j. */
static uint64_t place_onehot(ctx *c, int hd)
{
    uint64_t a = alloc(c, "onehot", 2 * (uint64_t)hd - 1);
    uint8_t *b = calloc(2 * (size_t)hd - 1, 1);
    if (!b)
        return a; /* sizes only are still right; the image write is skipped */
    b[hd - 1] = 1;
    data(c, a, b, 2 * (size_t)hd - 1);
    free(b);
    return a;
}

/* Bytes of one user's V cache of one KV head for n positions: whole blocks and the rows of the last,
 * partial one. */
static uint64_t vt_bytes(const mplan *P, int n) { return (uint64_t)n * P->cf->head_dim; }
#define FUSED_BYTES(rows, A) (4 * (FLOE_LUT16_KNOTS + 2) + 8 + 14 * (uint64_t)(rows) + floe_dtype_bytes_for(A, (uint64_t)(rows)) + 64)

/* The main core's constants, tables, activations and KV cache (m NULL: sizes only): of the whole
 * layer, or of one half (part). */
static void alloc_main(ctx *c, const mplan *P, int slot, int part, int attn, int fused, mainbuf *b)
{
    const floe_model_config *cf = P->cf;
    const floe_qmodel *m = P->m;
    const int d = cf->d_model, hd = cf->head_dim, nkv = cf->n_kv_heads, f = cf->ffn_dim, T = P->T, Tc = P->Tcap;
    const int kvw = nkv * hd;
    const floe_dtype A = dt_of_bits(P->q->abits);
    const int tok = is_tok(P->q), vocab_rows = b->vocab_rows;
    memset(b, 0, sizeof *b);
    b->vocab_rows = vocab_rows;
    if (slot == cf->n_layers) { /* the LM head */
        b->cn = place_pmult(c, "c_norm", m ? m->head_norm_c : zero_mult, P->q);
        b->eps = place_u64(c, "eps_q", m ? m->eps_q : 0);
        b->x = alloc(c, "x", 2 * (uint64_t)T * d);
        b->h = alloc(c, "h", in_bytes(A, (uint64_t)d, tok));
        b->lg = alloc(c, "logits", 2 * (uint64_t)T * (uint64_t)b->vocab_rows);
        return;
    }
    const floe_qlayer *L = m ? &m->layers[slot] : NULL;
    const int ha = part != PART_MLP, hm = part != PART_ATTN; /* holds the attention, the MLP */
    b->attn_pc = L && L->attn_norm_cj; /* SmoothQuant at the norms (never with per-token inputs) */
    b->mlp_pc = L && L->mlp_norm_cj;
    if (ha)
        b->c_attn = b->attn_pc ? place_mults(c, "c_attn_norm", L->attn_norm_cj, d)
                               : place_pmult(c, "c_attn_norm", L ? L->attn_norm_c : zero_mult, P->q);
    if (hm)
        b->c_mlp = b->mlp_pc ? place_mults(c, "c_mlp_norm", L->mlp_norm_cj, d)
                             : place_pmult(c, "c_mlp_norm", L ? L->mlp_norm_c : zero_mult, P->q);
    if (ha) {
        b->m_kc = place_mult(c, "m_kcache", L ? L->m_kcache : zero_mult);
        b->m_sc = place_mult(c, "m_score", L ? L->m_score : zero_mult);
        b->m_ao = place_pmult(c, "m_attn_out", L ? L->m_attn_out : zero_mult, P->q);
    }
    if (hm)
        b->m_mlp = place_pmult(c, "m_mlp", L ? L->m_mlp : zero_mult, P->q);
    b->eps = place_u64(c, "eps_q", m ? m->eps_q : 0);
    if (hm) {
        b->silu = alloc(c, "silu_lut", 4 * (FLOE_LUT16_KNOTS + 2));
        if (L)
            data(c, b->silu, &L->silu, 4 * (FLOE_LUT16_KNOTS + 2));
    }
    if (ha) {
        b->cosb = alloc(c, "rope_cos", 2 * (uint64_t)Tc * (hd / 2));
        b->sinb = alloc(c, "rope_sin", 2 * (uint64_t)Tc * (hd / 2));
        if (m) {
            data(c, b->cosb, m->rope.cos, 2 * (size_t)Tc * (hd / 2));
            data(c, b->sinb, m->rope.sin, 2 * (size_t)Tc * (hd / 2));
        }
    }
    b->x = alloc(c, "x", 2 * (uint64_t)T * d);
    b->h = alloc(c, "h", in_bytes(A, (uint64_t)d, tok));
    if (ha) {
        b->q = alloc(c, "q", 2 * (uint64_t)d);
        b->k16 = alloc(c, "k16", 2 * (uint64_t)kvw);
    }
    const int n32 = hm && !fused && (!ha || f > kvw) ? f : ha ? kvw : 0; /* t32's widest use */
    if (n32)
        b->t32 = alloc(c, "t32", 4 * (uint64_t)n32);
    if (ha) {
        b->ctmp = alloc(c, "ctmp", (uint64_t)hd);
        b->vrow = alloc(c, "vrow", (uint64_t)kvw);
    }
    if (ha && attn) { /* the caches and the scores live on the attention cores */
        b->krow = alloc(c, "krow", (uint64_t)kvw);
    } else if (ha) { /* per user: K rows per KV head; V^T blocks and the filling block's rows per KV head */
        const uint64_t U = (uint64_t)P->users, kb = (uint64_t)Tc * hd, vtb = vt_bytes(P, Tc);
        b->kc = alloc(c, "kcache", nkv * kb * U);
        b->vt = alloc(c, "vcache", nkv * vtb * U);
        b->tscr = alloc(c, "vt_scratch", (uint64_t)P->vb * hd);
        b->kc += (uint64_t)P->user * nkv * kb; /* the cache this program's user owns */
        b->vt += (uint64_t)P->user * nkv * vtb;
        b->m_id = place_mult(c, "m_ident", ident_mult);
        b->onehot = place_onehot(c, hd);
        b->z = alloc(c, "z", 4 * (uint64_t)Tc * (uint64_t)P->nthr); /* one row per attention thread */
        b->pr = alloc(c, "p", 2 * (uint64_t)Tc * (uint64_t)P->nthr);
    }
    if (ha) {
        b->o = alloc(c, "o", in_bytes(A, (uint64_t)d, tok));
        if (tok)
            b->o32 = alloc(c, "o32", 4 * (uint64_t)d);
    }
    b->r = alloc(c, "r", 2 * (uint64_t)d);
    if (hm && !fused) { /* else the weight cores compute silu(gate) * up */
        b->g = alloc(c, "g", 2 * (uint64_t)f);
        b->u = alloc(c, "u", 2 * (uint64_t)f);
        b->a = alloc(c, "a", 2 * (uint64_t)f);
        b->u32 = alloc(c, "u32", 4 * (uint64_t)f);
    }
    if (hm)
        b->mm = alloc(c, "mm", in_bytes(A, (uint64_t)f, tok));
    if (hm && tok && fused)
        b->p32 = alloc(c, "p32", 4 * (uint64_t)f);
}

/* Attention core r of a KV head whose cache is spread over R cores of rlen positions each: that
 * range of every user's cache, its query heads' scores and outputs. */
static void alloc_attn(ctx *c, const mplan *P, int slot, int R, int rlen, int r, attnbuf *b)
{
    const floe_model_config *cf = P->cf;
    const floe_qlayer *L = P->m ? &P->m->layers[slot] : NULL;
    const int hd = cf->head_dim, Tc = P->Tcap, group = cf->n_heads / cf->n_kv_heads;
    b->r0 = r * rlen;
    b->n = Tc - b->r0 < rlen ? Tc - b->r0 : rlen;
    b->m_sc = place_mult(c, "m_score", L ? L->m_score : zero_mult);
    b->m_ao = place_mult(c, "m_attn_out", L ? L->m_attn_out : zero_mult);
    b->m_id = place_mult(c, "m_ident", ident_mult);
    b->onehot = place_onehot(c, hd);
    const uint64_t U = (uint64_t)P->users, kb = (uint64_t)b->n * hd, vtb = vt_bytes(P, b->n);
    b->kc = alloc(c, "kcache", kb * U); /* one per user */
    b->vt = alloc(c, "vcache", vtb * U);
    b->tscr = alloc(c, "vt_scratch", (uint64_t)P->vb * hd);
    b->kc += (uint64_t)P->user * kb; /* the cache this program's user owns */
    b->vt += (uint64_t)P->user * vtb;
    if (R == 1) { /* one row per attention thread */
        b->zlen = Tc;
        b->z = alloc(c, "z", 4 * (uint64_t)Tc * (uint64_t)P->nthr);
        b->pr = alloc(c, "p", 2 * (uint64_t)Tc * (uint64_t)P->nthr);
    } else { /* one row per query head: the whole row on the leader (r = 0), which runs the softmax */
        b->zlen = r == 0 ? Tc : b->n;
        b->z = alloc(c, "z", 4 * (uint64_t)b->zlen * (uint64_t)group);
        b->pr = alloc(c, "p", 2 * (uint64_t)b->zlen * (uint64_t)group);
    }
    b->q = alloc(c, "q", 2 * (uint64_t)group * hd);
    b->o = is_tok(P->q) ? alloc(c, "o32", 4 * (uint64_t)group * hd) /* per token: int32, scaled on the main core */
                        : alloc(c, "o", floe_dtype_bytes_for(dt_of_bits(P->q->abits), (uint64_t)group * hd));
}

/* Bytes a slice costs on the core that holds it: weights, multipliers, alignment, and on a weight
 * core the staging of its outputs (int16, plus the cache-width temporary of v). */
static uint64_t piece_cost(int bits, int k, int rows, int remote)
{
    return round8(row_bytes(bits, k) * (uint64_t)rows) + round8(8 * (uint64_t)rows) + (remote ? 3 * (uint64_t)rows + 16 : 0);
}

static int add_piece(gplan *g, piece pc, floe_err *err)
{
    if (g->npieces == g->cap_pieces) {
        int n = g->cap_pieces ? 2 * g->cap_pieces : 16;
        piece *p = realloc(g->pieces, sizeof *p * (size_t)n);
        if (!p)
            return floe_err_set(err, "compiler: out of memory");
        g->pieces = p;
        g->cap_pieces = n;
    }
    g->pieces[g->npieces++] = pc;
    if (pc.core + 1 > g->ncores)
        g->ncores = pc.core + 1;
    return 0;
}

static void what_of(const mplan *P, int slot, char *buf, size_t n)
{
    if (slot < P->cf->n_layers)
        snprintf(buf, n, "layer %d", slot);
    else
        snprintf(buf, n, "the LM head");
}

/* Spreads every linear of a group evenly over W weight cores (1..W; the main core keeps its memory
 * for activations and the KV cache), so that in each phase of a token every weight core streams
 * a share of the phase's weights: output-channel slices of q, k, v, o, gate, up (or the head), and
 * the down projection as W / 2 chains of two neighbours, input halves reduced with psend/precv.
 * Returns 1 when a core would hold more than wcap bytes (the caller tries W + 1). */
static int spread(mplan *P, int slot, gplan *g, int W, uint64_t wcap, floe_err *err)
{
    const int d = P->cf->d_model, f = P->cf->ffn_dim, base = g->attn;
    int lf, ll;
    group_lins(P, slot, g->part, &lf, &ll);
    uint64_t *cost = calloc((size_t)W + 1, sizeof *cost), *wb = calloc((size_t)W + 1, sizeof *wb);
    if (!cost || !wb) {
        free(cost);
        free(wb);
        return floe_err_set(err, "compiler: out of memory");
    }
    /* cost: every byte the core holds (against its memory); wb: weights and multipliers (against
     * --core-weight-bytes) */
    const uint64_t mem = P->mach->core_mem_bytes - 64 - round8(floe_dtype_bytes_for(dt_of_bits(P->q->abits),
                                                                                    (uint64_t)(f > d ? f : d)));
    g->npieces = 0;
    g->ncores = 1;
    int rc = 0;
    for (int l = lf; l <= (ll == LIN_DOWN ? LIN_UP : ll) && rc == 0; l++) {
        shape s = lin_shape(P, slot, l);
        int lo, hi;
        lin_rows(P, g, l, &lo, &hi);
        int per = (int)round8((uint64_t)((hi - lo + W - 1) / W));
        if (per > MAX_PIECE_ROWS) {
            rc = 1;
            break;
        }
        for (int j = 0; j < W && lo + j * per < hi && rc == 0; j++) {
            int r0 = lo + j * per, r1 = r0 + per < hi ? r0 + per : hi;
            rc = add_piece(g, (piece){l, r0, r1, 0, s.in, 0, 1, base + 1 + j}, err);
            cost[1 + j] += piece_cost(s.bits, s.in, r1 - r0, 1);
            wb[1 + j] += piece_cost(s.bits, s.in, r1 - r0, 0);
            if (g->fused && l == LIN_GATE)
                cost[1 + j] += FUSED_BYTES(r1 - r0, dt_of_bits(P->q->abits));
        }
    }
    if (ll == LIN_DOWN && rc == 0) {
        shape s = lin_shape(P, slot, LIN_DOWN);
        int pairs = W / 2, chunk = (int)round8((uint64_t)((f + 1) / 2));
        int per = (int)round8((uint64_t)((d + pairs - 1) / pairs));
        if (per > MAX_PIECE_ROWS)
            rc = 1;
        for (int a = 0; a < pairs && a * per < d && rc == 0; a++) {
            int r0 = a * per, r1 = r0 + per < d ? r0 + per : d;
            for (int b = 0; b < 2 && rc == 0; b++) {
                int i0 = b * chunk, i1 = i0 + chunk < f ? i0 + chunk : f;
                rc = add_piece(g, (piece){LIN_DOWN, r0, r1, i0, i1, b, 2, base + 1 + 2 * a + b}, err);
                cost[1 + 2 * a + b] += piece_cost(s.bits, i1 - i0, r1 - r0, 1);
                wb[1 + 2 * a + b] += piece_cost(s.bits, i1 - i0, r1 - r0, 0);
            }
        }
    }
    for (int k = 1; k <= W && rc == 0; k++)
        if (cost[k] + 32 > mem || wb[k] > wcap)
            rc = 1;
    free(cost);
    free(wb);
    return rc;
}

/* Positions per attention core when a KV head's cache is spread over R cores. */
static int range_len(const mplan *P, int R) { return (P->Tcap + R - 1) / R; }

/* Packs one group's linears onto its cores. */
static int plan_group(mplan *P, int slot, int part, int v0, int v1, gplan *g, floe_err *err)
{
    const floe_model_config *cf = P->cf;
    const uint64_t mem = P->mach->core_mem_bytes;
    const int head = slot == cf->n_layers, d = cf->d_model, f = cf->ffn_dim;
    char what[64];
    what_of(P, slot, what, sizeof what);
    if (part != PART_ALL)
        snprintf(what + strlen(what), sizeof what - strlen(what), part == PART_ATTN ? " (attention)" : " (MLP)");
    memset(g, 0, sizeof *g);
    g->slot = slot;
    g->part = part;
    g->v0 = v0;
    g->v1 = v1;
    g->ncores = 1;
    if (head && (v0 > 0 || v1 < cf->vocab_size))
        snprintf(what + strlen(what), sizeof what - strlen(what), " (rows %d..%d)", v0, v1 - 1);
    if (!head && part != PART_MLP && P->Tcap > 65535)
        return floe_err_set(err, "%s: a KV cache of %d positions: a softmax row takes at most 65535", what, P->Tcap);
    ctx dry = {NULL, P->mach, 0, 0, 0, 0, what, err, 0, 0, 0};
    mainbuf mb = {.vocab_rows = v1 - v0};
    alloc_main(&dry, P, slot, part, 0, 0, &mb);
    g->main_base = dry.next;
    int first, last;
    group_lins(P, slot, part, &first, &last);
    uint64_t all = 0;
    for (int l = first; l <= last; l++) {
        shape s = lin_shape(P, slot, l);
        int lo, hi;
        lin_rows(P, g, l, &lo, &hi);
        all += piece_cost(s.bits, s.in, hi - lo, 0);
        g->weight_bytes += row_bytes(s.bits, s.in) * (uint64_t)(hi - lo) + 8 * (uint64_t)(hi - lo);
    }
    uint64_t main_cap = mem > g->main_base ? mem - g->main_base : 0;
    if (P->budget && P->budget < main_cap)
        main_cap = P->budget;
    int whole_fits = g->main_base <= mem && all <= main_cap;
    for (int l = first; l <= last && whole_fits; l++)
        whole_fits = (l == LIN_HEAD ? v1 - v0 : lin_shape(P, slot, l).out) <= MAX_PIECE_ROWS;
    if (whole_fits) { /* the whole layer on one core: no NoC traffic inside the layer */
        for (int l = first; l <= last; l++) {
            shape s = lin_shape(P, slot, l);
            int lo, hi;
            lin_rows(P, g, l, &lo, &hi);
            if (add_piece(g, (piece){l, lo, hi, 0, s.in, 0, 1, 0}, err) != 0)
                return -1;
        }
        return 0;
    }
    g->split = 1;
    g->fused = last == LIN_DOWN;
    {
        ctx dm = {NULL, P->mach, 0, 0, 0, 0, what, err, 0, 0, 0};
        alloc_main(&dm, P, slot, part, 0, g->fused, &mb);
        g->main_base = dm.next;
    }
    /* weight cores: their input buffer is the widest vector they receive */
    const floe_dtype A = dt_of_bits(P->q->abits);
    uint64_t reserve = round8(floe_dtype_bytes_for(A, (uint64_t)(f > d ? f : d))) + 64;
    if (reserve >= mem)
        return floe_err_set(err, "%s: a weight core's input buffer (%llu bytes) does not fit a core of %llu bytes", what,
                            (unsigned long long)reserve, (unsigned long long)mem);
    uint64_t wcap = mem - reserve;
    if (P->budget && P->budget < wcap)
        wcap = P->budget;
    /* the fewest weight cores W (at least 2: a chain needs two) over which every linear spreads */
    uint64_t Wmin = (all + wcap - 1) / wcap;
    int W = Wmin < 2 ? 2 : (int)Wmin, r = 1, widest = head ? v1 - v0 : f > d ? f : d;
    int Wmax = widest / 8 + 2 < 4096 ? widest / 8 + 2 : 4096; /* past it, a core's share stops shrinking */
    for (; W <= Wmax && r == 1; W++)
        r = spread(P, slot, g, W, wcap, err);
    if (r < 0)
        return -1;
    if (r == 1)
        return floe_err_set(err, "%s: a weight core with %llu bytes for weights cannot hold its share (8 rows of each "
                                 "linear layer, or more than %d weight cores)",
                            what, (unsigned long long)wcap, Wmax);
    W--;
    /* attention on cores of its own when the group still fits a chip, else on the main core: per KV
     * head, R cores each holding a range of rlen positions of every user's cache, R as small as
     * memory allows (or as forced); the first of them (the leader) also holds the whole score row */
    int nkv = cf->n_kv_heads, per_chip = (int)(P->mach->cores_x * P->mach->cores_y);
    if (!head && part != PART_MLP) {
        int R = P->force_ranges > 0 ? P->force_ranges : 1, rlen = 0;
        enum { FITS, CHIP_FULL, EMPTY_RANGE, SHORT } why = CHIP_FULL;
        uint64_t lead = 0; /* the leader's bytes with R cores per KV head */
        for (; 1 + nkv * R + W <= per_chip; R++) {
            rlen = range_len(P, R);
            if ((R - 1) * rlen >= P->Tcap) { /* a range would be empty: the same ranges as fewer cores */
                why = EMPTY_RANGE;
                if (P->force_ranges > 0 || rlen == 1)
                    break;
                continue;
            }
            ctx da = {NULL, P->mach, 0, 0, 0, 0, what, err, 0, 0, 0};
            attnbuf ab;
            alloc_attn(&da, P, slot, R, rlen, 0, &ab);
            lead = da.next;
            why = lead <= mem ? FITS : SHORT;
            if (why == FITS || P->force_ranges > 0)
                break;
        }
        if (why == FITS && P->force_ranges == 0 && 1 + nkv * R + W > per_chip / 2) {
            /* the group has a chip to itself: its idle cores take more ranges (of at least
             * MIN_RANGE positions), so each core scans fewer positions per token */
            int wide = (per_chip - 1 - W) / nkv, most = (P->Tcap + MIN_RANGE - 1) / MIN_RANGE;
            wide = wide < most ? wide : most;
            while (wide > R && (wide - 1) * range_len(P, wide) >= P->Tcap)
                wide--;
            if (wide > R) {
                R = wide;
                rlen = range_len(P, R);
            }
        }
        if (why == FITS) {
            ctx dm = {NULL, P->mach, 0, 0, 0, 0, what, err, 0, 0, 0};
            alloc_main(&dm, P, slot, part, 1, g->fused, &mb);
            g->attn = nkv * R;
            g->ranges = R;
            g->rlen = rlen;
            g->main_base = dm.next;
            if (spread(P, slot, g, W, wcap, err) != 0)
                return -1;
        } else if (P->force_ranges > 0 || (g->main_base > mem && lead > 0)) { /* nor on the main core: what is short */
            if (why == SHORT)
                return floe_err_set(err, "%s: the KV caches (%d positions, %d user(s)) over %d attention core(s) per KV "
                                         "head need %llu bytes on the first of each (its %d positions and the whole "
                                         "score row); the machine has %llu bytes per core: %llu bytes short",
                                    what, P->Tcap, P->users, R, (unsigned long long)lead, rlen,
                                    (unsigned long long)mem, (unsigned long long)(lead - mem));
            if (why == EMPTY_RANGE && P->force_ranges > 0)
                return floe_err_set(err, "%s: %d positions make no %d ranges (attention cores per KV head) of equal "
                                         "length", what, P->Tcap, R);
            if (why == EMPTY_RANGE)
                return floe_err_set(err, "%s: the KV caches (%d positions, %d user(s)) do not fit one position per "
                                         "attention core", what, P->Tcap, P->users);
            return floe_err_set(err, "%s: the KV caches (%d positions, %d user(s)) need at least %d attention core(s) per "
                                     "KV head (%d in all) beside the main core and %d weight cores: %d cores; a chip has "
                                     "%d: %d short",
                                what, P->Tcap, P->users, R, nkv * R, W, 1 + nkv * R + W, per_chip,
                                1 + nkv * R + W - per_chip);
        }
    }
    if (g->main_base > mem)
        return floe_err_set(err, "%s needs %llu bytes on its main core for activations, tables and the KV cache (%d "
                                 "positions, %d user(s)) alone; the machine has %llu bytes per core: %llu bytes short",
                            what, (unsigned long long)g->main_base, P->Tcap, P->users, (unsigned long long)mem,
                            (unsigned long long)(g->main_base - mem));
    return 0;
}

static void plan_free(mplan *P)
{
    for (int i = 0; P->g && i < P->ngroups; i++)
        free(P->g[i].pieces);
    free(P->g);
    free(P->chip_of);
    free(P->first_core);
    P->g = NULL;
    P->chip_of = P->first_core = NULL;
}

/* Plans every group and places the groups on chips (each group a run of a chip's serpentine). */
/* The LM head in H vocabulary slices (rows multiples of 8), each a group that fits a chip, H as small
 * as that allows; appended to P->g (grown to hold them). whole: why the whole head did not fit. */
static int plan_head_slices(mplan *P, int per_chip, const floe_err *whole, floe_err *err)
{
    const int V = P->cf->vocab_size;
    floe_err e;
    for (int H = 2; H <= 64 && (H - 1) * 8 < V; H++) {
        const int per = (int)round8((uint64_t)((V + H - 1) / H));
        if ((H - 1) * per >= V)
            continue; /* a slice would be empty */
        gplan *g = realloc(P->g, sizeof *g * (size_t)(P->ngroups + H));
        int *co = realloc(P->chip_of, sizeof *co * (size_t)(P->ngroups + H));
        int *fc = co ? realloc(P->first_core, sizeof *fc * (size_t)(P->ngroups + H)) : NULL;
        if (g)
            P->g = g;
        if (co)
            P->chip_of = co;
        if (fc)
            P->first_core = fc;
        if (!g || !co || !fc)
            return floe_err_set(err, "compiler: out of memory");
        int ok = 1;
        for (int h = 0; h < H && ok; h++) {
            int v0 = h * per, v1 = v0 + per < V ? v0 + per : V;
            gplan *sg = &P->g[P->ngroups + h];
            ok = plan_group(P, P->cf->n_layers, PART_ALL, v0, v1, sg, &e) == 0 && sg->ncores <= per_chip;
            if (!ok)
                for (int k = 0; k <= h; k++)
                    free(P->g[P->ngroups + k].pieces);
        }
        if (ok) {
            P->ngroups += H;
            return 0;
        }
    }
    return floe_err_set(err, "%s; in vocabulary slices on chips of their own: no slicing into at most 64 fits a chip",
                        whole->msg);
}

static int plan_model(mplan *P, floe_err *err)
{
    const floe_model_config *cf = P->cf;
    const int cap = 2 * cf->n_layers + 1; /* every layer in two halves, and the head */
    P->ngroups = 0;
    P->g = calloc((size_t)cap, sizeof *P->g);
    P->chip_of = calloc((size_t)cap, sizeof *P->chip_of);
    P->first_core = calloc((size_t)cap, sizeof *P->first_core);
    if (!P->g || !P->chip_of || !P->first_core)
        return floe_err_set(err, "compiler: out of memory");
    int per_chip = (int)(P->mach->cores_x * P->mach->cores_y);
    int chip = 0, used = 0, layer1 = -1; /* layer 1's first group */
    for (int s = 0; s <= cf->n_layers; s++) {
        const int first = P->ngroups;
        if (s > 1 && s < cf->n_layers && P->m == NULL) { /* plan only: every layer is shaped alike */
            for (int k = layer1; k < P->ngroups && P->g[k].slot == 1 && P->ngroups < cap; k++) {
                gplan *g = &P->g[P->ngroups++];
                *g = P->g[k];
                g->slot = s;
                g->copy_of = k;
                g->pieces = NULL;
                g->npieces = g->cap_pieces = 0;
            }
        } else {
            gplan whole;
            floe_err e1;
            int rc = plan_group(P, s, PART_ALL, 0, cf->vocab_size, &whole, &e1);
            if (rc == 0 && whole.ncores > per_chip) {
                char what[64];
                what_of(P, s, what, sizeof what);
                floe_err_set(&e1, "%s needs %d cores (1 for %s, %d holding its %llu bytes of weights and "
                                  "multipliers); a chip has %d cores: %d short",
                             what, whole.ncores, s < cf->n_layers ? "activations and attention" : "the final norm and the logits",
                             whole.ncores - 1, (unsigned long long)whole.weight_bytes, per_chip, whole.ncores - per_chip);
                rc = -1;
            }
            if (rc == 0) {
                P->g[P->ngroups++] = whole;
            } else if (s == cf->n_layers) { /* the LM head over several chips: vocabulary slices */
                free(whole.pieces);
                if (plan_head_slices(P, per_chip, &e1, err) != 0)
                    return -1;
            } else { /* the layer over two chips: its attention half, then its MLP half */
                free(whole.pieces);
                floe_err e2;
                for (int part = PART_ATTN; part <= PART_MLP; part++) {
                    gplan *g = &P->g[P->ngroups];
                    int hr = plan_group(P, s, part, 0, 0, g, &e2);
                    if (hr == 0 && g->ncores > per_chip) {
                        floe_err_set(&e2, "its %s half needs %d cores; a chip has %d", part == PART_ATTN ? "attention" : "MLP",
                                     g->ncores, per_chip);
                        hr = -1;
                    }
                    if (hr != 0) {
                        free(g->pieces);
                        return floe_err_set(err, "%s; over two chips: %s", e1.msg, e2.msg);
                    }
                    P->ngroups++;
                }
            }
            for (int k = first; k < P->ngroups; k++)
                P->g[k].copy_of = -1;
        }
        if (s == 1)
            layer1 = first;
        for (int k = first; k < P->ngroups; k++) {
            int n = P->g[k].ncores;
            if (used + n > per_chip) {
                chip++;
                used = 0;
            }
            P->chip_of[k] = chip;
            P->first_core[k] = used;
            used += n;
        }
    }
    P->chips = chip + 1;
    return 0;
}

/* Serpentine order: rows alternate direction, so cores i and i + 1 are neighbours. */
static void serp(const floe_machine *mach, int i, unsigned *x, unsigned *y)
{
    unsigned cols = (unsigned)mach->cores_x;
    *y = (unsigned)i / cols;
    *x = (*y % 2 == 0) ? (unsigned)i % cols : cols - 1 - (unsigned)i % cols;
}

static int64_t dir_to(unsigned x0, unsigned y0, unsigned x1, unsigned y1)
{
    return x1 > x0 ? FLOE_DIR_E : x1 < x0 ? FLOE_DIR_W : y1 > y0 ? FLOE_DIR_S : FLOE_DIR_N;
}

/* ---- the emitter -------------------------------------------------------------------------------- */

typedef struct wcore {
    ctx c;
    uint64_t in;        /* input buffer */
    uint64_t stage, ctmp;
    int gate_rows;      /* fused: rows of gate (and up) here, 0 if none */
    fusedbuf fb;
    uint64_t *w, *mult; /* per piece of the group (only this core's pieces are set) */
} wcore;

typedef struct gemit {
    const mplan *P;
    const gplan *g;
    int nc;
    int first;          /* the main core's index in the chip's serpentine order */
    wcore *wc;          /* [ncores]; wc[0] is the main core */
    unsigned *cx, *cy;
    mainbuf mb;
} gemit;

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

/* Where a slice's outputs land on the main core (row t of the prefill / decode). */
static uint64_t piece_dst(const gemit *G, const piece *pc, int t)
{
    const mainbuf *b = &G->mb;
    switch (pc->lin) {
    case LIN_Q: return b->q + 2 * (uint64_t)pc->r0;
    case LIN_K: return b->k16 + 2 * (uint64_t)pc->r0;
    case LIN_V: return b->vrow + (uint64_t)pc->r0;
    case LIN_O: return b->r + 2 * (uint64_t)pc->r0;
    case LIN_GATE: return b->g + 2 * (uint64_t)pc->r0;
    case LIN_UP: return b->u + 2 * (uint64_t)pc->r0;
    case LIN_DOWN: return b->r + 2 * (uint64_t)pc->r0;
    default: return b->lg + 2 * ((uint64_t)t * (uint64_t)(G->g->v1 - G->g->v0) + (uint64_t)(pc->r0 - G->g->v0));
    }
}

static uint64_t phase_input(const gemit *G, int ph)
{
    return ph == PH_O ? G->mb.o : ph == PH_DOWN ? G->mb.mm : G->mb.h;
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
static int phase_run(const gemit *G, int ph, int *k0, int *k1)
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

/* One phase on the main core: the input out to the weight cores, the local slices, the results back. */
static void main_phase(gemit *G, int ph, int t)
{
    const mplan *P = G->P;
    const gplan *g = G->g;
    ctx *c = &G->wc[0].c;
    const floe_dtype A = dt_of_bits(P->q->abits), C = dt_of_bits(P->q->kvbits);
    const int d = P->cf->d_model, hd = P->cf->head_dim;
    uint64_t in = phase_input(G, ph);
    int lo = g->slot == P->cf->n_layers ? LIN_HEAD : LIN_Q;
    /* per token: the input row's shift, the byte after its codes, goes along and scales the outputs */
    const int tok = is_tok(P->q);
    const uint64_t kaddr = in + floe_dtype_bytes_for(A, (uint64_t)(ph == PH_DOWN ? P->cf->ffn_dim : d));
    /* the input to the weight cores: multicast to their run, or one send each (down: its chunk) */
    int k0, k1;
    if (phase_run(G, ph, &k0, &k1)) {
        uint64_t nb = floe_dtype_bytes_for(A, (uint64_t)(ph == PH_DOWN ? P->cf->ffn_dim : d)) + (tok ? 1 : 0);
        mcast_run(c, P->mach, in, nb, G->first + k0, G->first + k1);
    } else {
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
        int rows = pc->r1 - pc->r0;
        uint64_t dst = piece_dst(G, pc, t);
        OP(c, FLOE_OP_VMM, ACC_LIN, (int64_t)(in + floe_dtype_bytes_for(A, (uint64_t)pc->i0)), (int64_t)G->wc[0].w[i],
           pc->i1 - pc->i0, rows, xp_of_bits(P->q->abits), wp_of_bits(s.bits), FLOE_MODE_SET);
        if (pc->lin == LIN_V && C != FLOE_DT_I8) {
            for (int j = 0; j < rows; j += hd) { /* saturate to C bits, then widen to one byte each */
                int n = rows - j < hd ? rows - j : hd;
                if (tok)
                    OP(c, FLOE_OP_REQUANTK, (int64_t)G->mb.ctmp, ACC_LIN + j, (int64_t)G->wc[0].mult[i] + 8 * j,
                       (int64_t)kaddr, n, C);
                else
                    OP(c, FLOE_OP_REQUANT, (int64_t)G->mb.ctmp, ACC_LIN + j, (int64_t)G->wc[0].mult[i] + 8 * j, n, C,
                       FLOE_SCOPE_CHANNEL);
                OP(c, FLOE_OP_VSAT, (int64_t)dst + j, (int64_t)G->mb.ctmp, n, C, FLOE_DT_I8);
            }
        } else if (tok) {
            OP(c, FLOE_OP_REQUANTK, (int64_t)dst, ACC_LIN, (int64_t)G->wc[0].mult[i], (int64_t)kaddr, rows,
               pc->lin == LIN_V ? FLOE_DT_I8 : FLOE_DT_I16);
        } else {
            OP(c, FLOE_OP_REQUANT, (int64_t)dst, ACC_LIN, (int64_t)G->wc[0].mult[i], rows,
               pc->lin == LIN_V ? FLOE_DT_I8 : FLOE_DT_I16, FLOE_SCOPE_CHANNEL);
        }
    }
    /* results from the weight cores (chain ends), in each core's order */
    for (int k = 1; k < G->nc; k++)
        for (int i = 0; i < g->npieces; i++) {
            const piece *pc = &g->pieces[i];
            if (pc->core != k || pc->lin < lo || lin_phase(pc->lin) != ph || pc->b != pc->ni - 1)
                continue;
            int rows = pc->r1 - pc->r0;
            if (g->fused && pc->lin == LIN_UP)
                continue;
            if (g->fused && pc->lin == LIN_GATE) { /* silu(gate) * up, requantized: the down projection's input */
                if (tok) /* per token: the int32 products; the main core scales the whole row */
                    OP(c, FLOE_OP_RECV, (int64_t)(G->mb.p32 + 4 * (uint64_t)pc->r0), 4 * (int64_t)rows, G->cx[k],
                       G->cy[k], 0);
                else
                    OP(c, FLOE_OP_RECV, (int64_t)(G->mb.mm + floe_dtype_bytes_for(A, (uint64_t)pc->r0)),
                       (int64_t)floe_dtype_bytes_for(A, (uint64_t)rows), G->cx[k], G->cy[k], 0);
                continue;
            }
            OP(c, FLOE_OP_RECV, (int64_t)piece_dst(G, pc, t), pc->lin == LIN_V ? rows : 2 * rows, G->cx[k], G->cy[k],
               0);
        }
}

/* One phase on weight core k. */
static void weight_phase(gemit *G, int k, int ph)
{
    const mplan *P = G->P;
    const gplan *g = G->g;
    wcore *W = &G->wc[k];
    ctx *c = &W->c;
    const floe_dtype A = dt_of_bits(P->q->abits), C = dt_of_bits(P->q->kvbits);
    const int d = P->cf->d_model, tok = is_tok(P->q);
    int lo = g->slot == P->cf->n_layers ? LIN_HEAD : LIN_Q, received = 0;
    uint64_t kaddr = 0; /* per token: where the input row's shift landed */
    for (int i = 0; i < g->npieces; i++) {
        const piece *pc = &g->pieces[i];
        if (pc->core != k || pc->lin < lo || lin_phase(pc->lin) != ph)
            continue;
        shape s = lin_shape(P, g->slot, pc->lin);
        int rows = pc->r1 - pc->r0;
        int k0, k1, whole = phase_run(G, ph, &k0, &k1) || pc->lin != LIN_DOWN; /* the whole input vector */
        if (!received) {
            uint64_t nb = !whole ? floe_dtype_bytes_for(A, (uint64_t)(pc->i1 - pc->i0))
                                 : floe_dtype_bytes_for(A, (uint64_t)(pc->lin == LIN_DOWN ? P->cf->ffn_dim : d));
            kaddr = W->in + nb;
            if (tok && !whole) { /* the chunk, then the row's shift */
                OP(c, FLOE_OP_RECV, (int64_t)W->in, (int64_t)nb, G->cx[0], G->cy[0], 0);
                OP(c, FLOE_OP_RECV, (int64_t)kaddr, 1, G->cx[0], G->cy[0], 0);
            } else {
                OP(c, FLOE_OP_RECV, (int64_t)W->in, (int64_t)nb + (tok ? 1 : 0), G->cx[0], G->cy[0], 0);
            }
            received = 1;
        }
        uint64_t off = whole ? floe_dtype_bytes_for(A, (uint64_t)pc->i0) : 0;
        OP(c, FLOE_OP_VMM, ACC_LIN, (int64_t)(W->in + off), (int64_t)W->w[i], pc->i1 - pc->i0, rows,
           xp_of_bits(P->q->abits), wp_of_bits(s.bits), FLOE_MODE_SET);
        if (pc->b > 0) /* the partial sums of the input chunks before this one, from the previous link */
            OP(c, FLOE_OP_PRECV, ACC_LIN, rows, dir_to(G->cx[k], G->cy[k], G->cx[k - 1], G->cy[k - 1]), 0);
        if (pc->b < pc->ni - 1) {
            OP(c, FLOE_OP_PSEND, ACC_LIN, rows, dir_to(G->cx[k], G->cy[k], G->cx[k + 1], G->cy[k + 1]), 0);
            continue;
        }
        if (g->fused && (pc->lin == LIN_GATE || pc->lin == LIN_UP)) { /* kept here for the SwiGLU below */
            uint64_t gd = pc->lin == LIN_GATE ? W->fb.g : W->fb.u;
            if (tok)
                OP(c, FLOE_OP_REQUANTK, (int64_t)gd, ACC_LIN, (int64_t)W->mult[i], (int64_t)kaddr, rows, FLOE_DT_I16);
            else
                OP(c, FLOE_OP_REQUANT, (int64_t)gd, ACC_LIN, (int64_t)W->mult[i], rows, FLOE_DT_I16, FLOE_SCOPE_CHANNEL);
            continue;
        }
        int64_t odt = pc->lin == LIN_V && C != FLOE_DT_I8 ? C : pc->lin == LIN_V ? FLOE_DT_I8 : FLOE_DT_I16;
        uint64_t odst = pc->lin == LIN_V && C != FLOE_DT_I8 ? W->ctmp : W->stage;
        if (tok)
            OP(c, FLOE_OP_REQUANTK, (int64_t)odst, ACC_LIN, (int64_t)W->mult[i], (int64_t)kaddr, rows, odt);
        else
            OP(c, FLOE_OP_REQUANT, (int64_t)odst, ACC_LIN, (int64_t)W->mult[i], rows, odt, FLOE_SCOPE_CHANNEL);
        if (pc->lin == LIN_V && C != FLOE_DT_I8)
            OP(c, FLOE_OP_VSAT, (int64_t)W->stage, (int64_t)W->ctmp, rows, C, FLOE_DT_I8);
        OP(c, FLOE_OP_SEND, (int64_t)W->stage, pc->lin == LIN_V ? rows : 2 * rows, G->cx[0], G->cy[0], 0);
    }
    if (ph == PH_GATEUP && g->fused && W->gate_rows) { /* silu(gate) * up, exact in int32, to the cache width */
        const int n = W->gate_rows;
        const int64_t T16 = FLOE_DT_I16, T32 = FLOE_DT_I32;
        OP(c, FLOE_OP_LUT16, (int64_t)W->fb.a, (int64_t)W->fb.g, (int64_t)W->fb.silu, n, T16);
        OP(c, FLOE_OP_VSAT, (int64_t)W->fb.t32, (int64_t)W->fb.a, n, T16, T32);
        OP(c, FLOE_OP_VSAT, (int64_t)W->fb.u32, (int64_t)W->fb.u, n, T16, T32);
        OP(c, FLOE_OP_VMUL, (int64_t)W->fb.t32, (int64_t)W->fb.t32, (int64_t)W->fb.u32, n, T32, 0);
        if (tok) { /* per token: the row's shift needs all of it, on the main core */
            OP(c, FLOE_OP_SEND, (int64_t)W->fb.t32, 4 * (int64_t)n, G->cx[0], G->cy[0], 0);
        } else {
            OP(c, FLOE_OP_VREQUANT, (int64_t)W->fb.mm, (int64_t)W->fb.t32, (int64_t)W->fb.m_mlp, n, A, FLOE_SCOPE_TENSOR);
            OP(c, FLOE_OP_SEND, (int64_t)W->fb.mm, (int64_t)floe_dtype_bytes_for(A, (uint64_t)n), G->cx[0], G->cy[0], 0);
        }
    }
}

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
static uint64_t v_slot(const mplan *P, uint64_t vt, int r0, int pos)
{
    const int B = P->vb, i = pos - r0;
    return vt + ((uint64_t)(i / B) * B + (uint64_t)(i % B)) * P->cf->head_dim;
}

/* After position pos's V row reached its slot: a block just completed is transposed. */
static void emit_v_stored(ctx *c, const mplan *P, uint64_t onehot, uint64_t m_id, uint64_t tscr, uint64_t vt, int r0,
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
static void emit_attention(ctx *c, const mplan *P, const attnbuf *b, int h0, int h1, int64_t kstride, int64_t vtstride,
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
static void attn_row(gemit *G, int hk, const attnbuf *ab, int pos)
{
    const mplan *P = G->P;
    const int hd = P->cf->head_dim, group = P->cf->n_heads / P->cf->n_kv_heads;
    ctx *c = &G->wc[1 + hk].c;
    OP(c, FLOE_OP_RECV, (int64_t)ab->q, 2 * group * hd, G->cx[0], G->cy[0], 0);
    OP(c, FLOE_OP_RECV, (int64_t)(ab->kc + (uint64_t)pos * hd), hd, G->cx[0], G->cy[0], 0);
    OP(c, FLOE_OP_RECV, (int64_t)v_slot(P, ab->vt, 0, pos), hd, G->cx[0], G->cy[0], 0);
    emit_v_stored(c, P, ab->onehot, ab->m_id, ab->tscr, ab->vt, 0, pos);
    emit_attention(c, P, ab, hk * group, (hk + 1) * group, 0, 0, pos);
    OP(c, FLOE_OP_SEND, (int64_t)ab->o, (int64_t)head_out_bytes(P, group), G->cx[0], G->cy[0], 0);
}

/* One position on attention core r of KV head hk when its cache is spread over R cores of rlen
 * positions (docs/compiler.md, "KV caches over several cores"). The ranges up to the one holding
 * pos take part: each computes its positions' scores; the leader (r = 0) gathers the whole row,
 * runs the softmax and sends each range its probabilities; each computes its part of p V, and the
 * partial sums travel down the chain of neighbours to the leader (precv adds them: int32 sums are
 * exact in any order), which scales the heads' outputs and sends them to the main core. Every value
 * is the one-core computation's. */
static void attn_range_row(gemit *G, int hk, int r, const attnbuf *ab, int pos)
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
        OP(c, FLOE_OP_RECV, (int64_t)v_slot(P, ab->vt, ab->r0, pos), hd, G->cx[0], G->cy[0], 0);
        emit_v_stored(c, P, ab->onehot, ab->m_id, ab->tscr, ab->vt, ab->r0, pos);
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

/* The attention half of one position on a layer's main core: norm, q/k/v, RoPE, the KV cache, the
 * attention (here or on the attention cores), o and the residual add. */
static void main_attention_row(gemit *G, int t, int pos)
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
    uint64_t xt = b->x + 2 * (uint64_t)t * d;
    if (tok)
        OP(c, FLOE_OP_RMSNORMT, (int64_t)b->h, (int64_t)xt, (int64_t)b->c_attn, (int64_t)b->eps, d, A);
    else
        OP(c, FLOE_OP_RMSNORM, (int64_t)b->h, (int64_t)xt, (int64_t)b->c_attn, (int64_t)b->eps, d, A,
           b->attn_pc ? (int64_t)FLOE_SCOPE_CHANNEL : TEN);
    main_phase(G, PH_QKV, t);
    uint64_t cs = b->cosb + 2 * (uint64_t)pos * (hd / 2), sn = b->sinb + 2 * (uint64_t)pos * (hd / 2);
    for (int hh = 0; hh < nh; hh++)
        OP(c, FLOE_OP_ROPE, (int64_t)b->q + 2 * hh * hd, (int64_t)b->q + 2 * hh * hd, (int64_t)cs, (int64_t)sn, hd);
    for (int hh = 0; hh < nkv; hh++)
        OP(c, FLOE_OP_ROPE, (int64_t)b->k16 + 2 * hh * hd, (int64_t)b->k16 + 2 * hh * hd, (int64_t)cs, (int64_t)sn, hd);
    OP(c, FLOE_OP_VSAT, (int64_t)b->t32, (int64_t)b->k16, kvw, T16, T32);
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
                OP(c, FLOE_OP_SEND, (int64_t)b->q + 2 * hk * group * hd, 2 * group * hd, G->cx[kl], G->cy[kl], 0);
            else
                mcast_run(c, P->mach, b->q + 2 * (uint64_t)hk * group * hd, 2 * (uint64_t)group * hd, G->first + kl,
                          G->first + ko);
            OP(c, FLOE_OP_SEND, (int64_t)b->krow + hk * hd, hd, G->cx[ko], G->cy[ko], 0);
            OP(c, FLOE_OP_SEND, (int64_t)b->vrow + hk * hd, hd, G->cx[ko], G->cy[ko], 0);
        }
        for (int hk = 0; hk < nkv; hk++) {
            const int kl = 1 + hk * R;
            if (tok)
                OP(c, FLOE_OP_RECV, (int64_t)(b->o32 + 4 * (uint64_t)hk * group * hd), 4 * (int64_t)group * hd,
                   G->cx[kl], G->cy[kl], 0);
            else
                OP(c, FLOE_OP_RECV, (int64_t)(b->o + floe_dtype_bytes_for(A, (uint64_t)hk * group * hd)),
                   (int64_t)floe_dtype_bytes_for(A, (uint64_t)group * hd), G->cx[kl], G->cy[kl], 0);
        }
    } else { /* the V rows into their blocks, then every head here */
        const uint64_t vtb = vt_bytes(P, Tc);
        for (int hh = 0; hh < nkv; hh++) {
            OP(c, FLOE_OP_COPY, (int64_t)v_slot(P, b->vt + hh * vtb, 0, pos), (int64_t)b->vrow + hh * hd, hd);
            emit_v_stored(c, P, b->onehot, b->m_id, b->tscr, b->vt + hh * vtb, 0, pos);
        }
        attnbuf ab = {b->m_sc, b->m_ao, b->m_id, b->onehot, b->kc, b->vt, b->tscr, b->z, b->pr, b->q,
                      tok ? b->o32 : b->o, 0, Tc, Tc};
        emit_attention(c, P, &ab, 0, nh, Tc * hd, (int64_t)vtb, pos);
    }
    if (tok) /* the row of all heads: its shift, its codes */
        OP(c, FLOE_OP_VREQUANTT, (int64_t)b->o, (int64_t)b->o32, (int64_t)b->m_ao, d, A);
    main_phase(G, PH_O, t);
    OP(c, FLOE_OP_VADD, (int64_t)xt, (int64_t)xt, (int64_t)b->r, d, T16);
}

/* One position of a layer's group on its main core (phases around it): the attention half, the MLP
 * half, or both. */
static void main_layer_row(gemit *G, int t, int pos)
{
    const mplan *P = G->P;
    const floe_model_config *cf = P->cf;
    ctx *c = &G->wc[0].c;
    const mainbuf *b = &G->mb;
    const int d = cf->d_model, f = cf->ffn_dim;
    const floe_dtype A = dt_of_bits(P->q->abits);
    const int64_t T16 = FLOE_DT_I16, T32 = FLOE_DT_I32, TEN = FLOE_SCOPE_TENSOR;
    const int tok = is_tok(P->q);
    uint64_t xt = b->x + 2 * (uint64_t)t * d;
    if (G->g->part != PART_MLP)
        main_attention_row(G, t, pos);
    if (G->g->part == PART_ATTN)
        return;
    /* MLP */
    if (tok)
        OP(c, FLOE_OP_RMSNORMT, (int64_t)b->h, (int64_t)xt, (int64_t)b->c_mlp, (int64_t)b->eps, d, A);
    else
        OP(c, FLOE_OP_RMSNORM, (int64_t)b->h, (int64_t)xt, (int64_t)b->c_mlp, (int64_t)b->eps, d, A,
           b->mlp_pc ? (int64_t)FLOE_SCOPE_CHANNEL : TEN);
    main_phase(G, PH_GATEUP, t);
    if (G->g->fused && tok)
        OP(c, FLOE_OP_VREQUANTT, (int64_t)b->mm, (int64_t)b->p32, (int64_t)b->m_mlp, f, A);
    if (!G->g->fused) {
        OP(c, FLOE_OP_LUT16, (int64_t)b->a, (int64_t)b->g, (int64_t)b->silu, f, T16);
        OP(c, FLOE_OP_VSAT, (int64_t)b->t32, (int64_t)b->a, f, T16, T32);
        OP(c, FLOE_OP_VSAT, (int64_t)b->u32, (int64_t)b->u, f, T16, T32);
        OP(c, FLOE_OP_VMUL, (int64_t)b->t32, (int64_t)b->t32, (int64_t)b->u32, f, T32, 0); /* exact: |a u| < 2^30 */
        if (tok)
            OP(c, FLOE_OP_VREQUANTT, (int64_t)b->mm, (int64_t)b->t32, (int64_t)b->m_mlp, f, A);
        else
            OP(c, FLOE_OP_VREQUANT, (int64_t)b->mm, (int64_t)b->t32, (int64_t)b->m_mlp, f, A, TEN);
    }
    main_phase(G, PH_DOWN, t);
    OP(c, FLOE_OP_VADD, (int64_t)xt, (int64_t)xt, (int64_t)b->r, d, T16);
}

static int emit_group(const mplan *P, const floe_qmodel *m, const gplan *g, floe_program *p, int chip_first,
                      int images, int rows, int pos0, int recv_from, unsigned px, unsigned py, int send_to,
                      unsigned nx, unsigned ny, floe_core_use *use, floe_err *err)
{
    const floe_model_config *cf = P->cf;
    const int head = g->slot == cf->n_layers, d = cf->d_model;
    const floe_dtype A = dt_of_bits(P->q->abits), C = dt_of_bits(P->q->kvbits);
    char what[64];
    what_of(P, g->slot, what, sizeof what);
    gemit G = {P, g, g->ncores, chip_first, calloc((size_t)g->ncores, sizeof(wcore)), calloc((size_t)g->ncores, sizeof(unsigned)),
               calloc((size_t)g->ncores, sizeof(unsigned)), {0}};
    int rc = -1;
    attnbuf *ab = NULL;
    if (!G.wc || !G.cx || !G.cy) {
        floe_err_set(err, "compiler: out of memory");
        goto out;
    }
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
    alloc_main(&G.wc[0].c, P, g->slot, g->part, g->attn, g->fused, &G.mb);
    ab = calloc((size_t)g->attn + 1, sizeof *ab);
    if (!ab) {
        floe_err_set(err, "compiler: out of memory");
        goto out;
    }
    for (int k = 1; k <= g->attn; k++)
        alloc_attn(&G.wc[k].c, P, g->slot, g->ranges, g->rlen, (k - 1) % g->ranges, &ab[k - 1]);
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
        W->in = alloc(&W->c, "in", in_bytes(A, (uint64_t)in, is_tok(P->q)));
        W->stage = alloc(&W->c, "stage", 2 * (uint64_t)maxrows);
        W->ctmp = C != FLOE_DT_I8 ? alloc(&W->c, "ctmp", (uint64_t)maxrows) : 0;
        for (int i = 0; g->fused && i < g->npieces; i++)
            if (g->pieces[i].core == k && g->pieces[i].lin == LIN_GATE) {
                W->gate_rows = g->pieces[i].r1 - g->pieces[i].r0;
                alloc_fused(&W->c, P, g->slot, W->gate_rows, &W->fb);
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
    for (int k = 0; k < G.nc; k++) {
        char label[48];
        if (k == 0)
            snprintf(label, sizeof label, head ? "lm_head" : "layer%d", g->slot);
        else if (k <= g->attn)
            snprintf(label, sizeof label, "layer%d_a", g->slot);
        else
            snprintf(label, sizeof label, head ? "lm_head_w" : "layer%d_w", g->slot);
        if (p && floe_label(p, G.cx[k], G.cy[k], label, err) != 0)
            goto out;
    }
    ctx *mc = &G.wc[0].c;
    if (recv_from)
        OP(mc, FLOE_OP_RECV, (int64_t)G.mb.x, 2 * (int64_t)rows * d, px, py, 0);
    for (int t = 0; t < rows; t++) {
        int pos = pos0 + t;
        if (head && is_tok(P->q)) {
            OP(mc, FLOE_OP_RMSNORMT, (int64_t)G.mb.h, (int64_t)G.mb.x + 2 * t * d, (int64_t)G.mb.cn, (int64_t)G.mb.eps,
               d, A);
            main_phase(&G, PH_QKV, t);
        } else if (head) {
            OP(mc, FLOE_OP_RMSNORM, (int64_t)G.mb.h, (int64_t)G.mb.x + 2 * t * d, (int64_t)G.mb.cn, (int64_t)G.mb.eps, d,
               A, FLOE_SCOPE_TENSOR);
            main_phase(&G, PH_QKV, t);
        } else {
            main_layer_row(&G, t, pos);
        }
        for (int k = 1; k <= g->attn; k++)
            if (g->ranges == 1)
                attn_row(&G, k - 1, &ab[k - 1], pos);
            else
                attn_range_row(&G, (k - 1) / g->ranges, (k - 1) % g->ranges, &ab[k - 1], pos);
        for (int k = 1 + g->attn; k < G.nc; k++)
            for (int ph = 0; ph < PH_COUNT; ph++)
                weight_phase(&G, k, ph);
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

void floe_compile_report_free(floe_compile_report *rep)
{
    free(rep->cores);
    memset(rep, 0, sizeof *rep);
}

const floe_core_use *floe_compile_report_main(const floe_compile_report *rep, int layer)
{
    for (size_t i = 0; i < rep->ncores; i++)
        if (rep->cores[i].is_main && rep->cores[i].layer == layer && rep->cores[i].part != PART_ATTN)
            return &rep->cores[i];
    return NULL;
}

/* Groups first..last-1 on one chip. */
static int compile_chip(const mplan *P, const floe_qmodel *m, const floe_compile_opts *o, int first, int last,
                        floe_program **out, floe_compile_report *rep, floe_err *err)
{
    int ncores = 0;
    for (int s = first; s < last; s++)
        ncores += P->g[s].ncores;
    floe_program *p = floe_program_new(floe_machine_fingerprint(P->mach));
    rep->cores = calloc((size_t)ncores, sizeof *rep->cores);
    if (!p || !rep->cores) {
        floe_program_free(p);
        return floe_err_set(err, "compiler: out of memory");
    }
    int rows = o->decode ? (o->rows > 1 ? o->rows : 1) : P->T, pos0 = o->decode ? o->pos : 0, k = 0;
    for (int s = first; s < last; s++) {
        unsigned px = 0, py = 0, nx = 0, ny = 0;
        if (s > first)
            serp(P->mach, P->first_core[s - 1], &px, &py);
        if (s + 1 < last)
            serp(P->mach, P->first_core[s + 1], &nx, &ny);
        if (emit_group(P, m, &P->g[s], p, P->first_core[s], !o->decode, rows, pos0, s > first, px, py, s + 1 < last, nx,
                       ny, rep->cores + k, err) != 0) {
            floe_program_free(p);
            return -1;
        }
        k += P->g[s].ncores;
    }
    rep->ncores = (size_t)ncores;
    serp(P->mach, P->first_core[first], &rep->in_x, &rep->in_y);
    serp(P->mach, P->first_core[last - 1], &rep->out_x, &rep->out_y);
    rep->mem_min = UINT64_MAX;
    for (int i = 0; i < ncores; i++) {
        rep->mem_min = rep->cores[i].bytes < rep->mem_min ? rep->cores[i].bytes : rep->mem_min;
        rep->mem_max = rep->cores[i].bytes > rep->mem_max ? rep->cores[i].bytes : rep->mem_max;
        rep->mem_total += rep->cores[i].bytes;
    }
    *out = p;
    return 0;
}

static int check_opts(const floe_model_config *cf, const floe_compile_opts *o, floe_err *err)
{
    if (o->tokens < 1 || o->tokens > cf->context)
        return floe_err_set(err, "compiler: %d tokens: the model's context is %d", o->tokens, cf->context);
    int cap = o->kv_tokens ? o->kv_tokens : o->tokens;
    if (cap < o->tokens || cap > cf->context)
        return floe_err_set(err, "compiler: a KV cache of %d positions: it must hold the %d-token prefill and stay "
                                 "within the model's context of %d", cap, o->tokens, cf->context);
    if (o->user < 0 || o->user >= (o->users > 1 ? o->users : 1))
        return floe_err_set(err, "compiler: user %d: the program holds KV caches for %d user(s)", o->user,
                            o->users > 1 ? o->users : 1);
    if (o->v_block < 0 || o->v_block > 4096)
        return floe_err_set(err, "compiler: a V-cache block of %d positions: 1..4096 (0: %d)", o->v_block,
                            FLOE_COMPILE_V_BLOCK);
    if (o->attn_ranges < 0 || o->attn_ranges > 4096)
        return floe_err_set(err, "compiler: %d attention cores per KV head: 1..4096 (0: as memory needs)", o->attn_ranges);
    if (o->decode && (o->pos < 0 || o->pos >= cap))
        return floe_err_set(err, "compiler: decode position %d is outside the KV cache's %d positions", o->pos, cap);
    if (o->decode && (o->rows < 0 || o->rows > o->tokens || o->pos + (o->rows > 1 ? o->rows : 1) > cap))
        return floe_err_set(err, "compiler: a chunk of %d rows at position %d: at most %d rows (the prefill's), within the "
                                 "KV cache's %d positions", o->rows, o->pos, o->tokens, cap);
    return 0;
}

static void plan_init(mplan *P, const floe_model_config *cf, const floe_qconfig *q, const floe_qmodel *m,
                      const floe_machine *mach, const floe_compile_opts *o)
{
    memset(P, 0, sizeof *P);
    P->cf = cf;
    P->q = q;
    P->m = m;
    P->mach = mach;
    P->T = o->tokens;
    P->Tcap = o->kv_tokens ? o->kv_tokens : o->tokens;
    P->budget = o->core_weight_bytes;
    P->users = o->users > 1 ? o->users : 1;
    P->user = o->user;
    P->vb = o->v_block > 0 ? o->v_block : FLOE_COMPILE_V_BLOCK;
    P->vb = P->vb > P->Tcap ? P->Tcap : P->vb;
    P->force_ranges = o->attn_ranges;
    int nt = (int)mach->threads_per_core;
    nt = nt > FLOE_THREADS ? FLOE_THREADS : nt < 1 ? 1 : nt;
    nt = nt > cf->n_heads ? cf->n_heads : nt;
    while (nt > 1 && nt * cf->head_dim > ACC_TOTAL - ACC_HEAD)
        nt--;
    P->nthr = nt;
}

static int check_model(const floe_qmodel *m, const floe_compile_opts *o, floe_err *err)
{
    if (!m->derived)
        return floe_err_set(err, "compiler: the quantized model's constants are not derived");
    return check_opts(&m->cfg, o, err);
}

int floe_compile_prefill(const floe_qmodel *m, const floe_machine *mach, const floe_compile_opts *o,
                         floe_program **out, floe_compile_report *rep, floe_err *err)
{
    *out = NULL;
    memset(rep, 0, sizeof *rep);
    if (check_model(m, o, err) != 0)
        return -1;
    mplan P;
    plan_init(&P, &m->cfg, &m->q, m, mach, o);
    int rc = -1;
    if (plan_model(&P, err) != 0)
        goto out;
    if (P.chips > 1) {
        uint64_t need = 0;
        for (int s = 0; s < P.ngroups; s++)
            need += (uint64_t)P.g[s].ncores;
        floe_err_set(err, "the model needs %llu cores in this mapping (%d layers and the LM head, %d cores at the "
                          "fullest); the machine has %llu per chip: use a multi-chip pipeline (floe_compile_pipeline)",
                     (unsigned long long)need, m->cfg.n_layers, P.g[0].ncores,
                     (unsigned long long)(mach->cores_x * mach->cores_y));
        goto out;
    }
    if (compile_chip(&P, m, o, 0, P.ngroups, out, rep, err) != 0) {
        floe_compile_report_free(rep);
        goto out;
    }
    rc = 0;
out:
    plan_free(&P);
    return rc;
}

static int system_chips_check(const mplan *P, floe_err *err)
{
    const floe_machine *mach = P->mach;
    uint64_t system = mach->chips_per_card * mach->cards_per_server * mach->servers_per_system;
    if ((uint64_t)P->chips > system)
        return floe_err_set(err, "the model needs %d chips in this mapping (%d layers of %d cores and the LM head of %d "
                                 "cores, %llu cores per chip); the system has %llu",
                            P->chips, P->cf->n_layers, P->g[0].ncores + (P->g[0].part == PART_ATTN ? P->g[1].ncores : 0),
                            P->g[P->ngroups - 1].ncores,
                            (unsigned long long)(mach->cores_x * mach->cores_y), (unsigned long long)system);
    return 0;
}

int floe_compile_pipeline(const floe_qmodel *m, const floe_machine *mach, const floe_compile_opts *o,
                          floe_chip_program **chips, int *n_chips, floe_err *err)
{
    *chips = NULL;
    *n_chips = 0;
    if (check_model(m, o, err) != 0)
        return -1;
    mplan P;
    plan_init(&P, &m->cfg, &m->q, m, mach, o);
    floe_chip_program *cp = NULL;
    int rc = -1;
    if (plan_model(&P, err) != 0 || system_chips_check(&P, err) != 0)
        goto out;
    int n = P.chips;
    cp = calloc((size_t)n, sizeof *cp);
    if (!cp) {
        floe_err_set(err, "compiler: out of memory");
        goto out;
    }
    for (int k = 0, s = 0; k < n; k++) {
        int first = s;
        while (s < P.ngroups && P.chip_of[s] == k)
            s++;
        cp[k].first_slot = first;
        cp[k].last_slot = s;
        if (compile_chip(&P, m, o, first, s, &cp[k].prog, &cp[k].report, err) != 0) {
            floe_err_prefix(err, "chip %d", k);
            floe_chip_programs_free(cp, k + 1);
            cp = NULL;
            goto out;
        }
    }
    *chips = cp;
    *n_chips = n;
    rc = 0;
out:
    plan_free(&P);
    return rc;
}

void floe_chip_programs_free(floe_chip_program *chips, int n)
{
    for (int k = 0; chips && k < n; k++) {
        floe_program_free(chips[k].prog);
        floe_compile_report_free(&chips[k].report);
    }
    free(chips);
}

/* ---- the plan alone ---------------------------------------------------------------------------- */

/* Bytes on each core of a group, as the emitter will allocate them (a dry run without weights). */
static int group_core_bytes(const mplan *P, const gplan *g, uint64_t *bytes, floe_err *err)
{
    const floe_dtype A = dt_of_bits(P->q->abits), C = dt_of_bits(P->q->kvbits);
    char what[64];
    what_of(P, g->slot, what, sizeof what);
    for (int k = 0; k < g->ncores; k++)
        bytes[k] = 0;
    bytes[0] = g->main_base;
    int *maxrows = calloc((size_t)g->ncores, sizeof(int)), *in = calloc((size_t)g->ncores, sizeof(int));
    if (!maxrows || !in) {
        free(maxrows);
        free(in);
        return floe_err_set(err, "compiler: out of memory");
    }
    for (int i = 0; i < g->npieces; i++) {
        const piece *pc = &g->pieces[i];
        shape s = lin_shape(P, g->slot, pc->lin);
        int rows = pc->r1 - pc->r0;
        bytes[pc->core] = round8(bytes[pc->core]) + row_bytes(s.bits, pc->i1 - pc->i0) * (uint64_t)rows;
        if (pc->b == pc->ni - 1)
            bytes[pc->core] = round8(bytes[pc->core]) + 8 * (uint64_t)rows;
        if (pc->core) {
            maxrows[pc->core] = rows > maxrows[pc->core] ? rows : maxrows[pc->core];
            int need = pc->lin == LIN_DOWN ? P->cf->ffn_dim : P->cf->d_model; /* down: multicast whole */
            in[pc->core] = need > in[pc->core] ? need : in[pc->core];
        }
    }
    for (int k = 1; k <= g->attn; k++) { /* attention cores */
        ctx da = {NULL, P->mach, 0, 0, 0, 0, what, err, 0, 0, 0};
        attnbuf ab;
        alloc_attn(&da, P, g->slot, g->ranges, g->rlen, (k - 1) % g->ranges, &ab);
        bytes[k] = da.next;
    }
    for (int k = 1 + g->attn; k < g->ncores; k++) {
        bytes[k] = round8(bytes[k]) + in_bytes(A, (uint64_t)in[k], is_tok(P->q));
        bytes[k] = round8(bytes[k]) + 2 * (uint64_t)maxrows[k];
        if (C != FLOE_DT_I8)
            bytes[k] = round8(bytes[k]) + (uint64_t)maxrows[k];
        for (int i = 0; g->fused && i < g->npieces; i++)
            if (g->pieces[i].core == k && g->pieces[i].lin == LIN_GATE) {
                ctx df = {NULL, P->mach, 0, 0, bytes[k], 0, what, err, 0, 0, 0};
                fusedbuf fb;
                alloc_fused(&df, P, g->slot, g->pieces[i].r1 - g->pieces[i].r0, &fb);
                bytes[k] = df.next;
            }
    }
    free(maxrows);
    free(in);
    for (int k = 0; k < g->ncores; k++)
        if (bytes[k] > P->mach->core_mem_bytes)
            return floe_err_set(err, "%s needs %llu bytes on its core %d; the machine has %llu bytes per core: %llu "
                                     "bytes short",
                                what, (unsigned long long)bytes[k], k, (unsigned long long)P->mach->core_mem_bytes,
                                (unsigned long long)(bytes[k] - P->mach->core_mem_bytes));
    return 0;
}

int floe_compile_plan(const floe_model_config *cfg, const floe_qconfig *q, const floe_machine *mach,
                      const floe_compile_opts *o, floe_plan_summary *sum, floe_err *err)
{
    memset(sum, 0, sizeof *sum);
    if (check_opts(cfg, o, err) != 0)
        return -1;
    mplan P;
    plan_init(&P, cfg, q, NULL, mach, o);
    int rc = -1;
    if (plan_model(&P, err) != 0)
        goto out;
    sum->chips = P.chips;
    sum->mem_min = UINT64_MAX;
    uint64_t *bytes = NULL;
    for (int s = 0; s < P.ngroups; s++) {
        const gplan *g = P.g[s].copy_of >= 0 ? &P.g[P.g[s].copy_of] : &P.g[s]; /* layers alike share layer 1's */
        uint64_t *nb = realloc(bytes, sizeof *bytes * (size_t)g->ncores);
        if (!nb) {
            floe_err_set(err, "compiler: out of memory");
            free(bytes);
            goto out;
        }
        bytes = nb;
        if (group_core_bytes(&P, g, bytes, err) != 0) {
            free(bytes);
            goto out;
        }
        for (int k = 0; k < g->ncores; k++) {
            sum->mem_min = bytes[k] < sum->mem_min ? bytes[k] : sum->mem_min;
            sum->mem_max = bytes[k] > sum->mem_max ? bytes[k] : sum->mem_max;
            sum->mem_total += bytes[k];
        }
        sum->cores += (uint64_t)g->ncores;
        sum->weight_cores += (uint64_t)(g->ncores - 1 - g->attn);
        if (P.chip_of[s] == 0 && g->slot < cfg->n_layers && g->part != PART_ATTN)
            sum->layers_per_chip++;
        if (g->slot == 0) { /* layer 0's group, or both its halves */
            sum->layer_cores += g->ncores;
            sum->layer_attn_cores += g->attn;
            sum->layer_halves += g->part != PART_ALL;
        }
    }
    free(bytes);
    for (int k = 0; k < P.ngroups; k++) /* the head: its cores, in all its slices */
        if (P.g[k].slot == cfg->n_layers) {
            sum->head_cores += P.g[k].ncores;
            sum->head_slices++;
        }
    if (system_chips_check(&P, err) != 0)
        goto out;
    rc = 0;
out:
    plan_free(&P);
    return rc;
}
