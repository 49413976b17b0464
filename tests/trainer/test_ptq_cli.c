/* floe ptq --method gptq|smoothquant and --weight-only from the command line: a tiny teacher on the
 * generated corpus; GPTQ (both Hessian sources, act-order) and SmoothQuant models evaluate with
 * floe eval --qmodel and verify bit-exactly on the simulated chip; weight-only RTN/GPTQ checkpoints
 * evaluate with floe eval --ckpt; bad settings exit 2 naming the option and leave no file. */
#include "tests/test_util.h"

static char out[1 << 17];

static void test_ptq(void **state)
{
    (void)state;
    const char *floe = floe_test_exe();
    const char *dir = floe_test_tmpdir("ptq_cli");
    char teacher[4300];
    floe_test_tiny_teacher(teacher, sizeof teacher, dir);
    /* GPTQ and SmoothQuant: quantized models that evaluate and verify bit-exactly on the chip */
    const char *machine = getenv("FLOE_SOURCE_DIR");
    const char *chip[] = {"gptq --calib-batches 1 --batch 2 --block 16", "gptq --calib-batches 1 --batch 2 --act-order --gptq-hessian teacher",
                          "smoothquant --calib-batches 1 --batch 2 --alpha 0.6",
                          "smoothquant --calib-batches 1 --batch 2 --no-smooth-norms"};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(floe_test_run(out, sizeof out, "OMP_NUM_THREADS=1 %s ptq --method %s --teacher %s -o %s/c%d.safetensors --eval",
                                       floe, chip[k], teacher, dir, k),
                         0);
        assert_non_null(strstr(out, "validation   loss"));
        assert_non_null(strstr(out, "calibration  "));
        if (k == 1)
            continue; /* (the sanitizer build's time: the program of a GPTQ model is any calib model's) */
        if (k == 0) {
            assert_int_equal(floe_test_run(out, sizeof out, "OMP_NUM_THREADS=1 %s eval --qmodel %s/c%d.safetensors", floe,
                                           dir, k),
                             0);
            assert_non_null(strstr(out, "perplexity"));
        }
        assert_int_equal(floe_test_run(out, sizeof out,
                                       "OMP_NUM_THREADS=1 %s verify --qmodel %s/c%d.safetensors -m %s/configs/small.csv",
                                       floe, dir, k, machine),
                         0);
    }
    /* SmoothQuant's norm factors and per-token scaling are not combined */
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s ptq --method smoothquant --calib-batches 1 --batch 2 --act-scaling per-token "
                                   "--teacher %s -o %s/sqt.safetensors",
                                   floe, teacher, dir),
                     1);
    assert_non_null(strstr(out, "not combined"));
    assert_int_equal(floe_test_run(out, sizeof out, "test -e %s/sqt.safetensors", dir), 1);
    /* weight-only: an FP checkpoint with dequantized block weights, evaluated by floe eval --ckpt */
    const char *wo[] = {"rtn --wbits 4", "gptq --wbits 3 --group 32 --asym --calib-batches 1 --batch 2",
                        "gptq --wbits 2 --group 16 --calib-batches 1 --batch 2 --act-order"};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(floe_test_run(out, sizeof out,
                                       "OMP_NUM_THREADS=1 %s ptq --weight-only --method %s --teacher %s -o %s/wo%d.safetensors --eval",
                                       floe, wo[k], teacher, dir, k),
                         0);
        assert_non_null(strstr(out, "weight-only"));
        assert_non_null(strstr(out, "perplexity"));
    }
    assert_int_equal(floe_test_run(out, sizeof out, "OMP_NUM_THREADS=1 %s eval --ckpt %s/wo1.safetensors", floe, dir), 0);
    assert_non_null(strstr(out, "perplexity"));
    assert_int_equal(floe_test_run(out, sizeof out, "grep -c floe.weight_only %s/wo1.safetensors", dir), 0);
    /* QAT can start from GPTQ */
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s qat --teacher %s --init gptq --calib-batches 1 --batch 2 --context 32 --threads 1 "
                                   "--steps 2 -o %s/q",
                                   floe, teacher, dir),
                     0);
    assert_non_null(strstr(out, "step 2/2  loss "));
    /* bad settings */
    const char *bad[][2] = {{"--method smoothquant --alpha 0", "--alpha 0"},
                            {"--method smoothquant --alpha 1.5", "--alpha 1.5"},
                            {"--method gptq --damp 0", "--damp 0"},
                            {"--method gptq --damp 2", "--damp 2"},
                            {"--method gptq --block 0", "--block 0"},
                            {"--method gptq --gptq-hessian both", "--gptq-hessian both"},
                            {"--method smoothquant --weight-only", "--weight-only"},
                            {"--method gptq --group 64", "--group"},
                            {"--method gptq --weight-only --wbits 9", "--wbits 9"},
                            {"--method awq", "--method awq"}};
    for (int k = 0; k < 10; k++) {
        assert_int_equal(floe_test_run(out, sizeof out, "%s ptq %s --teacher %s -o %s/bad.safetensors", floe, bad[k][0],
                                       teacher, dir),
                         2);
        if (!strstr(out, bad[k][1]))
            fail_msg("ptq %s: the error does not name %s: %s", bad[k][0], bad[k][1], out);
        assert_int_equal(floe_test_run(out, sizeof out, "test -e %s/bad.safetensors", dir), 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_ptq)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
