#include "tests/test_util.h"

#include <math.h>
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
    /* gnuplot missing: its own code, no file; a by-product plot turns it into a warning, and nothing
     * else into success */
    const char *path = getenv("PATH");
    char *keep = strdup(path ? path : "/usr/bin:/bin");
    assert_non_null(keep);
    setenv("PATH", "/nonexistent", 1);
    char none[4200];
    floe_path_join(none, sizeof none, dir, "none.png");
    int rc = floe_gnuplot_png(none, 320, 200, "plot sin(x)", &err);
    /* a script larger than a pipe holds: the write meets a shell that has exited, which must be an
     * error code here, not a SIGPIPE that kills the process (a race with short scripts) */
    size_t big_n = 1u << 20;
    char *big = malloc(big_n + 1);
    assert_non_null(big);
    for (size_t i = 0; i < big_n; i++)
        big[i] = i % 64 == 63 ? '\n' : '#';
    big[big_n] = '\0';
    int rc_big = floe_gnuplot_png(none, 320, 200, big, &err);
    free(big);
    setenv("PATH", keep, 1);
    free(keep);
    assert_int_equal(rc, FLOE_GNUPLOT_MISSING);
    assert_int_equal(rc_big, FLOE_GNUPLOT_MISSING);
    assert_non_null(strstr(err.msg, "gnuplot not found"));
    assert_int_equal(stat(none, &st), -1);
    assert_int_equal(floe_gnuplot_optional(FLOE_GNUPLOT_MISSING, &err), 0);
    assert_int_equal(floe_gnuplot_optional(-1, &err), -1);
    assert_int_equal(floe_gnuplot_optional(0, &err), 0);
}

/* A constant series gets an explicit range, so gnuplot prints no warning (it would print "warning:
 * empty y range [..], adjusting to [..]" on stderr without one: checked too, so the test can fail). */
static void test_constant_series_no_warning(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("gnuplot_constant");
    char dat[4200], png[4200], log[4200], q[8500], script[9000], xr[96], yr[96], text[2048];
    floe_path_join(dat, sizeof dat, dir, "const.dat");
    floe_path_join(png, sizeof png, dir, "const.png");
    floe_path_join(log, sizeof log, dir, "stderr.txt");
    FILE *f = fopen(dat, "w");
    assert_non_null(f);
    fprintf(f, "1 2.5\n2 2.5\n3 2.5\n");
    fclose(f);
    floe_gnuplot_quote(q, sizeof q, dat);
    floe_err err;

    snprintf(script, sizeof script, "plot %s using 1:2 with lines", q);
    int saved = floe_test_stderr_begin(log);
    int rc = floe_gnuplot_png(png, 320, 200, script, &err);
    long n = floe_test_stderr_end(saved, log, text, sizeof text);
    assert_int_equal(rc, 0);
    assert_true(n > 0);
    assert_non_null(strstr(text, "empty y range"));

    floe_gnuplot_range(xr, sizeof xr, "x", 1, 3); /* not constant: nothing to set */
    assert_string_equal(xr, "");
    floe_gnuplot_range(yr, sizeof yr, "y", 2.5, 2.5);
    assert_string_equal(yr, "set yrange [2.25:2.75]\n");
    snprintf(script, sizeof script, "%s%splot %s using 1:2 with lines", xr, yr, q);
    saved = floe_test_stderr_begin(log);
    rc = floe_gnuplot_png(png, 320, 200, script, &err);
    n = floe_test_stderr_end(saved, log, text, sizeof text);
    assert_int_equal(rc, 0);
    if (n != 0)
        fail_msg("gnuplot wrote to stderr: %s", text);

    /* zero, negative, and an axis with no data */
    floe_gnuplot_range(yr, sizeof yr, "y2", 0, 0);
    assert_string_equal(yr, "set y2range [-1:1]\n");
    floe_gnuplot_range(yr, sizeof yr, "x", -20, -20);
    assert_string_equal(yr, "set xrange [-22:-18]\n");
    floe_gnuplot_range(yr, sizeof yr, "y", INFINITY, -INFINITY);
    assert_string_equal(yr, "");
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
        cmocka_unit_test(test_constant_series_no_warning),
        cmocka_unit_test(test_quote),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
