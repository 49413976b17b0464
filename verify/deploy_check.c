/* The deployment check (verify/deploy_check.h): the memory plan's fit and its bisections, the runs on
 * the simulator, the composition of a model too large to simulate whole, and serving. */
#include "verify/deploy_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/atomic_file.h"
#include "models/qmodel_io.h"
#include "verify/serving_pipeline.h"
#include "verify/verify.h"

/* a = a1 + (n - 1) (a2 - a1) */
static double compose(double a1, double a2, int n) { return a1 + (double)(n - 1) * (a2 - a1); }

static floe_deploy_token_energy token_at(const floe_step_cost *c1, const floe_step_cost *c2, int pos, int n)
{
    floe_deploy_token_energy t = {pos, c1->actions, c1->static_j};
    if (c2) {
        floe_actions_compose(&t.actions, &c1->actions, &c2->actions, n);
        t.static_j = compose(c1->static_j, c2->static_j, n);
    }
    return t;
}

/* Prefixes the composed runs' progress lines with the model they belong to. */
typedef struct progress_prefix {
    void (*fn)(void *ctx, const char *what);
    void *ctx;
    char model[48];
} progress_prefix;

static void progress_prefixed(void *ctx, const char *what)
{
    progress_prefix *p = ctx;
    char line[256];
    snprintf(line, sizeof line, "%s%s", p->model, what);
    p->fn(p->ctx, line);
}

/* T, N, P, D and the cache's positions from the options and the model's context. */
static int resolve_lengths(const floe_model_config *cf, const floe_deploy_check_opts *o, floe_deploy_report *rep,
                           floe_err *err)
{
    int T = o->tokens, N = o->decode, P = o->prompt ? o->prompt : T, kv = o->kv_tokens;
    if (T < 1 || N < 1)
        return floe_err_set(err, "a prefill of %d token(s) and %d decode step(s): both must be at least 1", T, N);
    int room = (kv ? kv : cf->context) - P; /* decode positions after the prompt */
    int D = o->decode_steps ? o->decode_steps : room < 32 ? room : 32;
    if (D < 1 || D > room)
        return floe_err_set(err, "a %d-token prompt and %d decode step(s) need %d positions: the %s holds %d", P,
                            D < 1 ? 1 : D, P + (D < 1 ? 1 : D), kv ? "KV cache" : "model's context",
                            kv ? kv : cf->context);
    int cap = kv ? kv : T + N > P + D ? T + N : P + D;
    if (T + N > cap || cap > cf->context)
        return floe_err_set(err,
                            "--tokens %d and --decode %d need %d positions: the KV cache holds %d and the model's "
                            "context is %d",
                            T, N, T + N, cap, cf->context);
    rep->tokens = T;
    rep->decode = N;
    rep->prompt = P;
    rep->decode_steps = D;
    rep->kv_tokens = cap;
    return 0;
}

/* The fit, the longest context and the most users this mapping holds (the plan is cheap: bisect). */
static void plan_limits(const floe_model_config *cf, const floe_qconfig *q, const floe_machine *mach,
                        const floe_compile_opts *co, floe_deploy_report *rep)
{
    int lo = rep->kv_tokens, hi = cf->context;
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        floe_compile_opts mo = *co;
        floe_plan_summary ms;
        floe_err merr;
        mo.kv_tokens = mid;
        if (floe_compile_plan(cf, q, mach, &mo, &ms, &merr) == 0)
            lo = mid;
        else
            hi = mid - 1;
    }
    rep->max_context = lo;
    rep->context_limit[0] = 0;
    if (lo < cf->context) {
        floe_compile_opts mo = *co;
        floe_plan_summary ms;
        floe_err merr;
        mo.kv_tokens = lo + 1;
        floe_compile_plan(cf, q, mach, &mo, &ms, &merr);
        snprintf(rep->context_limit, sizeof rep->context_limit, "%s", merr.msg);
    }
    int ulo = 1, uhi = 4096;
    while (ulo < uhi) {
        int mid = ulo + (uhi - ulo + 1) / 2;
        floe_compile_opts mo = *co;
        floe_plan_summary ms;
        floe_err merr;
        mo.users = mid;
        if (floe_compile_plan(cf, q, mach, &mo, &ms, &merr) == 0) /* more caches: more attention cores, chips */
            ulo = mid;
        else
            uhi = mid - 1;
    }
    rep->max_users = ulo;
}

