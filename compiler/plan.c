/* The compiler: the plan (compiler/mapping.h). Shapes to groups of cores: a layer on one core, or
 * spread over weight cores and attention cores, or in two halves on chips of their own; the LM head
 * whole or in vocabulary slices; groups placed chip after chip in serpentine order. */
#include "compiler/mapping.h"
#include "isa/program.h"

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

void fc_what_of(const mplan *P, int slot, char *buf, size_t n)
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
    const uint64_t reserve = wcore_in_reserve(P);
    const uint64_t mem = P->mach->core_mem_bytes > reserve ? P->mach->core_mem_bytes - reserve : 0;
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
                cost[1 + j] += FUSED_BYTES(r1 - r0, dt_of_bits(P->q->abits), P->B);
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
    fc_what_of(P, slot, what, sizeof what);
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
    fc_alloc_main(&dry, P, slot, part, 0, 0, &mb);
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
        fc_alloc_main(&dm, P, slot, part, 0, g->fused, &mb);
        g->main_base = dm.next;
    }
    /* weight cores: their input buffer is the widest vector they receive */
    uint64_t reserve = wcore_in_reserve(P);
    if (reserve >= mem)
        return floe_err_set(err,
                            "%s: a weight core's input buffer (%llu bytes: %d token row(s) per weight read) does "
                            "not fit a core of %llu bytes",
                            what, (unsigned long long)reserve, P->B, (unsigned long long)mem);
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
            fc_alloc_attn(&da, P, slot, R, rlen, 0, &ab);
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
            fc_alloc_main(&dm, P, slot, part, 1, g->fused, &mb);
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

void fc_plan_free(mplan *P)
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

static int plan_model_at(mplan *P, floe_err *err);

/* Does plan T keep plan P's layout: the same chips and groups on them (no layer cut into halves it
 * was not)? Its groups may have more weight cores and so fewer of the idle cores that widen the KV
 * caches' ranges (docs/compiler.md, "Weight reuse in prefill"). */
static int same_layout(const mplan *P, const mplan *T)
{
    if (T->chips != P->chips || T->ngroups != P->ngroups)
        return 0;
    for (int s = 0; s < P->ngroups; s++)
        if (T->g[s].part != P->g[s].part || T->chip_of[s] != P->chip_of[s])
            return 0;
    return 1;
}

/* With B chosen (not asked for): B rows where the layout stays as with one row (the rows' buffers take
 * memory that would otherwise hold weights or whole layers), else half as many, down to one. */
int fc_plan_model(mplan *P, floe_err *err)
{
    /* data past the instruction set's addresses cannot be placed: such a machine is refused, not
       planned as if it had less memory (an architect sweeping core memory sees why) */
    if (P->mach->core_mem_bytes > FLOE_CORE_MEM_LIMIT)
        return floe_err_set(err,
                            "the machine's %llu bytes of memory per core are more than the instruction set addresses "
                            "(%u bytes: %d-bit addresses, docs/isa.md); the compiler places nothing past them",
                            (unsigned long long)P->mach->core_mem_bytes, (unsigned)FLOE_CORE_MEM_LIMIT,
                            FLOE_MEM_ADDR_BITS);
    if (!P->B_auto)
        return plan_model_at(P, err);
    const int want = P->B;
    P->B = 1;
    if (plan_model_at(P, err) != 0)
        return -1;
    for (int b = want; b > 1; b /= 2) {
        mplan T = *P;
        T.B = b;
        T.g = NULL;
        T.chip_of = T.first_core = NULL;
        floe_err e;
        if (plan_model_at(&T, &e) == 0 && same_layout(P, &T)) {
            fc_plan_free(P);
            *P = T;
            return 0;
        }
        fc_plan_free(&T);
    }
    return 0;
}

static int plan_model_at(mplan *P, floe_err *err)
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
        int alike = s > 1 && s < cf->n_layers && P->m == NULL; /* plan only: layers shaped alike... */
        for (int j = 0; alike && j < FLOE_LAYER_LINEARS; j++)  /* ...where their widths are layer 1's */
            alike = floe_qconfig_linear_wbits_of(P->q, s, j) == floe_qconfig_linear_wbits_of(P->q, 1, j);
        if (alike) {
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
                fc_what_of(P, s, what, sizeof what);
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
            floe_plan_next_fit(per_chip, P->g[k].ncores, &chip, &used);
            P->chip_of[k] = chip;
            P->first_core[k] = used - P->g[k].ncores;
        }
    }
    P->chips = chip + 1;
    return 0;
}

int fc_check_opts(const floe_model_config *cf, const floe_compile_opts *o, floe_err *err)
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
    if (o->reuse_rows < 0 || o->reuse_rows > 255)
        return floe_err_set(err,
                            "compiler: %d token rows per weight read: 1..255 (0: as many as the vmm unit's rate "
                            "can use)",
                            o->reuse_rows);
    if (o->decode && (o->pos < 0 || o->pos >= cap))
        return floe_err_set(err, "compiler: decode position %d is outside the KV cache's %d positions", o->pos, cap);
    if (o->decode && (o->rows < 0 || o->rows > o->tokens || o->pos + (o->rows > 1 ? o->rows : 1) > cap))
        return floe_err_set(err, "compiler: a chunk of %d rows at position %d: at most %d rows (the prefill's), within the "
                                 "KV cache's %d positions", o->rows, o->pos, o->tokens, cap);
    return 0;
}

void fc_plan_init(mplan *P, const floe_model_config *cf, const floe_qconfig *q, const floe_qmodel *m,
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
    P->B = o->reuse_rows > 0 ? (o->reuse_rows < P->T ? o->reuse_rows : P->T) : 1; /* never more than its rows */
    if (o->reuse_rows == 0) { /* the rows that make the MACs, not the weight bytes, the bound */
        const int wb = floe_qconfig_wbits_of(q, 0);
        const uint64_t rate = mach->vmm_macs_per_cycle[floe_prec_of((int)xp_of_bits(q->abits), (int)wp_of_bits(wb))];
        const uint64_t port = mach->sram_bytes_per_cycle ? mach->sram_bytes_per_cycle : 1;
        uint64_t b = (rate * (uint64_t)wb + 8 * port - 1) / (8 * port);
        b = b > 255 ? 255 : b < 1 ? 1 : b;
        P->B = (int)b < P->T ? (int)b : P->T;
        P->B_auto = P->B > 1;
    }
    int nt = (int)mach->threads_per_core;
    nt = nt > FLOE_THREADS ? FLOE_THREADS : nt < 1 ? 1 : nt;
    nt = nt > cf->n_heads ? cf->n_heads : nt;
    while (nt > 1 && nt * cf->head_dim > ACC_TOTAL - ACC_HEAD)
        nt--;
    P->nthr = nt;
}

int fc_system_chips_check(const mplan *P, floe_err *err)
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
