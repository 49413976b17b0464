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
    a.afu_ops = 300;
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
    double sum = e.mac_j + e.vector_j + e.afu_j + e.sram_j + e.framebuffer_j + e.noc_j + e.link_j + e.static_j;
    assert_true(fabs(e.total_j - sum) < 1e-18);
    /* the scale factors were applied: 0.2 pJ at 45 nm times logic_scale */
    assert_true(fabs(c.mac_pj[FLOE_PREC_W4A8] - t.mac_pj[FLOE_PREC_W4A8] * t.logic_scale) < 1e-12);
}

/* x(n) = x(1) + (n - 1) (x(2) - x(1)) per count, never below 0 */
static void test_compose(void **state)
{
    (void)state;
    floe_actions a1, a2, c;
    memset(&a1, 0, sizeof a1);
    memset(&a2, 0, sizeof a2);
    a1.macs[FLOE_PREC_W4A8] = 1000; /* the head's 200 plus a layer's 800 */
    a2.macs[FLOE_PREC_W4A8] = 1800;
    a1.noc_byte_hops[FLOE_NOC_INSTR] = 50;
    a2.noc_byte_hops[FLOE_NOC_INSTR] = 40; /* fewer with two layers: clamped at 0 far out */
    a1.pcie_bytes = a2.pcie_bytes = 7;
    floe_actions_compose(&c, &a1, &a2, 14);
    assert_int_equal(c.macs[FLOE_PREC_W4A8], 1000 + 13 * 800);
    assert_int_equal(c.noc_byte_hops[FLOE_NOC_INSTR], 0);
    assert_int_equal(c.pcie_bytes, 7);
    floe_actions_compose(&c, &a1, &a2, 1); /* one layer: the 1-layer run itself */
    assert_int_equal(c.macs[FLOE_PREC_W4A8], 1000);
    assert_int_equal(c.noc_byte_hops[FLOE_NOC_INSTR], 50);
}

/* One row per action kind, named as the energy table's keys; energy = count x pj_each */
static void test_csv_rows(void **state)
{
    (void)state;
    floe_energy_table t;
    floe_err err;
    char path[4200];
    snprintf(path, sizeof path, "%s/configs/energy-northpole.csv", getenv("FLOE_SOURCE_DIR"));
    assert_int_equal(floe_energy_table_load(path, &t, &err), 0);
    floe_energy_cost c;
    floe_energy_costs(&t, &c);
    floe_actions a;
    memset(&a, 0, sizeof a);
    a.macs[FLOE_PREC_W8A16] = 4000;
    a.sram_read_bytes = 123456;
    a.noc_byte_hops[FLOE_NOC_PSUM] = 99;
    a.eth_bytes = 3;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    floe_actions_csv_rows(f, "17", &a, &c);
    fclose(f);
    int rows = 0;
    double sum = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"), rows++) {
        char label[8], action[32], unit[16];
        unsigned long long count;
        double pj, j;
        assert_int_equal(sscanf(line, "%7[^,],%31[^,],%15[^,],%llu,%lf,%lf", label, action, unit, &count, &pj, &j), 6);
        assert_string_equal(label, "17");
        assert_true(fabs(j - (double)count * pj * 1e-12) <= 1e-9 * fabs(j) + 1e-24);
        sum += j;
        if (strcmp(action, "mac_w8a16") == 0)
            assert_true(count == 4000 && pj == c.mac_pj[FLOE_PREC_W8A16] && strcmp(unit, "MAC") == 0);
        if (strcmp(action, "noc_psum") == 0)
            assert_true(count == 99 && strcmp(unit, "byte-hop") == 0);
        if (strcmp(action, "eth") == 0)
            assert_true(count == 3 && pj == c.eth_pj_per_byte);
    }
    free(buf);
    assert_int_equal(rows, FLOE_PREC_COUNT + 5 + FLOE_NOC_COUNT + 2);
    floe_energy_breakdown e;
    floe_energy_of(&a, &c, 0, 0, 0, &e);
    assert_true(fabs(sum - e.total_j) <= 1e-9 * e.total_j); /* the rows add up to the dynamic energy */
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_hand_computed), cmocka_unit_test(test_compose),
                                       cmocka_unit_test(test_csv_rows)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
