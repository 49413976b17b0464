/* The compiler's internal vocabulary, shared by its passes (not a public header: compiler/compile.h is):
 *   plan.c       shapes to groups of cores and chips (gplan, mplan)
 *   buffers.c    every core's memory plan (mainbuf, attnbuf, fusedbuf)
 *   emit.c       a group's images and instruction streams (gemit, wcore)
 *   attention.c  scores, softmax and the output over the KV cache
 *   plan_only.c  floe_compile_plan
 *   compile.c    floe_compile_prefill, floe_compile_pipeline
 * Functions shared between the passes are prefixed fc_; addresses are core-memory byte offsets. */
#ifndef FLOE_COMPILER_MAPPING_H
#define FLOE_COMPILER_MAPPING_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/compile.h"
#include "isa/builder.h"
#include "isa/elem.h"
#include "isa/insn.h"

#ifdef __cplusplus
extern "C" {
#endif

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
static inline int lin_phase(int lin)
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

static inline uint64_t alloc(ctx *c, const char *name, uint64_t bytes)
{
    uint64_t a = (c->next + 7) & ~(uint64_t)7;
    c->next = a + bytes;
    if (c->p && !c->failed && c->next <= FLOE_CORE_MEM_LIMIT && bytes <= UINT32_MAX &&
        floe_region(c->p, c->x, c->y, name, (uint32_t)a, (uint32_t)bytes, c->err) != 0)
        c->failed = 1;
    return a;
}

static inline void data(ctx *c, uint64_t addr, const void *d, size_t n)
{
    if (c->p && c->images && !c->failed && c->next <= c->mach->core_mem_bytes &&
        floe_data(c->p, c->x, c->y, (uint32_t)addr, d, n, c->err) != 0)
        c->failed = 1;
}

static inline void op(ctx *c, floe_opcode o, const int64_t *f, size_t n)
{
    c->insns++;
    if (c->p && !c->failed && floe_emit_op(c->p, c->x, c->y, o, c->thread, f, n, c->err) != 0)
        c->failed = 1;
}

/* A hardware loop over the next instructions of the current thread (count > 0). */
static inline size_t loop_begin(ctx *c, unsigned count, unsigned reg, int32_t stride)
{
    size_t h = 0;
    c->insns++;
    if (c->p && !c->failed && floe_loop_begin(c->p, c->x, c->y, c->thread, count, reg, stride, &h, c->err) != 0)
        c->failed = 1;
    return h;
}

static inline void loop_end(ctx *c, size_t h)
{
    if (c->p && !c->failed && floe_loop_end(c->p, c->x, c->y, h, c->err) != 0)
        c->failed = 1;
}

#define OP(c, o, ...)                                                                                    \
    do {                                                                                                 \
        const int64_t f_[] = {__VA_ARGS__};                                                             \
        op(c, o, f_, sizeof f_ / sizeof f_[0]);                                                          \
    } while (0)

static inline floe_dtype dt_of_bits(int bits) { return bits == 2 ? FLOE_DT_I2 : bits == 4 ? FLOE_DT_I4 : FLOE_DT_I8; }
static inline int64_t xp_of_bits(int bits) { return bits == 4 ? FLOE_XP_I4 : FLOE_XP_I8; }
static inline int64_t wp_of_bits(int bits) { return bits == 2 ? FLOE_WP_I2 : bits == 4 ? FLOE_WP_I4 : FLOE_WP_I8; }
static inline uint64_t round8(uint64_t v) { return (v + 7) & ~(uint64_t)7; }
/* Per-token scaling (docs/numerics.md §10): a linear-layer input row carries its shift k as one byte
 * right after its codes; buffers that hold such a row get 8 more bytes. */
static inline int is_tok(const floe_qconfig *q) { return q->act_scaling == FLOE_ACT_PER_TOKEN; }
static inline uint64_t in_bytes(floe_dtype A, uint64_t n, int tok) { return floe_dtype_bytes_for(A, n) + (tok ? 8 : 0); }

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
    int B;            /* token rows per weight read (vmmr); row buffers are planned B deep */
    int B_auto;       /* B was chosen, not asked for: fall back to fewer rows where B costs chips */
    uint64_t budget;
    int ngroups;
    gplan *g;
    /* placement */
    int chips;
    int *chip_of;     /* [ngroups] */
    int *first_core;  /* [ngroups] serpentine index of the group's main core on its chip */
} mplan;

