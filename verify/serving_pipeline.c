#include "verify/serving_pipeline.h"

#include <stdlib.h>
#include <string.h>

#include "sim/system.h"

enum { PREFILL, DEC0, DEC1, KINDS };

static const floe_step_cost *step_of(const floe_verify_run_result *r, int kind)
{
    if (kind == PREFILL)
        return r->priced_prompt ? &r->prefill_at : &r->prefill;
    return kind == DEC1 && r->priced_pos ? &r->decode_at : &r->decode;
}

static floe_serving_time *time_of(floe_serving_stage *s, int kind)
{
    return kind == PREFILL ? &s->prefill : &s->decode[kind - DEC0];
}

static double dynamic_j(const floe_verify_run_result *r, int kind)
{
    const floe_step_cost *c = step_of(r, kind);
    return c->energy_j - c->static_j;
}

static double latency_s(const floe_machine *mach, int a, int b)
{
    uint64_t lat;
    floe_links_wire_ps(mach, (uint64_t)a, (uint64_t)b, 0, &lat);
    return (double)lat * 1e-12;
}

/* Programs run one after another in a step (a prompt in chunks): each crosses every link once. */
static double programs(const floe_step_cost *c) { return c->programs > 1 ? (double)c->programs : 1.0; }

/* The 2-layer run's step as the parts of a longer pipeline: the groups of layer 0 and of layer 1
 * (whole, or the attention and the MLP half: [layer][part]), where the LM head's groups start, the
 * gap between groups on one chip, a chip's tail before its link, and the instruction loading of a
 * chip that starts with a group of each part and of one that starts with the head (after a link:
 * the gap less the link's latency; not measured: chip 0's). */
typedef struct parts {
    const floe_stage_time *group[2][3];
    int head;                  /* index of the first head group */
    double hop, tail, load[3], load_head;
} parts;

static int parts_of(const floe_step_cost *c, const floe_machine *mach, int n_layers, parts *pt, floe_err *err)
{
    memset(pt, 0, sizeof *pt);
    pt->head = -1;
    pt->load[0] = pt->load[1] = pt->load[2] = pt->load_head = -1;
    int hop = 0;
    for (int i = 0; i < c->stages; i++) {
        const floe_stage_time *s = &c->stage[i];
        if (s->layer < 0) { /* a link: after a layer's chip, its tail */
            if (i > 0 && c->stage[i - 1].layer >= 0 && c->stage[i - 1].layer < n_layers)
                pt->tail = s->gap_s;
            continue;
        }
        if (s->layer < 2 && s->part >= 0 && s->part <= 2 && !pt->group[s->layer][s->part])
            pt->group[s->layer][s->part] = s;
        if (s->layer == n_layers && pt->head < 0)
            pt->head = i;
        if (i == 0) {
            pt->load[s->part >= 0 && s->part <= 2 ? s->part : 0] = s->gap_s;
            continue;
        }
        const floe_stage_time *b = &c->stage[i - 1];
        if (b->layer >= 0 && !hop) { /* after a group on the same chip */
            pt->hop = s->gap_s;
            hop = 1;
        } else if (b->layer < 0) { /* the first group after a link */
            double load = s->gap_s - programs(c) * latency_s(mach, b->chip, b->chip + 1);
            *(s->layer == n_layers ? &pt->load_head : &pt->load[s->part >= 0 && s->part <= 2 ? s->part : 0]) =
                load > 0 ? load : 0;
        }
    }
    double first = c->stages > 0 ? c->stage[0].gap_s : 0; /* chip 0's */
    for (int k = 0; k < 3; k++)
        pt->load[k] = pt->load[k] < 0 ? first : pt->load[k];
    pt->load_head = pt->load_head < 0 ? first : pt->load_head;
    int whole = pt->group[0][0] && pt->group[1][0],
        halves = pt->group[0][1] && pt->group[0][2] && pt->group[1][1] && pt->group[1][2];
    if (pt->head < 0 || whole == halves)
        return floe_err_set(err, "serving: a 2-layer run of %d stages: expected the groups of two layers (whole, or "
                                 "both halves of each) and the LM head",
                            c->stages);
    return 0;
}

