/* `floe train`, `floe eval`, `floe sample` from the command line: a tiny run on the generated
 * corpus, resume through the command, dump-step, and the commands' errors. */
#include "tests/test_util.h"

#include "models/safetensors.h"

static char out[1 << 17];

static void test_train_eval_sample(void **state)
{
    (void)state;
    const char *floe = floe_test_exe();
    const char *dir = floe_test_tmpdir("train_cli");
    const char *common = "--model tiny --corpus generated:200 --batch 2 --context 32 --threads 1";
    /* straight 6 steps, and 3 + resume 3 */
    assert_int_equal(floe_test_run(out, sizeof out, "%s train %s --steps 6 --out %s/a --dump-step %s/dump.safetensors",
                                   floe, common, dir, dir),
                     0);
    assert_non_null(strstr(out, "step 6/6  loss "));
    assert_non_null(strstr(out, "val_loss"));
    assert_non_null(strstr(out, "checkpoint "));
    assert_int_equal(floe_test_run(out, sizeof out, "%s train %s --steps 6 --stop-after 3 --out %s/b", floe, common,
                                   dir),
                     0);
    assert_non_null(strstr(out, "ckpt-000003.safetensors"));
    /* a conflicting option is refused; an agreeing one is fine */
    assert_int_equal(floe_test_run(out, sizeof out, "%s train --resume %s/b/ckpt-000003.safetensors --lr 0.1 --out %s/b",
                                   floe, dir, dir),
                     1);
    assert_non_null(strstr(out, "--lr 0.1 differs from the checkpoint's 0.00200000009"));
    /* 8-bit moments are floe qat's: refused by name */
    assert_int_equal(floe_test_run(out, sizeof out, "%s train %s --steps 2 --moments q8 --out %s/q", floe, common, dir),
                     1);
    assert_non_null(strstr(out, "--moments q8: floe train keeps f32 or bf16 moments"));
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s train --resume %s/b/ckpt-000003.safetensors --batch 2 --threads 2 --out %s/b",
                                   floe, dir, dir),
                     0);
    assert_non_null(strstr(out, "steps 6 (from 3)"));
    assert_int_equal(floe_test_run(out, sizeof out, "cmp %s/a/ckpt-000006.safetensors %s/b/ckpt-000006.safetensors", dir,
                                   dir),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "cmp %s/a/ckpt-000006.optim.safetensors %s/b/ckpt-000006.optim.safetensors", dir, dir),
                     0);
    /* the dump holds inputs, parameters, gradients and the loss */
    char path[4300];
    snprintf(path, sizeof path, "%s/dump.safetensors", dir);
    floe_st_file f;
    floe_err err;
    assert_int_equal(floe_st_open(&f, path, &err), 0);
    assert_true(floe_st_find(&f, "inputs") >= 0);
    assert_true(floe_st_find(&f, "loss") >= 0);
    assert_true(floe_st_find(&f, "model.layers.1.mlp.up_proj.weight") >= 0);
    assert_true(floe_st_find(&f, "grad.model.embed_tokens.weight") >= 0);
    assert_string_equal(floe_st_meta_get(&f, "floe.step"), "0");
    floe_st_close(&f);

    assert_int_equal(
        floe_test_run(out, sizeof out, "%s eval --ckpt %s/a/ckpt-000006.safetensors --corpus generated:200", floe, dir),
        0);
    assert_non_null(strstr(out, "nats/byte"));
    assert_non_null(strstr(out, "perplexity"));
    assert_non_null(strstr(out, "accuracy"));
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s sample --ckpt %s/a/ckpt-000006.safetensors --prompt 'The ' --tokens 20 --seed 3",
                                   floe, dir),
                     0);
    assert_int_equal(strncmp(out, "The ", 4), 0);
    static char first[sizeof out];
    memcpy(first, out, sizeof out);
    assert_int_equal(floe_test_run(out, sizeof out,
                                   "%s sample --ckpt %s/a/ckpt-000006.safetensors --prompt 'The ' --tokens 20 --seed 3",
                                   floe, dir),
                     0);
    assert_string_equal(first, out); /* same seed, same text */

    /* floe plot recognises the log; a damaged log names the file and line */
    assert_int_equal(floe_test_run(out, sizeof out, "%s plot %s/b/train.csv -o %s/loss.png", floe, dir, dir), 0);
    assert_int_equal(floe_test_run(out, sizeof out, "test -s %s/loss.png", dir), 0);
    assert_int_equal(floe_test_run(out, sizeof out, "head -3 %s/b/train.csv > %s/bad.csv && echo '4,x' >> %s/bad.csv",
                                   dir, dir, dir),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s plot %s/bad.csv", floe, dir), 1);
    assert_non_null(strstr(out, "bad.csv:4: expected 8 fields"));
}

static void test_errors(void **state)
{
    (void)state;
    const char *floe = floe_test_exe();
    const char *dir = floe_test_tmpdir("train_cli_err");
    assert_int_equal(floe_test_run(out, sizeof out, "%s train --steps 3", floe), 1);
    assert_non_null(strstr(out, "--model is required"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s train --model tiny --steps 0", floe), 2);
    assert_int_equal(floe_test_run(out, sizeof out, "%s train --model tiny --frob", floe), 2);
    assert_int_equal(floe_test_run(out, sizeof out, "%s train --model nosuch", floe), 1);
    assert_non_null(strstr(out, "nosuch"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s train --model tiny --context 65 --corpus generated:50", floe),
                     1);
    assert_non_null(strstr(out, "context 65"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s train --resume %s/none.safetensors", floe, dir), 1);
    assert_non_null(strstr(out, "none.safetensors"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s eval --ckpt %s/none.safetensors", floe, dir), 1);
    assert_non_null(strstr(out, "none.safetensors"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s eval", floe), 1);
    assert_non_null(strstr(out, "--ckpt"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s sample --ckpt %s/none.safetensors", floe, dir), 1);
    assert_non_null(strstr(out, "none.safetensors"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s sample --ckpt x --temperature -1", floe), 2);
    /* a model folder with its tokenizer, past its 256-position window (the cache refills); the same
       text again with the same seed */
    const char *src = getenv("FLOE_SOURCE_DIR");
    char again[sizeof out];
    const char *fmt = "%s sample --ckpt %s/tests/fixtures/hf/llama-tiny --tokenizer %s/tests/fixtures/hf/llama-tiny "
                      "--prompt 'Hello world' --tokens 300 --seed 4";
    assert_int_equal(floe_test_run(out, sizeof out, fmt, floe, src, src), 0);
    assert_true(strncmp(out, "Hello world", 11) == 0 && strlen(out) > 300);
    assert_int_equal(floe_test_run(again, sizeof again, fmt, floe, src, src), 0);
    assert_string_equal(out, again);
    assert_int_equal(
        floe_test_run(out, sizeof out, "%s sample --ckpt %s/tests/fixtures/hf/llama-tiny --prompt 'x'", floe, src), 1);
    assert_non_null(strstr(out, "give --tokenizer"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s train --help", floe), 0);
    assert_non_null(strstr(out, "--resume"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_eval_sample),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
