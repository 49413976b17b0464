/* `floe explore` end to end: the CSV, plots and report; a sweep killed midway prices only what is
 * missing and ends with the same CSV; under mpirun the CSV is the single process's, byte for byte;
 * bad sweep files exit 1 naming the line. */
#include "tests/test_util.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file_read.h"

static char out[65536];

static const char *write_sweep(const char *dir, const char *extra)
{
    static char path[4300];
    const char *src = getenv("FLOE_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/s.sweep", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "machine = %s/configs/small.csv\nenergy = %s/configs/energy-small.csv\nmodel = tiny\n"
            "precision = W4A8KV8, W2A8KV8\ncontext = 32\ntier = sim\n%s",
            src, src, extra);
    fclose(f);
    return path;
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char p[8500], *d;
    floe_err err;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_int_equal(floe_read_file(p, 1 << 26, &d, len, &err), 0);
    return d;
}

static void test_outputs(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("explore_outputs");
    const char *sw = write_sweep(dir, "cores_x:cores_y = 2:2, 4:4\nconstraint energy_uj_per_token < 1e9\n");
    assert_int_equal(
        floe_test_run(out, sizeof out, "cd '%s' && '%s' explore -q -j 2 %s -o o", dir, floe_test_exe(), sw), 0);
    assert_non_null(strstr(out, "4 point(s): 4 pricing run(s) now, 0 point(s) from the journal"));
    char o[4300];
    snprintf(o, sizeof o, "%s/o", dir);
    size_t n;
    char *csv = slurp(o, "explore.csv", &n);
    assert_non_null(strstr(csv, "point,model,precision,context,cores_x,cores_y,fits,chips"));
    assert_non_null(strstr(csv, ",tier,within,front,status\n"));
    int rows = 0;
    for (char *p = csv; (p = strstr(p, ",sim,")); p++)
        rows++;
    assert_int_equal(rows, 4);
    free(csv);
    char *html = slurp(o, "report.html", &n);
    assert_non_null(strstr(html, "data:image/png;base64,iVBOR"));
    assert_non_null(strstr(html, "<tr class=\"front\">"));
    free(html);
    struct stat st;
    char png[4400];
    snprintf(png, sizeof png, "%s/front-latency_us-energy_uj_per_token.png", o);
    assert_int_equal(stat(png, &st), 0);
    /* bad files: exit 1, the line named */
    FILE *f = fopen(sw, "a");
    fprintf(f, "cores_y = 3\n");
    fclose(f);
    assert_int_equal(floe_test_run(out, sizeof out, "'%s' explore -q %s -o %s/bad", floe_test_exe(), sw, dir), 1);
    assert_non_null(strstr(out, "s.sweep:9: key 'cores_y' is given twice"));
}

static void test_killed_sweep_resumes(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("explore_resume");
    char d[4096];
    snprintf(d, sizeof d, "%s", dir);
    const char *sw = write_sweep(d, "core_mem_bytes = 65536 .. 1048576 *2\n");
    /* straight */
    assert_int_equal(floe_test_run(out, sizeof out, "'%s' explore -q -j 1 %s -o %s/a", floe_test_exe(), sw, d), 0);
    /* killed once the journal has a line, then run again */
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "'%s' explore -q -j 1 %s -o %s/b & pid=$!; "
                                   "while [ ! -s %s/b/points.journal ]; do sleep 0.01; done; kill -9 $pid; wait $pid; "
                                   "exit 0",
                                   floe_test_exe(), sw, d, d),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out, "'%s' explore -q -j 2 %s -o %s/b", floe_test_exe(), sw, d), 0);
    assert_null(strstr(out, " 0 point(s) from the journal"));
    char a[4300], b[4300];
    snprintf(a, sizeof a, "%s/a", d);
    snprintf(b, sizeof b, "%s/b", d);
    size_t na, nb;
    char *x = slurp(a, "explore.csv", &na), *y = slurp(b, "explore.csv", &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(x, y, na);
    free(x);
    free(y);
}

static void test_mpi_equals_one_process(void **state)
{
    (void)state;
    if (floe_test_run(out, sizeof out, "command -v mpirun") != 0 ||
        floe_test_run(out, sizeof out, "'%s' explore --help | grep -q mpirun", floe_test_exe()) != 0)
        skip();
    const char *dir = floe_test_tmpdir("explore_mpi");
    char d[4096];
    snprintf(d, sizeof d, "%s", dir);
    const char *sw = write_sweep(d, "cores_x:cores_y = 2:2, 3:3, 4:4\n");
    assert_int_equal(floe_test_run(out, sizeof out, "'%s' explore -q -j 1 %s -o %s/one", floe_test_exe(), sw, d), 0);
    int rc = floe_test_run(out, sizeof out,
                           /* Open MPI keeps allocations past MPI_Finalize (its plugins): LeakSanitizer would
                              report them as this program's under the sanitizer build */
                           "ASAN_OPTIONS=detect_leaks=0 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
                           "OMPI_MCA_btl=self,vader "
                           "mpirun -np 3 --oversubscribe '%s' explore -q %s -o %s/mpi",
                           floe_test_exe(), sw, d);
    if (rc != 0)
        fail_msg("mpirun: %s", out);
    assert_non_null(strstr(out, "6 point(s): 6 pricing run(s) now"));
    char a[4300], b[4300];
    snprintf(a, sizeof a, "%s/one", d);
    snprintf(b, sizeof b, "%s/mpi", d);
    size_t na, nb;
    char *x = slurp(a, "explore.csv", &na), *y = slurp(b, "explore.csv", &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(x, y, na);
    free(x);
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outputs),
        cmocka_unit_test(test_killed_sweep_resumes),
        cmocka_unit_test(test_mpi_equals_one_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