void floe_verify_serving_free(floe_verify_serving *s)
{
    free(s->stage);
    free(s->layer);
    free(s->part);
    memset(s, 0, sizeof *s);
}

/* Appends a stage (capacity checked by the caller). */
static void put(floe_verify_serving *s, int *i, int kind, int layer, int part, floe_serving_time t)
{
    s->layer[*i] = layer;
    s->part[*i] = part;
    *time_of(&s->stage[(*i)++], kind) = t;
}

/* The n-layer model's stages of one step, composed from the 2-layer run's (parts_of). Returns the count. */
static int compose_step(floe_verify_serving *s, int cap, int kind, const floe_step_cost *c, const parts *pt,
                        const floe_model_config *cf, const floe_plan_summary *ps, const floe_machine *mach,
                        uint64_t bytes)
{
    int halves = pt->group[0][1] != NULL, lpc = ps->layers_per_chip > 0 ? ps->layers_per_chip : 1;
    int head_chips = 1; /* chips the head spans in the 2-layer run, so in the model */
    for (int j = pt->head + 1; j < c->stages; j++)
        head_chips += c->stage[j].layer < 0;
    const int per_chip = (int)(mach->cores_x * mach->cores_y);
    int i = 0, prev = 0, g = 0, hchip = 0, used = 0;
    for (int L = 0; L < cf->n_layers; L++)
        for (int part = halves ? 1 : 0; part <= (halves ? 2 : 0); part++, g++) {
            if (halves) { /* halves fill chips in order, as the plan places groups */
                int nc = ps->half_cores[part - 1] > 0 ? ps->half_cores[part - 1] : per_chip;
                if (used + nc > per_chip && used > 0) {
                    hchip++;
                    used = 0;
                }
                used += nc;
            }
            int chip = halves ? hchip : L / lpc;
            const floe_stage_time *m = pt->group[L == 0 ? 0 : 1][part];
            floe_serving_time t = {m->gap_s, m->busy_s};
            if (g > 0 && chip != prev) { /* over a link: its latency, then the chip's loading */
                uint64_t wire = floe_links_wire_ps(mach, (uint64_t)prev, (uint64_t)chip, bytes, NULL);
                if (i < cap)
                    put(s, &i, kind, -1, 0, (floe_serving_time){pt->tail, (double)wire * 1e-12});
                t.gap_s = programs(c) * latency_s(mach, prev, chip) + pt->load[part];
            } else if (g > 0) {
                t.gap_s = pt->hop;
            }
            if (i < cap)
                put(s, &i, kind, L, part, t);
            prev = chip;
        }
    /* the head's groups (and the links between its slices) as in the 2-layer run, on the last chips */
    int chip = ps->chips - head_chips, from = c->stage[pt->head].chip;
    for (int j = pt->head; j < c->stages && i < cap; j++) {
        const floe_stage_time *h = &c->stage[j];
        floe_serving_time t = {h->gap_s, h->busy_s};
        int hc = chip + (h->chip - from);
        if (h->layer < 0)
            continue; /* links: put before the group that follows them */
        if (hc != prev) { /* the link's tail: a layer chip's, or as measured after a head slice */
            uint64_t wire = floe_links_wire_ps(mach, (uint64_t)prev, (uint64_t)hc, bytes, NULL);
            double tail = j == pt->head || c->stage[j - 1].layer >= 0 ? pt->tail : c->stage[j - 1].gap_s;
            put(s, &i, kind, -1, 0, (floe_serving_time){tail, (double)wire * 1e-12});
            if (i >= cap)
                break;
            t.gap_s = programs(c) * latency_s(mach, prev, hc) +
                      (j == pt->head ? pt->load_head
                                     : h->gap_s - programs(c) * latency_s(mach, c->stage[j - 1].chip, h->chip));
            t.gap_s = t.gap_s > 0 ? t.gap_s : 0;
        } else if (j == pt->head) {
            t.gap_s = pt->hop;
        }
        put(s, &i, kind, cf->n_layers, h->part, t);
        prev = hc;
    }
    return i;
}

