/* `floe asm` and `floe disasm`: files round-trip exactly, errors exit non-zero and leave no output. */
#include "tests/test_util.h"

#include <unistd.h>

static char out[65536];

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static int same_file(const char *a, const char *b)
{
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

static void test_asm_disasm_roundtrip(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("isa_asm_cli");
    char src[4300], flp[4300], s2[4300], flp2[4300];
    snprintf(src, sizeof src, "%s/a.s", dir);
    snprintf(flp, sizeof flp, "%s/a.flp", dir);
    snprintf(s2, sizeof s2, "%s/b.s", dir);
    snprintf(flp2, sizeof flp2, "%s/b.flp", dir);
    write_text(src, ".core 0, 1\n.region x, 0, 64\n    seti.t0 r1, 0\n    loop.t0 2, e, r1, 16\n"
                    "    vadd.t0 x+r1, x, x, 16, i8\ne:\n    halt.t0\n");
    assert_int_equal(floe_test_run(out, sizeof out, "%s asm %s -o %s --fingerprint 0xABCDEF", floe_test_exe(), src, flp), 0);
    assert_int_equal(file_size(flp) % 8, 0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s disasm %s -o %s", floe_test_exe(), flp, s2), 0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s asm %s --output %s", floe_test_exe(), s2, flp2), 0);
    assert_true(same_file(flp, flp2));
    /* to standard output */
    assert_int_equal(floe_test_run(out, sizeof out, "%s disasm %s", floe_test_exe(), flp), 0);
    assert_non_null(strstr(out, ".fingerprint 0x0000000000abcdef"));
    assert_non_null(strstr(out, "loop.t0 2, e, r1, 16"));
    /* the fingerprint check */
    assert_int_equal(floe_test_run(out, sizeof out, "%s disasm %s --fingerprint abcdef", floe_test_exe(), flp), 0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s disasm %s --fingerprint 1", floe_test_exe(), flp), 1);
    assert_non_null(strstr(out, "program was built for machine fingerprint 0000000000abcdef, not this machine's "
                                "0000000000000001"));
}

static void test_errors_leave_no_output(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("isa_asm_cli_err");
    char src[4300], flp[4300], junk[4300];
    snprintf(src, sizeof src, "%s/bad.s", dir);
    snprintf(flp, sizeof flp, "%s/bad.flp", dir);
    snprintf(junk, sizeof junk, "%s/junk.flp", dir);
    write_text(src, ".core 0, 0\n    vmm.t0 0, 0\n");
    assert_int_equal(floe_test_run(out, sizeof out, "%s asm %s -o %s --fingerprint 1", floe_test_exe(), src, flp), 1);
    assert_non_null(strstr(out, "floe asm: error: "));
    assert_non_null(strstr(out, "bad.s:2:16: expected ',', got end of line"));
    assert_int_equal(file_size(flp), -1);
    /* no fingerprint anywhere */
    write_text(src, ".core 0, 0\nhalt\n");
    assert_int_equal(floe_test_run(out, sizeof out, "%s asm %s -o %s", floe_test_exe(), src, flp), 1);
    assert_non_null(strstr(out, "no machine fingerprint"));
    /* usage errors */
    assert_int_equal(floe_test_run(out, sizeof out, "%s asm %s", floe_test_exe(), src), 2);
    assert_non_null(strstr(out, "missing --output"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s asm %s -o %s --fingerprint xyz", floe_test_exe(), src, flp), 2);
    assert_int_equal(floe_test_run(out, sizeof out, "%s disasm", floe_test_exe()), 2);
    assert_int_equal(floe_test_run(out, sizeof out, "%s asm --help", floe_test_exe()), 0);
    assert_non_null(strstr(out, "--fingerprint"));
    /* not a container */
    write_text(junk, "hello, this is not a program but a longer text file\n");
    assert_int_equal(floe_test_run(out, sizeof out, "%s disasm %s -o %s/x.s", floe_test_exe(), junk, dir), 1);
    assert_non_null(strstr(out, "not a Floe program"));
    char xs[4400];
    snprintf(xs, sizeof xs, "%s/x.s", dir);
    assert_int_equal(file_size(xs), -1);
    assert_int_equal(floe_test_run(out, sizeof out, "%s disasm %s/missing.flp", floe_test_exe(), dir), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_asm_disasm_roundtrip),
        cmocka_unit_test(test_errors_leave_no_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
