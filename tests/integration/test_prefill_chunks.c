/* A prompt prefilled in chunks (docs/compiler.md, "Prefill and decode"): a prefill program for the
 * first rows, then chunk programs of up to that many rows against the KV cache the earlier ones
 * wrote; every chunk's layer outputs and logits equal the reference, and so do the decode steps
 * after them, on the main core's attention and on attention cores over several ranges. */
#include "tests/integration/machine_util.h"

#include "compiler/compile.h"
#include "verify/verify.h"

static void test_chunks_bit_exact(void **state)
{
    (void)state;
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &c, &err), 0);
    floe_qconfig q = floe_qconfig_default();
    floe_qmodel m;
    assert_int_equal(floe_qmodel_random(&m, &c, &q, 41, &err), 0);
    int32_t tok[12];
    for (int t = 0; t < 12; t++)
        tok[t] = (int32_t)((t * 53 + 7) % c.vocab_size);
    const char *machines[2] = {"small", "northpole"};
    for (int mi = 0; mi < 2; mi++) {
        floe_machine mach;
        floe_energy_table e;
        load_config(machines[mi], &mach, &e);
        for (int chunk = 2; chunk <= 3; chunk++) {
            /* small: attention on the main core, layers over 2 chips; northpole: 3 ranges per KV head */
            floe_verify_opts vo = {.tokens = 8, .decode = 4, .core_weight_bytes = mi ? 4000 : 26000, .users = 2,
                                   .v_block = 2, .attn_ranges = mi ? 3 : 0, .prefill_chunk = chunk};
            floe_verify_run_result res;
            if (floe_verify_run(&m, &mach, &e, tok, &vo, &res, &err) != 0)
                fail_msg("%s, chunks of %d: %s", machines[mi], chunk, err.msg);
            if (!res.match)
                fail_msg("%s, chunks of %d: %s", machines[mi], chunk, res.mismatch);
            assert_int_equal(res.decoded, 4);
            assert_int_equal(res.prefill.programs, (8 + chunk - 1) / chunk);
            assert_true(res.compared == (uint64_t)2 * 12 * (c.d_model * c.n_layers + c.vocab_size)); /* 2 users */
            print_message("%-9s prefill of 8 in chunks of %d: %llu values equal; %.2f us\n", machines[mi], chunk,
                          (unsigned long long)res.compared, res.prefill.latency_s * 1e6);
            floe_verify_run_result_free(&res);
        }
    }
    /* a chunk longer than the program's rows, or past the cache, is refused */
    floe_machine mach;
    floe_energy_table e;
    load_config("northpole", &mach, &e);
    floe_compile_opts o = {.tokens = 4, .kv_tokens = 12, .decode = 1, .pos = 4, .rows = 5};
    floe_program *p;
    floe_compile_report rep;
    assert_int_equal(floe_compile_prefill(&m, &mach, &o, &p, &rep, &err), -1);
    assert_non_null(strstr(err.msg, "a chunk of 5 rows at position 4: at most 4 rows"));
    o.rows = 4;
    o.pos = 9;
    assert_int_equal(floe_compile_prefill(&m, &mach, &o, &p, &rep, &err), -1);
    floe_qmodel_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunks_bit_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
