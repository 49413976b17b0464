/* Pricing one point with one tier (explore/explore.h): the simulator through the deployment check,
 * or the analytical cost model; the area proxy beside either. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "explore/area.h"
#include "explore/cost_model.h"
#include "explore/explore.h"
#include "verify/deploy_check.h"

/* The checked prefill's length: 16 tokens and 2 decode steps, shorter where the cache is (both tiers
   plan the same rows). */
static void check_lengths(int context, int *tokens, int *decode)
{
    *tokens = 16, *decode = 2;
    if (*tokens + *decode > context) {
        *tokens = context > 2 ? context - 2 : 1;
        *decode = context > 2 ? 2 : 1;
    }
}

static int price_sim(const floe_sweep *s, const floe_explore_point *pt, floe_explore_figures *f, char *status, size_t n)
{
    floe_deploy_check_opts o = floe_deploy_check_defaults();
    o.kv_tokens = pt->context;
    check_lengths(pt->context, &o.tokens, &o.decode);
    o.users = pt->users;
    o.prompt = pt->prompt;
    o.decode_steps = pt->decode_steps;
    o.full_chips = s->full_chips;
    floe_deploy_report rep;
    floe_err err;
    int rc = floe_deploy_check(&pt->model, &pt->q, &pt->machine, pt->has_energy ? &pt->energy : NULL, &o, &rep, &err);
    if (rep.stage >= FLOE_DEPLOY_PLANNED && !rep.fits) {
        f->fits = 0;
        f->chips = rep.plan.chips;
        snprintf(status, n, "does not fit: %s", rep.unfit);
        return 0;
    }
    if (rc != 0) {
        snprintf(status, n, "%s", err.msg);
        return -1;
    }
    f->fits = 1;
    f->chips = rep.users_plan.chips;
    f->cards = rep.cards;
    f->cores = rep.users_plan.cores;
    f->mem_high_water = rep.users_plan.mem_max;
    f->users_served = rep.users;
    f->latency_us = rep.decode_s * 1e6;
    f->prefill_us_per_token = rep.prefill_s * 1e6 / rep.tokens;
    f->tokens_per_s = rep.serving.tokens_per_s;
    if (rep.priced_energy) {
        f->energy_uj_per_token = rep.serving.energy_per_token_j * 1e6;
        f->power_w = rep.serving.power_per_card_w * rep.cards;
    }
    snprintf(status, n, "ok");
    return 0;
}

static int price_analytic(const floe_sweep *s, const floe_explore_point *pt, floe_explore_figures *f, char *status,
                          size_t n)
{
    (void)s;
    int decode;
    floe_cost_opts o = {
        .kv_tokens = pt->context, .users = pt->users, .prompt = pt->prompt, .decode_steps = pt->decode_steps};
    check_lengths(pt->context, &o.tokens, &decode);
    floe_cost_result r;
    floe_err err;
    if (floe_cost_estimate(&pt->model, &pt->q, &pt->machine, pt->has_energy ? &pt->energy : NULL, &o, &r, &err) != 0) {
        snprintf(status, n, "%s", err.msg);
        return -1;
    }
    if (!r.fits) {
        f->fits = 0;
        snprintf(status, n, "does not fit: %s", r.unfit);
        return 0;
    }
    f->fits = 1;
    f->chips = r.chips;
    f->cards = r.cards;
    f->cores = (uint64_t)r.cores_used;
    f->mem_high_water = r.core_mem_high_water;
    f->users_served = r.users;
    f->latency_us = r.decode_s * 1e6;
    f->prefill_us_per_token = r.prefill_s_per_token * 1e6;
    f->tokens_per_s = r.tokens_per_s;
    if (pt->has_energy && r.tokens_per_s > 0) { /* at the served load, as the simulator tier's */
        f->energy_uj_per_token = r.power_w / r.tokens_per_s * 1e6;
        f->power_w = r.power_w;
    }
    snprintf(status, n, "ok");
    return 0;
}

/* The silicon of every chip the mapping uses. */
static void price_area(const floe_sweep *s, const floe_explore_point *pt, floe_explore_figures *f)
{
    if (!s->has_area || f->chips <= 0)
        return;
    floe_area a;
    floe_area_of(&pt->machine, &s->area, &a);
    f->area_mm2 = a.chip_mm2 * f->chips;
}

int floe_explore_price(const floe_sweep *s, const floe_explore_point *pt, floe_sweep_tier tier, floe_explore_figures *f,
                       char *status, size_t status_n)
{
    *f = floe_explore_figures_none();
    int rc = tier == FLOE_TIER_SIM ? price_sim(s, pt, f, status, status_n) : price_analytic(s, pt, f, status, status_n);
    if (rc == 0 && f->fits)
        price_area(s, pt, f);
    return rc;
}
