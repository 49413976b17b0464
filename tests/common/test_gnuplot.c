#include "tests/test_util.h"

#include <sys/stat.h>

#include "common/gnuplot.h"
#include "common/path.h"

static void test_renders_png_atomically(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("gnuplot");
    char png[4200];
    floe_path_join(png, sizeof png, dir, "sin.png");
    floe_err err;
    assert_int_equal(floe_gnuplot_png(png, 320, 200, "plot sin(x)", &err), 0);
    FILE *f = fopen(png, "rb");
    assert_non_null(f);
    unsigned char sig[8];
    assert_int_equal(fread(sig, 1, 8, f), 8);
    fclose(f);
    assert_memory_equal(sig, "\x89PNG\r\n\x1a\n", 8);
    /* a script error fails cleanly and leaves no file behind */
    char bad[4200];
    floe_path_join(bad, sizeof bad, dir, "bad.png");
    assert_int_equal(floe_gnuplot_png(bad, 320, 200, "plot this_is_not_a_function(x)", &err), -1);
    assert_non_null(strstr(err.msg, "gnuplot failed"));
    struct stat st;
    assert_int_equal(stat(bad, &st), -1);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -c tmp", dir);
    char out[64];
    floe_test_run(out, sizeof out, "%s", cmd);
    assert_string_equal(out, "0\n");
}

static void test_quote(void **state)
{
    (void)state;
    char q[64];
    assert_int_equal(floe_gnuplot_quote(q, sizeof q, "a'b.dat"), 0);
    assert_string_equal(q, "'a''b.dat'");
    assert_int_equal(floe_gnuplot_quote(q, 4, "abcdef"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_renders_png_atomically),
        cmocka_unit_test(test_quote),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
