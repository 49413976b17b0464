/* Chip-to-chip links: PCIe inside a server, Ethernet between servers, contention, exact times. */
#include "tests/sim/sim_test_util.h"

#include "sim/system.h"

static void test_links(void **state)
{
    (void)state;
    floe_machine m;
    load_config("small", &m, NULL);
    m.servers_per_system = 2; /* chips 0, 1 in server 0; chips 2, 3 in server 1 */
    floe_links l;
    floe_err err;
    assert_int_equal(floe_links_init(&l, &m, &err), 0);
    assert_int_equal(l.chips, 4);
    uint64_t pcie = m.pcie_latency_ns * 1000, eth = m.eth_latency_ns * 1000;
    uint64_t wire_p = 1000ull * 1000000000000ull / m.pcie_bytes_per_s, wire_e = 1000ull * 1000000000000ull / m.eth_bytes_per_s;
    assert_int_equal(floe_links_transfer(&l, 0, 0, 1000, 5), 5);                   /* same chip */
    assert_int_equal(floe_links_transfer(&l, 0, 1, 1000, 0), pcie + wire_p);       /* same server */
    assert_int_equal(floe_links_transfer(&l, 0, 1, 1000, 0), wire_p + pcie + wire_p); /* waits for the link */
    assert_int_equal(floe_links_transfer(&l, 1, 0, 1000, 0), pcie + wire_p);       /* other direction: free */
    assert_int_equal(floe_links_transfer(&l, 1, 2, 1000, 0), eth + wire_e);        /* across servers */
    /* the same figures on idle links, without reserving them */
    uint64_t lat = 1;
    assert_int_equal(floe_links_wire_ps(&m, 0, 1, 1000, &lat), wire_p);
    assert_int_equal(lat, pcie);
    assert_int_equal(floe_links_wire_ps(&m, 3, 1, 1000, &lat), wire_e);
    assert_int_equal(lat, eth);
    assert_int_equal(floe_links_wire_ps(&m, 2, 2, 1000, &lat), 0);
    assert_int_equal(lat, 0);
    assert_int_equal(l.pcie_bytes, 3000);
    assert_int_equal(l.eth_bytes, 1000);
    floe_links_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_links)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
