/* The `floe` command line: help, version, unknown commands and options, and the option parser. */
#include "tests/test_util.h"

#include "cli/args.h"

static char out[65536];

static void test_help_lists_commands(void **state)
{
    (void)state;
    assert_int_equal(floe_test_run(out, sizeof out, "%s --help", floe_test_exe()), 0);
    assert_non_null(strstr(out, "usage: floe <command>"));
    assert_non_null(strstr(out, "numerics"));
    assert_non_null(strstr(out, "run"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s help numerics", floe_test_exe()), 0);
    assert_non_null(strstr(out, "usage: floe numerics"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s numerics --help", floe_test_exe()), 0);
    assert_non_null(strstr(out, "--digest"));
}

static void test_version(void **state)
{
    (void)state;
    assert_int_equal(floe_test_run(out, sizeof out, "%s --version", floe_test_exe()), 0);
    assert_non_null(strstr(out, "floe "));
}

static void test_unknown_command_and_option(void **state)
{
    (void)state;
    assert_int_equal(floe_test_run(out, sizeof out, "%s frobnicate", floe_test_exe()), 2);
    assert_non_null(strstr(out, "'frobnicate' is not a floe command"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s numerics --bogus", floe_test_exe()), 2);
    assert_non_null(strstr(out, "unknown option '--bogus'"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s --bogus", floe_test_exe()), 2);
    assert_int_equal(floe_test_run(out, sizeof out, "%s", floe_test_exe()), 2);
    assert_int_equal(floe_test_run(out, sizeof out, "%s numerics extra", floe_test_exe()), 2);
    assert_non_null(strstr(out, "unexpected argument 'extra'"));
    /* many extra arguments: refused at the first, never stored (the parser writes max_pos at most) */
    assert_int_equal(floe_test_run(out, sizeof out, "%s numerics a b c d e f g h i j k", floe_test_exe()), 2);
    assert_non_null(strstr(out, "unexpected argument 'a'"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s sim a b c d e f g h", floe_test_exe()), 2);
    assert_non_null(strstr(out, "unexpected argument 'b'"));
}

/* floe run takes the QAT stage's precision: mixed W2/W4 here, verified on the chip at every step */
static void test_run_precision(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("cli_run_bits");
    const char *src = getenv("FLOE_SOURCE_DIR");
    /* without gnuplot on the PATH: every stage runs, its plots skipped with a warning */
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "PATH=/nonexistent %s run --out %s/o --model tiny --machine %s/configs/small.csv "
                                   "--energy %s/configs/energy-small.csv --corpus generated:200 "
                                   "--train-steps 12 --qat-steps 2 --wbits 2 --wbits-layer 1=4",
                                   floe_test_exe(), dir, src, src),
                     0);
    assert_non_null(strstr(out, "the plot was skipped"));
    assert_non_null(strstr(out, "SiLQ QAT at W2A8KV8, layers 1=4"));
    assert_non_null(strstr(out, "verified on the chip: 2/2 steps bit-exact"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s run --out %s/p --wbits 3", floe_test_exe(), dir), 2);
    assert_non_null(strstr(out, "weight bits 3"));
}

static void test_run_writes_outputs(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("cli_run");
    assert_int_equal(floe_test_run(out, sizeof out, "%s run --out %s/o --model tiny --machine %s/configs/small.csv "
                                                    "--energy %s/configs/energy-small.csv --corpus generated:200 "
                                                    "--train-steps 12 --qat-steps 5",
                                   floe_test_exe(), dir, getenv("FLOE_SOURCE_DIR"), getenv("FLOE_SOURCE_DIR")),
                     0);
    assert_non_null(strstr(out, "bit-identical"));
    /* the QAT stage: every step verified on the chip, and passed (a mismatch stops the run) */
    assert_non_null(strstr(out, "verified on the chip: 5/5 steps bit-exact"));
    char path[4300];
    snprintf(path, sizeof path, "%s/o/qat/qat.csv", dir);
    FILE *q = fopen(path, "r");
    assert_non_null(q);
    char row[1024];
    int steps = 0;
    assert_non_null(fgets(row, sizeof row, q)); /* header */
    while (fgets(row, sizeof row, q)) {
        /* field 12 is "verified" */
        char *p = row;
        for (int i = 0; i < 11; i++)
            p = strchr(p, ',') + 1;
        assert_int_equal(p[0], '1');
        steps++;
    }
    fclose(q);
    assert_int_equal(steps, 5);
    snprintf(path, sizeof path, "%s/o/qat_loss.png", dir);
    q = fopen(path, "r");
    assert_non_null(q);
    fclose(q);
    snprintf(path, sizeof path, "%s/o/summary.csv", dir);
    q = fopen(path, "r");
    assert_non_null(q);
    fclose(q);
    /* stage [4]: floe deploy-check on the QAT model */
    assert_non_null(strstr(out, "fits         yes"));
    snprintf(path, sizeof path, "%s/o/deploy_check.txt", dir);
    q = fopen(path, "r");
    assert_non_null(q);
    fclose(q);
    snprintf(path, sizeof path, "%s/o/summary.txt", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/o/train_loss.png", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/o/teacher/ckpt-000012.safetensors", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/o/chip_layers.png", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/o/numerics_silu.png", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/o/numerics_accuracy.csv", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "op,points,max_err_lsb,mean_err_lsb,bound_lsb,domain\n");
    fclose(f);
    /* an output folder that cannot be made is a clear error */
    assert_int_equal(floe_test_run(out, sizeof out, "%s run --out %s/summary.txt/x", floe_test_exe(), path), 1);
    assert_non_null(strstr(out, "error"));
}

/* The parser itself, in-process. */
static void test_parser_values_and_ranges(void **state)
{
    (void)state;
    long long steps = 0;
    double lr = 0;
    const char *name = NULL;
    int flag = 0;
    const floe_opt opts[] = {
        {"steps", FLOE_ARG_INT, &steps, "N", "", 1, 1000, 0},
        {"lr", FLOE_ARG_DOUBLE, &lr, "X", "", 0, 0, 0},
        {"name", FLOE_ARG_STRING, &name, "S", "", 0, 0, 0},
        {"flag", FLOE_ARG_FLAG, &flag, NULL, "", 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {"t", "<file>", "test", NULL, opts, 1, 1};
    char *pos[16];
    int np;
    char *a1[] = {"t", "--steps", "10", "--lr=0.5", "f.bin", "--name", "x", "--flag", NULL};
    assert_int_equal(floe_args_parse(&spec, 8, a1, pos, &np), FLOE_ARGS_OK);
    assert_int_equal(steps, 10);
    assert_true(lr == 0.5);
    assert_string_equal(name, "x");
    assert_int_equal(flag, 1);
    assert_int_equal(np, 1);
    assert_string_equal(pos[0], "f.bin");
    char *a2[] = {"t", "--steps", "0", "f", NULL};
    assert_int_equal(floe_args_parse(&spec, 4, a2, pos, &np), FLOE_ARGS_ERROR);
    char *a3[] = {"t", "--steps", "12x", "f", NULL};
    assert_int_equal(floe_args_parse(&spec, 4, a3, pos, &np), FLOE_ARGS_ERROR);
    char *a4[] = {"t", "--lr", NULL};
    assert_int_equal(floe_args_parse(&spec, 2, a4, pos, &np), FLOE_ARGS_ERROR);
    char *a5[] = {"t", NULL};
    assert_int_equal(floe_args_parse(&spec, 1, a5, pos, &np), FLOE_ARGS_ERROR);
    char *a6[] = {"t", "--flag=1", "f", NULL};
    assert_int_equal(floe_args_parse(&spec, 3, a6, pos, &np), FLOE_ARGS_ERROR);
    char *a7[] = {"t", "--", "--steps", NULL};
    assert_int_equal(floe_args_parse(&spec, 3, a7, pos, &np), FLOE_ARGS_OK);
    assert_string_equal(pos[0], "--steps");
    char *a8[] = {"t", "--lr", "nan", "f", NULL};
    assert_int_equal(floe_args_parse(&spec, 4, a8, pos, &np), FLOE_ARGS_ERROR);
}

static void test_parser_short_alias(void **state)
{
    (void)state;
    const char *out = NULL;
    const floe_opt opts[] = {
        {"output", FLOE_ARG_STRING, &out, "FILE", "", 0, 0, 'o'},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {"t", "<file>", "test", NULL, opts, 1, 1};
    char *pos[8];
    int np;
    char *a1[] = {"t", "-o", "x.bin", "in.s", NULL};
    assert_int_equal(floe_args_parse(&spec, 4, a1, pos, &np), FLOE_ARGS_OK);
    assert_string_equal(out, "x.bin");
    assert_string_equal(pos[0], "in.s");
    char *a2[] = {"t", "-x", "in.s", NULL};
    assert_int_equal(floe_args_parse(&spec, 3, a2, pos, &np), FLOE_ARGS_ERROR);
    char *a3[] = {"t", "-oo", "in.s", NULL};
    assert_int_equal(floe_args_parse(&spec, 3, a3, pos, &np), FLOE_ARGS_ERROR);
}

static void test_asm_machine_option(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("cli_asm_machine");
    const char *src = getenv("FLOE_SOURCE_DIR");
    char path[4300];
    snprintf(path, sizeof path, "%s/p.s", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(".core 0, 0\n    halt.t0\n", f);
    fclose(f);
    /* built for the small machine: disasm accepts it for small, refuses it for northpole */
    assert_int_equal(floe_test_run(out, sizeof out, "%s asm %s -o %s/p.flp --machine %s/configs/small.csv",
                                   floe_test_exe(), path, dir, src), 0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s disasm %s/p.flp --machine %s/configs/small.csv",
                                   floe_test_exe(), dir, src), 0);
    assert_non_null(strstr(out, "halt"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s disasm %s/p.flp --machine %s/configs/northpole.csv",
                                   floe_test_exe(), dir, src), 1);
    assert_non_null(strstr(out, "fingerprint"));
    /* --fingerprint and --machine must agree */
    assert_int_equal(floe_test_run(out, sizeof out, "%s asm %s -o %s/q.flp --machine %s/configs/small.csv --fingerprint 1",
                                   floe_test_exe(), path, dir, src), 1);
    assert_non_null(strstr(out, "disagrees"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s asm %s -o %s/q.flp --machine /nonexistent.csv",
                                   floe_test_exe(), path, dir), 1);
    assert_non_null(strstr(out, "/nonexistent.csv"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_lists_commands),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_unknown_command_and_option),
        cmocka_unit_test(test_run_writes_outputs),
        cmocka_unit_test(test_run_precision),
        cmocka_unit_test(test_parser_values_and_ranges),
        cmocka_unit_test(test_parser_short_alias),
        cmocka_unit_test(test_asm_machine_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
