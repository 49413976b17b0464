/* `floe run`: Floe's main job on built-in defaults, writing everything to one output folder.
 *
 * The flow grows with the project (train -> QAT with per-step verification -> deploy-check ->
 * profile -> plots). Today it runs what exists: the numeric core's self-check (accuracy of every
 * integer nonlinearity against double precision, and the cross-build digest). */
#include <inttypes.h>
#include <stdio.h>

#include "cli/args.h"
#include "common/atomic_file.h"
#include "common/path.h"
#include "isa/numerics_check.h"
#include "isa/numerics_plot.h"
#include "isa/numerics_report.h"

int floe_cmd_run(int argc, char **argv)
{
    const char *out = "floe-out";
    const floe_opt opts[] = {
        {"out", FLOE_ARG_STRING, &out, "DIR", "output folder (default: floe-out)", 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {"run", NULL, "Run Floe's main job on built-in defaults.",
                                "Stages run today: [1] numeric core self-check.\n"
                                "Outputs: DIR/summary.txt, DIR/numerics_accuracy.csv, DIR/numerics_*.png.",
                                opts, 0, 0};
    char *pos[1];
    int npos, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;

    floe_err err;
    if (floe_mkdir_p(out, &err) != 0)
        return floe_cmd_fail("run", "%s", err.msg);
    char path[4096];

    printf("[1/1] numeric core: accuracy of every integer operation against double precision\n");
    fflush(stdout);
    floe_accuracy_row rows[FLOE_ACCURACY_ROWS];
    floe_numerics_accuracy(rows);
    int bad = floe_accuracy_print(stdout, rows, FLOE_ACCURACY_ROWS);
    uint64_t digest = floe_numerics_digest();
    printf("numerics digest: %016" PRIx64 "\n", digest);

    if (floe_path_join(path, sizeof path, out, "numerics_accuracy.csv") != 0 ||
        floe_accuracy_write_csv(path, rows, FLOE_ACCURACY_ROWS, &err) != 0)
        return floe_cmd_fail("run", "%s", err.msg);

    if (floe_numerics_plot(out, &err) != 0)
        return floe_cmd_fail("run", "%s", err.msg);

    floe_afile af;
    if (floe_path_join(path, sizeof path, out, "summary.txt") != 0 || floe_afile_open(&af, path, &err) != 0)
        return floe_cmd_fail("run", "%s", err.msg);
    fprintf(af.fp, "Floe main job summary\n\n[1] numeric core\n");
    floe_accuracy_print(af.fp, rows, FLOE_ACCURACY_ROWS);
    fprintf(af.fp, "digest %016" PRIx64 "\nresult: %s\n", digest, bad ? "FAILED" : "ok");
    if (floe_afile_commit(&af, &err) != 0)
        return floe_cmd_fail("run", "%s", err.msg);

    printf("results in %s/ (summary.txt, numerics_accuracy.csv, numerics_{exp2,silu,recip}.png)\n", out);
    if (bad)
        return floe_cmd_fail("run", "%d numeric operation(s) exceed their documented error bound", bad);
    return 0;
}
