/* Mixed precision from the command line (--wbits-layer): a tiny teacher (2 layers) quantized with
 * layer 1 at 8 bits by floe ptq, and trained with layer 0 at 8 bits and layer 1 at 2 by floe qat
 * (stopped and resumed: the same files) and by EfficientQAT's chip form; the models carry floe.wbits_layers, evaluate, and verify
 * bit-exactly on the simulated chip; malformed settings, a layer the model does not have and the
 * weight-only combination are refused, naming the setting, and leave no file. */
#include "tests/test_util.h"

static char out[1 << 17];

static void test_wbits_layer(void **state)
{
    (void)state;
    const char *floe = floe_test_exe();
    const char *dir = floe_test_tmpdir("wbits_layer_cli");
    const char *machine = getenv("FLOE_SOURCE_DIR");
    char teacher[4300];
    floe_test_tiny_teacher(teacher, sizeof teacher, dir);
    /* PTQ: W4 with layer 1 at 8 bits */
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "OMP_NUM_THREADS=1 %s ptq --method calib --wbits-layer 1=8 --calib-batches 1 --batch 2 "
                                   "--teacher %s -o %s/p.safetensors --eval",
                                   floe, teacher, dir),
                     0);
    assert_non_null(strstr(out, "validation   loss"));
    assert_int_equal(floe_test_run(out, sizeof out, "grep -c 'floe.wbits_layers\":\"1=8' %s/p.safetensors", dir), 0);
    assert_int_equal(floe_test_run(out, sizeof out, "OMP_NUM_THREADS=1 %s verify --qmodel %s/p.safetensors -m %s/configs/small.csv",
                                   floe, dir, machine),
                     0);
    /* QAT: W2 with layer 0 at 8 bits; stopped after 2 steps and resumed = straight */
    const char *q = "--wbits 2 --wbits-layer 0=8 --batch 2 --context 32 --threads 1 --steps 4 --calib-batches 1";
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --teacher %s %s -o %s/a", floe, teacher, q, dir), 0);
    assert_non_null(strstr(out, "step 4/4  loss "));
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --teacher %s %s --stop-after 2 -o %s/b", floe, teacher, q,
                                   dir),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out, "grep -c 'floe.wbits_layers\":\"0=8' %s/b/qat-000002.safetensors", dir),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --resume %s/b/qat-000002.safetensors --threads 1 -o %s/b",
                                   floe, dir, dir),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out, "cmp %s/a/qmodel.safetensors %s/b/qmodel.safetensors", dir, dir), 0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s eval --qmodel %s/a/qmodel.safetensors --corpus generated:200",
                                   floe, dir),
                     0);
    assert_non_null(strstr(out, "perplexity"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s verify --qmodel %s/a/qmodel.safetensors -m %s/configs/small.csv",
                                   floe, dir, machine),
                     0);
    /* EfficientQAT on the chip's format: Block-AP quantizes each layer at its own width */
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s qat --method efficientqat --wbits 2 --wbits-layer 0=8 --teacher %s --steps 2 "
                                   "--batch 2 --context 32 --block-samples 4 --block-epochs 1 --threads 1 -o %s/e",
                                   floe, teacher, dir),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s verify --qmodel %s/e/qmodel.safetensors -m %s/configs/small.csv",
                                   floe, dir, machine),
                     0);
    /* refusals */
    const char *bad[][3] = {{"ptq --method rtn --wbits-layer 0=3", "0=3", "2"},
                            {"ptq --method rtn --wbits-layer 0=8,0=4", "twice", "2"},
                            {"ptq --method rtn --wbits-layer first=8", "--wbits-layer", "2"},
                            {"ptq --method rtn --wbits-layer 2=8", "layer 2", "1"},
                            {"ptq --method rtn --weight-only --wbits-layer 0=8", "--wbits-layer", "2"},
                            {"qat --method efficientqat --weight-only --wbits-layer 0=8 --steps 1", "--wbits-layer", "1"}};
    for (int k = 0; k < 6; k++) {
        int rc = floe_test_run(out, sizeof out, "%s %s --teacher %s -o %s/bad.safetensors", floe, bad[k][0], teacher, dir);
        if (rc != atoi(bad[k][2]) || !strstr(out, bad[k][1]))
            fail_msg("%s: exit %d, expected %s naming '%s': %s", bad[k][0], rc, bad[k][2], bad[k][1], out);
        assert_int_equal(floe_test_run(out, sizeof out, "test -e %s/bad.safetensors", dir), 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_wbits_layer)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
