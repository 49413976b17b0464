#include "models/compile.h"

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

typedef struct ctx {
    floe_program *p;
    const floe_machine *mach;
    unsigned x, y;
    uint64_t next;  /* bump allocator */
    uint64_t insns;
    const char *what; /* "layer 3", "the LM head": for messages */
    floe_err *err;
    int failed;
} ctx;

static uint64_t alloc(ctx *c, const char *name, uint64_t bytes)
{
    uint64_t a = (c->next + 7) & ~(uint64_t)7;
    c->next = a + bytes;
    if (!c->failed && c->next <= FLOE_CORE_MEM_LIMIT && bytes <= UINT32_MAX &&
        floe_region(c->p, c->x, c->y, name, (uint32_t)a, (uint32_t)bytes, c->err) != 0)
        c->failed = 1;
    return a;
}

static void data(ctx *c, uint64_t addr, const void *d, size_t n)
{
    if (!c->failed && c->next <= c->mach->core_mem_bytes && floe_data(c->p, c->x, c->y, (uint32_t)addr, d, n, c->err) != 0)
        c->failed = 1;
}

static void op(ctx *c, floe_opcode o, const int64_t *f, size_t n)
{
    c->insns++;
    if (!c->failed && floe_emit_op(c->p, c->x, c->y, o, 0, f, n, c->err) != 0)
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

/* Weights as the vmm reads them: [out][in] rows of packed codes, each row starting on a byte. */
static uint64_t place_linear(ctx *c, const char *name, const floe_qlinear *L, uint64_t *mult)
{
    floe_dtype dt = dt_of_bits(L->bits);
    uint64_t row = floe_dtype_bytes_for(dt, (uint64_t)L->in), bytes = row * (uint64_t)L->out;
    uint64_t w = alloc(c, name, bytes);
    char mname[64];
    snprintf(mname, sizeof mname, "%s_mult", name);
    *mult = alloc(c, mname, 8 * (uint64_t)L->out);
    if (c->failed || c->next > c->mach->core_mem_bytes)
        return w;
    uint8_t *buf = calloc(bytes ? bytes : 1, 1);
    uint8_t *mb = malloc(8 * (size_t)L->out);
    if (!buf || !mb) {
        free(buf);
        free(mb);
        c->failed = 1;
        floe_err_set(c->err, "compiler: out of memory");
        return w;
    }
    for (int n = 0; n < L->out; n++) {
        for (int i = 0; i < L->in; i++)
            floe_elem_store(buf + (size_t)n * row, dt, (size_t)i, L->w[(size_t)n * L->in + i]);
        floe_elem_store(mb + 8 * (size_t)n, FLOE_DT_I32, 0, L->m[n].m);
        floe_elem_store(mb + 8 * (size_t)n, FLOE_DT_I32, 1, L->m[n].shift);
    }
    data(c, w, buf, bytes);
    data(c, *mult, mb, 8 * (size_t)L->out);
    free(buf);
    free(mb);
    return w;
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

static uint64_t place_u64(ctx *c, const char *name, uint64_t v)
{
    uint64_t a = alloc(c, name, 8);
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    data(c, a, b, 8);
    return a;
}

static int fits(ctx *c, floe_err *err)
{
    if (c->failed)
        return -1;
    if (c->next > c->mach->core_mem_bytes)
        return floe_err_set(err, "%s needs %llu bytes on core (%u, %u); the machine has %llu bytes per core: %llu "
                                 "bytes short (a mapping that splits a layer over several cores is not built yet)",
                            c->what, (unsigned long long)c->next, c->x, c->y,
                            (unsigned long long)c->mach->core_mem_bytes,
                            (unsigned long long)(c->next - c->mach->core_mem_bytes));
    return 0;
}

/* One decoder layer on one core: all T positions, then the residual stream moves on. */
static int emit_layer(ctx *c, const floe_qmodel *m, int l, int T, unsigned px, unsigned py, unsigned nx, unsigned ny,
                      int recv_input, int send_output, floe_err *err)
{
    const floe_model_config *cf = &m->cfg;
    const floe_qlayer *L = &m->layers[l];
    const int d = cf->d_model, hd = cf->head_dim, nh = cf->n_heads, nkv = cf->n_kv_heads, f = cf->ffn_dim;
    const int kvw = nkv * hd, group = nh / nkv;
    const floe_dtype A = dt_of_bits(m->q.abits), C = dt_of_bits(m->q.kvbits);
    const int64_t XA = xp_of_bits(m->q.abits), WP = wp_of_bits(m->q.wbits);
    const int64_t T16 = FLOE_DT_I16, T32 = FLOE_DT_I32, I8 = FLOE_DT_I8, TEN = FLOE_SCOPE_TENSOR, CH = FLOE_SCOPE_CHANNEL;
    uint64_t mq, mk, mv, mo, mg, mu, md;
    uint64_t wq = place_linear(c, "wq", &L->q, &mq), wk = place_linear(c, "wk", &L->k, &mk),
             wv = place_linear(c, "wv", &L->v, &mv), wo = place_linear(c, "wo", &L->o, &mo),
             wg = place_linear(c, "wgate", &L->gate, &mg), wu = place_linear(c, "wup", &L->up, &mu),
             wd = place_linear(c, "wdown", &L->down, &md);
    uint64_t c_attn = place_mult(c, "c_attn_norm", L->attn_norm_c), c_mlp = place_mult(c, "c_mlp_norm", L->mlp_norm_c),
             m_kc = place_mult(c, "m_kcache", L->m_kcache), m_sc = place_mult(c, "m_score", L->m_score),
             m_ao = place_mult(c, "m_attn_out", L->m_attn_out), m_mlp = place_mult(c, "m_mlp", L->m_mlp),
             eps = place_u64(c, "eps_q", m->eps_q);
    uint64_t silu = alloc(c, "silu_lut", 4 * (FLOE_LUT16_KNOTS + 2));
    data(c, silu, &L->silu, 4 * (FLOE_LUT16_KNOTS + 2));
    uint64_t cosb = alloc(c, "rope_cos", 2 * (uint64_t)T * (hd / 2)), sinb = alloc(c, "rope_sin", 2 * (uint64_t)T * (hd / 2));
    data(c, cosb, m->rope.cos, 2 * (size_t)T * (hd / 2));
    data(c, sinb, m->rope.sin, 2 * (size_t)T * (hd / 2));
    /* activations */
    uint64_t x = alloc(c, "x", 2 * (uint64_t)T * d), h = alloc(c, "h", floe_dtype_bytes_for(A, (uint64_t)d)),
             q = alloc(c, "q", 2 * (uint64_t)d), k16 = alloc(c, "k16", 2 * (uint64_t)kvw), t32 = alloc(c, "t32", 4 * (uint64_t)(f > kvw ? f : kvw)),
             ctmp = alloc(c, "ctmp", (uint64_t)hd), kc = alloc(c, "kcache", (uint64_t)nkv * T * hd),
             vc = alloc(c, "vcache", (uint64_t)T * kvw), z = alloc(c, "z", 4 * (uint64_t)T), pr = alloc(c, "p", 2 * (uint64_t)T),
             o = alloc(c, "o", floe_dtype_bytes_for(A, (uint64_t)d)), r = alloc(c, "r", 2 * (uint64_t)d),
             g = alloc(c, "g", 2 * (uint64_t)f), u = alloc(c, "u", 2 * (uint64_t)f), a = alloc(c, "a", 2 * (uint64_t)f),
             u32 = alloc(c, "u32", 4 * (uint64_t)f), mm = alloc(c, "mm", floe_dtype_bytes_for(A, (uint64_t)f));
    if (fits(c, err) != 0) /* memory first: it is what a user must change */
        return -1;
    if (d > ACC_SCORE || f > ACC_SCORE || kvw > ACC_SCORE || T > ACC_HEAD - ACC_SCORE || hd > ACC_TOTAL - ACC_HEAD)
        return floe_err_set(err, "layer %d: a row of %d outputs does not fit the accumulator layout of this compiler",
                            l, d > f ? d : f);
    char label[40];
    snprintf(label, sizeof label, "layer%d", l);
    if (floe_label(c->p, c->x, c->y, label, err) != 0)
        return -1;
    if (recv_input)
        OP(c, FLOE_OP_RECV, (int64_t)x, 2 * (int64_t)T * d, px, py, 0);
    /* requant into the cache's bit width, stored one element per byte (vmm rows of 1-byte elements) */
    for (int t = 0; t < T; t++) {
        uint64_t xt = x + 2 * (uint64_t)t * d;
        OP(c, FLOE_OP_RMSNORM, (int64_t)h, (int64_t)xt, (int64_t)c_attn, (int64_t)eps, d, A, TEN);
        OP(c, FLOE_OP_VMM, ACC_LIN, (int64_t)h, (int64_t)wq, d, d, XA, WP, FLOE_MODE_SET);
        OP(c, FLOE_OP_REQUANT, (int64_t)q, ACC_LIN, (int64_t)mq, d, T16, CH);
        OP(c, FLOE_OP_VMM, ACC_LIN, (int64_t)h, (int64_t)wk, d, kvw, XA, WP, FLOE_MODE_SET);
        OP(c, FLOE_OP_REQUANT, (int64_t)k16, ACC_LIN, (int64_t)mk, kvw, T16, CH);
        OP(c, FLOE_OP_VMM, ACC_LIN, (int64_t)h, (int64_t)wv, d, kvw, XA, WP, FLOE_MODE_SET);
        uint64_t vt = vc + (uint64_t)t * kvw;
        if (C == FLOE_DT_I8) {
            OP(c, FLOE_OP_REQUANT, (int64_t)vt, ACC_LIN, (int64_t)mv, kvw, I8, CH);
        } else {
            for (int j = 0; j < kvw; j += hd) { /* saturate to C bits, then widen to one byte each */
                OP(c, FLOE_OP_REQUANT, (int64_t)ctmp, ACC_LIN + j, (int64_t)mv + 8 * j, hd, C, CH);
                OP(c, FLOE_OP_VSAT, (int64_t)vt + j, (int64_t)ctmp, hd, C, I8);
            }
        }
        uint64_t cs = cosb + 2 * (uint64_t)t * (hd / 2), sn = sinb + 2 * (uint64_t)t * (hd / 2);
        for (int hh = 0; hh < nh; hh++)
            OP(c, FLOE_OP_ROPE, (int64_t)q + 2 * hh * hd, (int64_t)q + 2 * hh * hd, (int64_t)cs, (int64_t)sn, hd);
        for (int hh = 0; hh < nkv; hh++)
            OP(c, FLOE_OP_ROPE, (int64_t)k16 + 2 * hh * hd, (int64_t)k16 + 2 * hh * hd, (int64_t)cs, (int64_t)sn, hd);
        OP(c, FLOE_OP_VSAT, (int64_t)t32, (int64_t)k16, kvw, T16, T32);
        for (int hh = 0; hh < nkv; hh++) { /* the K cache, per KV head: rows of hd bytes over positions */
            uint64_t kt = kc + ((uint64_t)hh * T + t) * hd;
            if (C == FLOE_DT_I8) {
                OP(c, FLOE_OP_VREQUANT, (int64_t)kt, (int64_t)t32 + 4 * hh * hd, (int64_t)m_kc, hd, I8, TEN);
            } else {
                OP(c, FLOE_OP_VREQUANT, (int64_t)ctmp, (int64_t)t32 + 4 * hh * hd, (int64_t)m_kc, hd, C, TEN);
                OP(c, FLOE_OP_VSAT, (int64_t)kt, (int64_t)ctmp, hd, C, I8);
            }
        }
        for (int hq = 0; hq < nh; hq++) {
            int hk = hq / group;
            OP(c, FLOE_OP_VMM, ACC_SCORE, (int64_t)q + 2 * hq * hd, (int64_t)kc + (int64_t)hk * T * hd, hd, t + 1,
               FLOE_XP_I16, FLOE_WP_I8, FLOE_MODE_SET);
            OP(c, FLOE_OP_REQUANT, (int64_t)z, ACC_SCORE, (int64_t)m_sc, t + 1, T32, TEN);
            OP(c, FLOE_OP_SOFTMAX, (int64_t)pr, (int64_t)z, t + 1);
            for (int s = 0; s <= t; s++) /* o += p[s] v[s]: a vmm with one input and hd one-byte rows */
                OP(c, FLOE_OP_VMM, ACC_HEAD, (int64_t)pr + 2 * s, (int64_t)vc + (int64_t)s * kvw + hk * hd, 1, hd,
                   FLOE_XP_I16, FLOE_WP_I8, s == 0 ? FLOE_MODE_SET : FLOE_MODE_ADD);
            OP(c, FLOE_OP_REQUANT, (int64_t)o + (int64_t)floe_dtype_bytes_for(A, (uint64_t)hq * hd), ACC_HEAD,
               (int64_t)m_ao, hd, A, TEN);
        }
        OP(c, FLOE_OP_VMM, ACC_LIN, (int64_t)o, (int64_t)wo, d, d, XA, WP, FLOE_MODE_SET);
        OP(c, FLOE_OP_REQUANT, (int64_t)r, ACC_LIN, (int64_t)mo, d, T16, CH);
        OP(c, FLOE_OP_VADD, (int64_t)xt, (int64_t)xt, (int64_t)r, d, T16);
        /* MLP */
        OP(c, FLOE_OP_RMSNORM, (int64_t)h, (int64_t)xt, (int64_t)c_mlp, (int64_t)eps, d, A, TEN);
        OP(c, FLOE_OP_VMM, ACC_LIN, (int64_t)h, (int64_t)wg, d, f, XA, WP, FLOE_MODE_SET);
        OP(c, FLOE_OP_REQUANT, (int64_t)g, ACC_LIN, (int64_t)mg, f, T16, CH);
        OP(c, FLOE_OP_VMM, ACC_LIN, (int64_t)h, (int64_t)wu, d, f, XA, WP, FLOE_MODE_SET);
        OP(c, FLOE_OP_REQUANT, (int64_t)u, ACC_LIN, (int64_t)mu, f, T16, CH);
        OP(c, FLOE_OP_LUT16, (int64_t)a, (int64_t)g, (int64_t)silu, f, T16);
        OP(c, FLOE_OP_VSAT, (int64_t)t32, (int64_t)a, f, T16, T32);
        OP(c, FLOE_OP_VSAT, (int64_t)u32, (int64_t)u, f, T16, T32);
        OP(c, FLOE_OP_VMUL, (int64_t)t32, (int64_t)t32, (int64_t)u32, f, T32, 0); /* exact: |a u| < 2^30 */
        OP(c, FLOE_OP_VREQUANT, (int64_t)mm, (int64_t)t32, (int64_t)m_mlp, f, A, TEN);
        OP(c, FLOE_OP_VMM, ACC_LIN, (int64_t)mm, (int64_t)wd, f, d, XA, WP, FLOE_MODE_SET);
        OP(c, FLOE_OP_REQUANT, (int64_t)r, ACC_LIN, (int64_t)md, d, T16, CH);
        OP(c, FLOE_OP_VADD, (int64_t)xt, (int64_t)xt, (int64_t)r, d, T16);
    }
    if (send_output)
        OP(c, FLOE_OP_SEND, (int64_t)x, 2 * (int64_t)T * d, nx, ny, 0);
    return c->failed ? -1 : 0;
}

static int emit_head(ctx *c, const floe_qmodel *m, int T, unsigned px, unsigned py, int recv_input, floe_err *err)
{
    const int d = m->cfg.d_model, V = m->cfg.vocab_size;
    const floe_dtype A = dt_of_bits(m->q.abits);
    if (V > ACC_TOTAL)
        return floe_err_set(err, "the LM head's %d outputs exceed the %d accumulators of one core (splitting the head "
                                 "over cores is not built yet)", V, ACC_TOTAL);
    uint64_t mh;
    uint64_t w = place_linear(c, "wlm", &m->head, &mh);
    uint64_t cn = place_mult(c, "c_norm", m->head_norm_c), eps = place_u64(c, "eps_q", m->eps_q);
    uint64_t x = alloc(c, "x", 2 * (uint64_t)T * d), h = alloc(c, "h", floe_dtype_bytes_for(A, (uint64_t)d)),
             lg = alloc(c, "logits", 2 * (uint64_t)T * V);
    if (fits(c, err) != 0)
        return -1;
    if (floe_label(c->p, c->x, c->y, "lm_head", err) != 0)
        return -1;
    if (recv_input)
        OP(c, FLOE_OP_RECV, (int64_t)x, 2 * (int64_t)T * d, px, py, 0);
    for (int t = 0; t < T; t++) {
        OP(c, FLOE_OP_RMSNORM, (int64_t)h, (int64_t)x + 2 * t * d, (int64_t)cn, (int64_t)eps, d, A, FLOE_SCOPE_TENSOR);
        OP(c, FLOE_OP_VMM, 0, (int64_t)h, (int64_t)w, d, V, xp_of_bits(m->q.abits), wp_of_bits(m->head.bits), FLOE_MODE_SET);
        OP(c, FLOE_OP_REQUANT, (int64_t)lg + 2 * (int64_t)t * V, 0, (int64_t)mh, V, FLOE_DT_I16, FLOE_SCOPE_CHANNEL);
    }
    return c->failed ? -1 : 0;
}

void floe_compile_report_free(floe_compile_report *rep)
{
    free(rep->cores);
    memset(rep, 0, sizeof *rep);
}

/* Slots first..last-1 (slot n_layers is the LM head) on one chip, slot i on local core i - first. */
static int compile_chip(const floe_qmodel *m, const floe_machine *mach, int T, int first, int last, floe_program **out,
                        floe_compile_report *rep, floe_err *err)
{
    int n = last - first, L = m->cfg.n_layers;
    unsigned cols = (unsigned)mach->cores_x;
    floe_program *p = floe_program_new(floe_machine_fingerprint(mach));
    rep->cores = calloc((size_t)n, sizeof *rep->cores);
    if (!p || !rep->cores) {
        floe_program_free(p);
        return floe_err_set(err, "compiler: out of memory");
    }
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        int slot = first + i;
        unsigned x = (unsigned)i % cols, y = (unsigned)i / cols;
        unsigned px = i ? (unsigned)(i - 1) % cols : 0, py = i ? (unsigned)(i - 1) / cols : 0;
        unsigned nx = (unsigned)(i + 1) % cols, ny = (unsigned)(i + 1) / cols;
        char what[32];
        snprintf(what, sizeof what, slot < L ? "layer %d" : "the LM head", slot);
        ctx c = {p, mach, x, y, 0, 0, what, err, 0};
        rc = slot < L ? emit_layer(&c, m, slot, T, px, py, nx, ny, i > 0, i + 1 < n, err)
                      : emit_head(&c, m, T, px, py, i > 0, err);
        rep->cores[i] = (floe_core_use){x, y, slot < L ? slot : -1, c.next, c.insns};
    }
    if (rc != 0) {
        floe_program_free(p);
        return -1;
    }
    rep->ncores = (size_t)n;
    rep->in_x = rep->in_y = 0;
    rep->out_x = (unsigned)(n - 1) % cols;
    rep->out_y = (unsigned)(n - 1) / cols;
    rep->mem_min = UINT64_MAX;
    for (int i = 0; i < n; i++) {
        rep->mem_min = rep->cores[i].bytes < rep->mem_min ? rep->cores[i].bytes : rep->mem_min;
        rep->mem_max = rep->cores[i].bytes > rep->mem_max ? rep->cores[i].bytes : rep->mem_max;
        rep->mem_total += rep->cores[i].bytes;
    }
    *out = p;
    return 0;
}

static int check_model(const floe_qmodel *m, const floe_compile_opts *o, floe_err *err)
{
    if (!m->derived)
        return floe_err_set(err, "compiler: the quantized model's constants are not derived");
    if (o->tokens < 1 || o->tokens > m->cfg.context)
        return floe_err_set(err, "compiler: %d tokens: the model's context is %d", o->tokens, m->cfg.context);
    return 0;
}

int floe_compile_prefill(const floe_qmodel *m, const floe_machine *mach, const floe_compile_opts *o,
                         floe_program **out, floe_compile_report *rep, floe_err *err)
{
    *out = NULL;
    memset(rep, 0, sizeof *rep);
    if (check_model(m, o, err) != 0)
        return -1;
    uint64_t cores = mach->cores_x * mach->cores_y, need = (uint64_t)m->cfg.n_layers + 1;
    if (need > cores)
        return floe_err_set(err, "the model needs %llu cores in this mapping (one per layer and one for the LM head); "
                                 "the machine has %llu per chip: use a multi-chip pipeline (floe_compile_pipeline)",
                            (unsigned long long)need, (unsigned long long)cores);
    if (compile_chip(m, mach, o->tokens, 0, (int)need, out, rep, err) != 0) {
        floe_compile_report_free(rep);
        return -1;
    }
    return 0;
}

int floe_compile_pipeline(const floe_qmodel *m, const floe_machine *mach, const floe_compile_opts *o,
                          floe_chip_program **chips, int *n_chips, floe_err *err)
{
    *chips = NULL;
    *n_chips = 0;
    if (check_model(m, o, err) != 0)
        return -1;
    int cores = (int)(mach->cores_x * mach->cores_y), slots = m->cfg.n_layers + 1;
    int n = (slots + cores - 1) / cores;
    uint64_t system = mach->chips_per_card * mach->cards_per_server * mach->servers_per_system;
    if ((uint64_t)n > system)
        return floe_err_set(err, "the model needs %d chips in this mapping (%d layers and the LM head at one core each, "
                                 "%d cores per chip); the system has %llu",
                            n, m->cfg.n_layers, cores, (unsigned long long)system);
    floe_chip_program *cp = calloc((size_t)n, sizeof *cp);
    if (!cp)
        return floe_err_set(err, "compiler: out of memory");
    for (int k = 0; k < n; k++) {
        int first = k * cores, last = first + cores < slots ? first + cores : slots;
        cp[k].first_slot = first;
        cp[k].last_slot = last;
        if (compile_chip(m, mach, o->tokens, first, last, &cp[k].prog, &cp[k].report, err) != 0) {
            floe_err_prefix(err, "chip %d", k);
            floe_chip_programs_free(cp, k + 1);
            return -1;
        }
    }
    *chips = cp;
    *n_chips = n;
    return 0;
}

void floe_chip_programs_free(floe_chip_program *chips, int n)
{
    for (int k = 0; chips && k < n; k++) {
        floe_program_free(chips[k].prog);
        floe_compile_report_free(&chips[k].report);
    }
    free(chips);
}
