#include "tests/test_util.h"

#include "isa/numerics_check.h"
#include "isa/numerics_report.h"

static void test_every_op_within_its_bound(void **state)
{
    (void)state;
    floe_accuracy_row rows[FLOE_ACCURACY_ROWS];
    floe_numerics_accuracy(rows);
    for (int i = 0; i < FLOE_ACCURACY_ROWS; i++) {
        assert_non_null(rows[i].op);
        assert_true(rows[i].points > 0);
        if (rows[i].max_err_lsb > rows[i].bound_lsb)
            fail_msg("%s: max error %.6f LSB exceeds bound %.3f", rows[i].op, rows[i].max_err_lsb,
                     rows[i].bound_lsb);
    }
    FILE *devnull = fopen("/dev/null", "w");
    assert_int_equal(floe_accuracy_print(devnull, rows, FLOE_ACCURACY_ROWS), 0);
    fclose(devnull);
}

/* The numeric contract, version 1. A change here changes what every trained model computes on the
 * chip: update docs/numerics.md (and the RTL) deliberately, then this constant. (0x8dc7fee664395c44
 * before the per-token operations of §10 joined the digest, 0xbe302c2386dad94f before the llama3 RoPE
 * tables of §7 did (2026-12-06); no definition changed either time.) */
#define FLOE_NUMERICS_DIGEST_V1 0xb9e10ac9e681c198ull

static void test_digest_is_pinned(void **state)
{
    (void)state;
    uint64_t d = floe_numerics_digest();
    if (d != FLOE_NUMERICS_DIGEST_V1)
        fail_msg("numeric digest %016llx differs from contract v1 %016llx", (unsigned long long)d,
                 (unsigned long long)FLOE_NUMERICS_DIGEST_V1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_op_within_its_bound),
        cmocka_unit_test(test_digest_is_pinned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
