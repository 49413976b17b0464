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
    floe_deploy_header_print(stdout, &cf, &q, &mach, machine);
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
    floe_deploy_report_print(stdout, &rep, &cf, &mach, &o);
    if (rep.stage >= FLOE_DEPLOY_PLANNED && !rep.fits)
        return 1;
    if (rc != 0)
        return floe_cmd_fail("deploy-check", "%s", err.msg);
    if (energy_csv && floe_deploy_energy_csv(&rep, &mach, energy_csv, &err) != 0)
        return floe_cmd_fail("deploy-check", "%s", err.msg);
    return 0;
}
