/* `floe numerics`: the integer numeric core at a glance.
 * Default: the accuracy table of every integer nonlinearity against double precision, checked
 * against its documented bound (exit 1 if one is exceeded). --digest prints the 64-bit digest of
 * all operations' outputs, which must be equal across compilers, optimisation levels and machines. */
#include <inttypes.h>
#include <stdio.h>

#include "cli/args.h"
#include "cli/numerics_plot.h"
#include "isa/numerics_check.h"
#include "isa/numerics_report.h"
#include "isa/softmax.h"

int floe_cmd_numerics(int argc, char **argv)
{
    int digest = 0, exp2_table = 0;
    const char *csv = NULL, *plot = NULL;
    const floe_opt opts[] = {
        {"digest", FLOE_ARG_FLAG, &digest, NULL, "print the digest of every operation's outputs and exit", 0, 0, 0},
        {"csv", FLOE_ARG_STRING, &csv, "FILE", "also write the accuracy table as CSV", 0, 0, 0},
        {"plot", FLOE_ARG_STRING, &plot, "DIR", "also draw each nonlinearity against the real function (PNG + data)", 0, 0, 0},
        {"exp2-table", FLOE_ARG_FLAG, &exp2_table, NULL, "print the softmax exponential's 256-entry table", 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "numerics", NULL, "The integer numeric core: accuracy against double precision, and a digest.",
        "Every operation is defined in docs/numerics.md. The accuracy table measures each integer\n"
        "nonlinearity against double precision in output LSBs and checks it against the bound the\n"
        "docs state; the exit status is 1 if any bound is exceeded. Two builds that print the same\n"
        "--digest compute identical bits for every operation.",
        opts, 0, 0};
    char *pos[1];
    int npos, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;

    if (digest) {
        printf("%016" PRIx64 "\n", floe_numerics_digest());
        return 0;
    }
    if (exp2_table) {
        for (int i = 0; i < 256; i++)
            printf("%d %u\n", i, floe_exp2_table[i]);
        return 0;
    }
    floe_accuracy_row rows[FLOE_ACCURACY_ROWS];
    floe_numerics_accuracy(rows);
    int bad = floe_accuracy_print(stdout, rows, FLOE_ACCURACY_ROWS);
    if (csv) {
        floe_err err;
        if (floe_accuracy_write_csv(csv, rows, FLOE_ACCURACY_ROWS, &err) != 0)
            return floe_cmd_fail("numerics", "%s", err.msg);
    }
    if (plot) {
        floe_err err;
        if (floe_numerics_plot(plot, &err) != 0)
            return floe_cmd_fail("numerics", "%s", err.msg);
        printf("plots in %s/ (numerics_exp2.png, numerics_silu.png, numerics_recip.png)\n", plot);
    }
    if (bad)
        return floe_cmd_fail("numerics", "%d operation(s) exceed their documented error bound", bad);
    return 0;
}
