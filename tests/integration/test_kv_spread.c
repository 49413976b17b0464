/* KV caches spread over attention cores and the transposed V cache (docs/compiler.md, "KV caches over
 * several cores" and "The attention output"): a KV head's positions over several cores, several
 * users on each, and the attention output as one vmm per block of positions, all bit for bit equal
 * to the reference in prefill and decode; a decode step's work grows by blocks, not by positions;
 * what cannot be mapped is refused with the reason. */
#include "tests/integration/machine_util.h"

#include "common/rng.h"
#include "compiler/compile.h"
#include "sim/sim.h"
#include "verify/verify.h"

static floe_model_config builtin(const char *name)
{
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_builtin(name, &c, &err), 0);
    return c;
}

/* Prefill of 8 and 5 decode steps for 2 users, each checked against the reference. */
static void run_checked(const char *machine, const floe_qconfig *q, uint64_t split, int v_block, int ranges,
                        floe_verify_run_result *res)
{
    floe_machine mach;
    floe_energy_table e;
    load_config(machine, &mach, &e);
    floe_model_config c = builtin("tiny");
    floe_qmodel m;
    floe_err err;
    assert_int_equal(floe_qmodel_random(&m, &c, q, 31, &err), 0);
    int32_t tok[13];
    floe_rng r;
    floe_rng_seed(&r, 8);
    for (int t = 0; t < 13; t++)
        tok[t] = (int32_t)floe_rng_below(&r, (uint64_t)c.vocab_size);
    floe_verify_opts vo = {.tokens = 8, .decode = 5, .core_weight_bytes = split, .users = 2, .v_block = v_block,
                           .attn_ranges = ranges};
    if (floe_verify_run(&m, &mach, &e, tok, &vo, res, &err) != 0)
        fail_msg("%s W%dA%dKV%d, %d ranges, block %d: %s", machine, q->wbits, q->abits, q->kvbits, ranges, v_block,
                 err.msg);
    if (!res->match)
        fail_msg("%s W%dA%dKV%d, %d ranges, block %d: %s", machine, q->wbits, q->abits, q->kvbits, ranges, v_block,
                 res->mismatch);
    assert_int_equal(res->decoded, 5);
    assert_true(res->compared == (uint64_t)2 * 13 * (c.d_model * c.n_layers + c.vocab_size)); /* 2 users */
    floe_qmodel_free(&m);
}

/* A KV head's 13 positions over 2 and 3 attention cores (ranges of 7 and 6, or 5, 5 and 3 positions:
 * blocks of 2, each range ending with a partial block), 2 users on each; per tensor and per token,
 * 8- and 4-bit caches. */
static void test_positions_over_cores(void **state)
{
    (void)state;
    floe_qconfig mixes[3] = {floe_qconfig_default(), floe_qconfig_default(), floe_qconfig_default()};
    mixes[1].act_scaling = FLOE_ACT_PER_TOKEN;
    mixes[1].act_kmax = 8;
    mixes[2].abits = 4;
    mixes[2].kvbits = 4;
    for (int i = 0; i < 3; i++) {
        for (int ranges = 2; ranges <= 3; ranges++) {
            floe_verify_run_result res;
            run_checked("northpole", &mixes[i], 4000, 2, ranges, &res);
            assert_int_equal(res.attn_cores, (uint64_t)2 * 2 * ranges); /* 2 layers, 2 KV heads */
            print_message("W%dA%dKV%d%s, %d cores per KV head: %llu values equal; decode %.2f us per token\n",
                          mixes[i].wbits, mixes[i].abits, mixes[i].kvbits, i == 1 ? " per token" : "", ranges,
                          (unsigned long long)res.compared, res.decode.latency_s * 1e6);
            floe_verify_run_result_free(&res);
        }
    }
}

/* The transposed V cache with blocks of 2, 3 and 5 positions: on the main core (small: attention
 * there, layers over 2 chips) and on one attention core per KV head (northpole). */
static void test_transposed_v_blocks(void **state)
{
    (void)state;
    const floe_qconfig q = floe_qconfig_default();
    const int blocks[3] = {2, 3, 5};
    for (int i = 0; i < 3; i++) {
        floe_verify_run_result res;
        run_checked("small", &q, 26000, blocks[i], 0, &res);
        assert_int_equal(res.attn_cores, 0);
        floe_verify_run_result_free(&res);
        run_checked("northpole", &q, 4000, blocks[i], 1, &res);
        assert_int_equal(res.attn_cores, 2 * 2);
        floe_verify_run_result_free(&res);
    }
}

/* Executed instructions of S's decode step at position pos (a 128-position cache, blocks of 16, on
 * northpole): timing and instruction counts do not depend on the data, so the program runs on a chip
 * with no state. */
