/* `floe deploy-check`: does a quantized model fit a machine, on how many chips, with how much memory
 * per core, and what does a token cost there? Unfit models get the exact statement of what overflows,
 * where and by how much. The fit comes from the compiler's memory plan (shapes only, so it runs for
 * real shapes in milliseconds); the cost from running the compiled model on the simulator, prefill
 * then decode against the KV cache, verified bit for bit on the way: the whole model, up to
 * --full-chips chips (128 by default: both published deployments, 16 and 81 chips, run whole in a
 * few minutes and a few GB). A larger one is priced from two runs of the same shape with one and
 * with two layers: every layer group is alike and schedules are fixed at compile time (no
 * data-dependent timing), so a model of n layers costs run(1) + (n - 1) x (run(2) - run(1)), a fast
 * path checked against whole runs (tests/integration/test_verify_cli.c). Serving many users is
 * simulated event by event (sim/serving.h) over the pipeline's stages as those runs timed them
 * (verify/serving_pipeline.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli/mapping_args.h"
#include "cli/qmodel_arg.h"
#include "common/atomic_file.h"
#include "models/qmodel_io.h"
#include "sim/serving.h"
#include "verify/serving_pipeline.h"
#include "verify/verify.h"

/* Progress lines on stderr, with the wall time since the command started. */
typedef struct progress_ctx {
    struct timespec t0;
    const char *model; /* "the 2-layer model: " for the composed runs, else "" */
} progress_ctx;

static void progress_line(void *ctx, const char *what)
{
    progress_ctx *p = ctx;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    double s = (double)(t.tv_sec - p->t0.tv_sec) + 1e-9 * (double)(t.tv_nsec - p->t0.tv_nsec);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru); /* ru_maxrss: KiB on Linux */
    fprintf(stderr, "deploy-check: [%.1f s, peak %.2f GB] %s%s...\n", s, (double)ru.ru_maxrss * 1024 / 1e9, p->model,
            what);
}

/* a = a1 + (n - 1) (a2 - a1) */
static double compose(double a1, double a2, int n) { return a1 + (double)(n - 1) * (a2 - a1); }

/* One decode token's energy by kind, for the whole model: its actions (composed from the 1- and
 * 2-layer runs when there are two) and the chips' static energy while they run it. */
typedef struct token_energy {
    int pos;
    floe_actions actions;
    double static_j;
} token_energy;

static token_energy token_at(const floe_step_cost *c1, const floe_step_cost *c2, int pos, int n)
{
    token_energy t = {pos, c1->actions, c1->static_j};
    if (c2) {
        floe_actions_compose(&t.actions, &c1->actions, &c2->actions, n);
        t.static_j = compose(c1->static_j, c2->static_j, n);
    }
    return t;
}

static void print_by_kind(const token_energy *t, const floe_energy_cost *c)
{
    floe_energy_breakdown e;
    floe_energy_of(&t->actions, c, 0, 0, 0, &e);
    double w4 = (double)t->actions.macs[FLOE_PREC_W4A8] * c->mac_pj[FLOE_PREC_W4A8] * 1e-12;
    printf("by kind      decode token at position %d: MAC %.3g J (w4a8 %.3g), vector %.3g, lut %.3g, SRAM %.3g, frame "
           "buffer %.3g, NoC %.3g, links %.3g; static %.3g (the chips while they run it)\n",
           t->pos, e.mac_j, w4, e.vector_j, e.lut_j, e.sram_j, e.framebuffer_j, e.noc_j, e.link_j, t->static_j);
}

/* The decode tokens' actions as CSV (position,action,unit,count,pj_each,energy_j), with a row for the
 * chips' static energy: count in chip-seconds, at the chip's static power. */
