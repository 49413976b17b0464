/* The area proxy (explore/area.h): the NorthPole machine near its published 800 mm^2, area growing with
 * every unit it counts, and a bad table refused with its file, line and key. */
#include "tests/sim/sim_test_util.h"

#include <string.h>

#include "explore/area.h"

static void load_area(floe_area_table *t)
{
    char path[4200];
    floe_err err;
    snprintf(path, sizeof path, "%s/configs/area-northpole.csv", getenv("FLOE_SOURCE_DIR"));
    if (floe_area_table_load(path, t, &err) != 0)
        fail_msg("%s", err.msg);
}

static void test_northpole_near_published(void **state)
{
    (void)state;
    floe_machine m;
    floe_area_table t;
    floe_area a;
    load_config("northpole", &m, NULL);
    load_area(&t);
    floe_area_of(&m, &t, &a);
    print_message("NorthPole: %.1f mm^2 (SRAM %.1f, port %.1f, MAC %.1f, vector %.1f, afu %.1f, NoC %.1f, cores %.1f, "
                  "chip %.1f)\n",
                  a.chip_mm2, a.sram_mm2, a.sram_port_mm2, a.mac_mm2, a.vector_mm2, a.afu_mm2, a.noc_mm2,
                  a.core_overhead_mm2, a.chip_overhead_mm2);
    assert_true(a.chip_mm2 > 780 && a.chip_mm2 < 820); /* published: 800 mm^2 */
    assert_true(a.macs_int8 == 1024.0);                /* w8a8 1024; w4a4 2048 x 16/64 = 512 */
    /* SRAM is 224 MiB at 1 mm^2/MiB */
    assert_true(a.sram_mm2 > 223.9 && a.sram_mm2 < 224.1);
}

static void test_grows_with_units(void **state)
{
    (void)state;
    floe_machine m;
    floe_area_table t;
    floe_area a0, a;
    load_config("northpole", &m, NULL);
    load_area(&t);
    floe_area_of(&m, &t, &a0);
    floe_machine v = m;
    v.core_mem_bytes *= 2;
    floe_area_of(&v, &t, &a);
    assert_true(a.chip_mm2 > a0.chip_mm2 && a.sram_mm2 > a0.sram_mm2 * 1.8);
    v = m;
    v.sram_bytes_per_cycle *= 2;
    floe_area_of(&v, &t, &a);
    assert_true(a.sram_port_mm2 > a0.sram_port_mm2 && a.chip_mm2 > a0.chip_mm2);
    v = m;
    v.noc[FLOE_NOC_ACT].link_bytes_per_cycle *= 2;
    floe_area_of(&v, &t, &a);
    assert_true(a.noc_mm2 > a0.noc_mm2);
    v = m;
    v.vmm_macs_per_cycle[FLOE_PREC_W8A8] *= 2;
    floe_area_of(&v, &t, &a);
    assert_true(a.mac_mm2 > 1.9 * a0.mac_mm2);
    v = m;
    v.cores_x = 8;
    floe_area_of(&v, &t, &a);
    assert_true(a.chip_mm2 < 0.6 * a0.chip_mm2);
}

static void test_bad_tables(void **state)
{
    (void)state;
    floe_area_table t;
    floe_err err;
    char path[4200];
    snprintf(path, sizeof path, "%s/configs/area-northpole.csv", getenv("FLOE_SOURCE_DIR"));
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    /* a value out of range, on its line */
    static char bad[8192 + 64];
    snprintf(bad, sizeof bad, "%s", text);
    char *p = strstr(bad, "mac_mm2,0.00025");
    assert_non_null(p);
    memcpy(p, "mac_mm2,-0.0001", 15);
    assert_int_equal(floe_area_table_parse("area.csv", bad, strlen(bad), &t, &err), -1);
    assert_non_null(strstr(err.msg, "area.csv:"));
    assert_non_null(strstr(err.msg, "mac_mm2"));
    /* a key missing */
    snprintf(bad, sizeof bad, "%s", text);
    p = strstr(bad, "chip_overhead_mm2");
    assert_non_null(p);
    *p = 0;
    assert_int_equal(floe_area_table_parse("area.csv", bad, strlen(bad), &t, &err), -1);
    assert_non_null(strstr(err.msg, "chip_overhead_mm2"));
    /* an unknown key */
    snprintf(bad, sizeof bad, "%sgate_mm2,1,\n", text);
    assert_int_equal(floe_area_table_parse("area.csv", bad, strlen(bad), &t, &err), -1);
    assert_non_null(strstr(err.msg, "gate_mm2"));
    /* not a number */
    snprintf(bad, sizeof bad, "%s", text);
    p = strstr(bad, "afu_lane_mm2,0.0005");
    assert_non_null(p);
    memcpy(p + 13, "x.0005", 6);
    assert_int_equal(floe_area_table_parse("area.csv", bad, strlen(bad), &t, &err), -1);
    assert_non_null(strstr(err.msg, "afu_lane_mm2"));
    /* and the file itself loads */
    assert_int_equal(floe_area_table_parse("area.csv", text, n, &t, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_northpole_near_published),
        cmocka_unit_test(test_grows_with_units),
        cmocka_unit_test(test_bad_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
