/* The serving model (sim/serving.h): many users through a pipeline of stages, event-driven. */
#include "tests/test_util.h"

#include <math.h>

#include "sim/serving.h"

/* Equal stages: prefill and decode busy b, no gaps; decode the same at every position. */
static void equal_stages(floe_serving_stage *st, int S, double b)
{
    for (int s = 0; s < S; s++)
        st[s] = (floe_serving_stage){{0, b}, {{0, b}, {0, b}}};
}

static floe_serving_result serve(const floe_serving_pipeline *p, int U, int P, int D, double arrival)
{
    floe_serving_load l = {U, P, D, arrival};
    floe_serving_result r;
    floe_err err;
    if (floe_serving_run(p, &l, &r, &err) != 0)
        fail_msg("%s", err.msg);
    return r;
}

/* One user: every inter-token gap is one token's latency alone, the sum of every stage's gap and busy
 * time at that position (here linear in the position); the first token the prefill's sum. */
static void test_one_user_is_the_single_user_latency(void **state)
{
    (void)state;
    /* times in whole microseconds, decode linear between positions 10 and 20 */
    floe_serving_stage st[3] = {
        {{2e-6, 100e-6}, {{1e-6, 10e-6}, {1e-6, 20e-6}}},
        {{0, 80e-6}, {{0, 5e-6}, {0, 5e-6}}},
        {{3e-6, 40e-6}, {{3e-6, 2e-6}, {5e-6, 12e-6}}},
    };
    floe_serving_pipeline p = {3, st, {10, 20}, {0, 0}, 0, 1, 0};
    floe_serving_result r = serve(&p, 1, 10, 6, 0);
    /* at position 10 + i: (1 + 10 + i) + 5 + (3 + 0.2 i + 2 + i) = 21 + 2.2 i us; i = 0..5 */
    double sum = 0;
    for (int i = 0; i < 6; i++)
        sum += 21e-6 + 2.2e-6 * i;
    assert_true(r.itl_mean_s > sum / 6 - 1e-12 && r.itl_mean_s < sum / 6 + 1e-12);
    assert_true(r.itl_mean_s == r.token_latency_s);
    assert_true(r.itl_max_s > 32e-6 - 1e-12 && r.itl_max_s < 32e-6 + 1e-12);
    assert_true(r.itl_p99_s == r.itl_max_s);
    assert_true(r.ttft_mean_s > 225e-6 - 1e-12 && r.ttft_mean_s < 225e-6 + 1e-12);
    assert_true(r.ttft_max_s == r.ttft_mean_s);
    assert_true(r.decode_start_s == r.ttft_mean_s);
    assert_int_equal(r.tokens, 6);
    assert_true(r.tokens_per_s > (1 - 1e-12) / r.token_latency_s && r.tokens_per_s < (1 + 1e-12) / r.token_latency_s);
    /* stage 0 is the slowest on average: 10 to 15 us, 12.5 us, against stage 2's 2 to 7 us, 4.5 us */
    assert_int_equal(r.slowest_stage, 0);
    assert_true(r.slowest_busy_s > 12.5e-6 - 1e-12 && r.slowest_busy_s < 12.5e-6 + 1e-12);
}

/* Equal stages of time b: with U <= S users no token ever waits (a token's round trip is S b); with
 * more, every stage is always busy and each user gets a token every U b. The throughput over a long
 * decode approaches min(U / (S b), 1 / b). */
static void test_equal_stages_match_the_pipeline_formula(void **state)
{
    (void)state;
    enum { S = 4, D = 400 };
    const double b = 10e-6;
    floe_serving_stage st[S];
    equal_stages(st, S, b);
    floe_serving_pipeline p = {S, st, {0, 0}, {0, 0}, 0, 1, 0};
    for (int U = 1; U <= 9; U++) {
        floe_serving_result r = serve(&p, U, 16, D, 0);
        double want = U < S ? U / (S * b) : 1 / b;
        print_message("%d user(s): %.1f tokens/s (formula %.1f), inter-token mean %.2f us, p99 %.2f us\n", U,
                      r.tokens_per_s, want, r.itl_mean_s * 1e6, r.itl_p99_s * 1e6);
        assert_true(r.tokens_per_s <= want * (1 + 1e-9));
        assert_true(r.tokens_per_s > 0.99 * want);
        if (U <= S) { /* nobody waits */
            assert_true(r.itl_mean_s > S * b - 1e-12 && r.itl_mean_s < S * b + 1e-12);
            assert_true(r.itl_max_s < S * b + 1e-12);
        } else { /* steady state: one token per user every U b */
            assert_true(r.itl_p99_s > U * b - 1e-12 && r.itl_p99_s < U * b + 1e-12);
        }
        /* all arrive at once: user u's prompt leaves the last stage after (S + u) b */
        assert_true(r.ttft_max_s > (S + U - 1) * b - 1e-12 && r.ttft_max_s < (S + U - 1) * b + 1e-12);
    }
}

