/* `floe deploy-check`: does a quantized model fit a machine, on how many chips, with how much memory
 * per core, and what does a token cost there? The check is verify/deploy_check.h; this command parses
 * its options and prints its report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli/mapping_args.h"
#include "cli/qmodel_arg.h"
#include "verify/deploy_check.h"

/* Progress lines on stderr, with the wall time since the command started and the peak memory. */
static void progress_line(void *ctx, const char *what)
{
    const struct timespec *t0 = ctx;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    double s = (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru); /* ru_maxrss: KiB on Linux */
    fprintf(stderr, "deploy-check: [%.1f s, peak %.2f GB] %s...\n", s, (double)ru.ru_maxrss * 1024 / 1e9, what);
}

static void print_by_kind(const floe_deploy_token_energy *t, const floe_energy_cost *c)
{
    floe_energy_breakdown e;
    floe_energy_of(&t->actions, c, 0, 0, 0, &e);
    double w4 = (double)t->actions.macs[FLOE_PREC_W4A8] * c->mac_pj[FLOE_PREC_W4A8] * 1e-12;
    printf("by kind      decode token at position %d: MAC %.3g J (w4a8 %.3g), vector %.3g, afu %.3g, SRAM %.3g, frame "
           "buffer %.3g, NoC %.3g, links %.3g; static %.3g (the chips while they run it)\n",
           t->pos, e.mac_j, w4, e.vector_j, e.afu_j, e.sram_j, e.framebuffer_j, e.noc_j, e.link_j, t->static_j);
}

static void print_plan(const floe_deploy_report *r, const floe_model_config *cf, const floe_machine *mach)
{
    const floe_plan_summary *ps = &r->plan;
    if (ps->layer_halves)
        printf(
            "fits         yes: %d chip(s), %llu cores in use (%d layers, each over two chips: an attention half and an "
            "MLP half of %d cores in all, 2 main, %d attention, %d weight cores; the LM head on %d core(s)",
            ps->chips, (unsigned long long)ps->cores, cf->n_layers, ps->layer_cores, ps->layer_attn_cores,
            ps->layer_cores - 2 - ps->layer_attn_cores, ps->head_cores);
    else
        printf(
            "fits         yes: %d chip(s), %llu cores in use (%d layer group(s) of %d cores: 1 main, %d attention, %d "
            "weight cores; %d group(s) on chip 0; the LM head on %d core(s)",
            ps->chips, (unsigned long long)ps->cores, cf->n_layers, ps->layer_cores, ps->layer_attn_cores,
            ps->layer_cores - 1 - ps->layer_attn_cores, ps->layers_per_chip, ps->head_cores);
    if (ps->head_slices > 1)
        printf(" in %d vocabulary slices on chips of their own", ps->head_slices);
    printf(")\n");
    printf("memory/core  min %llu, mean %llu, max %llu of %llu bytes (%.1f%% at the fullest)\n",
           (unsigned long long)ps->mem_min, (unsigned long long)(ps->mem_total / ps->cores),
           (unsigned long long)ps->mem_max, (unsigned long long)mach->core_mem_bytes,
           100.0 * (double)ps->mem_max / (double)mach->core_mem_bytes);
    if (r->context_limit[0])
        printf("unsupported  contexts beyond %d positions (the model's is %d): %s\n", r->max_context, cf->context,
               r->context_limit);
    else
        printf("unsupported  none (the KV cache for the model's whole context of %d positions fits)\n", cf->context);
    printf("kv cache     compiled for %d positions per user\n", r->kv_tokens);
    printf("users        KV caches for %d user(s) of %d positions fit\n", r->max_users, r->kv_tokens);
}

