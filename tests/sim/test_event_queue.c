#include "tests/test_util.h"

#include "common/rng.h"
#include "sim/event_queue.h"

static void test_order_and_ties(void **state)
{
    (void)state;
    floe_event_queue q;
    floe_eq_init(&q);
    floe_rng r;
    floe_rng_seed(&r, 71);
    enum { N = 20000 };
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(floe_eq_push(&q, floe_rng_below(&r, 100), 0, i, 0), 0);
    floe_event prev = {0}, e;
    for (int i = 0; i < N; i++) {
        assert_int_equal(floe_eq_pop(&q, &e), 0);
        if (i) {
            assert_true(e.time >= prev.time);
            if (e.time == prev.time)
                assert_true(e.target > prev.target); /* same cycle: push order */
        }
        prev = e;
    }
    assert_int_equal(floe_eq_pop(&q, &e), -1);
    floe_eq_free(&q);
}

static void test_interleaved(void **state)
{
    (void)state;
    floe_event_queue q;
    floe_eq_init(&q);
    floe_event e;
    floe_eq_push(&q, 10, 1, 0, 0);
    floe_eq_push(&q, 5, 2, 0, 0);
    assert_int_equal(floe_eq_pop(&q, &e), 0);
    assert_int_equal(e.kind, 2);
    floe_eq_push(&q, 7, 3, 0, 42);
    assert_int_equal(floe_eq_pop(&q, &e), 0);
    assert_int_equal(e.kind, 3);
    assert_int_equal(e.arg, 42);
    assert_int_equal(floe_eq_size(&q), 1);
    floe_eq_free(&q);
}

static void test_priority_breaks_ties(void **state)
{
    (void)state;
    floe_event_queue q;
    floe_eq_init(&q);
    floe_event e;
    floe_eq_push_prio(&q, 5, 3, 0, 3, 0);
    floe_eq_push_prio(&q, 5, 1, 0, 1, 0);
    floe_eq_push_prio(&q, 4, 7, 0, 7, 0);
    floe_eq_push_prio(&q, 5, 1, 0, 11, 0);
    uint32_t want[4] = {7, 1, 11, 3};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(floe_eq_pop(&q, &e), 0);
        assert_int_equal(e.target, want[i]);
    }
    floe_eq_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_ties),
        cmocka_unit_test(test_interleaved),
        cmocka_unit_test(test_priority_breaks_ties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
