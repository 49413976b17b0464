/* `floe run`: Floe's main job on built-in defaults, writing everything to one output folder.
 *
 * The flow grows with the project (train -> QAT with per-step verification -> deploy-check ->
 * profile -> plots). Today it runs what exists:
 *   [1] the numeric core's self-check (every integer operation against double precision);
 *   [2] trained-equals-deployed: a quantized model (config S shape, W4A8KV8, random weights until
 *       the training stages land) compiled for the machine and verified bit for bit on the
 *       simulated chip against the reference integer forward;
 *   [3] its cost on the chip: per-core and per-layer profiles, a timeline, plots. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "common/atomic_file.h"
#include "common/path.h"
#include "isa/numerics_check.h"
#include "isa/numerics_plot.h"
#include "isa/numerics_report.h"
#include "models/compile.h"
#include "sim/profile_plot.h"
#include "sim/report.h"
#include "trainer/verify.h"

static const char *join(char *buf, size_t n, const char *dir, const char *name)
{
    return floe_path_join(buf, n, dir, name) == 0 ? buf : "";
}

/* Stage 3: the compiled model's run with profiles and a trace (inputs: the embedded prompt). */
static int profile_run(const floe_qmodel *m, const floe_machine *mach, const floe_energy_table *e, const int32_t *tok,
                       int T, const char *out, FILE *summary, floe_err *err)
{
    floe_compile_opts o = {T};
    floe_program *p;
    floe_compile_report rep;
    if (floe_compile_prefill(m, mach, &o, &p, &rep, err) != 0)
        return -1;
    floe_sim *s = NULL;
    int rc = -1;
    char a[4200], b[4200], c[4200];
    if (floe_sim_new(&s, mach, e, err) != 0 || floe_sim_load(s, p, err) != 0)
        goto done;
    const floe_symbol *xs = floe_program_symbol(p, rep.in_x, rep.in_y, "x", 1);
    int d = m->cfg.d_model;
    int16_t *emb = malloc(sizeof(int16_t) * (size_t)T * d);
    if (!emb || !xs) {
        free(emb);
        floe_err_set(err, "out of memory");
        goto done;
    }
    for (int t = 0; t < T; t++)
        memcpy(emb + (size_t)t * d, m->embed + (size_t)tok[t] * d, sizeof(int16_t) * d);
    rc = floe_memory_write(floe_sim_memory(s, rep.in_x, rep.in_y), xs->value, emb, sizeof(int16_t) * (size_t)T * d, err);
    free(emb);
    if (rc != 0)
        goto done;
    floe_sim_options so = {1, join(a, sizeof a, out, "chip_timeline.json"), 200000, 0};
    rc = -1;
    if (floe_sim_run(s, &so, err) != 0 || floe_sim_write_core_csv(s, join(b, sizeof b, out, "chip_cores.csv"), err) != 0 ||
        floe_sim_write_region_csv(s, join(c, sizeof c, out, "chip_layers.csv"), err) != 0)
        goto done;
    floe_sim_print_summary(s, stdout);
    floe_sim_print_summary(s, summary);
    if (floe_plot_regions(c, join(a, sizeof a, out, "chip_layers.png"), err) != 0 ||
        floe_plot_core_heatmap(b, join(a, sizeof a, out, "chip_cores_vmm.png"), "vmm", err) != 0)
        goto done;
    rc = 0;
done:
    floe_sim_free(s);
    floe_program_free(p);
    floe_compile_report_free(&rep);
    return rc;
}