int floe_verify_serving_pipeline(const floe_verify_run_result *r, int runs, const floe_verify_opts *o,
                                 const floe_model_config *cf, const floe_plan_summary *ps, const floe_machine *mach,
                                 const floe_energy_table *e, floe_verify_serving *s, floe_err *err)
{
    memset(s, 0, sizeof *s);
    floe_serving_pipeline *p = &s->pipeline;
    if (runs < 1 || runs > 2)
        return floe_err_set(err, "serving: %d runs: one of the whole model, or two (1 and 2 layers)", runs);
    const floe_verify_run_result *m = &r[runs - 1]; /* the run whose stages are laid out */
    for (int k = 0; k < KINDS; k++)
        if (step_of(m, k)->stages < 1 || !step_of(m, k)->stage)
            return floe_err_set(err, "serving: the run kept no stage times of its %s",
                                k == PREFILL ? "prefill" : "decode steps");
    /* composed: every layer's groups (two with halves), the head's, and a link between every two chips */
    int n = runs == 1 ? step_of(m, PREFILL)->stages : 2 * cf->n_layers + step_of(m, PREFILL)->stages + ps->chips;
    s->stage = calloc((size_t)n, sizeof *s->stage);
    s->layer = calloc((size_t)n, sizeof *s->layer);
    s->part = calloc((size_t)n, sizeof *s->part);
    if (!s->stage || !s->layer || !s->part) {
        floe_verify_serving_free(s);
        return floe_err_set(err, "serving: out of memory");
    }
    int count = -1;
    for (int k = 0; k < KINDS; k++) {
        const floe_step_cost *c = step_of(m, k);
        int got;
        if (runs == 1) { /* as measured */
            for (int i = 0; i < c->stages && i < n; i++) {
                s->layer[i] = c->stage[i].layer;
                s->part[i] = c->stage[i].part;
                *time_of(&s->stage[i], k) = (floe_serving_time){c->stage[i].gap_s, c->stage[i].busy_s};
            }
            got = c->stages;
        } else {
            parts pt;
            if (parts_of(c, mach, 2, &pt, err) != 0) {
                floe_verify_serving_free(s);
                return -1;
            }
            int rows = k == PREFILL ? (m->priced_prompt ? m->priced_prompt : o->tokens) : 1;
            got = compose_step(s, n, k, c, &pt, cf, ps, mach, 2ull * (uint64_t)rows * (uint64_t)cf->d_model);
        }
        if (got > n || (count >= 0 && got != count)) {
            floe_verify_serving_free(s);
            return floe_err_set(err, "serving: the prefill and the decode steps have different stages (%d, %d)",
                                count, got);
        }
        count = got;
    }
    for (int i = 0; i < count; i++)
        s->links += s->layer[i] < 0;
    p->stages = count;
    p->stage = s->stage;
    p->prefill_chunks = step_of(m, PREFILL)->programs; /* a prompt in chunks: pipelined through the stages */
    p->pos[0] = o->tokens + o->decode - 1;
    p->pos[1] = m->priced_pos ? m->priced_pos : p->pos[0];
    for (int k = DEC0; k <= DEC1; k++)
        p->decode_j[k - DEC0] =
            runs == 1 ? dynamic_j(&r[0], k)
                      : dynamic_j(&r[0], k) + (double)(cf->n_layers - 1) * (dynamic_j(&r[1], k) - dynamic_j(&r[0], k));
    for (int k = 0; k < 2; k++)
        p->decode_j[k] = p->decode_j[k] > 0 ? p->decode_j[k] : 0;
    if (e) {
        floe_energy_cost ec;
        floe_energy_costs(e, &ec);
        p->static_w = (double)ps->chips * floe_energy_static_w(&ec, mach);
    }
    uint64_t per_card = mach->chips_per_card ? mach->chips_per_card : 1;
    p->cards = (int)(((uint64_t)ps->chips + per_card - 1) / per_card);
    return 0;
}
