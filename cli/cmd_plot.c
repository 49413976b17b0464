/* `floe plot`: render a Floe CSV as a PNG with gnuplot; the kind of CSV is recognised by its header. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "sim/profile_plot.h"
#include "trainer/log_plot.h"

int floe_cmd_plot(int argc, char **argv)
{
    const char *out = NULL, *unit = "vmm";
    const floe_opt opts[] = {
        {"output", FLOE_ARG_STRING, &out, "PNG", "the image to write (default: the CSV's name with .png)", 0, 0, 'o'},
        {"unit", FLOE_ARG_STRING, &unit, "UNIT", "core heat maps: vmm (default), vector, afu, mem or noc", 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "plot", "<file.csv>", "Render a Floe CSV as a PNG (gnuplot).",
        "Recognised CSVs:\n"
        "  floe sim --regions   per-region (layer) latency span and energy breakdown\n"
        "  floe sim --profile   heat map of one unit's utilisation over the core grid\n"
        "  floe train           train.csv: training and validation loss curves",
        opts, 1, 1};
    char *pos[1];
    int npos = 0, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    const char *csv = npos ? pos[0] : NULL;
    if (rc >= 0)
        return rc;
    FILE *f = fopen(csv, "r");
    if (!f)
        return floe_cmd_fail("plot", "%s: cannot open", csv);
    char header[512] = "";
    char *got = fgets(header, sizeof header, f);
    fclose(f);
    char png[4200];
    if (!out) {
        size_t n = strlen(csv);
        const char *dot = n > 4 && strcmp(csv + n - 4, ".csv") == 0 ? csv + n - 4 : csv + n;
        snprintf(png, sizeof png, "%.*s.png", (int)(dot - csv), csv);
        out = png;
    }
    floe_err err;
    if (got && floe_train_log_is_header(header)) {
        if (floe_plot_train_log(csv, out, &err) != 0)
            return floe_cmd_fail("plot", "%s", err.msg);
        printf("wrote %s\n", out);
        return 0;
    }
    switch (got ? floe_profile_kind_of(header) : FLOE_CSV_UNKNOWN) {
    case FLOE_CSV_REGIONS:
        rc = floe_plot_regions(csv, out, &err);
        break;
    case FLOE_CSV_CORES:
        rc = floe_plot_core_heatmap(csv, out, unit, &err);
        break;
    default:
        return floe_cmd_fail("plot", "%s:1: not a CSV floe plot knows (its header is not that of floe sim --regions "
                                     "or --profile, nor floe train's train.csv)", csv);
    }
    if (rc != 0)
        return floe_cmd_fail("plot", "%s", err.msg);
    printf("wrote %s\n", out);
    return 0;
}
