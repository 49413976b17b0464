#include "tests/test_util.h"

#include "sim/noc.h"

static void test_unicast_timing(void **state)
{
    (void)state;
    floe_noc_model noc;
    floe_err err;
    assert_int_equal(floe_noc_init(&noc, "act", 4, 4, 32, 2, &err), 0);
    /* core 0 -> core 15: 3 hops east then 3 south; 100 bytes at 32 B/cycle = 4 cycles */
    assert_int_equal(floe_noc_hops(&noc, 0, 15), 6);
    uint64_t a = floe_noc_send(&noc, 0, 15, 100, 10);
    /* head on link 1 at 10, each further hop +2: link 6 at 20; tail arrives 20 + 2 + 4 */
    assert_int_equal(a, 26);
    assert_int_equal(noc.byte_hops, 600);
    assert_int_equal(noc.links[0 * 4 + FLOE_NOC_E].bytes, 100);
    assert_int_equal(noc.links[3 * 4 + FLOE_NOC_S].bytes, 100); /* X first, then Y */
    assert_int_equal(noc.links[12 * 4 + FLOE_NOC_E].bytes, 0);
    assert_int_equal(floe_noc_send(&noc, 5, 5, 1000, 7), 7); /* local: free */
    floe_noc_free(&noc);
}

static void test_contention_serialises(void **state)
{
    (void)state;
    floe_noc_model noc;
    assert_int_equal(floe_noc_init(&noc, "act", 4, 1, 16, 1, NULL), 0);
    /* two messages over the same link at the same time: the second waits for the first's tail */
    uint64_t a = floe_noc_send(&noc, 0, 1, 160, 0); /* 10 cycles */
    uint64_t b = floe_noc_send(&noc, 0, 1, 160, 0);
    assert_int_equal(a, 11);
    assert_int_equal(b, 21);
    /* an independent link is not delayed */
    assert_int_equal(floe_noc_send(&noc, 2, 3, 160, 0), 11);
    /* opposite direction is a different link */
    assert_int_equal(floe_noc_send(&noc, 1, 0, 160, 0), 11);
    floe_noc_reset(&noc);
    assert_int_equal(floe_noc_send(&noc, 0, 1, 160, 0), 11);
    floe_noc_free(&noc);
}

static void test_multicast_tree(void **state)
{
    (void)state;
    floe_noc_model noc, uni;
    assert_int_equal(floe_noc_init(&noc, "act", 4, 4, 32, 1, NULL), 0);
    assert_int_equal(floe_noc_init(&uni, "act", 4, 4, 32, 1, NULL), 0);
    int dst[4] = {1, 2, 3, 15};
    uint64_t arr[4], arr_uni[4];
    uint64_t last = floe_noc_multicast(&noc, 0, dst, 4, 64, 0, arr);
    for (int i = 0; i < 4; i++)
        arr_uni[i] = floe_noc_send(&uni, 0, dst[i], 64, 0);
    /* the tree crosses 0->1->2->3 once and 3->7->11->15: 6 links, against 1+2+3+6 = 12 for unicasts */
    assert_int_equal(noc.byte_hops, 6 * 64);
    assert_int_equal(uni.byte_hops, 12 * 64);
    /* the first destination is as fast as a lone unicast; later ones never slower than unicasts */
    assert_int_equal(arr[0], arr_uni[0]);
    for (int i = 0; i < 4; i++)
        assert_true(arr[i] <= arr_uni[i]);
    assert_int_equal(last, arr[3]);
    assert_int_equal(arr[3], 5 + 1 + 2); /* head on the 6th link at 5, + latency 1 + 2 cycles of tail */
    floe_noc_free(&noc);
    floe_noc_free(&uni);
}

static void test_bisection_and_errors(void **state)
{
    (void)state;
    floe_noc_model noc;
    floe_err err;
    assert_int_equal(floe_noc_init(&noc, "act", 16, 16, 32, 1, &err), 0);
    assert_int_equal(floe_noc_bisection_bytes_per_cycle(&noc), 16 * 2 * 32);
    floe_noc_free(&noc);
    assert_int_equal(floe_noc_init(&noc, "act", 0, 16, 32, 1, &err), -1);
    assert_non_null(strstr(err.msg, "act"));
    assert_int_equal(floe_noc_init(&noc, "w", 2, 2, 0, 1, &err), -1);
    assert_non_null(strstr(err.msg, "width"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unicast_timing),
        cmocka_unit_test(test_contention_serialises),
        cmocka_unit_test(test_multicast_tree),
        cmocka_unit_test(test_bisection_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