int floe_cmd_run(int argc, char **argv)
{
    const char *out = "floe-out", *machine = FLOE_CONFIG_DIR "/northpole.csv",
               *energy = FLOE_CONFIG_DIR "/energy-northpole.csv", *model = "S";
    const floe_opt opts[] = {
        {"out", FLOE_ARG_STRING, &out, "DIR", "output folder (default: floe-out)", 0, 0, 'o'},
        {"machine", FLOE_ARG_STRING, &machine, "CSV", "machine description (default: configs/northpole.csv)", 0, 0, 0},
        {"energy", FLOE_ARG_STRING, &energy, "CSV", "energy table (default: configs/energy-northpole.csv)", 0, 0, 0},
        {"model", FLOE_ARG_STRING, &model, "NAME", "model config for the chip stages (default: S)", 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {"run", NULL, "Run Floe's main job on built-in defaults.",
                                "Stages run today: [1] numeric core self-check; [2] a quantized model compiled for the\n"
                                "machine and verified bit for bit on the simulated chip; [3] its cost on the chip.\n"
                                "Outputs in DIR: summary.txt, numerics_accuracy.csv, numerics_*.png, chip_cores.csv,\n"
                                "chip_layers.csv, chip_layers.png, chip_cores_vmm.png, chip_timeline.json (Perfetto).",
                                opts, 0, 0};
    char *pos[1];
    int npos, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;

    floe_err err;
    if (floe_mkdir_p(out, &err) != 0)
        return floe_cmd_fail("run", "%s", err.msg);
    char path[4200];
    floe_afile af;
    if (floe_afile_open(&af, join(path, sizeof path, out, "summary.txt"), &err) != 0)
        return floe_cmd_fail("run", "%s", err.msg);
    FILE *sum = af.fp;
    fprintf(sum, "Floe main job summary\n");
#define FAIL(...)                                                                                        \
    do {                                                                                                 \
        floe_afile_abort(&af);                                                                           \
        return floe_cmd_fail("run", __VA_ARGS__);                                                        \
    } while (0)

    printf("[1/3] numeric core: accuracy of every integer operation against double precision\n");
    fflush(stdout);
    floe_accuracy_row rows[FLOE_ACCURACY_ROWS];
    floe_numerics_accuracy(rows);
    int bad = floe_accuracy_print(stdout, rows, FLOE_ACCURACY_ROWS);
    uint64_t digest = floe_numerics_digest();
    printf("numerics digest: %016" PRIx64 "\n", digest);
    fprintf(sum, "\n[1] numeric core\n");
    floe_accuracy_print(sum, rows, FLOE_ACCURACY_ROWS);
    fprintf(sum, "digest %016" PRIx64 "\n", digest);
    if (floe_accuracy_write_csv(join(path, sizeof path, out, "numerics_accuracy.csv"), rows, FLOE_ACCURACY_ROWS, &err) != 0 ||
        floe_numerics_plot(out, &err) != 0)
        FAIL("%s", err.msg);
    if (bad)
        FAIL("%d numeric operation(s) exceed their documented error bound", bad);

    floe_machine mach;
    floe_energy_table e;
    floe_model_config cfg;
    if (floe_machine_load(machine, &mach, &err) != 0 || floe_energy_table_load(energy, &e, &err) != 0 ||
        floe_model_config_load(model, &cfg, &err) != 0)
        FAIL("%s", err.msg);
    floe_qconfig qc = floe_qconfig_default();
    floe_qmodel m;
    if (floe_qmodel_random(&m, &cfg, &qc, 1, &err) != 0)
        FAIL("%s", err.msg);
    const char *prompt = "Floe: the model trained is the model deployed, bit for bit.";
    int T = (int)strlen(prompt) < cfg.context ? (int)strlen(prompt) : cfg.context;
    int32_t tok[128];
    if (T > 128)
        T = 128;
    for (int t = 0; t < T; t++)
        tok[t] = (unsigned char)prompt[t] % (unsigned)cfg.vocab_size;

    printf("\n[2/3] trained-equals-deployed: config %s (W4A8KV8, random weights) compiled for %s, %d tokens,\n"
           "      reference integer forward vs the simulated chip, every layer output and every logit\n",
           cfg.name, machine, T);
    fflush(stdout);
    floe_verify_result vr;
    if (floe_verify_prefill(&m, &mach, &e, tok, T, &vr, &err) != 0) {
        floe_qmodel_free(&m);
        FAIL("%s", err.msg);
    }
    if (!vr.match) {
        fprintf(sum, "\n[2] verification FAILED: %s\n", vr.mismatch);
        floe_verify_result_free(&vr);
        floe_qmodel_free(&m);
        FAIL("verification failed: %s", vr.mismatch);
    }
    printf("verified: %llu values bit-identical on %zu cores\n", (unsigned long long)vr.compared, vr.compile.ncores);
    fprintf(sum, "\n[2] verification: config %s, %d tokens: %llu values bit-identical on %zu cores of %s\n", cfg.name, T,
            (unsigned long long)vr.compared, vr.compile.ncores, machine);
    floe_verify_result_free(&vr);

    printf("\n[3/3] its cost on the chip\n");
    fflush(stdout);
    fprintf(sum, "\n[3] chip profile\n");
    if (profile_run(&m, &mach, &e, tok, T, out, sum, &err) != 0) {
        floe_qmodel_free(&m);
        FAIL("%s", err.msg);
    }
    floe_qmodel_free(&m);
    fprintf(sum, "\nresult: ok\n");
    if (floe_afile_commit(&af, &err) != 0)
        return floe_cmd_fail("run", "%s", err.msg);
    printf("\nresults in %s/: summary.txt, numerics_accuracy.csv, numerics_*.png, chip_cores.csv, chip_layers.csv,\n"
           "chip_layers.png, chip_cores_vmm.png, chip_timeline.json (open in ui.perfetto.dev)\n", out);
    return 0;
}