static uint64_t lcg(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 33;
}

/* Random pipelines and loads: throughput never above users / one token's latency nor above 1 / the
 * slowest stage; p99 >= mean; the same inputs give the same outputs. */
static void test_invariants_on_random_pipelines(void **state)
{
    (void)state;
    uint64_t x = 12345;
    for (int trial = 0; trial < 200; trial++) {
        int S = 1 + (int)(lcg(&x) % 9), U = 1 + (int)(lcg(&x) % 12), P = 1 + (int)(lcg(&x) % 64),
            D = 1 + (int)(lcg(&x) % 40);
        floe_serving_stage st[9];
        for (int s = 0; s < S; s++) {
            st[s].prefill = (floe_serving_time){(double)(lcg(&x) % 5) * 1e-6, (double)(lcg(&x) % 500) * 1e-6};
            for (int k = 0; k < 2; k++)
                st[s].decode[k] = (floe_serving_time){(double)(lcg(&x) % 3) * 1e-6, (double)(1 + lcg(&x) % 50) * 1e-6};
        }
        int p0 = (int)(lcg(&x) % 64);
        floe_serving_pipeline p = {
            S, st, {p0, p0 + (int)(lcg(&x) % 64)}, {1e-6, 2e-6}, 3.5, 1 + (int)(lcg(&x) % 3), (int)(lcg(&x) % 5)};
        double arrival = lcg(&x) % 2 ? 0 : (double)(lcg(&x) % 300) * 1e-6;
        floe_serving_result r = serve(&p, U, P, D, arrival), again = serve(&p, U, P, D, arrival);
        assert_memory_equal(&r, &again, sizeof r);
        assert_true(r.tokens_per_s <= U / r.token_latency_s * (1 + 1e-9));
        assert_true(r.tokens_per_s <= 1 / r.slowest_busy_s * (1 + 1e-9));
        assert_true(r.itl_p99_s >= r.itl_mean_s * (1 - 1e-12));
        assert_true(r.itl_max_s >= r.itl_p99_s);
        assert_true(r.ttft_max_s >= r.ttft_mean_s * (1 - 1e-12));
        /* nobody's token is faster than alone */
        assert_true(r.itl_mean_s >= r.token_latency_s * (1 - 1e-12));
        assert_int_equal(r.tokens, (uint64_t)U * D);
        /* the static power over the decode phase, shared by the tokens, plus the dynamic energy */
        double window = r.decode_end_s - r.decode_start_s;
        assert_true(r.energy_per_token_j >= 3.5 * window / r.tokens * (1 - 1e-12));
        double total = r.energy_per_token_j * r.tokens;
        assert_true(r.power_per_card_w * p.cards * window > total * (1 - 1e-9) &&
                    r.power_per_card_w * p.cards * window < total * (1 + 1e-9));
    }
}

/* A prompt in C chunks is a pipelined prefill: on S equal stages of prefill time b (the whole
 * prompt's), one user's first token comes after (C + S - 1) b / C, not S b; the decode steps after it
 * are unchanged, and with many users every stage still does each prompt's whole work. */
static void test_prefill_chunks_pipeline(void **state)
{
    (void)state;
    enum { S = 6 };
    floe_serving_stage st[S];
    equal_stages(st, S, 5e-6);
    for (int s = 0; s < S; s++)
        st[s].prefill = (floe_serving_time){0, 800e-6};
    floe_serving_pipeline p = {S, st, {0, 0}, {0, 0}, 0, 1, 0};
    floe_serving_result whole = serve(&p, 1, 128, 8, 0);
    assert_true(fabs(whole.ttft_mean_s - S * 800e-6) < 1e-12);
    for (int C = 1; C <= 8; C *= 2) {
        p.prefill_chunks = C;
        floe_serving_result r = serve(&p, 1, 128, 8, 0);
        print_message("a prompt in %d chunk(s) over %d stages: first token after %.1f us\n", C, S, r.ttft_mean_s * 1e6);
        assert_true(fabs(r.ttft_mean_s - (C + S - 1) * 800e-6 / C) < 1e-12);
        assert_true(r.itl_mean_s == whole.itl_mean_s && r.itl_max_s == whole.itl_max_s);
        /* 12 users at once: the last prompt's end is bounded below by every prompt's work at one stage */
        floe_serving_result m = serve(&p, 12, 128, 8, 0);
        assert_true(m.ttft_max_s >= 12 * 800e-6 * (1 - 1e-12));
    }
    p.prefill_chunks = -1;
    floe_serving_load l = {1, 4, 4, 0};
    floe_serving_result r;
    floe_err err;
    assert_int_equal(floe_serving_run(&p, &l, &r, &err), -1);
    assert_non_null(strstr(err.msg, "0..65536 chunks"));
}