static void print_measured(const floe_deploy_report *r, int n)
{
    if (r->composed)
        printf(
            "verified     bit-exact (%llu values: the same shape with 1 and with 2 layers, random weights, a %d-token "
            "prefill and %d decode steps equal to prefill, %d user(s) with their own KV caches); the %d-layer "
            "figures below are composed: x(%d) = x(1) + %d (x(2) - x(1))\n",
            (unsigned long long)r->compared, r->tokens, r->decode, r->checked_users, n, n, n - 1);
    else
        printf("verified     bit-exact (%llu values against the reference integer forward: a %d-token prefill, then %d "
               "decode steps equal to prefill; %d user(s) with their own KV caches, in turn)\n",
               (unsigned long long)r->compared, r->tokens, r->decode, r->checked_users);
    printf("latency      decode %.2f us per token (at position %d: %d cached keys per head%s); prefill %.2f us for %d "
           "tokens (%d token row(s) per weight read)\n",
           r->decode_s * 1e6, r->priced_pos, r->priced_pos + 1, r->priced_past ? ", priced past the checked steps" : "",
           r->prefill_s * 1e6, r->tokens, r->reuse_rows);
}

static void print_served(const floe_deploy_report *r, int want_users, double arrival_us, int energy)
{
    const floe_serving_result *sr = &r->serving;
    char arrive[64];
    if (arrival_us > 0)
        snprintf(arrive, sizeof arrive, "arriving %.2f us apart", arrival_us);
    else
        snprintf(arrive, sizeof arrive, "all arriving at once");
    int P = r->prompt, D = r->decode_steps, U = r->users;
    printf("serving      %d user(s) (%s; KV caches of %llu bytes per user per layer; their mapping: %d chip(s), "
           "%llu cores, %d attention core(s) per layer group), each a %d-token prompt then %d decode steps "
           "(positions %d..%d), %s; simulated event by event over %d stages (%d layer groups, %d of the LM head, %d "
           "chip link(s)), each serving one token at a time\n",
           U,
           want_users > 0   ? "as asked"
           : want_users < 0 ? "the most whose KV caches fit"
                            : "the KV caches that fit, at most one per layer group",
           (unsigned long long)r->kv_bytes_per_layer, r->users_plan.chips, (unsigned long long)r->users_plan.cores,
           r->users_plan.layer_attn_cores, P, D, P, P + D - 1, arrive, r->stages, r->layer_groups, r->head_stages,
           r->links);
    printf("throughput   %.1f tokens/s (%llu decoded tokens over the decode phase, %.2f us from the first prompt's end "
           "to the last token); at most %.1f by %d user(s) over one token's latency alone (%.2f us), %.1f by the "
           "slowest stage (%s, %.2f us per token)\n",
           sr->tokens_per_s, (unsigned long long)sr->tokens, (sr->decode_end_s - sr->decode_start_s) * 1e6,
           U / sr->token_latency_s, U, sr->token_latency_s * 1e6, 1 / sr->slowest_busy_s, r->slowest,
           sr->slowest_busy_s * 1e6);
    printf("token gap    inter-token latency mean %.2f us, p99 %.2f us, max %.2f us (a token alone: %.2f us)\n",
           sr->itl_mean_s * 1e6, sr->itl_p99_s * 1e6, sr->itl_max_s * 1e6, sr->token_latency_s * 1e6);
    printf("first token  time to first token mean %.2f us, max %.2f us (the %d-token prompt's prefill, queueing "
           "included)\n",
           sr->ttft_mean_s * 1e6, sr->ttft_max_s * 1e6, P);
    if (!energy)
        return;
    printf("energy       %.3g J per token decoded, one user (dynamic and links %.3g J, and the chips' static power "
           "while they work); %.3g J per token serving %d user(s) (dynamic, and every chip's static power, %.3g "
           "W in all, over the decode phase), %.3g W per card (%d card(s)); %.3g J for the prefill\n",
           r->decode_j, r->decode_j - r->decode_static_j, sr->energy_per_token_j, U, r->static_w, sr->power_per_card_w,
           r->cards, r->prefill_j);
    for (int i = 0; i < r->n_token; i++)
        print_by_kind(&r->token[i], &r->energy_cost);
}

