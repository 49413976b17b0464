/* Weight reuse in prefill (docs/compiler.md, "Weight reuse in prefill"): the token rows of a prefill
 * or a chunk go through each slice's weights B at a time (vmmr), on the main core and on weight
 * cores, in partial-sum chains and with the SwiGLU on the weight cores; every layer output and logit
 * stays equal to the reference, the weights are read B times less often, and the compiler's own
 * choice of B never costs chips. */
#include "tests/integration/machine_util.h"

#include "compiler/compile.h"
#include "verify/verify.h"

static floe_qmodel tiny_model(floe_qconfig q, uint64_t seed)
{
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &c, &err), 0);
    floe_qmodel m;
    assert_int_equal(floe_qmodel_random(&m, &c, &q, seed, &err), 0);
    return m;
}

/* vmmr instructions in a program, and whether any has more rows than `most`. */
static size_t count_vmmr(const floe_program *p, int most, int *over)
{
    size_t n = 0;
    for (size_t c = 0; c < p->ncores; c++)
        for (size_t i = 0; i < p->cores[c].n; i++)
            if (p->cores[c].insns[i].op == FLOE_OP_VMMR) {
                n++;
                *over |= p->cores[c].insns[i].f[5] > most;
            }
    return n;
}

static void test_reuse_bit_exact(void **state)
{
    (void)state;
    int32_t tok[12];
    for (int t = 0; t < 12; t++)
        tok[t] = (int32_t)((t * 29 + 3) % 256);
    const char *machines[2] = {"small", "northpole"};
    for (int scaling = 0; scaling < 2; scaling++) { /* per-tensor, then per-token inputs (the shift bytes) */
        floe_qconfig q = floe_qconfig_default();
        floe_err err;
        if (scaling)
            assert_int_equal(floe_qconfig_set_scaling(&q, "per-token", 0, &err), 0);
        floe_qmodel m = tiny_model(q, 43);
        for (int mi = 0; mi < 2; mi++) {
            floe_machine mach;
            floe_energy_table e;
            load_config(machines[mi], &mach, &e);
            uint64_t sram1 = 0;
            double lat1 = 0;
            const int rows[4] = {1, 2, 3, 8};
            for (int ri = 0; ri < 4; ri++) {
                /* small: layers on their main core; northpole: weight cores (chains, SwiGLU there),
                 * attention cores over 2 ranges; a prefill of 8 in chunks of 4, then decode steps */
                floe_verify_opts vo = {.tokens = 8,
                                       .decode = 2,
                                       .core_weight_bytes = mi ? 4000 : 0,
                                       .users = 2,
                                       .v_block = 2,
                                       .attn_ranges = mi ? 2 : 0,
                                       .prefill_chunk = mi ? 4 : 0,
                                       .reuse_rows = rows[ri]};
                floe_verify_run_result res;
                if (floe_verify_run(&m, &mach, &e, tok, &vo, &res, &err) != 0)
                    fail_msg("%s, %d rows per weight read: %s", machines[mi], rows[ri], err.msg);
                if (!res.match)
                    fail_msg("%s, %d rows per weight read: %s", machines[mi], rows[ri], res.mismatch);
                const int prog_rows = vo.prefill_chunk ? vo.prefill_chunk : vo.tokens; /* a program's rows */
                assert_int_equal(res.reuse_rows, rows[ri] < prog_rows ? rows[ri] : prog_rows);
                assert_int_equal(res.decoded, 2);
                print_message("%-9s %s, %d row(s) per weight read: prefill %.2f us, %llu SRAM bytes read\n",
                              machines[mi], scaling ? "per-token" : "per-tensor", res.reuse_rows,
                              res.prefill.latency_s * 1e6, (unsigned long long)res.prefill.actions.sram_read_bytes);
                if (ri == 0) {
                    sram1 = res.prefill.actions.sram_read_bytes;
                    lat1 = res.prefill.latency_s;
                } else { /* the weights are read fewer times; never slower */
                    assert_true(res.prefill.actions.sram_read_bytes < sram1);
                    assert_true(res.prefill.latency_s <= lat1);
                }
                floe_verify_run_result_free(&res);
            }
        }
        floe_qmodel_free(&m);
    }
}

