/* floe compile and floe verify from the command line. */
#include "tests/test_util.h"

static char out[65536];

static void test_compile_and_verify_commands(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("verify_cli");
    const char *src = getenv("FLOE_SOURCE_DIR");
    assert_int_equal(floe_test_run(out, sizeof out, "%s verify --model tiny --seed 3 --machine %s/configs/small.csv "
                                                    "--energy %s/configs/energy-small.csv --tokens 6",
                                   floe_test_exe(), src, src),
                     0);
    assert_non_null(strstr(out, "verified: "));
    assert_non_null(strstr(out, "bit-identical"));
    assert_non_null(strstr(out, " J;"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s compile --model tiny -m %s/configs/small.csv -o %s/t.flp --tokens 4",
                                   floe_test_exe(), src, dir),
                     0);
    assert_non_null(strstr(out, "3 cores"));
    /* the program runs in floe sim */
    assert_int_equal(floe_test_run(out, sizeof out, "%s sim %s/t.flp -m %s/configs/small.csv --quiet", floe_test_exe(), dir,
                                   src),
                     0);
    /* deploy-check: fits, with the figures; a model that does not fit, with the statement */
    assert_int_equal(floe_test_run(out, sizeof out, "%s deploy-check --model tiny -m %s/configs/northpole.csv --energy "
                                                    "%s/configs/energy-northpole.csv --tokens 4",
                                   floe_test_exe(), src, src),
                     0);
    assert_non_null(strstr(out, "fits         yes: 1 chip(s), 3 cores"));
    assert_non_null(strstr(out, "verified     bit-exact"));
    assert_non_null(strstr(out, "J per token"));
    assert_non_null(strstr(out, "memory/core  min "));
    assert_non_null(strstr(out, "latency      decode "));
    assert_non_null(strstr(out, "throughput   "));
    assert_non_null(strstr(out, "tokens/s (")); /* the serving run's */
    /* a model priced from its 1- and 2-layer runs agrees with the whole model simulated */
    char cfg[4200];
    snprintf(cfg, sizeof cfg, "%s/cfg6.json", dir);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fputs("{\"vocab_size\": 256, \"hidden_size\": 64, \"num_hidden_layers\": 6, \"num_attention_heads\": 4, "
          "\"num_key_value_heads\": 2, \"intermediate_size\": 172, \"max_position_embeddings\": 64}\n",
          f);
    fclose(f);
    double us[2], tps[2], j1[2], js[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(floe_test_run(out, sizeof out, "%s deploy-check --model %s -m %s/configs/northpole.csv --energy "
                                                        "%s/configs/energy-northpole.csv --tokens 4 "
                                                        "--core-weight-bytes 3000 --full-chips %d",
                                       floe_test_exe(), cfg, src, src, i ? 0 : 4),
                         0);
        const char *l = strstr(out, "latency      decode ");
        assert_non_null(l);
        us[i] = atof(l + strlen("latency      decode "));
        l = strstr(out, "throughput   ");
        assert_non_null(l);
        tps[i] = atof(l + strlen("throughput   "));
        l = strstr(out, "energy       ");
        assert_non_null(l);
        j1[i] = atof(l + strlen("energy       ")); /* J per token decoded, one user */
        l = strstr(l, "; ");
        assert_non_null(l);
        js[i] = atof(l + 2); /* J per token serving */
        assert_non_null(strstr(l, "J per token serving"));
        if (i)
            assert_non_null(strstr(out, "composed: x(6) = x(1) + 5 (x(2) - x(1))"));
        else
            assert_null(strstr(out, "composed"));
    }
    print_message("decode latency: whole model %.2f us, composed %.2f us; serving %.1f and %.1f tokens/s; energy per "
                  "token %.4g and %.4g J (one user), %.4g and %.4g J (serving)\n",
                  us[0], us[1], tps[0], tps[1], j1[0], j1[1], js[0], js[1]);
    assert_true(us[1] > 0.95 * us[0] && us[1] < 1.05 * us[0]);
    assert_true(tps[1] > 0.95 * tps[0] && tps[1] < 1.05 * tps[0]);
    assert_true(j1[1] > 0.95 * j1[0] && j1[1] < 1.05 * j1[0]);
    assert_true(js[1] > 0.95 * js[0] && js[1] < 1.05 * js[0]);
    /* a long context: the scores of a head in several chunks of accumulators (8 threads: 256 each), on
     * attention cores */
    snprintf(cfg, sizeof cfg, "%s/long.json", dir);
    f = fopen(cfg, "w");
    assert_non_null(f);
    fputs("{\"vocab_size\": 256, \"hidden_size\": 64, \"num_hidden_layers\": 1, \"num_attention_heads\": 8, "
          "\"num_key_value_heads\": 2, \"intermediate_size\": 172, \"max_position_embeddings\": 300}\n",
          f);
    fclose(f);
    char prompt[301];
    for (int i = 0; i < 300; i++)
        prompt[i] = (char)('a' + (i * 7) % 26);
    prompt[300] = 0;
    assert_int_equal(floe_test_run(out, sizeof out, "%s verify --model %s -m %s/configs/northpole.csv --prompt %s --tokens 262 "
                                                    "--decode 2 --core-weight-bytes 3000",
                                   floe_test_exe(), cfg, src, prompt),
                     0);
    assert_non_null(strstr(out, "a 262-token prefill, then 2 decode steps against the KV cache, each equal to prefill"));
    assert_non_null(strstr(out, "2 attention cores"));
    /* Granite-8B's shape: the plan alone, with the exact statements */
    assert_int_equal(floe_test_run(out, sizeof out, "%s deploy-check --model granite-8b -m %s/configs/northpole.csv --tokens 4",
                                   floe_test_exe(), src),
                     1);
    assert_non_null(strstr(out, "fits         NO: the model needs 42 chips"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s deploy-check --model granite-8b --head-bits 4 -m "
                                                    "%s/configs/northpole.csv --tokens 4",
                                   floe_test_exe(), src),
                     1);
    assert_non_null(strstr(out, "the model needs 41 chips"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s deploy-check --model granite-8b --head-bits 4 -m "
                                                    "%s/configs/northpole-rack.csv --tokens 4 --plan-only",
                                   floe_test_exe(), src),
                     0);
    assert_non_null(strstr(out, "fits         yes: 41 chip(s)"));
    /* its 8-bit LM head (269 cores) in vocabulary slices, a chip each */
    assert_int_equal(floe_test_run(out, sizeof out, "%s deploy-check --model granite-8b -m %s/configs/northpole-rack.csv "
                                                    "--tokens 4 --plan-only",
                                   floe_test_exe(), src),
                     0);
    assert_non_null(strstr(out, "fits         yes: 42 chip(s)"));
    assert_non_null(strstr(out, "in 2 vocabulary slices on chips of their own"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s deploy-check --model S -m %s/configs/small.csv --tokens 2",
                                   floe_test_exe(), src),
                     1);
    assert_non_null(strstr(out, "fits         NO: layer 0 needs 9 cores"));
    assert_non_null(strstr(out, "a chip has 4 cores: 5 short"));
    /* errors: too many layers for the machine, bad bits, neither or both model sources */
    assert_int_equal(floe_test_run(out, sizeof out, "%s compile --model S -m %s/configs/small.csv -o %s/s.flp",
                                   floe_test_exe(), src, dir),
                     1);
    assert_non_null(strstr(out, "layer 0 needs 9 cores"));
    /* a split layer, then decode steps checked against prefill */
    assert_int_equal(floe_test_run(out, sizeof out, "%s verify --model tiny -m %s/configs/northpole.csv --tokens 6 --decode 2 "
                                                    "--core-weight-bytes 4000",
                                   floe_test_exe(), src),
                     0);
    assert_non_null(strstr(out, "2 decode steps against the KV cache, each equal to prefill"));
    assert_non_null(strstr(out, "weight cores"));
    assert_non_null(strstr(out, "us per token"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s compile --model tiny -m %s/configs/northpole.csv --tokens 4 "
                                                    "--kv-tokens 8 --decode-pos 5 -o %s/d.flp",
                                   floe_test_exe(), src, dir),
                     0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s compile --model tiny -m %s/configs/northpole.csv --tokens 4 "
                                                    "--decode-pos 4 -o %s/d.flp",
                                   floe_test_exe(), src, dir),
                     1);
    assert_non_null(strstr(out, "decode position 4 is outside the KV cache's 4 positions"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s verify --model tiny --wbits 3 -m %s/configs/small.csv",
                                   floe_test_exe(), src),
                     1);
    assert_non_null(strstr(out, "weight bits 3"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s verify -m %s/configs/small.csv", floe_test_exe(), src), 2);
    assert_int_equal(floe_test_run(out, sizeof out, "%s verify --model tiny --qmodel x -m %s/configs/small.csv",
                                   floe_test_exe(), src),
                     2);
    assert_int_equal(floe_test_run(out, sizeof out, "%s verify --qmodel /nonexistent.safetensors -m %s/configs/small.csv",
                                   floe_test_exe(), src),
                     1);
    assert_non_null(strstr(out, "/nonexistent.safetensors"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_compile_and_verify_commands)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
