/* `floe explore`: a sweep of machines, models and precisions priced, its Pareto front re-priced by
 * the simulator, and the results as CSV, plots and an HTML report (explore/explore.h). */
#include <stdio.h>
#include <unistd.h>

#include "cli/args.h"
#include "explore/explore.h"
#include "explore/explore_mpi.h"

int floe_cmd_explore(int argc, char **argv)
{
    const char *out = "floe-explore";
    long long jobs = 0;
    int quiet = 0;
    const floe_opt opts[] = {
        {"out", FLOE_ARG_STRING, &out, "DIR",
         "explore.csv, front plots, report.html, points.journal (default "
         "floe-explore)",
         0, 0, 'o'},
        {"jobs", FLOE_ARG_INT, &jobs, "N",
         "points priced at a time by this process (default: 1 under mpirun, else "
         "the cores)",
         1, 4096, 'j'},
        {"quiet", FLOE_ARG_FLAG, &quiet, NULL, "no progress lines", 0, 0, 'q'},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "explore",
        "<sweep>",
        "Price every point of a sweep of machines, models and precisions; the Pareto front.",
        "The sweep file (docs/explore.md) names a base machine and energy table and axes over their keys,\n"
        "model shapes, precisions, context and users. Every point is priced by the analytical cost model\n"
        "(milliseconds) or the simulator; the front of the points within the constraints is re-priced by\n"
        "the simulator. A killed sweep run again prices only what is missing (DIR/points.journal).\n"
        "Under `mpirun -np N floe explore ...` the points are spread over the ranks; rank 0 writes.",
        opts,
        1,
        1};
    char *pos[1];
    int npos = 0, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    floe_err err;
    floe_explore_transport mpi;
    int under_mpi = floe_explore_mpi_launched();
    if (under_mpi && floe_explore_mpi_init(&argc, &argv, &mpi, &err) != 0)
        return floe_cmd_fail("explore", "%s", err.msg);
    floe_sweep s;
    int is_root = !under_mpi || mpi.rank == 0;
    if (floe_sweep_load(pos[0], &s, &err) != 0) {
        if (under_mpi)
            floe_explore_mpi_finish(&mpi);
        return is_root ? floe_cmd_fail("explore", "%s", err.msg) : 1;
    }
    floe_explore_opts o = {out, (int)jobs, under_mpi ? &mpi : NULL, is_root && !quiet ? stderr : NULL};
    if (!o.jobs)
        o.jobs = under_mpi ? 1 : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (is_root)
        printf("sweep %s: %llu point(s), base machine %s%s%s; %s tier, %d worker(s)%s\n", pos[0],
               (unsigned long long)s.n_points, s.machine_path, s.energy_path[0] ? ", energy " : "", s.energy_path,
               s.tier == FLOE_TIER_SIM ? "simulator" : "analytical", o.jobs, under_mpi ? " per rank under MPI" : "");
    fflush(stdout);
    floe_explore_summary sum;
    rc = floe_explore_run(&s, &o, &sum, &err);
    floe_sweep_free(&s);
    if (under_mpi)
        floe_explore_mpi_finish(&mpi);
    if (rc != 0)
        return floe_cmd_fail("explore", "%s", err.msg);
    if (!is_root)
        return 0;
    printf("%llu point(s): %llu pricing run(s) now, %llu point(s) from the journal; %llu do not fit, %llu failed; %llu "
           "within the "
           "constraints, %llu on the front (%llu priced by the simulator); %.1f s\n",
           (unsigned long long)sum.points, (unsigned long long)sum.priced, (unsigned long long)sum.reused,
           (unsigned long long)sum.unfit, (unsigned long long)sum.failed, (unsigned long long)sum.within,
           (unsigned long long)sum.front, (unsigned long long)sum.sim_priced, sum.seconds);
    printf("results %s/explore.csv, report %s/report.html\n", out, out);
    return 0;
}
