/* `floe design`: per-layer or per-linear weight widths (and, asked, the activation and cache widths)
 * chosen for a chip under a budget, then QAT of the choice (docs/design-choice.md). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "design/design_job.h"

int floe_cmd_design(int argc, char **argv)
{
    const char *teacher = NULL, *machine = NULL, *energy = NULL, *budget = NULL, *out = "floe-design", *corpus = NULL;
    const char *granularity = "layer", *abits_s = "8", *kvbits_s = "8";
    long long qat_steps = 0, base = 8, head_bits = 8, calib_batches = 2, val_windows = 32;
    long long batch = 4, threads = 0, front_points = 12;
    int fisher = 0, no_deploy = 0;
    const floe_opt opts[] = {
        {"teacher", FLOE_ARG_STRING, &teacher, "CKPT", "the FP teacher checkpoint (required)", 0, 0, 't'},
        {"machine", FLOE_ARG_STRING, &machine, "CSV", "the machine description (required)", 0, 0, 'm'},
        {"energy", FLOE_ARG_STRING, &energy, "CSV", "its energy table (needed for an energy budget)", 0, 0, 0},
        {"budget", FLOE_ARG_STRING, &budget, "R=X,..",
         "latency=US (decode per token), energy=UJ (per token), memory=BYTES (weight codes), chips=N (the "
         "compiler's plan); comma-separated (required)",
         0, 0, 0},
        {"granularity", FLOE_ARG_STRING, &granularity, "G",
         "layer (a width per decoder layer, default) or linear (per q/k/v/o/gate/up/down_proj)", 0, 0, 0},
        {"corpus", FLOE_ARG_STRING, &corpus, "SPEC", "data (default: the teacher's corpus)", 0, 0, 0},
        {"base-wbits", FLOE_ARG_INT, &base, "B", "the other layers' width while one is measured: 2, 4 or 8 (default 8)",
         2, 8, 0},
        {"abits", FLOE_ARG_STRING, &abits_s, "B",
         "linear-layer input bits, model-wide: 4, 8 (default) or choose (the better of 4 and 8 for the budget)", 0, 0,
         'a'},
        {"kvbits", FLOE_ARG_STRING, &kvbits_s, "B", "K and V cache bits, model-wide: 4, 8 (default) or choose", 0, 0,
         0},
        {"head-bits", FLOE_ARG_INT, &head_bits, "B", "LM-head weight bits: 4 or 8 (default 8)", 4, 8, 0},
        {"calib-batches", FLOE_ARG_INT, &calib_batches, "N", "calibration batches per measurement (default 2)", 1, 1e6,
         0},
        {"eval-windows", FLOE_ARG_INT, &val_windows, "N", "validation windows per measurement (default 32)", 1, 1e12,
         0},
        {"batch", FLOE_ARG_INT, &batch, "B", "sequences per calibration batch (default 4)", 1, 65536, 'b'},
        {"fisher", FLOE_ARG_FLAG, &fisher, NULL, "choose by the Fisher estimate instead of the measured change", 0, 0,
         0},
        {"front-points", FLOE_ARG_INT, &front_points, "N", "budgets in the front sweep (default 12)", 2, 10000, 0},
        {"qat-steps", FLOE_ARG_INT, &qat_steps, "N", "then QAT the choice for N steps, verified on the machine", 0, 1e9,
         0},
        {"no-deploy", FLOE_ARG_FLAG, &no_deploy, NULL, "skip the deployment check of the result", 0, 0, 0},
        {"threads", FLOE_ARG_INT, &threads, "N", "OpenMP threads (default: OMP_NUM_THREADS or all cores)", 1, 1024,
         'j'},
        {"out", FLOE_ARG_STRING, &out, "DIR", "design.csv, front.csv, front.png, qat/ (default floe-design)", 0, 0,
         'o'},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "design",
        NULL,
        "Hardware-aware weight widths (and activation and cache widths): sensitivity, chip cost, exact choice, QAT.",
        "Measures each decoder layer's (or, --granularity linear, each linear's) validation-loss change at\n"
        "W2, W4 and W8 (and a Fisher estimate), prices each width on the machine with the analytical cost\n"
        "model (chips: the compiler's placement, inside the solver), chooses the widths of least total\n"
        "sensitivity within the budget (exactly), and with --qat-steps trains that choice with every step\n"
        "verified on the machine. With --abits choose and/or --kvbits choose it does all that for each\n"
        "(abits, kvbits) pair, adds each pair's own measured loss change, and takes the best pair's optimum\n"
        "(a tie: the wider pair). Prints the --wbits-layer, --abits and --kvbits to train; writes\n"
        "DIR/design.csv, front.csv, front.png.",
        opts,
        0,
        0};
    char *pos[1];
    int npos = 0, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    if (!teacher || !machine || !budget)
        return floe_cmd_fail("design", "--teacher, --machine and --budget are required");
    const int choose_a = strcmp(abits_s, "choose") == 0, choose_kv = strcmp(kvbits_s, "choose") == 0;
    const int abits = choose_a ? 8 : atoi(abits_s), kvbits = choose_kv ? 8 : atoi(kvbits_s);
    if (!choose_a && strcmp(abits_s, "4") != 0 && strcmp(abits_s, "8") != 0)
        return floe_cmd_fail("design", "--abits %s: expected 4, 8 or choose", abits_s);
    if (!choose_kv && strcmp(kvbits_s, "4") != 0 && strcmp(kvbits_s, "8") != 0)
        return floe_cmd_fail("design", "--kvbits %s: expected 4, 8 or choose", kvbits_s);
    if ((base != 2 && base != 4 && base != 8) || (head_bits != 4 && head_bits != 8))
        return floe_cmd_fail("design", "widths: --base-wbits 2, 4 or 8; --head-bits 4 or 8");
    if (strcmp(granularity, "layer") != 0 && strcmp(granularity, "linear") != 0)
        return floe_cmd_fail("design", "--granularity %s: expected layer or linear", granularity);
    if (threads > 0)
        omp_set_num_threads((int)threads);
    floe_design_job j = {.teacher = teacher,
                         .corpus = corpus,
                         .out = out,
                         .machine_name = machine,
                         .calib_batches = (int)calib_batches,
                         .val_windows = (size_t)val_windows,
                         .batch = (int)batch,
                         .use_fisher = fisher,
                         .choose_abits = choose_a,
                         .choose_kvbits = choose_kv,
                         .per_linear = strcmp(granularity, "linear") == 0,
                         .front_points = (int)front_points,
                         .qat_steps = (int)qat_steps,
                         .verify = 1,
                         .deploy = !no_deploy,
                         .log = stdout};
    floe_err err;
    if (floe_design_parse_budget(budget, j.budget, &j.chips, &err) != 0)
        return floe_cmd_fail("design", "%s", err.msg);
    j.q = floe_qconfig_default();
    j.q.wbits = (int)base, j.q.abits = abits, j.q.kvbits = kvbits, j.q.head_bits = (int)head_bits;
    floe_machine mach;
    floe_energy_table etab;
    if ((rc = floe_cli_load_machine("design", machine, energy, &mach, &etab)) >= 0)
        return rc;
    j.mach = &mach, j.energy = energy ? &etab : NULL;
    floe_design_result r;
    if (floe_design_run(&j, &r, &err) != 0)
        return floe_cmd_fail("design", "%s", err.msg);
    if (r.n_pairs > 1) {
        printf("pairs (loss change against A8 KV8, the optimum's weights, total):\n");
        for (int i = 0; i < r.n_pairs; i++) {
            const floe_design_pair *p = &r.pair[i];
            if (p->solved)
                printf("  A%d KV%d: %+.5f %+.5f %+.5f; predicted %.4g us, %.4g uJ, %.0f bytes, %d chip(s)%s\n",
                       p->abits, p->kvbits, p->pair_dloss, p->sensitivity, p->total, p->predicted[0], p->predicted[1],
                       p->predicted[2], p->chips, p->abits == r.abits && p->kvbits == r.kvbits ? " (chosen)" : "");
            else
                printf("  A%d KV%d: %+.5f, no choice meets the budgets: %s\n", p->abits, p->kvbits, p->pair_dloss,
                       p->why);
        }
    }
    printf("chosen: --wbits-layer %s --abits %d --kvbits %d\n", r.wbits_layer, r.abits, r.kvbits);
    printf("validation loss: all W%lld at A%d KV%d %.5f (ppl %.3f), chosen PTQ %.5f (ppl %.3f)", base, r.abits,
           r.kvbits, r.base_loss, exp(r.base_loss), r.ptq_loss, exp(r.ptq_loss));
    if (r.qat_done)
        printf(", chosen after %lld QAT steps %.5f (ppl %.3f)", qat_steps, r.qat_loss, exp(r.qat_loss));
    printf("\npredicted: %.4g us, %.4g uJ per decode token, %.0f bytes of weights", r.predicted[0], r.predicted[1],
           r.predicted[2]);
    if (r.chips > 0)
        printf(", %d chip(s) planned", r.chips);
    else
        printf(", not mapped by the compiler's plan");
    if (r.deployed)
        printf("; deploy-check: %.4g us, %.4g uJ per decode token on %d chip(s)", r.deploy_latency_us,
               r.deploy_energy_uj, r.deploy_chips);
    printf("\nSpearman rank correlation, measured vs Fisher: %.3f\n", r.spearman);
    printf("time: sensitivity %.2f s, cost %.2f s, choice and front %.2f s, QAT %.2f s, deployment %.2f s\n",
           r.seconds[0], r.seconds[1], r.seconds[2], r.seconds[3], r.seconds[4]);
    printf("wrote %s/design.csv, %s/front.csv, %s/front.png%s\n", out, out, out, r.qat_done ? " and qat/" : "");
    return 0;
}
