/* Per-linear weight widths from the command line (--wbits-layer L.NAME=B): a tiny teacher (2 layers)
 * quantized by floe ptq with single linears at their own widths (among them gate and up, which the
 * chip's fused SwiGLU reads together, at different widths), trained by floe qat with every step
 * verified on the simulated chip (stopped and resumed: the same model; exported from its
 * checkpoint), and by EfficientQAT's chip form; each model carries its widths in
 * floe.wbits_layers and verifies bit-exactly, also with its layers spread over weight cores (the
 * down projection split in chains, gate and up sliced); floe deploy-check takes the widths. Malformed
 * items and an unknown linear are refused, naming the setting, and leave no file. */
#include "tests/test_util.h"

static char out[1 << 17];

static void test_wbits_linear(void **state)
{
    (void)state;
    const char *floe = floe_test_exe();
    const char *dir = floe_test_tmpdir("wbits_linear_cli");
    const char *src = getenv("FLOE_SOURCE_DIR");
    char teacher[4300];
    floe_test_tiny_teacher(teacher, sizeof teacher, dir);
    /* PTQ: W4, layer 0 at 8 bits but its down projection at 2; layer 1's gate at 8 and up at 2 */
    const char *mix = "0=8,0.down_proj=2,1.gate_proj=8,1.up_proj=2,1.k_proj=8";
    assert_int_equal(
        floe_test_run(out, sizeof out,
                      "OMP_NUM_THREADS=1 %s ptq --method calib --wbits-layer %s --calib-batches 1 --batch 2 "
                      "--teacher %s -o %s/p.safetensors --eval",
                      floe, mix, teacher, dir),
        0);
    assert_non_null(strstr(out, "validation   loss"));
    /* written in the canonical order: a layer's item, then its linears' in the model's order */
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "grep -c 'floe.wbits_layers\":\"0=8,0.down_proj=2,1.k_proj=8,1.gate_proj=8,"
                                   "1.up_proj=2\"' %s/p.safetensors",
                                   dir),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out, "grep -c 'floe.qmodel_version\":\"3\"' %s/p.safetensors", dir), 0);
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s verify --qmodel %s/p.safetensors -m %s/configs/small.csv --decode 2", floe, dir,
                                   src),
                     0);
    assert_non_null(strstr(out, "bit-identical"));
    /* the same model spread over weight cores: the down projection in chains of two, gate and up
       sliced over the cores of the fused SwiGLU */
    assert_int_equal(
        floe_test_run(out, sizeof out,
                      "%s verify --qmodel %s/p.safetensors -m %s/configs/northpole.csv --tokens 8 --decode 2 "
                      "--core-weight-bytes 8000",
                      floe, dir, src),
        0);
    if (!strstr(out, "bit-identical") || !strstr(out, "weight cores") || strstr(out, " 0 weight cores"))
        fail_msg("not verified over weight cores: %s", out);
    /* QAT: W2 with per-linear exceptions, every step verified on the chip; the model verifies */
    assert_int_equal(
        floe_test_run(out, sizeof out,
                      "%s qat --teacher %s --wbits 2 --wbits-layer 0.q_proj=8,1.down_proj=4,1.up_proj=8 "
                      "--batch 2 --context 32 --threads 1 --steps 2 --calib-batches 1 -m %s/configs/small.csv "
                      "-o %s/a",
                      floe, teacher, src, dir),
        0);
    assert_non_null(strstr(out, "step 2/2  loss "));
    if (!strstr(out, "step 1/2  loss ") || !strstr(strstr(out, "step 1/2  loss "), "chip: verified") ||
        !strstr(strstr(out, "step 2/2  loss "), "chip: verified"))
        fail_msg("a QAT step not verified on the chip: %s", out);
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "grep -c 'floe.wbits_layers\":\"0.q_proj=8,1.up_proj=8,1.down_proj=4\"' "
                                   "%s/a/qmodel.safetensors",
                                   dir),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s verify --qmodel %s/a/qmodel.safetensors -m %s/configs/small.csv", floe, dir,
                                   src),
                     0);
    /* stopped after a step and resumed: the same model; its checkpoint exports to a model that verifies */
    assert_int_equal(
        floe_test_run(out, sizeof out,
                      "%s qat --teacher %s --wbits 2 --wbits-layer 0.q_proj=8,1.down_proj=4,1.up_proj=8 "
                      "--batch 2 --context 32 --threads 1 --steps 2 --calib-batches 1 --stop-after 1 -o %s/b",
                      floe, teacher, dir),
        0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --resume %s/b/qat-000001.safetensors --threads 1 -o %s/b",
                                   floe, dir, dir),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out, "cmp %s/a/qmodel.safetensors %s/b/qmodel.safetensors", dir, dir),
                     0);
    assert_int_equal(
        floe_test_run(out, sizeof out, "%s export %s/b/qat-000002.safetensors -o %s/x.safetensors", floe, dir, dir), 0);
    assert_int_equal(
        floe_test_run(out, sizeof out, "%s verify --qmodel %s/x.safetensors -m %s/configs/small.csv", floe, dir, src),
        0);
    /* EfficientQAT on the chip's format: Block-AP quantizes each linear at its own width */
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s qat --method efficientqat --wbits 2 --wbits-layer 0=8,0.o_proj=4,1.v_proj=8 "
                                   "--teacher %s --steps 2 --batch 2 --context 32 --block-samples 4 --block-epochs 1 "
                                   "--threads 1 -o %s/e",
                                   floe, teacher, dir),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s verify --qmodel %s/e/qmodel.safetensors -m %s/configs/small.csv", floe, dir,
                                   src),
                     0);
    /* deploy-check of a per-linear mix of a built-in shape */
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s deploy-check --model tiny --wbits-layer 0.gate_proj=8,1.down_proj=2 -m "
                                   "%s/configs/small.csv --tokens 4",
                                   floe, src),
                     0);
    /* refusals */
    const char *bad[][3] = {{"0.gate=8", "unknown linear 'gate'", "2"},
                            {"0.up_proj=3", "layer 0's up_proj at 3 bits", "2"},
                            {"0.up_proj=8,0.up_proj=4", "layer 0's up_proj is given twice", "2"},
                            {"2.q_proj=8", "layer 2's q_proj", "1"}};
    for (int k = 0; k < 4; k++) {
        int rc =
            floe_test_run(out, sizeof out, "%s ptq --method rtn --wbits-layer %s --teacher %s -o %s/bad.safetensors",
                          floe, bad[k][0], teacher, dir);
        if (rc != atoi(bad[k][2]) || !strstr(out, bad[k][1]) || !strstr(out, "--wbits-layer"))
            fail_msg("%s: exit %d, expected %s naming '%s': %s", bad[k][0], rc, bad[k][2], bad[k][1], out);
        assert_int_equal(floe_test_run(out, sizeof out, "test -e %s/bad.safetensors", dir), 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_wbits_linear)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
