/* The numeric core gives the same bits at -O0 and -O3 (the gcc vs clang pair is checked by
 * scripts/test.sh, which builds with both). */
#include "tests/test_util.h"

static void test_same_digest(void **state)
{
    (void)state;
    char a[64], b[64];
    assert_int_equal(floe_test_run(a, sizeof a, "%s", DIGEST_O0), 0);
    assert_int_equal(floe_test_run(b, sizeof b, "%s", DIGEST_O3), 0);
    assert_int_equal(strlen(a), 17);
    assert_string_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_same_digest)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