/* The runs on the simulator: the whole model, or the same shape with 1 and with 2 layers. */
static int measure(const floe_model_config *cf, const floe_qconfig *q, const floe_machine *mach,
                   const floe_energy_table *e, const floe_deploy_check_opts *o, const floe_verify_opts *vo,
                   int composed, floe_verify_run_result r[2], floe_err *err)
{
    int T = vo->tokens, N = vo->decode, runs = composed ? 2 : 1;
    progress_prefix pp = {o->progress, o->progress_ctx, ""};
    floe_verify_opts v = *vo;
    if (o->progress) {
        v.progress = progress_prefixed;
        v.progress_ctx = &pp;
    }
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)(T + N));
    if (!tok)
        return floe_err_set(err, "out of memory for %d tokens", T + N);
    for (int t = 0; t < T + N; t++)
        tok[t] = (int32_t)((t * 7 + 65) % cf->vocab_size);
    int rc = 0;
    for (int i = 0; i < runs && rc == 0; i++) {
        floe_qmodel m;
        floe_model_config c = *cf;
        if (composed)
            c.n_layers = i + 1;
        if (o->qmodel && !composed)
            rc = floe_qmodel_load(&m, o->qmodel, err);
        else
            rc = floe_qmodel_random_shared(&m, &c, q, o->seed, err);
        if (rc != 0)
            break;
        if (composed)
            snprintf(pp.model, sizeof pp.model, "the %d-layer model of this shape: ", i + 1);
        if (floe_verify_run(&m, mach, e, tok, &v, &r[i], err) != 0)
            rc = -1;
        else if (!r[i].match)
            rc = floe_err_set(err, "MISMATCH: %s", r[i].mismatch);
        floe_qmodel_free(&m);
    }
    free(tok);
    return rc;
}

/* The figures of one token and of the prefill, whole or composed. */
static void measured_figures(const floe_verify_run_result r[2], int composed, int n, floe_deploy_report *rep)
{
    int runs = composed ? 2 : 1;
    const floe_step_cost *dec[2], *pre[2] = {&r[0].prefill, &r[runs - 1].prefill};
    for (int i = 0; i < 2; i++) {
        const floe_verify_run_result *ri = &r[i < runs ? i : 0];
        dec[i] = ri->priced_pos ? &ri->decode_at : &ri->decode;
    }
    rep->composed = composed;
    rep->priced_past = r[0].priced_pos != 0;
    rep->priced_pos = r[0].priced_pos ? r[0].priced_pos : rep->tokens + rep->decode - 1;
    rep->checked_users = r[0].users;
    rep->reuse_rows = r[0].reuse_rows;
    rep->kv_bytes_per_layer = r[0].kv_bytes_per_layer;
    rep->compared = r[0].compared + (composed ? r[1].compared : 0);
    rep->decode_s = dec[0]->latency_s;
    rep->decode_j = dec[0]->energy_j;
    rep->decode_static_j = dec[0]->static_j;
    rep->prefill_s = pre[0]->latency_s;
    rep->prefill_j = pre[0]->energy_j;
    if (composed) {
        rep->decode_s = compose(dec[0]->latency_s, dec[1]->latency_s, n);
        rep->decode_j = compose(dec[0]->energy_j, dec[1]->energy_j, n);
        rep->decode_static_j = compose(dec[0]->static_j, dec[1]->static_j, n);
        rep->prefill_s = compose(pre[0]->latency_s, pre[1]->latency_s, n);
        rep->prefill_j = compose(pre[0]->energy_j, pre[1]->energy_j, n);
    }
}

/* The users through the pipeline's stages, event by event, and the energy by kind. */
static int serve(const floe_verify_run_result r[2], const floe_verify_opts *vo, const floe_model_config *cf,
                 const floe_machine *mach, const floe_energy_table *e, const floe_deploy_check_opts *o,
                 floe_deploy_report *rep, floe_err *err)
{
    int runs = rep->composed ? 2 : 1, n = cf->n_layers;
    floe_verify_serving vs;
    floe_serving_load load = {rep->users, rep->prompt, rep->decode_steps, o->arrival_s};
    if (floe_verify_serving_pipeline(r, runs, vo, cf, &rep->users_plan, mach, e, &vs, err) != 0)
        return -1;
    int rc = floe_serving_run(&vs.pipeline, &load, &rep->serving, err);
    if (rc == 0) {
        int sl = vs.layer[rep->serving.slowest_stage], sp = vs.part[rep->serving.slowest_stage];
        rep->stages = vs.pipeline.stages;
        rep->layer_groups = rep->head_stages = 0;
        for (int i = 0; i < vs.pipeline.stages; i++) {
            rep->layer_groups += vs.layer[i] >= 0 && vs.layer[i] < n;
            rep->head_stages += vs.layer[i] == n;
        }
        rep->links = vs.links;
        rep->cards = vs.pipeline.cards;
        rep->static_w = vs.pipeline.static_w;
        if (sl < 0)
            snprintf(rep->slowest, sizeof rep->slowest, "a chip link");
        else if (sl == n)
            snprintf(rep->slowest, sizeof rep->slowest, "the LM head");
        else
            snprintf(rep->slowest, sizeof rep->slowest, "layer %d%s", sl,
                     sp == 1   ? "'s attention half"
                     : sp == 2 ? "'s MLP half"
                               : "");
    }
    floe_verify_serving_free(&vs);
    if (rc != 0 || !e)
        return rc;
    /* a decode token by kind: at the last checked position, and where priced */
    rep->priced_energy = 1;
    floe_energy_costs(e, &rep->energy_cost);
    const floe_verify_run_result *r2 = rep->composed ? &r[1] : NULL;
    rep->n_token = 0;
    rep->token[rep->n_token++] = token_at(&r[0].decode, r2 ? &r2->decode : NULL, rep->tokens + rep->decode - 1, n);
    if (r[0].priced_pos)
        rep->token[rep->n_token++] = token_at(&r[0].decode_at, r2 ? &r2->decode_at : NULL, r[0].priced_pos, n);
    return 0;
}

