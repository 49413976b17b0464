#include "sim/profile_plot.h"

#include <stdio.h>
#include <string.h>

#include "common/gnuplot.h"

static int starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

floe_profile_kind floe_profile_kind_of(const char *h)
{
    if (starts_with(h, "region,cores,instructions,first_cycle,"))
        return FLOE_CSV_REGIONS;
    if (starts_with(h, "core,x,y,instructions,finish_cycle,"))
        return FLOE_CSV_CORES;
    return FLOE_CSV_UNKNOWN;
}

int floe_plot_regions(const char *csv, const char *png, floe_err *err)
{
    char q[8300], script[20000];
    if (floe_gnuplot_quote(q, sizeof q, csv) != 0)
        return floe_err_set(err, "%s: path too long", csv);
    /* columns: 1 region, 6 span_cycles, 13..18 energy by category (mac vector afu sram fb noc) */
    snprintf(script, sizeof script,
             "set datafile separator ','\n"
             "set multiplot layout 2,1 title 'per-region latency and energy (floe sim --regions)'\n"
             "set style data histograms\nset style fill solid 0.8 border -1\nset boxwidth 0.8\n"
             "set xtics rotate by -35 left\nset grid ytics\nset key outside right top\n"
             "set ylabel 'span (cycles)'\nset yrange [0:*]\n"
             "plot %s skip 1 using 6:xtic(1) title 'latency span' lc rgb '#4477aa'\n"
             "set style histogram rowstacked\nset ylabel 'dynamic energy (J)'\n"
             "plot %s skip 1 using 13:xtic(1) t 'MAC' lc rgb '#4477aa', '' skip 1 using 14 t 'vector' lc rgb '#66ccee', "
             "'' skip 1 using 15 t 'LUT' lc rgb '#228833', '' skip 1 using 16 t 'SRAM' lc rgb '#ccbb44', "
             "'' skip 1 using 17 t 'frame buffer' lc rgb '#ee6677', '' skip 1 using 18 t 'NoC' lc rgb '#aa3377'\n"
             "unset multiplot\n",
             q, q);
    return floe_gnuplot_png(png, 1000, 800, script, err);
}

int floe_plot_core_heatmap(const char *csv, const char *png, const char *unit, floe_err *err)
{
    static const char *const units[] = {"vmm", "vector", "afu", "mem", "noc"};
    int col = 0;
    for (int i = 0; i < 5; i++)
        if (strcmp(unit, units[i]) == 0)
            col = 11 + i; /* util_vmm is column 11 */
    if (!col)
        return floe_err_set(err, "unknown unit '%s' (expected vmm, vector, afu, mem or noc)", unit);
    char q[8300], script[20000];
    if (floe_gnuplot_quote(q, sizeof q, csv) != 0)
        return floe_err_set(err, "%s: path too long", csv);
    snprintf(script, sizeof script,
             "set datafile separator ','\n"
             "set title '%s utilisation per core (floe sim --profile)'\n"
             "set xlabel 'x'\nset ylabel 'y'\nset autoscale xfix\nset autoscale yfix\nset yrange [*:*] reverse\n"
             "set size ratio -1\n"
             "set cbrange [0:1]\nset cblabel 'busy fraction'\nset palette defined (0 '#ffffff', 0.5 '#4477aa', 1 '#000044')\n"
             "set tics out\nset key off\n"
             "plot %s skip 1 using 2:3:%d with image\n",
             unit, q, col);
    return floe_gnuplot_png(png, 800, 720, script, err);
}