/* The linears a group holds, first..last (the down projection is last when present). */
static inline void group_lins(const mplan *P, int slot, int part, int *first, int *last)
{
    if (slot == P->cf->n_layers) {
        *first = *last = LIN_HEAD;
        return;
    }
    *first = part == PART_MLP ? LIN_GATE : LIN_Q;
    *last = part == PART_ATTN ? LIN_O : LIN_DOWN;
}

static inline shape lin_shape(const mplan *P, int slot, int lin)
{
    const floe_model_config *c = P->cf;
    int d = c->d_model, kvw = c->n_kv_heads * c->head_dim, f = c->ffn_dim;
    int bits = lin == LIN_HEAD ? P->q->head_bits : floe_qconfig_linear_wbits_of(P->q, slot, lin);
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

/* The bytes between two token rows of an input buffer of n elements (its codes, per token its shift
 * byte), rounded to 8. */
static inline uint64_t row_stride(const mplan *P, int n)
{
    return round8(in_bytes(dt_of_bits(P->q->abits), (uint64_t)n, is_tok(P->q)));
}

/* A weight core's input buffer: B rows of the widest vector it can receive. */
static inline uint64_t wcore_in_reserve(const mplan *P)
{
    const int d = P->cf->d_model, f = P->cf->ffn_dim;
    return (uint64_t)P->B * row_stride(P, f > d ? f : d) + 64;
}

/* A group's rows of a linear: lo..hi-1 (the LM head: its vocabulary slice). */
static inline void lin_rows(const mplan *P, const gplan *g, int lin, int *lo, int *hi)
{
    *lo = lin == LIN_HEAD ? g->v0 : 0;
    *hi = lin == LIN_HEAD ? g->v1 : lin_shape(P, g->slot, lin).out;
}

static inline const floe_qlinear *lin_of(const floe_qmodel *m, int slot, int lin)
{
    if (lin == LIN_HEAD)
        return &m->head;
    const floe_qlayer *Y = &m->layers[slot];
    const floe_qlinear *all[7] = {&Y->q, &Y->k, &Y->v, &Y->o, &Y->gate, &Y->up, &Y->down};
    return all[lin];
}

static inline uint64_t row_bytes(int bits, int k) { return floe_dtype_bytes_for(dt_of_bits(bits), (uint64_t)k); }

/* Bytes of one user's V cache of one KV head for n positions: whole blocks and the rows of the last,
 * partial one. */
static inline uint64_t vt_bytes(const mplan *P, int n) { return (uint64_t)n * P->cf->head_dim; }

/* Serpentine order: rows alternate direction, so cores i and i + 1 are neighbours. */
static inline void serp(const floe_machine *mach, int i, unsigned *x, unsigned *y)
{
    unsigned cols = (unsigned)mach->cores_x;
    *y = (unsigned)i / cols;
    *x = (*y % 2 == 0) ? (unsigned)i % cols : cols - 1 - (unsigned)i % cols;
}

static inline int64_t dir_to(unsigned x0, unsigned y0, unsigned x1, unsigned y1)
{
    return x1 > x0 ? FLOE_DIR_E : x1 < x0 ? FLOE_DIR_W : y1 > y0 ? FLOE_DIR_S : FLOE_DIR_N;
}

/* A weight core's SwiGLU buffers for `rows` rows: gate and up (int16) B deep, the rest one row. */
#define FUSED_BYTES(rows, A, B)                                                                                        \
    (4 * (FLOE_LUT16_KNOTS + 2) + 8 + (4 * (uint64_t)(B) + 10) * (uint64_t)(rows) +                                    \
     floe_dtype_bytes_for(A, (uint64_t)(rows)) + 64)

/* ---- buffers (buffers.c) ----------------------------------------------------------------------- */

typedef struct mainbuf {
    uint64_t c_attn, c_mlp, m_kc, m_sc, m_ao, m_mlp, eps, silu, cosb, sinb;
    uint64_t x, h, q, k16, t32, ctmp, kc, vt, tscr, z, pr, o, r, g, u, a, u32, mm;
    uint64_t m_id, onehot; /* the V-cache transposition's identity multiplier and one-hot row */
    uint64_t cn, lg; /* the head */
    uint64_t krow, vrow; /* this position's K rows (with attention cores, to send them) and V rows */
    uint64_t o32, p32;   /* per token: the attention outputs and (fused) the SwiGLU products as int32 rows */
    int attn_pc, mlp_pc; /* SmoothQuant at the norms: c_attn / c_mlp hold d per-channel multipliers */
    int vocab_rows;      /* the head: the logits' row length (its vocabulary slice); set before alloc_main */
    /* Buffers a phase fills for B token rows at once (h, q, k16, vrow, o, r, g, u, mm, p32) hold B rows:
     * row j at base + j * stride. */
    uint64_t hs, qs, ks, vs, os, rs, gs, ms, ps;
} mainbuf;

/* A weight core's SwiGLU (split layers): its gate and up rows, silu(gate) * up, requantized to
 * the down projection's input; only those rows go back to the main core. */
typedef struct fusedbuf {
    uint64_t silu, m_mlp, g, u, a, t32, u32, mm;
    uint64_t gs; /* g and u hold B rows: row j at g + j * gs */
} fusedbuf;

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

/* ---- buffers (buffers.c) ---- */
void fc_alloc_fused(ctx *c, const mplan *P, int slot, int rows, fusedbuf *b);
void fc_alloc_main(ctx *c, const mplan *P, int slot, int part, int attn, int fused, mainbuf *b);
void fc_alloc_attn(ctx *c, const mplan *P, int slot, int R, int rlen, int r, attnbuf *b);

/* ---- plan (plan.c) ---- */
void fc_what_of(const mplan *P, int slot, char *buf, size_t n);
void fc_plan_free(mplan *P);
int fc_plan_model(mplan *P, floe_err *err);
int fc_check_opts(const floe_model_config *cf, const floe_compile_opts *o, floe_err *err);
void fc_plan_init(mplan *P, const floe_model_config *cf, const floe_qconfig *q, const floe_qmodel *m,
                  const floe_machine *mach, const floe_compile_opts *o);
int fc_system_chips_check(const mplan *P, floe_err *err);

/* ---- the emitter (emit.c) ----------------------------------------------------------------------- */

typedef struct wcore {
    ctx c;
    uint64_t in, ins; /* input buffer: B rows, row j at in + j * ins */
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
    int run[PH_COUNT], run_k0[PH_COUNT], run_k1[PH_COUNT]; /* phase_run, scanned once */
} gemit;

int fc_emit_group(const mplan *P, const floe_qmodel *m, const gplan *g, floe_program *p, int chip_first,
                  int images, int rows, int pos0, int recv_from, unsigned px, unsigned py, int send_to,
                  unsigned nx, unsigned ny, floe_core_use *use, floe_err *err);

/* ---- attention (attention.c) ---- */
uint64_t fc_v_slot(const mplan *P, uint64_t vt, int r0, int pos);
void fc_emit_v_stored(ctx *c, const mplan *P, uint64_t onehot, uint64_t m_id, uint64_t tscr, uint64_t vt, int r0,
                      int pos);
void fc_emit_attention(ctx *c, const mplan *P, const attnbuf *b, int h0, int h1, int64_t kstride, int64_t vtstride,
                       int pos);
void fc_attn_row(gemit *G, int hk, const attnbuf *ab, int pos);
void fc_attn_range_row(gemit *G, int hk, int r, const attnbuf *ab, int pos);

#ifdef __cplusplus
}
#endif

#endif
