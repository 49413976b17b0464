#include "sim/profile_plot.h"

#include <stdio.h>
#include <string.h>

#include "common/gnuplot.h"
#include "isa/insn.h"

static int starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

floe_profile_kind floe_profile_kind_of(const char *h)
{
    if (starts_with(h, "region,cores,instructions,first_cycle,"))
        return FLOE_CSV_REGIONS;
    if (starts_with(h, "core,x,y,instructions,finish_cycle,"))
        return FLOE_CSV_CORES;
    return FLOE_CSV_UNKNOWN;
}

/* The 1-based columns of `names` in the CSV's header line, found by name (the simulator's reports
 * may gain columns: nothing here counts them). */
static int header_columns(const char *csv, const char *const *names, int n, int *col, floe_err *err)
{
    FILE *f = fopen(csv, "r");
    if (!f)
        return floe_err_set(err, "%s: cannot open", csv);
    char line[4096];
    char *got = fgets(line, sizeof line, f);
    fclose(f);
    if (!got)
        return floe_err_set(err, "%s: empty file (expected a header line)", csv);
    line[strcspn(line, "\r\n")] = 0;
    for (int i = 0; i < n; i++)
        col[i] = 0;
    int c = 1;
    for (char *tok = line, *end; tok; tok = end ? end + 1 : NULL, c++) {
        end = strchr(tok, ',');
        if (end)
            *end = 0;
        for (int i = 0; i < n; i++)
            if (strcmp(tok, names[i]) == 0)
                col[i] = c;
    }
    for (int i = 0; i < n; i++)
        if (!col[i])
            return floe_err_set(err, "%s: no column '%s' in the header", csv, names[i]);
    return 0;
}

int floe_plot_regions(const char *csv, const char *png, floe_err *err)
{
    static const char *const names[] = {"region",       "span_cycles",   "energy_mac_j",         "energy_vector_j",
                                        "energy_afu_j", "energy_sram_j", "energy_framebuffer_j", "energy_noc_j"};
    int c[8] = {0};
    if (header_columns(csv, names, 8, c, err) != 0)
        return -1;
    char q[8300], script[20000];
    if (floe_gnuplot_quote(q, sizeof q, csv) != 0)
        return floe_err_set(err, "%s: path too long", csv);
    snprintf(script, sizeof script,
             "set datafile separator ','\n"
             "set multiplot layout 2,1 title 'per-region latency and energy (floe sim --regions)'\n"
             "set style data histograms\nset style fill solid 0.8 border -1\nset boxwidth 0.8\n"
             "set xtics rotate by -35 left\nset grid ytics\nset key outside right top\n"
             "set ylabel 'span (cycles)'\nset yrange [0:*]\n"
             "plot %s skip 1 using %d:xtic(%d) title 'latency span' lc rgb '#4477aa'\n"
             "set style histogram rowstacked\nset ylabel 'dynamic energy (J)'\n"
             "plot %s skip 1 using %d:xtic(%d) t 'MAC' lc rgb '#4477aa', '' skip 1 using %d t 'vector' lc rgb "
             "'#66ccee', '' skip 1 using %d t 'afu' lc rgb '#228833', '' skip 1 using %d t 'SRAM' lc rgb '#ccbb44', "
             "'' skip 1 using %d t 'frame buffer' lc rgb '#ee6677', '' skip 1 using %d t 'NoC' lc rgb '#aa3377'\n"
             "unset multiplot\n",
             q, c[1], c[0], q, c[2], c[0], c[3], c[4], c[5], c[6], c[7]);
    return floe_gnuplot_png(png, 1000, 800, script, err);
}

int floe_plot_core_heatmap(const char *csv, const char *png, const char *unit, floe_err *err)
{
    int known = 0;
    char units[128] = "", util[64];
    for (int u = 1; u < FLOE_UNIT_COUNT; u++) { /* every unit but the control unit */
        const char *name = floe_unit_name((floe_unit)u);
        known |= strcmp(unit, name) == 0;
        snprintf(units + strlen(units), sizeof units - strlen(units), "%s%s", u > 1 ? ", " : "", name);
    }
    if (!known)
        return floe_err_set(err, "unknown unit '%s' (expected one of %s)", unit, units);
    snprintf(util, sizeof util, "util_%s", unit);
    const char *names[] = {"x", "y", util};
    int c[3] = {0, 0, 0};
    if (header_columns(csv, names, 3, c, err) != 0)
        return -1;
    char q[8300], script[20000];
    if (floe_gnuplot_quote(q, sizeof q, csv) != 0)
        return floe_err_set(err, "%s: path too long", csv);
    snprintf(script, sizeof script,
             "set datafile separator ','\n"
             "set title '%s utilisation per core (floe sim --profile)'\n"
             "set xlabel 'x'\nset ylabel 'y'\nset autoscale xfix\nset autoscale yfix\nset yrange [*:*] reverse\n"
             "set size ratio -1\n"
             "set cbrange [0:1]\nset cblabel 'busy fraction'\nset palette defined (0 '#ffffff', 0.5 '#4477aa', 1 "
             "'#000044')\n"
             "set tics out\nset key off\n"
             "plot %s skip 1 using %d:%d:%d with image\n",
             unit, q, c[0], c[1], c[2]);
    return floe_gnuplot_png(png, 800, 720, script, err);
}
