/* floe ptq / qat / export / eval --qmodel from the command line: a tiny teacher on the generated
 * corpus, both PTQ baselines, QAT with a kill-and-resume that gives the same files, export equal to
 * the run's own quantized model, the quantized model verifying on the simulated chip, and errors. */
#include "tests/test_util.h"

static char out[1 << 17];

static void test_flow(void **state)
{
    (void)state;
    const char *floe = floe_test_exe();
    const char *dir = floe_test_tmpdir("qat_cli");
    char teacher[4300];
    floe_test_tiny_teacher(teacher, sizeof teacher, dir);
    for (int k = 0; k < 2; k++) {
        const char *m = k ? "calib" : "rtn";
        assert_int_equal(floe_test_run(out, sizeof out, "%s ptq --method %s --teacher %s -o %s/%s.safetensors --eval",
                                       floe, m, teacher, dir, m),
                         0);
        assert_non_null(strstr(out, "validation   loss"));
    }
    /* per-token input scaling: PTQ, the same perplexity from the file, bit-exact on the chip; a QAT
     * checkpoint carries the flag into export */
    assert_int_equal(floe_test_run(out, sizeof out, "%s ptq --method calib --act-scaling per-token --teacher %s -o "
                                                    "%s/tok.safetensors --eval",
                                   floe, teacher, dir),
                     0);
    assert_non_null(strstr(out, "per-token inputs, K 4"));
    const char *pp = strstr(out, "perplexity ");
    assert_non_null(pp);
    double ppl_ptq = atof(pp + strlen("perplexity "));
    assert_int_equal(floe_test_run(out, sizeof out, "%s eval --qmodel %s/tok.safetensors --corpus generated:200", floe,
                                   dir),
                     0);
    pp = strstr(out, "perplexity   ");
    assert_non_null(pp);
    print_message("per-token PTQ perplexity %.3f, eval --qmodel %.3f\n", ppl_ptq, atof(pp + 13));
    assert_non_null(strstr(out, "row shifts   attn_in  k=0 "));
    assert_non_null(strstr(out, "row shifts   head_in  k=0 "));
    assert_true(ppl_ptq > 1.0 && ppl_ptq == atof(pp + 13));
    assert_int_equal(floe_test_run(out, sizeof out, "%s verify --qmodel %s/tok.safetensors -m %s/configs/small.csv --tokens 6",
                                   floe, dir, getenv("FLOE_SOURCE_DIR")),
                     0);
    assert_non_null(strstr(out, "bit-identical"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --teacher %s --act-scaling per-token --act-kmax 3 --batch 2 "
                                                    "--context 32 --threads 1 --steps 2 -o %s/tq",
                                   floe, teacher, dir),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s export %s/tq/qat-000002.safetensors -o %s/tq.safetensors", floe,
                                   dir, dir),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out, "grep -q '\"floe.act_scaling\":\"per-token\",\"floe.act_kmax\":\"3\"' "
                                                    "%s/tq.safetensors",
                                   dir),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s eval --qmodel %s/tq.safetensors --corpus generated:200", floe, dir),
                     0);
    pp = strstr(out, "perplexity   ");
    assert_non_null(pp);
    double ppl_export = atof(pp + 13);
    assert_int_equal(floe_test_run(out, sizeof out, "%s eval --qmodel %s/tq/qmodel.safetensors --corpus generated:200",
                                   floe, dir),
                     0);
    pp = strstr(out, "perplexity   ");
    assert_non_null(pp);
    assert_true(ppl_export == atof(pp + 13));
    assert_int_equal(floe_test_run(out, sizeof out, "%s ptq --method rtn --act-scaling per-row --teacher %s -o %s/x.st",
                                   floe, teacher, dir),
                     2);
    assert_non_null(strstr(out, "per-row"));
    const char *q = "--batch 2 --context 32 --threads 1 --steps 6 --eval-every 3 --eval-windows 4";
    /* without gnuplot the run still succeeds: the plot is skipped with a warning, the model written */
    assert_int_equal(floe_test_run(out, sizeof out, "PATH=/nonexistent %s qat --teacher %s %s --steps 2 -o %s/np", floe,
                                   teacher, q, dir),
                     0);
    assert_non_null(strstr(out, "gnuplot not found"));
    assert_non_null(strstr(out, "the plot was skipped"));
    assert_int_equal(
        floe_test_run(out, sizeof out, "test -f %s/np/qmodel.safetensors && test ! -e %s/np/qat.png", dir, dir), 0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --teacher %s %s -o %s/a", floe, teacher, q, dir), 0);
    assert_non_null(strstr(out, "step 6/6  loss "));
    assert_non_null(strstr(out, "val_ppl"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --teacher %s %s --stop-after 3 -o %s/b", floe, teacher, q,
                                   dir),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --resume %s/b/qat-000003.safetensors --threads 2 -o %s/b",
                                   floe, dir, dir),
                     0);
    assert_non_null(strstr(out, "steps 6 (from 3)"));
    assert_int_equal(floe_test_run(out, sizeof out, "cmp %s/a/qat-000006.safetensors %s/b/qat-000006.safetensors", dir,
                                   dir),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out, "cmp %s/a/qmodel.safetensors %s/b/qmodel.safetensors", dir, dir), 0);
    /* bfloat16 moments: named in the log, kept on resume, a different --moments on resume refused */
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --teacher %s %s --moments bf16 --stop-after 3 -o %s/h",
                                   floe, teacher, q, dir),
                     0);
    assert_non_null(strstr(out, "moments bf16"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --resume %s/h/qat-000003.safetensors --moments f32 -o %s/h",
                                   floe, dir, dir),
                     1);
    assert_non_null(strstr(out, "--moments f32, but the run was started with bf16"));
    assert_int_equal(
        floe_test_run(out, sizeof out, "%s qat --resume %s/h/qat-000003.safetensors -o %s/h", floe, dir, dir), 0);
    assert_non_null(strstr(out, "step 6/6  loss "));
    /* 8-bit moments: named in the log, a stopped and resumed run equals the straight one bit for bit */
    assert_int_equal(
        floe_test_run(out, sizeof out, "%s qat --teacher %s %s --moments q8 -o %s/q8a", floe, teacher, q, dir), 0);
    assert_non_null(strstr(out, "moments q8"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --teacher %s %s --moments q8 --stop-after 3 -o %s/q8b",
                                   floe, teacher, q, dir),
                     0);
    assert_int_equal(
        floe_test_run(out, sizeof out, "%s qat --resume %s/q8b/qat-000003.safetensors -o %s/q8b", floe, dir, dir), 0);
    assert_int_equal(
        floe_test_run(out, sizeof out, "cmp %s/q8a/qmodel.safetensors %s/q8b/qmodel.safetensors", dir, dir), 0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --teacher %s --moments q4 -o %s/x", floe, teacher, dir), 1);
    assert_non_null(strstr(out, "expected f32, bf16 or q8"));
    /* export gives the run's model; it evaluates and verifies bit-exactly on the chip */
    assert_int_equal(floe_test_run(out, sizeof out, "%s export %s/a/qat-000006.safetensors -o %s/e.safetensors", floe,
                                   dir, dir),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s eval --qmodel %s/e.safetensors --corpus generated:200", floe,
                                   dir),
                     0);
    assert_non_null(strstr(out, "perplexity"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s verify --qmodel %s/e.safetensors -m %s/configs/small.csv", floe,
                                   dir, getenv("FLOE_SOURCE_DIR")),
                     0);
    /* errors */
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --teacher %s --wbits 3 -o %s/x", floe, teacher, dir), 2);
    assert_non_null(strstr(out, "weight bits 3"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --teacher %s/none.safetensors -o %s/x", floe, dir, dir), 1);
    assert_non_null(strstr(out, "none.safetensors"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --teacher %s --method lsq -o %s/x", floe, teacher, dir), 1);
    assert_int_equal(floe_test_run(out, sizeof out, "%s ptq --method awq --teacher %s -o %s/x.st", floe, teacher, dir),
                     2);
    assert_int_equal(floe_test_run(out, sizeof out, "%s export %s -o %s/x.st", floe, teacher, dir), 1);
    assert_non_null(strstr(out, "not a QAT checkpoint"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s eval --qmodel %s", floe, teacher), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_flow)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