/* Users far apart in time never meet: each sees the single-user figures. */
static void test_staggered_users_do_not_queue(void **state)
{
    (void)state;
    floe_serving_stage st[5];
    equal_stages(st, 5, 7e-6);
    st[2].prefill.gap_s = 1e-6;
    floe_serving_pipeline p = {5, st, {0, 0}, {0, 0}, 10, 2, 0};
    floe_serving_result one = serve(&p, 1, 8, 10, 0), many = serve(&p, 6, 8, 10, 1.0);
    assert_true(many.ttft_max_s == one.ttft_max_s && many.ttft_mean_s == one.ttft_mean_s);
    assert_true(many.itl_max_s == one.itl_max_s);
    /* the decode phase spans all of them, idle time included */
    assert_true(many.tokens_per_s < 6 * one.tokens_per_s / 1e3);
    /* static power only: the chips' 10 W over the phase, per token; 5 W per card */
    double window = many.decode_end_s - many.decode_start_s;
    assert_true(many.energy_per_token_j > 10 * window / 60 * (1 - 1e-12) &&
                many.energy_per_token_j < 10 * window / 60 * (1 + 1e-12));
    assert_true(many.power_per_card_w > 5 - 1e-9 && many.power_per_card_w < 5 + 1e-9);
}

static void test_refuses_bad_input(void **state)
{
    (void)state;
    floe_serving_stage st[2];
    equal_stages(st, 2, 1e-6);
    floe_serving_pipeline p = {2, st, {4, 8}, {0, 0}, 0, 1, 0};
    floe_serving_load l = {3, 4, 4, 0};
    floe_serving_result r;
    floe_err err;
    assert_int_equal(floe_serving_run(&p, &l, &r, &err), 0);
    p.stages = 0;
    assert_int_equal(floe_serving_run(&p, &l, &r, &err), -1);
    assert_non_null(strstr(err.msg, "at least one stage"));
    p.stages = 2;
    st[1].decode[1].busy_s = -1e-6;
    assert_int_equal(floe_serving_run(&p, &l, &r, &err), -1);
    assert_non_null(strstr(err.msg, "stage 1's decode (second position) time"));
    st[1].decode[1].busy_s = NAN;
    assert_int_equal(floe_serving_run(&p, &l, &r, &err), -1);
    st[1].decode[1].busy_s = 1e-6;
    st[0].prefill.gap_s = -1;
    assert_int_equal(floe_serving_run(&p, &l, &r, &err), -1);
    assert_non_null(strstr(err.msg, "stage 0's prefill time"));
    st[0].prefill.gap_s = 0;
    p.pos[0] = 9;
    assert_int_equal(floe_serving_run(&p, &l, &r, &err), -1);
    assert_non_null(strstr(err.msg, "positions 9 and 8"));
    p.pos[0] = 4;
    l.users = 0;
    assert_int_equal(floe_serving_run(&p, &l, &r, &err), -1);
    assert_non_null(strstr(err.msg, "0 user(s)"));
    l.users = 3;
    l.arrival_s = -1;
    assert_int_equal(floe_serving_run(&p, &l, &r, &err), -1);
    l.arrival_s = 0;
    p.cards = 0;
    assert_int_equal(floe_serving_run(&p, &l, &r, &err), -1);
    p.cards = 1;
    p.decode_j[0] = -1;
    assert_int_equal(floe_serving_run(&p, &l, &r, &err), -1);
    p.decode_j[0] = 0;
    /* decode steps that take no time at all: no throughput to state */
    equal_stages(st, 2, 0);
    assert_int_equal(floe_serving_run(&p, &l, &r, &err), -1);
    assert_non_null(strstr(err.msg, "take no time"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_user_is_the_single_user_latency),
        cmocka_unit_test(test_equal_stages_match_the_pipeline_formula),
        cmocka_unit_test(test_invariants_on_random_pipelines),
        cmocka_unit_test(test_prefill_chunks_pipeline),
        cmocka_unit_test(test_staggered_users_do_not_queue),
        cmocka_unit_test(test_refuses_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