int floe_deploy_check(const floe_model_config *cf, const floe_qconfig *q, const floe_machine *mach,
                      const floe_energy_table *e, const floe_deploy_check_opts *o, floe_deploy_report *rep,
                      floe_err *err)
{
    memset(rep, 0, sizeof *rep);
    if (resolve_lengths(cf, o, rep, err) != 0)
        return -1;
    floe_compile_opts co = {.tokens = rep->tokens,
                            .kv_tokens = rep->kv_tokens,
                            .core_weight_bytes = o->core_weight_bytes,
                            .v_block = o->v_block,
                            .attn_ranges = o->attn_ranges,
                            .reuse_rows = o->reuse_rows};
    floe_err perr;
    rep->stage = FLOE_DEPLOY_PLANNED;
    if (floe_compile_plan(cf, q, mach, &co, &rep->plan, &perr) != 0) {
        snprintf(rep->unfit, sizeof rep->unfit, "%s", perr.msg);
        return 0;
    }
    rep->fits = 1;
    plan_limits(cf, q, mach, &co, rep);
    if (o->users > rep->max_users)
        return floe_err_set(err,
                            "--users %d: the KV caches of %d user(s) of %d positions fit (%d short); fewer users, a "
                            "shorter --kv-tokens, or a machine with more memory",
                            o->users, rep->max_users, rep->kv_tokens, o->users - rep->max_users);
    if (o->plan_only)
        return 0;
    /* the users served, and the mapping their KV caches need (more users may take more cores, or chips):
     * the runs compile that many caches, and check two of them */
    int n = cf->n_layers, mu = rep->max_users;
    rep->users = o->users > 0 ? o->users : o->users < 0 || mu < n + 1 ? mu : n + 1;
    floe_compile_opts uo = co;
    uo.users = rep->users;
    if (floe_compile_plan(cf, q, mach, &uo, &rep->users_plan, &perr) != 0)
        return floe_err_set(err, "%d users: %s", rep->users, perr.msg);
    int composed = rep->users_plan.chips > o->full_chips && n > 2;
    int T = rep->tokens, N = rep->decode, cap = rep->kv_tokens;
    floe_verify_opts vo = {.tokens = T,
                           .decode = N,
                           .core_weight_bytes = o->core_weight_bytes,
                           .kv_tokens = cap,
                           .price_pos = cap - 1 > T + N - 1 ? cap - 1 : 0,
                           .users = mu < 2 ? 1 : 2,
                           .v_block = o->v_block,
                           .attn_ranges = o->attn_ranges,
                           .reuse_rows = o->reuse_rows,
                           .caches = rep->users,
                           .price_prompt = rep->prompt != T ? rep->prompt : 0};
    floe_verify_run_result r[2];
    memset(r, 0, sizeof r);
    int rc = measure(cf, q, mach, e, o, &vo, composed, r, err);
    if (rc == 0) {
        measured_figures(r, composed, n, rep);
        rep->stage = FLOE_DEPLOY_MEASURED;
        rc = serve(r, &vo, cf, mach, e, o, rep, err);
        if (rc == 0)
            rep->stage = FLOE_DEPLOY_SERVED;
    }
    for (int i = 0; i < 2; i++)
        floe_verify_run_result_free(&r[i]);
    return rc;
}

int floe_deploy_energy_csv(const floe_deploy_report *rep, const floe_machine *mach, const char *path, floe_err *err)
{
    if (!rep->priced_energy)
        return floe_err_set(err, "%s: no energy figures to write (the check ran without an energy table)", path);
    floe_afile af;
    if (floe_afile_open(&af, path, err) != 0)
        return -1;
    const floe_energy_cost *c = &rep->energy_cost;
    double chip_w = floe_energy_static_w(c, mach);
    fprintf(af.fp, "position,action,unit,count,pj_each,energy_j\n");
    for (int i = 0; i < rep->n_token; i++) {
        const floe_deploy_token_energy *t = &rep->token[i];
        char label[16];
        snprintf(label, sizeof label, "%d", t->pos);
        floe_actions_csv_rows(af.fp, label, &t->actions, c);
        fprintf(af.fp, "%d,static,chip-s,%.9g,%.9g,%.9g\n", t->pos, chip_w > 0 ? t->static_j / chip_w : 0.0,
                chip_w * 1e12, t->static_j);
    }
    return floe_afile_commit(&af, err);
}

floe_deploy_check_opts floe_deploy_check_defaults(void)
{
    floe_deploy_check_opts o = {.tokens = 16, .decode = 2, .full_chips = 128, .seed = 1};
    return o;
}
