/* floe deploy-check's serving figures from the command line: the event-driven serving run's lines,
 * --users max and a number of users, --prompt, --decode-steps, --arrival-us, and the refusals; a
 * decode token's energy by kind (--energy-csv). */
#include "tests/test_util.h"

#include <math.h>

/* rows per position in deploy-check's --energy-csv, before the static row: 7 MAC precisions, vector, afu,
 * SRAM read and write, frame buffer, 4 NoCs, PCIe, Ethernet */
#define FLOE_TEST_ACTION_KINDS 18

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

/* A composed model's decode token by kind: the CSV's rows add up to the energy line's figure at the
 * priced position, and w4a8 MACs are n times a layer's */
static void test_energy_by_kind(void **state)
{
    (void)state;
    const char *src = getenv("FLOE_SOURCE_DIR"), *dir = floe_test_tmpdir("deploy_energy_csv");
    char csv[4200];
    snprintf(csv, sizeof csv, "%s/decode.csv", dir);
    assert_int_equal(floe_test_run(out, sizeof out, "%s deploy-check --model S -m %s/configs/northpole.csv --energy "
                                                    "%s/configs/energy-northpole.csv --tokens 4 --kv-tokens 32 "
                                                    "--full-chips 0 --energy-csv %s",
                                   floe_test_exe(), src, src, csv),
                     0);
    assert_non_null(strstr(out, "figures below are composed"));
    double one_user = number_after(NULL, "energy       "), dynamic = number_after("energy       ", "dynamic and links ");
    assert_non_null(strstr(out, "by kind      decode token at position 5: MAC "));
    double mac31 = number_after("decode token at position 31: ", "MAC ");
    FILE *f = fopen(csv, "r");
    assert_non_null(f);
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "position,action,unit,count,pj_each,energy_j\n");
    double dyn = 0, stat = 0, mac = 0;
    unsigned long long w4[2] = {0, 0};
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        int pos;
        char action[32], unit[16];
        unsigned long long count = 0;
        double c, pj, j;
        assert_int_equal(sscanf(line, "%d,%31[^,],%15[^,],%lf,%lf,%lf", &pos, action, unit, &c, &pj, &j), 6);
        assert_true(pos == 5 || pos == 31);
        assert_true(fabs(j - c * pj * 1e-12) <= 1e-6 * j + 1e-20);
        count = (unsigned long long)c;
        if (strcmp(action, "mac_w4a8") == 0)
            w4[pos == 31] = count;
        if (pos == 31 && strcmp(action, "static") == 0)
            stat = j;
        else if (pos == 31)
            dyn += j;
        if (pos == 31 && strncmp(action, "mac_", 4) == 0)
            mac += j;
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, 2 * (FLOE_TEST_ACTION_KINDS + 1));
    assert_true(fabs(dyn - dynamic) <= 0.01 * dynamic); /* printed to 3 digits */
    assert_true(fabs(dyn + stat - one_user) <= 0.01 * one_user);
    assert_true(fabs(mac - mac31) <= 0.01 * mac31);
    /* S: 4 layers of d 256, FFN 688 at w4a8: q, k, v, o 4 x 256 x 256 and gate, up, down 3 x 256 x 688 */
    assert_true(w4[0] == w4[1] && w4[0] == 4ull * (4 * 256 * 256 + 3 * 256 * 688));
    /* the CSV prices actions: it needs the table */
    assert_int_equal(floe_test_run(out, sizeof out, "%s deploy-check --model tiny -m %s/configs/small.csv --energy-csv %s",
                                   floe_test_exe(), src, csv),
                     2);
    assert_non_null(strstr(out, "--energy-csv needs --energy"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_serving_figures), cmocka_unit_test(test_energy_by_kind)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
