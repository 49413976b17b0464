#include "tests/test_util.h"

#include "common/error.h"

static void test_set_and_prefix(void **state)
{
    (void)state;
    floe_err e;
    assert_int_equal(floe_err_set(&e, "field '%s': bad", "cores"), -1);
    assert_string_equal(e.msg, "field 'cores': bad");
    floe_err_prefix(&e, "%s:%d", "m.csv", 7);
    assert_string_equal(e.msg, "m.csv:7: field 'cores': bad");
    assert_int_equal(floe_err_set(NULL, "ignored"), -1); /* NULL is allowed */
    floe_err_clear(&e);
    assert_string_equal(e.msg, "");
}

static void test_long_messages_truncate(void **state)
{
    (void)state;
    floe_err e;
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    floe_err_set(&e, "%s", big);
    assert_int_equal(strlen(e.msg), FLOE_ERR_MSG_MAX - 1);
    floe_err_prefix(&e, "%s", big);
    assert_int_equal(strlen(e.msg), FLOE_ERR_MSG_MAX - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_and_prefix),
        cmocka_unit_test(test_long_messages_truncate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