static int write_energy_csv(const char *path, const token_energy *t, int nt, const floe_energy_cost *c,
                            const floe_machine *mach, floe_err *err)
{
    floe_afile af;
    if (floe_afile_open(&af, path, err) != 0)
        return -1;
    double chip_w = floe_energy_static_w(c, mach);
    fprintf(af.fp, "position,action,unit,count,pj_each,energy_j\n");
    for (int i = 0; i < nt; i++) {
        char label[16];
        snprintf(label, sizeof label, "%d", t[i].pos);
        floe_actions_csv_rows(af.fp, label, &t[i].actions, c);
        fprintf(af.fp, "%d,static,chip-s,%.9g,%.9g,%.9g\n", t[i].pos, chip_w > 0 ? t[i].static_j / chip_w : 0.0,
                chip_w * 1e12, t[i].static_j);
    }
    return floe_afile_commit(&af, err);
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
    if (!machine) {
        fprintf(stderr, "floe deploy-check: error: --machine is required (see 'floe deploy-check --help')\n");
        return 2;
    }
    floe_err err;
    floe_machine mach;
    floe_energy_table e;
    if (floe_machine_load(machine, &mach, &err) != 0 || (energy && floe_energy_table_load(energy, &e, &err) != 0))
        return floe_cmd_fail("deploy-check", "%s", err.msg);
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
    int T = (int)tokens, N = (int)decode, P = prompt ? (int)prompt : T;
    int room = (kv ? (int)kv : cf.context) - P; /* decode positions after the prompt */
    int D = steps ? (int)steps : room < 32 ? room : 32;
    if (D < 1 || D > room)
        return floe_cmd_fail(
            "deploy-check", "a %d-token prompt and %d decode step(s) need %d positions: the %s holds %d", P,
            D < 1 ? 1 : D, P + (D < 1 ? 1 : D), kv ? "KV cache" : "model's context", kv ? (int)kv : cf.context);
    int cap = kv ? (int)kv : T + N > P + D ? T + N : P + D;
    if (T + N > cap || cap > cf.context)
        return floe_cmd_fail("deploy-check",
                             "--tokens %d and --decode %d need %d positions: the KV cache holds %d and the "
                             "model's context is %d",
                             T, N, T + N, cap, cf.context);
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
    floe_compile_opts co = {.tokens = T,
                            .kv_tokens = cap,
                            .core_weight_bytes = (uint64_t)split_bytes,
                            .v_block = (int)ma.v_block,
                            .attn_ranges = (int)ma.attn_cores,
                            .reuse_rows = (int)ma.reuse_rows};
    floe_plan_summary ps;
    if (floe_compile_plan(&cf, &q, &mach, &co, &ps, &err) != 0) {
        printf("fits         NO: %s\n", err.msg);
        return 1;
    }
    if (ps.layer_halves)
        printf(
            "fits         yes: %d chip(s), %llu cores in use (%d layers, each over two chips: an attention half and an "
            "MLP half of %d cores in all, 2 main, %d attention, %d weight cores; the LM head on %d core(s)",
            ps.chips, (unsigned long long)ps.cores, cf.n_layers, ps.layer_cores, ps.layer_attn_cores,
            ps.layer_cores - 2 - ps.layer_attn_cores, ps.head_cores);
    else
        printf(
            "fits         yes: %d chip(s), %llu cores in use (%d layer group(s) of %d cores: 1 main, %d attention, %d "
            "weight cores; %d group(s) on chip 0; the LM head on %d core(s)",
            ps.chips, (unsigned long long)ps.cores, cf.n_layers, ps.layer_cores, ps.layer_attn_cores,
            ps.layer_cores - 1 - ps.layer_attn_cores, ps.layers_per_chip, ps.head_cores);
    if (ps.head_slices > 1)
        printf(" in %d vocabulary slices on chips of their own", ps.head_slices);
    printf(")\n");
    printf("memory/core  min %llu, mean %llu, max %llu of %llu bytes (%.1f%% at the fullest)\n",
           (unsigned long long)ps.mem_min, (unsigned long long)(ps.mem_total / ps.cores),
           (unsigned long long)ps.mem_max, (unsigned long long)mach.core_mem_bytes,
           100.0 * (double)ps.mem_max / (double)mach.core_mem_bytes);
    /* the longest KV cache this mapping holds (the plan is cheap: bisect) */
    int lo = cap, hi = cf.context;
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        floe_compile_opts mo = co;
        floe_plan_summary ms;
        floe_err merr;
        mo.kv_tokens = mid;
        if (floe_compile_plan(&cf, &q, &mach, &mo, &ms, &merr) == 0)
            lo = mid;
        else
            hi = mid - 1;
    }
    if (lo < cf.context) {
        floe_compile_opts mo = co;
        floe_plan_summary ms;
        floe_err merr;
        mo.kv_tokens = lo + 1;
        floe_compile_plan(&cf, &q, &mach, &mo, &ms, &merr);
        printf("unsupported  contexts beyond %d positions (the model's is %d): %s\n", lo, cf.context, merr.msg);
    } else {
        printf("unsupported  none (the KV cache for the model's whole context of %d positions fits)\n", cf.context);
    }
    printf("kv cache     compiled for %d positions per user\n", cap);
    /* the most users whose KV caches fit beside everything else in this mapping (bisect the plan) */
    int ulo = 1, uhi = 4096;
    while (ulo < uhi) {
        int mid = ulo + (uhi - ulo + 1) / 2;
        floe_compile_opts mo = co;
        floe_plan_summary ms;
        floe_err merr;
        mo.users = mid;
        if (floe_compile_plan(&cf, &q, &mach, &mo, &ms, &merr) == 0) /* more caches: more attention cores, chips */
            ulo = mid;
        else
            uhi = mid - 1;
    }
    int max_users = ulo;
    printf("users        KV caches for %d user(s) of %d positions fit\n", max_users, cap);
    if (want_users > max_users)
        return floe_cmd_fail("deploy-check",
                             "--users %d: the KV caches of %d user(s) of %d positions fit (%d short); "
                             "fewer users, a shorter --kv-tokens, or a machine with more memory",
                             want_users, max_users, cap, want_users - max_users);
    if (plan_only)
        return 0;
    /* the users served, and the mapping their KV caches need (more users may take more cores, or
     * chips): the runs below compile that many caches, and check two of them */
    int n = cf.n_layers;
    int U = want_users > 0 ? want_users : want_users < 0 || max_users < n + 1 ? max_users : n + 1;
    floe_compile_opts uo = co;
    floe_plan_summary us;
    uo.users = U;
    if (floe_compile_plan(&cf, &q, &mach, &uo, &us, &err) != 0)
        return floe_cmd_fail("deploy-check", "%d users: %s", U, err.msg);
    /* the cost, measured */
    int composed = us.chips > full_chips && cf.n_layers > 2;
    floe_verify_run_result r[2] = {{0}, {0}};
    int runs = composed ? 2 : 1;
    floe_verify_opts vo = {.tokens = T,
                           .decode = N,
                           .core_weight_bytes = (uint64_t)split_bytes,
                           .kv_tokens = cap,
                           .price_pos = cap - 1 > T + N - 1 ? cap - 1 : 0,
                           .users = max_users < 2 ? 1 : 2,
                           .v_block = (int)ma.v_block,
                           .attn_ranges = (int)ma.attn_cores,
                           .reuse_rows = (int)ma.reuse_rows,
                           .caches = U,
                           .price_prompt = P != T ? P : 0};
    progress_ctx pc = {.model = ""};
    char model_label[48] = "";
    clock_gettime(CLOCK_MONOTONIC, &pc.t0);
    vo.progress = progress_line;
    vo.progress_ctx = &pc;
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)(T + N));
    if (!tok)
        return floe_cmd_fail("deploy-check", "out of memory");
    for (int t = 0; t < T + N; t++)
        tok[t] = (int32_t)((t * 7 + 65) % cf.vocab_size);
    rc = 0;
    for (int i = 0; i < runs && rc == 0; i++) {
        floe_qmodel m;
        floe_model_config c = cf;
        if (composed)
            c.n_layers = i + 1;
        if (qa.qmodel && !composed) {
            if (floe_qmodel_load(&m, qa.qmodel, &err) != 0) {
                rc = floe_cmd_fail("deploy-check", "%s", err.msg);
                break;
            }
        } else if (floe_qmodel_random_shared(&m, &c, &q, (uint64_t)qa.seed, &err) != 0) {
            rc = floe_cmd_fail("deploy-check", "%s", err.msg);
            break;
        }
        if (composed) {
            snprintf(model_label, sizeof model_label, "the %d-layer model of this shape: ", i + 1);
            pc.model = model_label;
        }
        if (floe_verify_run(&m, &mach, energy ? &e : NULL, tok, &vo, &r[i], &err) != 0)
            rc = floe_cmd_fail("deploy-check", "%s", err.msg);
        else if (!r[i].match) {
            rc = floe_cmd_fail("deploy-check", "MISMATCH: %s", r[i].mismatch);
        }
        floe_qmodel_free(&m);
    }
    free(tok);
    if (rc != 0) {
        for (int i = 0; i < runs; i++)
            floe_verify_run_result_free(&r[i]);
        return rc;
    }
    int at = r[0].priced_pos ? r[0].priced_pos : T + N - 1;
    /* the decode step priced at the full cache, when it is deeper */
    const floe_step_cost *dec[2], *pre[2] = {&r[0].prefill, &r[runs - 1].prefill};
    for (int i = 0; i < 2; i++)
        dec[i] = r[i < runs ? i : 0].priced_pos ? &r[i < runs ? i : 0].decode_at : &r[i < runs ? i : 0].decode;
    double dec_lat = dec[0]->latency_s, dec_j = dec[0]->energy_j, pre_lat = pre[0]->latency_s, pre_j = pre[0]->energy_j,
           dec_static = dec[0]->static_j;
    uint64_t compared = r[0].compared;
    if (composed) {
        dec_lat = compose(dec[0]->latency_s, dec[1]->latency_s, n);
        dec_j = compose(dec[0]->energy_j, dec[1]->energy_j, n);
        dec_static = compose(dec[0]->static_j, dec[1]->static_j, n);
        pre_lat = compose(pre[0]->latency_s, pre[1]->latency_s, n);
        pre_j = compose(pre[0]->energy_j, pre[1]->energy_j, n);
        compared += r[1].compared;
        printf(
            "verified     bit-exact (%llu values: the same shape with 1 and with 2 layers, random weights, a %d-token "
            "prefill and %d decode steps equal to prefill, %d user(s) with their own KV caches); the %d-layer "
            "figures below are composed: x(%d) = x(1) + %d (x(2) - x(1))\n",
            (unsigned long long)compared, T, N, r[0].users, n, n, n - 1);
    } else {
        printf("verified     bit-exact (%llu values against the reference integer forward: a %d-token prefill, then %d "
               "decode steps equal to prefill; %d user(s) with their own KV caches, in turn)\n",
               (unsigned long long)compared, T, N, r[0].users);
    }
    printf("latency      decode %.2f us per token (at position %d: %d cached keys per head%s); prefill %.2f us for %d "
           "tokens (%d token row(s) per weight read)\n",
           dec_lat * 1e6, at, at + 1, r[0].priced_pos ? ", priced past the checked steps" : "", pre_lat * 1e6, T,
           r[0].reuse_rows);
    /* serving: the users through the pipeline's stages, event by event */
    floe_verify_serving vs;
    floe_serving_result sr;
    floe_serving_load load = {U, P, D, arrival_us * 1e-6};
    if (floe_verify_serving_pipeline(r, runs, &vo, &cf, &us, &mach, energy ? &e : NULL, &vs, &err) != 0)
        rc = floe_cmd_fail("deploy-check", "%s", err.msg);
    else if (floe_serving_run(&vs.pipeline, &load, &sr, &err) != 0)
        rc = floe_cmd_fail("deploy-check", "%s", err.msg);
    if (rc == 0) {
        char arrive[64], slow[48];
        int sl = vs.layer[sr.slowest_stage], sp = vs.part[sr.slowest_stage], groups = 0, heads = 0;
        for (int i = 0; i < vs.pipeline.stages; i++) {
            groups += vs.layer[i] >= 0 && vs.layer[i] < n;
            heads += vs.layer[i] == n;
        }
        if (arrival_us > 0)
            snprintf(arrive, sizeof arrive, "arriving %.2f us apart", arrival_us);
        else
            snprintf(arrive, sizeof arrive, "all arriving at once");
        if (sl < 0)
            snprintf(slow, sizeof slow, "a chip link");
        else if (sl == n)
            snprintf(slow, sizeof slow, "the LM head");
        else
            snprintf(slow, sizeof slow, "layer %d%s", sl, sp == 1 ? "'s attention half" : sp == 2 ? "'s MLP half" : "");
        printf(
            "serving      %d user(s) (%s; KV caches of %llu bytes per user per layer; their mapping: %d chip(s), "
            "%llu cores, %d attention core(s) per layer group), each a %d-token prompt then %d decode steps "
            "(positions %d..%d), %s; simulated event by event over %d stages (%d layer groups, %d of the LM head, %d "
            "chip link(s)), each serving one token at a time\n",
            U,
            want_users > 0   ? "as asked"
            : want_users < 0 ? "the most whose KV caches fit"
                             : "the KV caches that fit, at most one per layer group",
            (unsigned long long)r[0].kv_bytes_per_layer, us.chips, (unsigned long long)us.cores, us.layer_attn_cores, P,
            D, P, P + D - 1, arrive, vs.pipeline.stages, groups, heads, vs.links);
        printf("throughput   %.1f tokens/s (%llu decoded tokens over the decode phase, %.2f us from the first prompt's "
               "end "
               "to the last token); at most %.1f by %d user(s) over one token's latency alone (%.2f us), %.1f by the "
               "slowest stage (%s, %.2f us per token)\n",
               sr.tokens_per_s, (unsigned long long)sr.tokens, (sr.decode_end_s - sr.decode_start_s) * 1e6,
               U / sr.token_latency_s, U, sr.token_latency_s * 1e6, 1 / sr.slowest_busy_s, slow,
               sr.slowest_busy_s * 1e6);
        printf("token gap    inter-token latency mean %.2f us, p99 %.2f us, max %.2f us (a token alone: %.2f us)\n",
               sr.itl_mean_s * 1e6, sr.itl_p99_s * 1e6, sr.itl_max_s * 1e6, sr.token_latency_s * 1e6);
        printf("first token  time to first token mean %.2f us, max %.2f us (the %d-token prompt's prefill, queueing "
               "included)\n",
               sr.ttft_mean_s * 1e6, sr.ttft_max_s * 1e6, P);
        if (energy)
            printf(
                "energy       %.3g J per token decoded, one user (dynamic and links %.3g J, and the chips' static "
                "power "
                "while they work); %.3g J per token serving %d user(s) (dynamic, and every chip's static power, %.3g "
                "W in all, over the decode phase), %.3g W per card (%d card(s)); %.3g J for the prefill\n",
                dec_j, dec_j - dec_static, sr.energy_per_token_j, U, vs.pipeline.static_w, sr.power_per_card_w,
                vs.pipeline.cards, pre_j);
    }
    if (rc == 0 && energy) { /* a decode token by kind: at the last checked position, and where priced */
        floe_energy_cost ec;
        floe_energy_costs(&e, &ec);
        token_energy te[2];
        int nt = 0;
        te[nt++] = token_at(&r[0].decode, composed ? &r[1].decode : NULL, T + N - 1, n);
        if (r[0].priced_pos)
            te[nt++] = token_at(&r[0].decode_at, composed ? &r[1].decode_at : NULL, r[0].priced_pos, n);
        for (int i = 0; i < nt; i++)
            print_by_kind(&te[i], &ec);
        if (energy_csv && write_energy_csv(energy_csv, te, nt, &ec, &mach, &err) != 0)
            rc = floe_cmd_fail("deploy-check", "%s", err.msg);
    }
    floe_verify_serving_free(&vs);
    for (int i = 0; i < runs; i++)
        floe_verify_run_result_free(&r[i]);
    return rc;
}
