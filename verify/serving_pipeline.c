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

/* A run's step as the parts of a longer pipeline: its first group, a later one, the LM head, the
 * gap between groups on one chip, a chip's tail before its link, and the instruction loading of a
 * chip that starts with a layer group and of one that starts with the head (after a link: the gap
 * less the link's latency; not measured: chip 0's). */
typedef struct parts {
    floe_serving_time first, later, head;
    double hop, tail, load_layer, load_head;
} parts;

static int parts_of(const floe_step_cost *c, const floe_machine *mach, parts *pt, floe_err *err)
{
    memset(pt, 0, sizeof *pt);
    int have = 0, hop = 0;
    pt->load_head = -1;
    for (int i = 0; i < c->stages; i++) {
        const floe_stage_time *s = &c->stage[i];
        floe_serving_time t = {s->gap_s, s->busy_s};
        if (s->layer < 0) {
            pt->tail = s->gap_s;
            continue;
        }
        if (s->layer == 0)
            pt->first = t, have |= 1, pt->load_layer = s->gap_s;
        else if (s->layer == 1)
            pt->later = t, have |= 2;
        else
            pt->head = t, have |= 4;
        if (i == 0)
            continue;
        const floe_stage_time *b = &c->stage[i - 1];
        if (b->layer >= 0 && !hop) { /* after a group on the same chip */
            pt->hop = s->gap_s;
            hop = 1;
        } else if (b->layer < 0 && s->layer > 0) { /* after a link */
            uint64_t lat;
            floe_links_wire_ps(mach, (uint64_t)b->chip, (uint64_t)b->chip + 1, 0, &lat);
            double load = s->gap_s - (double)lat * 1e-12;
            *(s->layer == 1 ? &pt->load_layer : &pt->load_head) = load > 0 ? load : 0;
        }
    }
    if (pt->load_head < 0)
        pt->load_head = pt->load_layer;
    if (have != 7 || c->stages > 5)
        return floe_err_set(err, "serving: a 2-layer run of %d stages: expected two layer groups, the LM head and "
                                 "at most two chip links",
                            c->stages);
    return 0;
}

void floe_verify_serving_free(floe_verify_serving *s)
{
    free(s->stage);
    free(s->layer);
    memset(s, 0, sizeof *s);
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
    int n = runs == 1 ? step_of(m, PREFILL)->stages : cf->n_layers + ps->chips;
    s->stage = calloc((size_t)n, sizeof *s->stage);
    s->layer = calloc((size_t)n, sizeof *s->layer);
    if (!s->stage || !s->layer) {
        floe_verify_serving_free(s);
        return floe_err_set(err, "serving: out of memory");
    }
    int count = 0;
    for (int k = 0; k < KINDS; k++) {
        const floe_step_cost *c = step_of(m, k);
        if (runs == 1) { /* as measured */
            if (c->stages != n) {
                floe_verify_serving_free(s);
                return floe_err_set(err, "serving: the prefill has %d stages and a decode step %d", n, c->stages);
            }
            for (int i = 0; i < n; i++) {
                *time_of(&s->stage[i], k) = (floe_serving_time){c->stage[i].gap_s, c->stage[i].busy_s};
                s->layer[i] = c->stage[i].layer;
            }
            count = n;
            continue;
        }
        parts pt;
        if (parts_of(c, mach, &pt, err) != 0) {
            floe_verify_serving_free(s);
            return -1;
        }
        int lpc = ps->layers_per_chip > 0 ? ps->layers_per_chip : 1, prev = 0, i = 0;
        int rows = k == PREFILL ? (m->priced_prompt ? m->priced_prompt : o->tokens) : 1;
        uint64_t bytes = 2ull * (uint64_t)rows * (uint64_t)cf->d_model;
        for (int g = 0; g <= cf->n_layers && i < n; g++) { /* the layer groups, then the head */
            int chip = g < cf->n_layers ? g / lpc : ps->chips - 1;
            floe_serving_time t = g == 0 ? pt.first : g < cf->n_layers ? pt.later : pt.head;
            if (g > 0 && chip != prev && i + 1 < n) { /* over a link: its latency, then the chip's loading */
                uint64_t lat, wire = floe_links_wire_ps(mach, (uint64_t)prev, (uint64_t)chip, bytes, &lat);
                s->layer[i] = -1;
                *time_of(&s->stage[i++], k) = (floe_serving_time){pt.tail, (double)wire * 1e-12};
                t.gap_s = (double)lat * 1e-12 + (g < cf->n_layers ? pt.load_layer : pt.load_head);
            } else if (g > 0) {
                t.gap_s = pt.hop;
            }
            s->layer[i] = g;
            *time_of(&s->stage[i++], k) = t;
            prev = chip;
        }
        count = i;
    }
    for (int i = 0; i < count; i++)
        s->links += s->layer[i] < 0;
    p->stages = count;
    p->stage = s->stage;
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