static void test_programs_and_choice(void **state)
{
    (void)state;
    floe_qmodel m = tiny_model(floe_qconfig_default(), 44);
    floe_machine mach;
    load_config("northpole", &mach, NULL);
    floe_err err;
    floe_program *p;
    floe_compile_report rep;
    int over = 0;
    /* asked for: 3 rows; the prefill's programs use vmmr of at most 3 rows, a decode program none */
    floe_compile_opts o = {.tokens = 8, .core_weight_bytes = 4000, .reuse_rows = 3};
    assert_int_equal(floe_compile_prefill(&m, &mach, &o, &p, &rep, &err), 0);
    assert_int_equal(rep.reuse_rows, 3);
    assert_true(count_vmmr(p, 3, &over) > 0);
    assert_false(over);
    floe_program_free(p);
    floe_compile_report_free(&rep);
    o.decode = 1;
    o.pos = 8;
    o.kv_tokens = 9;
    assert_int_equal(floe_compile_prefill(&m, &mach, &o, &p, &rep, &err), 0);
    assert_int_equal(count_vmmr(p, 3, &over), 0);
    floe_program_free(p);
    floe_compile_report_free(&rep);
    /* the compiler's choice on this machine: 1024 MACs per cycle at w4a8 over a 128-byte port reads
     * 512 bytes of int4 weights per cycle of MACs: 4 rows make the MACs the bound */
    floe_compile_opts a = {.tokens = 8, .core_weight_bytes = 4000};
    assert_int_equal(floe_compile_prefill(&m, &mach, &a, &p, &rep, &err), 0);
    assert_int_equal(rep.reuse_rows, 4);
    floe_program_free(p);
    floe_compile_report_free(&rep);
    a.tokens = 2; /* never more rows than the program has */
    assert_int_equal(floe_compile_prefill(&m, &mach, &a, &p, &rep, &err), 0);
    assert_int_equal(rep.reuse_rows, 2);
    floe_program_free(p);
    floe_compile_report_free(&rep);
    /* out of range */
    o = (floe_compile_opts){.tokens = 8, .reuse_rows = 256};
    assert_int_equal(floe_compile_prefill(&m, &mach, &o, &p, &rep, &err), -1);
    assert_non_null(strstr(err.msg, "256 token rows per weight read: 1..255"));
    floe_qmodel_free(&m);
}

/* The choice never costs chips nor cuts layers into halves: where the rows' buffers would, the
 * compiler takes fewer rows. */
static void test_choice_keeps_chips(void **state)
{
    (void)state;
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("northpole-3b", &c, &err), 0);
    floe_qconfig q = floe_qconfig_default();
    floe_machine mach;
    load_config("northpole", &mach, NULL);
    floe_plan_summary one, chosen;
    floe_compile_opts o = {.tokens = 16, .kv_tokens = 2048, .users = 17, .reuse_rows = 1};
    assert_int_equal(floe_compile_plan(&c, &q, &mach, &o, &one, &err), 0);
    o.reuse_rows = 0;
    assert_int_equal(floe_compile_plan(&c, &q, &mach, &o, &chosen, &err), 0);
    print_message("northpole-3b, 17 users at 2048: %d chips with 1 row, %d chips with %d rows per weight read\n",
                  one.chips, chosen.chips, chosen.reuse_rows);
    assert_true(chosen.chips <= one.chips);
    assert_true(chosen.reuse_rows >= 1 && chosen.reuse_rows <= 4);
    /* asked for, 4 rows take the memory of weight cores that 17 users' caches need: more chips, or no
     * fit at all (the halves of a layer then need more cores than a chip has) */
    o.reuse_rows = 4;
    floe_plan_summary four;
    int rc = floe_compile_plan(&c, &q, &mach, &o, &four, &err);
    assert_true(rc != 0 || four.chips > one.chips);
    /* with 8 users there is room for 2 rows on the same chips and layer groups; 4 rows would not leave
     * the main core room for its RoPE tables, activations and 4 rows of buffers: halves of layers */
    o.users = 8;
    o.reuse_rows = 1;
    assert_int_equal(floe_compile_plan(&c, &q, &mach, &o, &one, &err), 0);
    o.reuse_rows = 0;
    assert_int_equal(floe_compile_plan(&c, &q, &mach, &o, &chosen, &err), 0);
    print_message("northpole-3b, 8 users at 2048: %d chips with 1 row, %d chips with %d rows per weight read\n",
                  one.chips, chosen.chips, chosen.reuse_rows);
    assert_int_equal(chosen.chips, one.chips);
    assert_int_equal(chosen.layer_halves, one.layer_halves);
    assert_int_equal(chosen.reuse_rows, 2);
    o.reuse_rows = 4;
    assert_int_equal(floe_compile_plan(&c, &q, &mach, &o, &four, &err), 0);
    assert_int_equal(four.layer_halves, 2);
    assert_int_equal(one.layer_halves, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_bit_exact),
        cmocka_unit_test(test_programs_and_choice),
        cmocka_unit_test(test_choice_keeps_chips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
