#include "tests/test_util.h"

#include <math.h>

#include "sim/energy.h"

static void test_hand_computed(void **state)
{
    (void)state;
    char path[4200];
    snprintf(path, sizeof path, "%s/configs/energy-northpole.csv", getenv("FLOE_SOURCE_DIR"));
    floe_energy_table t;
    floe_err err;
    assert_int_equal(floe_energy_table_load(path, &t, &err), 0);
    floe_energy_cost c;
    floe_energy_costs(&t, &c);

    floe_actions a, b;
    memset(&a, 0, sizeof a);
    a.macs[FLOE_PREC_W4A8] = 1000000;
    a.vector_ops = 2000;
    a.lut_ops = 300;
    a.sram_read_bytes = 40000;
    a.sram_write_bytes = 5000;
    a.framebuffer_bytes = 600;
    a.noc_byte_hops[FLOE_NOC_ACT] = 7000;
    a.pcie_bytes = 80;
    b = a;
    floe_actions_add(&b, &a); /* doubles every count */
    assert_int_equal(b.macs[FLOE_PREC_W4A8], 2000000);
    assert_int_equal(b.noc_byte_hops[FLOE_NOC_ACT], 14000);

    floe_energy_breakdown e;
    floe_energy_of(&a, &c, 1e-3, 256, 1, &e);
    double want_mac = 1e6 * c.mac_pj[FLOE_PREC_W4A8] * 1e-12;
    assert_true(fabs(e.mac_j - want_mac) <= 1e-18);
    assert_true(fabs(e.sram_j - (40000 * c.sram_read_pj_per_byte + 5000 * c.sram_write_pj_per_byte) * 1e-12) < 1e-18);
    assert_true(fabs(e.static_j - 1e-3 * (256 * c.static_w_per_core + c.static_w_per_chip)) < 1e-15);
    double sum = e.mac_j + e.vector_j + e.lut_j + e.sram_j + e.framebuffer_j + e.noc_j + e.link_j + e.static_j;
    assert_true(fabs(e.total_j - sum) < 1e-18);
    /* the scale factors were applied: 0.2 pJ at 45 nm times logic_scale */
    assert_true(fabs(c.mac_pj[FLOE_PREC_W4A8] - t.mac_pj[FLOE_PREC_W4A8] * t.logic_scale) < 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_hand_computed)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
