#include "isa/numerics_report.h"

#include "common/atomic_file.h"

int floe_accuracy_print(FILE *out, const floe_accuracy_row *rows, int n)
{
    int bad = 0;
    fprintf(out, "%-13s %9s %12s %12s %8s  %s\n", "op", "points", "max_lsb", "mean_lsb", "bound", "domain");
    for (int i = 0; i < n; i++) {
        int ok = rows[i].max_err_lsb <= rows[i].bound_lsb;
        bad += !ok;
        fprintf(out, "%-13s %9llu %12.6f %12.6f %8.3f  %s%s\n", rows[i].op,
                (unsigned long long)rows[i].points, rows[i].max_err_lsb, rows[i].mean_err_lsb,
                rows[i].bound_lsb, rows[i].domain, ok ? "" : "  <-- EXCEEDS BOUND");
    }
    return bad;
}

int floe_accuracy_write_csv(const char *path, const floe_accuracy_row *rows, int n, floe_err *err)
{
    floe_afile af;
    if (floe_afile_open(&af, path, err) != 0)
        return -1;
    fprintf(af.fp, "op,points,max_err_lsb,mean_err_lsb,bound_lsb,domain\n");
    for (int i = 0; i < n; i++)
        fprintf(af.fp, "%s,%llu,%.9g,%.9g,%.9g,\"%s\"\n", rows[i].op, (unsigned long long)rows[i].points,
                rows[i].max_err_lsb, rows[i].mean_err_lsb, rows[i].bound_lsb, rows[i].domain);
    return floe_afile_commit(&af, err);
}
