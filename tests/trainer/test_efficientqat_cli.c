/* floe qat --method efficientqat from the command line, on a tiny teacher:
 * - the chip's form: Block-AP (its per-block report, every block's MSE lowered), E2E-QP with every
 *   step verified on the simulated chip, a stopped-and-resumed run giving the same files, export and
 *   eval of the result;
 * - the weight-only study form (W3, group-wise, asymmetric): Block-AP then E2E-QP on the float path,
 *   kill-and-resume identical, the model evaluated with float activations, floe export refusing it;
 * - refusals of settings that do not go together, and of a resume on a changed teacher. */
#include "tests/test_util.h"

static char out[1 << 17];

/* Every block's reconstruction MSE after Block-AP is below its MSE after the quantizer init. */
static void check_blockap_csv(const char *path, int blocks)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[512];
    assert_non_null(fgets(line, sizeof line, f));
    assert_non_null(strstr(line, "layer,mse_init,mse_init_heldout,mse,mse_heldout"));
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        int layer;
        double init, init_h, mse, mse_h;
        assert_int_equal(sscanf(line, "%d,%lf,%lf,%lf,%lf", &layer, &init, &init_h, &mse, &mse_h), 5);
        assert_int_equal(layer, n);
        if (!(mse < init))
            fail_msg("%s: block %d MSE %g after Block-AP, %g before", path, layer, mse, init);
        n++;
    }
    fclose(f);
    assert_int_equal(n, blocks);
}

static void test_efficientqat(void **state)
{
    (void)state;
    const char *floe = floe_test_exe();
    const char *dir = floe_test_tmpdir("efficientqat_cli");
    const char *src = getenv("FLOE_SOURCE_DIR");
    char teacher[4300];
    floe_test_tiny_teacher(teacher, sizeof teacher, dir);
    const char *b = "--block-samples 8 --block-epochs 2 --batch 2 --context 32 --threads 1 --steps 6 --eval-windows 4";

    /* the chip's form, verified every step */
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --method efficientqat -w 2 --teacher %s %s -m %s/configs/small.csv -o %s/a",
                                   floe, teacher, b, src, dir),
                     0);
    assert_non_null(strstr(out, "[1/2] Block-AP at W2 per output channel"));
    assert_non_null(strstr(out, "step 6/6  loss "));
    assert_non_null(strstr(out, "chip: verified"));
    char path[4400];
    snprintf(path, sizeof path, "%s/a/blockap.csv", dir);
    check_blockap_csv(path, 2);
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --method efficientqat -w 2 --teacher %s %s --stop-after 3 -o %s/b",
                                   floe, teacher, b, dir),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --resume %s/b/qat-000003.safetensors --threads 2 -o %s/b",
                                   floe, dir, dir),
                     0);
    assert_null(strstr(out, "Block-AP")); /* the frozen codes come from the checkpoint */
    assert_int_equal(floe_test_run(out, sizeof out, "cmp %s/a/qmodel.safetensors %s/b/qmodel.safetensors", dir, dir), 0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s export %s/a/qat-000006.safetensors -o %s/e.safetensors", floe,
                                   dir, dir),
                     0);
    /* the exported model scores as the run's own (their metadata differ) */
    static char out2[1 << 12];
    assert_int_equal(floe_test_run(out, sizeof out, "%s eval --qmodel %s/e.safetensors --corpus generated:200", floe,
                                   dir),
                     0);
    assert_int_equal(floe_test_run(out2, sizeof out2, "%s eval --qmodel %s/a/qmodel.safetensors --corpus generated:200",
                                   floe, dir),
                     0);
    const char *l1 = strstr(out, "validation"), *l2 = strstr(out2, "validation");
    assert_non_null(l1);
    assert_non_null(l2);
    assert_memory_equal(l1, l2, strcspn(l1, "\n"));

    /* weight-only W3, group 16, asymmetric: straight and stopped + resumed give the same model */
    const char *w = "--weight-only -w 3 --group 16 --block-samples 8 --block-lr 1e-4 --block-lr-w 1e-5 --batch 2 "
                    "--context 32 --threads 1 --steps 6"; /* the paper's learning rates suit the 20-step teacher */
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --method efficientqat --teacher %s %s -o %s/w", floe,
                                   teacher, w, dir),
                     0);
    assert_non_null(strstr(out, "not a chip model"));
    assert_non_null(strstr(out, "E2E-QP step 6/6"));
    assert_non_null(strstr(out, "activations float"));
    snprintf(path, sizeof path, "%s/w/blockap.csv", dir);
    check_blockap_csv(path, 2);
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --method efficientqat --teacher %s %s --stop-after 4 -o %s/v",
                                   floe, teacher, w, dir),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --resume %s/v/e2eqp-000004.safetensors --threads 2 -o %s/v",
                                   floe, dir, dir),
                     0);
    assert_non_null(strstr(out, "resumed E2E-QP at step 4"));
    assert_int_equal(floe_test_run(out, sizeof out, "cmp %s/w/model.safetensors %s/v/model.safetensors", dir, dir), 0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s eval --ckpt %s/w/model.safetensors --corpus generated:200", floe,
                                   dir),
                     0);
    assert_non_null(strstr(out, "perplexity"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s export %s/w/model.safetensors -o %s/x.st", floe, dir, dir), 1);
    assert_non_null(strstr(out, "weight-only study model (W3, group 16, asymmetric"));

    /* settings that do not go together */
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --method efficientqat --teacher %s --group 64 -o %s/x", floe,
                                   teacher, dir),
                     1);
    assert_non_null(strstr(out, "need --weight-only"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --teacher %s --weight-only -o %s/x", floe, teacher, dir), 1);
    assert_non_null(strstr(out, "belong to --method efficientqat"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --method efficientqat --weight-only --sym --asym --teacher %s -o %s/x",
                                   floe, teacher, dir),
                     1);
    assert_non_null(strstr(out, "exclude each other"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --method efficientqat --weight-only --teacher %s -m %s/configs/small.csv -o %s/x",
                                   floe, teacher, src, dir),
                     1);
    assert_non_null(strstr(out, "do not run on the chip"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --method efficientqat --weight-only -w 1 --teacher %s -o %s/x",
                                   floe, teacher, dir),
                     1);
    assert_non_null(strstr(out, "2 to 8 bits"));

    /* a weight-only state resumed on a teacher that changed under it is refused */
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s train --model tiny --corpus generated:200 --batch 2 --context 32 --steps 20 "
                                   "--seed 7 --threads 1 --out %s/t",
                                   floe, dir),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s qat --resume %s/v/e2eqp-000004.safetensors -o %s/u", floe, dir,
                                   dir),
                     1);
    assert_non_null(strstr(out, "another teacher"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_efficientqat)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
