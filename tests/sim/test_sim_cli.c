/* floe sim and floe plot from the command line: inputs and outputs by region, profiles, trace,
 * plots, and the errors a user meets. */
#include "tests/test_util.h"

static char out[65536];

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_sim_run_profiles_and_plots(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("sim_cli");
    const char *src = getenv("FLOE_SOURCE_DIR");
    char s[4300];
    snprintf(s, sizeof s, "%s/p.s", dir);
    write_text(s, ".core 0, 0\n"
                  ".region in, 0, 8\n.region out, 8, 8\n"
                  "layer0:\n    vadd out, in, in, 8, i8\n"
                  "layer1:\n    vmax out, out, in, 8, i8\n");
    char in[4300];
    snprintf(in, sizeof in, "%s/in.bin", dir);
    FILE *f = fopen(in, "wb");
    const unsigned char bytes[8] = {1, 2, 3, 100, 0x80, 0xff, 7, 8};
    fwrite(bytes, 1, 8, f);
    fclose(f);
    assert_int_equal(floe_test_run(out, sizeof out, "%s asm %s -o %s/p.flp --machine %s/configs/small.csv",
                                   floe_test_exe(), s, dir, src), 0);
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s sim %s/p.flp -m %s/configs/small.csv --input 0,0:in=%s --output 0,0:out=%s/out.bin "
                                   "--profile %s/cores.csv --regions %s/regions.csv --trace %s/t.json",
                                   floe_test_exe(), dir, src, in, dir, dir, dir, dir),
                     0);
    assert_non_null(strstr(out, "cycles"));
    assert_non_null(strstr(out, "energy"));
    char path[4300];
    snprintf(path, sizeof path, "%s/out.bin", dir);
    f = fopen(path, "rb");
    unsigned char got[8];
    assert_int_equal(fread(got, 1, 8, f), 8);
    fclose(f);
    const unsigned char want[8] = {2, 4, 6, 127, 0x80, 0xff, 14, 16}; /* saturating i8 add, then max */
    assert_memory_equal(got, want, 8);
    assert_int_equal(floe_test_run(out, sizeof out, "%s plot %s/regions.csv", floe_test_exe(), dir), 0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s plot %s/cores.csv -o %s/heat.png --unit vector", floe_test_exe(),
                                   dir, dir),
                     0);
    snprintf(path, sizeof path, "%s/regions.png", dir);
    f = fopen(path, "rb");
    assert_non_null(f);
    fclose(f);
    /* errors */
    assert_int_equal(floe_test_run(out, sizeof out, "%s sim %s/p.flp -m %s/configs/northpole.csv", floe_test_exe(), dir, src), 1);
    assert_non_null(strstr(out, "fingerprint"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s sim %s/p.flp -m %s/configs/small.csv --input 0,0:nope=%s",
                                   floe_test_exe(), dir, src, in), 1);
    assert_non_null(strstr(out, "no region 'nope'"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s sim %s/p.flp -m %s/configs/small.csv --input 0,0:in",
                                   floe_test_exe(), dir, src), 2);
    assert_int_equal(floe_test_run(out, sizeof out, "%s sim %s/p.flp", floe_test_exe(), dir), 2);
    assert_non_null(strstr(out, "--machine is required"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s plot %s", floe_test_exe(), s), 1);
    assert_non_null(strstr(out, "not a CSV floe plot knows"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s plot %s/cores.csv --unit bogus", floe_test_exe(), dir), 1);
    /* a region on a core this machine does not have */
    char off[4300];
    snprintf(off, sizeof off, "%s/off.s", dir);
    write_text(off, ".core 0, 0\n    nop\n.core 1, 5\n.region off, 0, 8\n");
    assert_int_equal(floe_test_run(out, sizeof out, "%s asm %s -o %s/off.flp --machine %s/configs/small.csv", floe_test_exe(),
                                   off, dir, src),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s sim %s/off.flp -m %s/configs/small.csv --output 1,5:off=%s/o.bin",
                                   floe_test_exe(), dir, src, dir),
                     1);
    assert_non_null(strstr(out, "core (1, 5) is outside this machine's grid"));
    /* an input larger than its region */
    snprintf(path, sizeof path, "%s/big.bin", dir);
    f = fopen(path, "wb");
    fwrite(out, 1, 9, f);
    fclose(f);
    assert_int_equal(floe_test_run(out, sizeof out, "%s sim %s/p.flp -m %s/configs/small.csv --input 0,0:in=%s",
                                   floe_test_exe(), dir, src, path), 1);
    assert_non_null(strstr(out, "region 'in' holds 8 bytes"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sim_run_profiles_and_plots)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
