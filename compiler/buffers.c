/* The compiler: every core's memory plan (compiler/mapping.h). A bump allocator per core places named
 * regions; the main core's, an attention core's and a weight core's SwiGLU buffers are laid out here,
 * once for the plan (sizes only) and once for the program (with the memory images). */
#include "compiler/mapping.h"

static uint64_t place_mult(ctx *c, const char *name, floe_requant_mult q);
static const floe_requant_mult zero_mult;

void fc_alloc_fused(ctx *c, const mplan *P, int slot, int rows, fusedbuf *b)
{
    const floe_qlayer *L = P->m ? &P->m->layers[slot] : NULL;
    b->silu = alloc(c, "silu_lut", 4 * (FLOE_LUT16_KNOTS + 2));
    if (L)
        data(c, b->silu, &L->silu, 4 * (FLOE_LUT16_KNOTS + 2));
    b->m_mlp = place_mult(c, "m_mlp", L ? L->m_mlp : zero_mult);
    const uint64_t B = (uint64_t)P->B;
    b->gs = round8(2 * (uint64_t)rows);
    b->g = alloc(c, "g", B * b->gs);
    b->u = alloc(c, "u", B * b->gs);
    b->a = alloc(c, "a", 2 * (uint64_t)rows);
    b->t32 = alloc(c, "t32", 4 * (uint64_t)rows);
    b->u32 = alloc(c, "u32", 4 * (uint64_t)rows);
    b->mm = alloc(c, "mm", floe_dtype_bytes_for(dt_of_bits(P->q->abits), (uint64_t)rows));
}

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

/* The main core's constants, tables, activations and KV cache (m NULL: sizes only): of the whole
 * layer, or of one half (part). */
void fc_alloc_main(ctx *c, const mplan *P, int slot, int part, int attn, int fused, mainbuf *b)
{
    const floe_model_config *cf = P->cf;
    const floe_qmodel *m = P->m;
    const int d = cf->d_model, hd = cf->head_dim, nkv = cf->n_kv_heads, f = cf->ffn_dim, T = P->T, Tc = P->Tcap;
    const int kvw = nkv * hd;
    const int tok = is_tok(P->q), vocab_rows = b->vocab_rows;
    memset(b, 0, sizeof *b);
    b->vocab_rows = vocab_rows;
    if (slot == cf->n_layers) { /* the LM head */
        b->cn = place_pmult(c, "c_norm", m ? m->head_norm_c : zero_mult, P->q);
        b->eps = place_u64(c, "eps_q", m ? m->eps_q : 0);
        b->x = alloc(c, "x", 2 * (uint64_t)T * d);
        b->hs = row_stride(P, d);
        b->h = alloc(c, "h", (uint64_t)P->B * b->hs);
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
    const uint64_t B = (uint64_t)P->B; /* token rows per weight read: phases fill B rows */
    b->x = alloc(c, "x", 2 * (uint64_t)T * d);
    b->hs = row_stride(P, d);
    b->h = alloc(c, "h", B * b->hs);
    if (ha) {
        b->qs = round8(2 * (uint64_t)d);
        b->ks = round8(2 * (uint64_t)kvw);
        b->q = alloc(c, "q", B * b->qs);
        b->k16 = alloc(c, "k16", B * b->ks);
    }
    const int n32 = hm && !fused && (!ha || f > kvw) ? f : ha ? kvw : 0; /* t32's widest use */
    if (n32)
        b->t32 = alloc(c, "t32", 4 * (uint64_t)n32);
    if (ha) {
        b->ctmp = alloc(c, "ctmp", (uint64_t)hd);
        b->vs = round8((uint64_t)kvw);
        b->vrow = alloc(c, "vrow", B * b->vs);
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
        b->os = row_stride(P, d);
        b->o = alloc(c, "o", B * b->os);
        if (tok)
            b->o32 = alloc(c, "o32", 4 * (uint64_t)d);
    }
    b->rs = round8(2 * (uint64_t)d);
    b->r = alloc(c, "r", B * b->rs);
    if (hm && !fused) { /* else the weight cores compute silu(gate) * up */
        b->gs = round8(2 * (uint64_t)f);
        b->g = alloc(c, "g", B * b->gs);
        b->u = alloc(c, "u", B * b->gs);
        b->a = alloc(c, "a", 2 * (uint64_t)f);
        b->u32 = alloc(c, "u32", 4 * (uint64_t)f);
    }
    if (hm) {
        b->ms = row_stride(P, f);
        b->mm = alloc(c, "mm", B * b->ms);
    }
    if (hm && tok && fused) {
        b->ps = 4 * (uint64_t)f;
        b->p32 = alloc(c, "p32", B * b->ps);
    }
}

/* Attention core r of a KV head whose cache is spread over R cores of rlen positions each: that
 * range of every user's cache, its query heads' scores and outputs. */
void fc_alloc_attn(ctx *c, const mplan *P, int slot, int R, int rlen, int r, attnbuf *b)
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