int floe_cmd_deploy_check(int argc, char **argv)
{
    floe_qmodel_args qa = FLOE_QMODEL_ARGS_INIT;
    floe_mapping_args ma = FLOE_MAPPING_ARGS_INIT;
    const char *machine = NULL, *energy = NULL, *energy_csv = NULL;
    long long tokens = 16, decode = 2, kv = 0, split_bytes = 0, full_chips = 128, prompt = 0, steps = 0;
    double arrival_us = 0;
    const char *users_arg = NULL;
    int plan_only = 0;
    const floe_opt opts[] = {
        FLOE_QMODEL_OPTS(qa),
        {"machine", FLOE_ARG_STRING, &machine, "CSV", "the machine description (required)", 0, 0, 'm'},
        {"energy", FLOE_ARG_STRING, &energy, "CSV", "energy table (prices a token)", 0, 0, 0},
        {"energy-csv", FLOE_ARG_STRING, &energy_csv, "FILE", "with --energy: a decode token's actions and energy by kind, at the checked and the priced position, as CSV", 0, 0, 0},
        {"tokens", FLOE_ARG_INT, &tokens, "T", "prefill length (default 16)", 1, 1 << 22, 0},
        {"decode", FLOE_ARG_INT, &decode, "N", "decode steps after the prefill, each checked against prefill (default 2)", 1, 1 << 20, 0},
        {"kv-tokens", FLOE_ARG_INT, &kv, "N", "KV-cache capacity per user in positions (default: T + N, or P + D if more)", 0, 1 << 22, 0},
        {"users", FLOE_ARG_STRING, &users_arg, "U|max", "serving: users at once (default: those whose KV caches fit, at most one per layer group; max: all whose KV caches fit)", 0, 0, 0},
        {"prompt", FLOE_ARG_INT, &prompt, "P", "serving: each user's prompt, prefilled before its first token (default: T)", 1, 1 << 22, 0},
        {"decode-steps", FLOE_ARG_INT, &steps, "D", "serving: decode steps per user (default 32, fewer where the KV cache or the context ends)", 1, 1 << 20, 0},
        {"arrival-us", FLOE_ARG_DOUBLE, &arrival_us, "A", "serving: users arrive A microseconds apart (default 0: all at once)", 0, 1e9, 0},
        {"core-weight-bytes", FLOE_ARG_INT, &split_bytes, "B", "split layers so no core holds more than B bytes of weights (default: only what does not fit)", 0, 1ll << 40, 0},
        {"full-chips", FLOE_ARG_INT, &full_chips, "C", "simulate the whole model when it needs at most C chips; else compose from 1- and 2-layer runs (default 128)", 0, 1 << 20, 0},
        {"plan-only", FLOE_ARG_FLAG, &plan_only, NULL, "the memory plan only (fit, chips, memory per core): no simulation", 0, 0, 0},
        FLOE_MAPPING_OPTS(ma),
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "deploy-check", NULL, "Report whether a quantized model fits a machine, what it needs, and what a token costs.",
        "The memory plan decides the fit (docs/compiler.md). The cost is measured on the simulator: a\n"
        "T-token prefill, then N decode steps against the KV cache in core memory, every layer output and\n"
        "the logits compared bit for bit with the reference integer forward. Random weights (--model):\n"
        "one random layer's codes back every layer (timing and energy do not depend on the values). A\n"
        "model needing more than --full-chips chips is priced from runs of the same shape with 1 and 2\n"
        "layers: cost(n) = cost(1) + (n - 1) (cost(2) - cost(1)).\n"
        "Serving: U users, each a P-token prompt then D decode steps (positions P .. P + D - 1), are\n"
        "simulated event by event through the pipeline's stages (layer groups, LM head, chip links), each\n"
        "stage one token at a time, with the stage times those runs measured (decode: at the last checked\n"
        "position and at the KV cache's last, linear in between; docs/sim.md, \"Serving\").\n"
        "Exit status 0 when it fits (and verifies), 1 when it does not (with the reason).",
        opts, 0, 0};
    char *pos[1];
    int npos, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    floe_err err;
    floe_machine mach;
    floe_energy_table e;
    if ((rc = floe_cli_load_machine("deploy-check", machine, energy, &mach, &e)) >= 0)
        return rc;
    if (energy_csv && !energy) {
        fprintf(stderr, "floe deploy-check: error: --energy-csv needs --energy (the table that prices the actions)\n");
        return 2;
    }
    floe_model_config cf;
    floe_qconfig q;
    if ((rc = floe_qshape_from_args("deploy-check", &qa, &cf, &q)) >= 0)
        return rc;
    char label[256];
    printf("model        %s: d %d, %d layers, %d heads (%d KV), FFN %d, vocab %d; %s, LM head %d-bit\n", cf.name,
           cf.d_model, cf.n_layers, cf.n_heads, cf.n_kv_heads, cf.ffn_dim, cf.vocab_size,
           floe_qconfig_label(&q, label, sizeof label), q.head_bits);
    uint64_t system = mach.chips_per_card * mach.cards_per_server * mach.servers_per_system;
    printf("machine      %s: %llu x %llu cores of %llu bytes per chip, %llu chips in the system\n", machine,
           (unsigned long long)mach.cores_x, (unsigned long long)mach.cores_y, (unsigned long long)mach.core_mem_bytes,
           (unsigned long long)system);
    int want_users = 0; /* 0: the default; -1: max */
    if (users_arg) {
        char *end;
        long v = strtol(users_arg, &end, 10);
        if (strcmp(users_arg, "max") == 0)
            want_users = -1;
        else if (*users_arg && !*end && v >= 1 && v <= 1 << 20)
            want_users = (int)v;
        else {
            fprintf(stderr, "floe deploy-check: error: --users: expected a number of users (1 to %d) or 'max', got '%s'\n",
                    1 << 20, users_arg);
            return 2;
        }
    }
    floe_deploy_check_opts o = {.tokens = (int)tokens,
                                .decode = (int)decode,
                                .kv_tokens = (int)kv,
                                .users = want_users,
                                .prompt = (int)prompt,
                                .decode_steps = (int)steps,
                                .arrival_s = arrival_us * 1e-6,
                                .core_weight_bytes = (uint64_t)split_bytes,
                                .full_chips = (int)full_chips,
                                .plan_only = plan_only,
                                .v_block = (int)ma.v_block,
                                .attn_ranges = (int)ma.attn_cores,
                                .reuse_rows = (int)ma.reuse_rows,
                                .qmodel = qa.qmodel,
                                .seed = (uint64_t)qa.seed,
                                .progress = progress_line};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    o.progress_ctx = &t0;
    floe_deploy_report rep;
    rc = floe_deploy_check(&cf, &q, &mach, energy ? &e : NULL, &o, &rep, &err);
    if (rep.stage >= FLOE_DEPLOY_PLANNED && !rep.fits) {
        printf("fits         NO: %s\n", rep.unfit);
        return 1;
    }
    if (rep.stage >= FLOE_DEPLOY_PLANNED)
        print_plan(&rep, &cf, &mach);
    if (rep.stage >= FLOE_DEPLOY_MEASURED)
        print_measured(&rep, cf.n_layers);
    if (rep.stage >= FLOE_DEPLOY_SERVED)
        print_served(&rep, want_users, arrival_us, energy != NULL);
    if (rc != 0)
        return floe_cmd_fail("deploy-check", "%s", err.msg);
    if (energy_csv && floe_deploy_energy_csv(&rep, &mach, energy_csv, &err) != 0)
        return floe_cmd_fail("deploy-check", "%s", err.msg);
    return 0;
}