static uint64_t decode_insns(const floe_qmodel *m, const floe_machine *mach, int pos)
{
    floe_compile_opts o = {.tokens = 4, .kv_tokens = 128, .decode = 1, .pos = pos, .v_block = 16};
    floe_program *p;
    floe_compile_report rep;
    floe_err err;
    if (floe_compile_prefill(m, mach, &o, &p, &rep, &err) != 0)
        fail_msg("%s", err.msg);
    floe_sim *s;
    assert_int_equal(floe_sim_new(&s, mach, NULL, &err), 0);
    assert_int_equal(floe_sim_load(s, p, &err), 0);
    floe_sim_options so = {0, NULL, 0, 0};
    if (floe_sim_run(s, &so, &err) != 0)
        fail_msg("%s", err.msg);
    uint64_t n = floe_sim_result_get(s)->instructions;
    floe_sim_free(s);
    floe_program_free(p);
    floe_compile_report_free(&rep);
    return n;
}

/* 64 positions deeper cost 4 more blocks per head, not 64 more vmm's (S: 4 layers of 4 heads). */
static void test_decode_grows_by_blocks(void **state)
{
    (void)state;
    floe_machine mach;
    floe_energy_table e;
    load_config("northpole", &mach, &e);
    floe_model_config c = builtin("S");
    floe_qconfig q = floe_qconfig_default();
    floe_qmodel m;
    floe_err err;
    assert_int_equal(floe_qmodel_random(&m, &c, &q, 3, &err), 0);
    uint64_t a = decode_insns(&m, &mach, 63), b = decode_insns(&m, &mach, 127);
    uint64_t heads = (uint64_t)c.n_layers * c.n_heads;
    print_message("S decode: %llu instructions at position 63, %llu at 127\n", (unsigned long long)a,
                  (unsigned long long)b);
    assert_true(b > a);
    assert_true(b - a <= heads * 4 * 2); /* 4 blocks more per head, a vmm and an addi each */
    floe_qmodel_free(&m);
}

/* The most users whose caches fit: more users take more attention cores per KV head, until the
 * chip is full; and the refusals name the reason. */
static void test_users_over_cores_and_refusals(void **state)
{
    (void)state;
    floe_machine mach;
    floe_energy_table e;
    load_config("northpole", &mach, &e);
    floe_model_config g = builtin("granite-8b");
    floe_qconfig q = floe_qconfig_default();
    q.head_bits = 4;
    floe_plan_summary one, many;
    floe_err err;
    floe_machine rack; /* Granite-8B needs 41 chips */
    char path[4200];
    snprintf(path, sizeof path, "%s/configs/northpole-rack.csv", getenv("FLOE_SOURCE_DIR"));
    if (floe_machine_load(path, &rack, &err) != 0)
        fail_msg("%s", err.msg);
    floe_compile_opts o = {.tokens = 4, .kv_tokens = 2048, .users = 1};
    if (floe_compile_plan(&g, &q, &rack, &o, &one, &err) != 0)
        fail_msg("%s", err.msg);
    o.users = 8;
    if (floe_compile_plan(&g, &q, &rack, &o, &many, &err) != 0)
        fail_msg("%s", err.msg);
    /* one core per KV head would hold a user's 2,048 positions; the layer has a chip to itself, so
     * its idle cores take ranges too, up to a whole chip */
    assert_true(one.layer_attn_cores > 8 && one.layer_attn_cores % 8 == 0);
    assert_true(one.layer_cores > 256 - 8 && one.layer_cores <= 256);
    assert_true(many.layer_attn_cores >= 8 * 6); /* 8 users: 4 MiB of caches per KV head */
    assert_true(many.layer_cores - many.layer_attn_cores == one.layer_cores - one.layer_attn_cores);
    /* forced to one core per KV head */
    o.users = 1;
    o.attn_ranges = 1;
    if (floe_compile_plan(&g, &q, &rack, &o, &one, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(one.layer_attn_cores, 8);
    /* forced: 13 positions make no 8 ranges of equal length (7 of 2 hold them all) */
    floe_model_config c = builtin("tiny");
    floe_qmodel m;
    assert_int_equal(floe_qmodel_random(&m, &c, &q, 1, &err), 0);
    floe_compile_opts f = {.tokens = 8, .kv_tokens = 13, .core_weight_bytes = 4000, .users = 1, .v_block = 2,
                           .attn_ranges = 8};
    floe_program *p;
    floe_compile_report rep;
    assert_int_equal(floe_compile_prefill(&m, &mach, &f, &p, &rep, &err), -1);
    assert_non_null(strstr(err.msg, "layer 0"));
    assert_non_null(strstr(err.msg, "13 positions make no 8 ranges"));
    f.attn_ranges = 5000;
    assert_int_equal(floe_compile_prefill(&m, &mach, &f, &p, &rep, &err), -1);
    assert_non_null(strstr(err.msg, "attention cores per KV head"));
    floe_qmodel_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positions_over_cores),
        cmocka_unit_test(test_transposed_v_blocks),
        cmocka_unit_test(test_decode_grows_by_blocks),
        cmocka_unit_test(test_users_over_cores_and_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
