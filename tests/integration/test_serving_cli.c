/* floe deploy-check's serving figures from the command line: the event-driven serving run's lines,
 * --users max and a number of users, --prompt, --decode-steps, --arrival-us, and the refusals. */
#include "tests/test_util.h"

static char out[65536];

/* The number after `key` in out, after `from` (NULL: anywhere), or fails. */
static double number_after(const char *from, const char *key)
{
    const char *f = from ? strstr(out, from) : out, *p = f ? strstr(f, key) : NULL;
    if (!p)
        fail_msg("no '%s' in:\n%s", key, out);
    return atof(p + strlen(key));
}

static void test_serving_figures(void **state)
{
    (void)state;
    const char *src = getenv("FLOE_SOURCE_DIR");
    /* --users max: every user whose KV cache fits */
    assert_int_equal(floe_test_run(out, sizeof out, "%s deploy-check --model tiny -m %s/configs/small.csv --energy "
                                                    "%s/configs/energy-small.csv --tokens 4 --decode-steps 12 --users max",
                                   floe_test_exe(), src, src),
                     0);
    int fit = (int)number_after(NULL, "users        KV caches for ");
    assert_non_null(strstr(out, "user(s) of 16 positions fit")); /* the cache holds the serving run: 4 + 12 */
    assert_true(fit > 3);
    assert_int_equal((int)number_after(NULL, "serving      "), fit);
    assert_non_null(strstr(out, "(the most whose KV caches fit;"));
    /* the runs simulate the mapping these users' caches need: a chip link between each two of its chips */
    int chips = (int)number_after(NULL, "their mapping: ");
    char links[128];
    snprintf(links, sizeof links, "over %d stages (2 layer groups, 1 of the LM head, %d chip link(s))", 3 + chips - 1,
             chips - 1);
    assert_non_null(strstr(out, links));
    assert_non_null(strstr(out, "each a 4-token prompt then 12 decode steps (positions 4..15), all arriving at once"));
    double tps = number_after(NULL, "throughput   "), by_users = number_after("throughput   ", "at most "),
           by_stage = number_after("throughput   ", " us), "), mean = number_after(NULL, "inter-token latency mean "),
           p99 = number_after("inter-token", ", p99 "), first_mean = number_after(NULL, "time to first token mean "),
           first_max = number_after("time to first token", " us, max ");
    assert_true(tps > 0 && tps <= by_users && tps <= by_stage);
    assert_true(p99 >= mean && mean > 0);
    assert_true(first_max >= first_mean && first_mean > 0);
    assert_non_null(strstr(out, "J per token serving "));
    snprintf(links, sizeof links, "W per card (%d card(s))", chips); /* small: one chip per card */
    assert_non_null(strstr(out, links));
    /* more users than their KV caches: refused, with how many fit at how many positions */
    assert_int_equal(floe_test_run(out, sizeof out, "%s deploy-check --model tiny -m %s/configs/small.csv --tokens 4 "
                                                    "--decode-steps 12 --users %d --plan-only",
                                   floe_test_exe(), src, fit + 1),
                     1);
    char want[128];
    snprintf(want, sizeof want, "--users %d: the KV caches of %d user(s) of 16 positions fit (1 short)", fit + 1,
             fit);
    assert_non_null(strstr(out, want));
    /* a number of users, a longer prompt than the checked prefill, staggered arrivals */
    assert_int_equal(floe_test_run(out, sizeof out, "%s deploy-check --model tiny -m %s/configs/small.csv --tokens 4 "
                                                    "--users 2 --prompt 6 --decode-steps 4 --arrival-us 1000",
                                   floe_test_exe(), src),
                     0);
    assert_non_null(strstr(out, "serving      2 user(s) (as asked;"));
    assert_non_null(strstr(out, "each a 6-token prompt then 4 decode steps (positions 6..9), arriving 1000.00 us apart"));
    assert_non_null(strstr(out, "(the 6-token prompt's prefill, queueing included)"));
    assert_null(strstr(out, "J per token serving")); /* no energy table: no energy line */
    /* the serving run must fit the KV cache asked for; bad user counts */
    assert_int_equal(floe_test_run(out, sizeof out, "%s deploy-check --model tiny -m %s/configs/small.csv --tokens 4 "
                                                    "--decode 2 --kv-tokens 8 --decode-steps 5",
                                   floe_test_exe(), src),
                     1);
    assert_non_null(strstr(out, "a 4-token prompt and 5 decode step(s) need 9 positions: the KV cache holds 8"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s deploy-check --model tiny -m %s/configs/small.csv --users none",
                                   floe_test_exe(), src),
                     2);
    assert_non_null(strstr(out, "--users: expected a number of users"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_serving_figures)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
