/* `floe machine`: help, show with and without an energy table, the CSV output, and errors. */
#include "tests/test_util.h"

#include <inttypes.h>

#include "isa/machine.h"
#include "tests/isa/machine_test_util.h"

static char out[1 << 17];

static void test_help(void **state)
{
    (void)state;
    assert_int_equal(floe_test_run(out, sizeof out, "%s machine --help", floe_test_exe()), 0);
    assert_non_null(strstr(out, "usage: floe machine <subcommand>"));
    assert_non_null(strstr(out, "show <machine.csv>"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s help machine", floe_test_exe()), 0);
    assert_non_null(strstr(out, "usage: floe machine"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s machine show --help", floe_test_exe()), 0);
    assert_non_null(strstr(out, "--energy FILE"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s --help", floe_test_exe()), 0);
    assert_non_null(strstr(out, "machine"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s machine", floe_test_exe()), 2);
    assert_int_equal(floe_test_run(out, sizeof out, "%s machine frob", floe_test_exe()), 2);
    assert_non_null(strstr(out, "unknown subcommand 'frob'"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s machine show", floe_test_exe()), 2);
    assert_int_equal(floe_test_run(out, sizeof out, "%s machine show --bogus x", floe_test_exe()), 2);
}

static void test_show_northpole(void **state)
{
    (void)state;
    char np[4096];
    snprintf(np, sizeof np, "%s", src_path("configs/northpole.csv"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s machine show '%s' --energy '%s'", floe_test_exe(), np,
                                   src_path("configs/energy-northpole.csv")),
                     0);
    assert_non_null(strstr(out, "peak_w8a8_tops"));
    assert_non_null(strstr(out, "209.715")); /* 256 x 2048 x 400 MHz */
    assert_non_null(strstr(out, "core_mem_total_mib"));
    assert_non_null(strstr(out, "noc_act_bisection_bytes_per_cycle"));
    assert_non_null(strstr(out, "chip_static_w"));
    floe_machine m;
    floe_err err;
    assert_int_equal(floe_machine_load(np, &m, &err), 0);
    char fp[32];
    snprintf(fp, sizeof fp, "%016" PRIx64, floe_machine_fingerprint(&m));
    assert_non_null(strstr(out, fp));
}

static void test_csv_output(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("isa_machine_cli");
    char csv[4400];
    snprintf(csv, sizeof csv, "%s/small.csv", dir);
    char small[4096]; /* src_path returns one static buffer */
    snprintf(small, sizeof small, "%s", src_path("configs/small.csv"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s machine show '%s' --energy '%s' --csv '%s'", floe_test_exe(),
                                   small, src_path("configs/energy-small.csv"), csv),
                     0);
    FILE *f = fopen(csv, "r");
    assert_non_null(f);
    char line[512];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "kind,name,value,unit,meaning\n");
    int params = 0, derived = 0, energy = 0;
    while (fgets(line, sizeof line, f)) {
        params += strncmp(line, "param,", 6) == 0;
        derived += strncmp(line, "derived,", 8) == 0;
        energy += strncmp(line, "energy,", 7) == 0;
        if (strncmp(line, "derived,peak_w8a8_tops,", 23) == 0)
            assert_string_equal(line, "derived,peak_w8a8_tops,0.0512,T-ops/s,\"chip peak vmm w8a8, 1 MAC = 2 ops\"\n");
    }
    fclose(f);
    size_t n;
    floe_machine_keys(&n);
    assert_int_equal(params, (int)n);
    assert_true(derived > 10);
    assert_true(energy > 10);
}

static void test_errors(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("isa_machine_cli_err");
    const char *bad = write_tmp(dir, "bad.csv", "cores_x,2\ncores_y,0\n");
    assert_int_equal(floe_test_run(out, sizeof out, "%s machine show '%s'", floe_test_exe(), bad), 1);
    char want[4600];
    snprintf(want, sizeof want, "floe machine show: error: %s:2: field 'cores_y': ", bad);
    assert_non_null(strstr(out, want));
    /* a failed run leaves no CSV behind */
    char csv[4400];
    snprintf(csv, sizeof csv, "%s/out.csv", dir);
    assert_int_equal(floe_test_run(out, sizeof out, "%s machine show '%s' --energy '%s/none.csv' --csv '%s'",
                                   floe_test_exe(), src_path("configs/small.csv"), dir, csv),
                     1);
    assert_non_null(strstr(out, "none.csv: cannot open"));
    assert_null(fopen(csv, "r"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s machine show '%s' --csv '%s/no/dir/x.csv'", floe_test_exe(),
                                   src_path("configs/small.csv"), dir),
                     1);
    assert_non_null(strstr(out, "cannot create"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_show_northpole),
        cmocka_unit_test(test_csv_output),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
