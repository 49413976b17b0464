/* The energy table: loading the shipped tables, the scaling to the target process, every validation
 * error (file:line:field), and the fingerprint. */
#include "tests/test_util.h"

#include <math.h>

#include "isa/energy_table.h"
#include "tests/isa/machine_test_util.h"

static char *np_text;

static int setup(void **state)
{
    (void)state;
    np_text = src_text("configs/energy-northpole.csv");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(np_text);
    return 0;
}

static void expect_line_error(const char *key_prefix, const char *repl, const char *field, const char *what)
{
    char *text = replace_line(np_text, key_prefix, repl);
    const char *dir = floe_test_tmpdir("isa_energy_err");
    const char *path = write_tmp(dir, "e.csv", text);
    floe_energy_table e;
    floe_err err;
    if (floe_energy_table_load(path, &e, &err) == 0)
        fail_msg("loaded a table that should have been refused:\n%s", text);
    assert_err_at(err.msg, path, line_of(np_text, key_prefix), field, what);
    free(text);
}

static void test_load_northpole_and_costs(void **state)
{
    (void)state;
    floe_energy_table e;
    floe_err err;
    if (floe_energy_table_load(src_path("configs/energy-northpole.csv"), &e, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(floe_energy_table_validate(&e, &err), 0);
    /* Horowitz 45 nm: int8 multiply 0.2 pJ + int32 add 0.1 pJ */
    assert_true(e.mac_pj[FLOE_PREC_W8A8] == 0.3);
    assert_true(e.sram_read_pj_per_byte == 20.0 / 8.0);
    floe_energy_cost c;
    floe_energy_costs(&e, &c);
    for (int p = 0; p < FLOE_PREC_COUNT; p++)
        assert_true(c.mac_pj[p] == e.mac_pj[p] * e.logic_scale);
    for (int n = 0; n < FLOE_NOC_COUNT; n++)
        assert_true(c.noc_pj_per_byte_hop[n] == e.noc_pj_per_byte_hop[n] * e.wire_scale);
    assert_true(c.afu_op_pj == e.afu_op_pj * e.logic_scale);
    assert_true(c.sram_write_pj_per_byte == e.sram_write_pj_per_byte * e.logic_scale);
    assert_true(c.framebuffer_pj_per_byte == e.framebuffer_pj_per_byte * e.logic_scale);
    assert_true(c.pcie_pj_per_byte == e.pcie_pj_per_byte); /* links: given at the target */
    assert_true(c.static_w_per_core == e.static_mw_per_core * 1e-3);
    /* narrower operands never cost more per MAC */
    assert_true(c.mac_pj[FLOE_PREC_W4A8] <= c.mac_pj[FLOE_PREC_W8A8]);
    assert_true(c.mac_pj[FLOE_PREC_W2A2] <= c.mac_pj[FLOE_PREC_W4A4]);

    /* sanity: the chip at full tilt stays below the published 74 W ResNet-50 run */
    floe_machine m;
    assert_int_equal(floe_machine_load(src_path("configs/northpole.csv"), &m, &err), 0);
    double st = floe_energy_static_w(&c, &m);
    assert_true(st == 256.0 * c.static_w_per_core + c.static_w_per_chip);
    double w = floe_energy_peak_vmm_w(&c, &m, FLOE_PREC_W8A8) + st;
    assert_true(w > 10.0 && w < 74.0);
}

static int near(double a, double b) { return fabs(a - b) <= 1e-9 * fabs(b); }

/* configs/energy-northpole-fit.csv (docs/machine.md, "The table is kept"): the base table with every
 * on-chip action energy x 2.2 and 110 mW of static power per core, nothing else changed. */
static void test_fit_is_the_base_scaled(void **state)
{
    (void)state;
    floe_energy_table b, f;
    floe_err err;
    if (floe_energy_table_load(src_path("configs/energy-northpole.csv"), &b, &err) != 0 ||
        floe_energy_table_load(src_path("configs/energy-northpole-fit.csv"), &f, &err) != 0)
        fail_msg("%s", err.msg);
    floe_energy_cost cb, cf;
    floe_energy_costs(&b, &cb);
    floe_energy_costs(&f, &cf);
    const double k = 2.2;
    for (int p = 0; p < FLOE_PREC_COUNT; p++)
        assert_true(near(cf.mac_pj[p], k * cb.mac_pj[p]));
    for (int n = 0; n < FLOE_NOC_COUNT; n++)
        assert_true(near(cf.noc_pj_per_byte_hop[n], k * cb.noc_pj_per_byte_hop[n]));
    assert_true(near(cf.vector_op_pj, k * cb.vector_op_pj) && near(cf.afu_op_pj, k * cb.afu_op_pj));
    assert_true(near(cf.sram_read_pj_per_byte, k * cb.sram_read_pj_per_byte));
    assert_true(near(cf.sram_write_pj_per_byte, k * cb.sram_write_pj_per_byte));
    assert_true(near(cf.framebuffer_pj_per_byte, k * cb.framebuffer_pj_per_byte));
    assert_true(cf.pcie_pj_per_byte == cb.pcie_pj_per_byte && cf.eth_pj_per_byte == cb.eth_pj_per_byte);
    assert_true(cf.static_w_per_chip == cb.static_w_per_chip);
    floe_machine m;
    assert_int_equal(floe_machine_load(src_path("configs/northpole.csv"), &m, &err), 0);
    /* the fit's two equations: S + k D_r = 74 W at D_r = 20 W (ResNet-50), S + k 3.53 W = 37.9 W (the LLM
     * card's chip at the published token rate) */
    double S = floe_energy_static_w(&cf, &m);
    assert_true(fabs(S - 30.16) < 0.01);
    assert_true(fabs(S + k * 20.0 - 74.0) < 0.5);
    assert_true(fabs(S + k * 3.53 - 37.9) < 0.1);
}

static void test_small_by_hand(void **state)
{
    (void)state;
    floe_energy_table e;
    floe_machine m;
    floe_err err;
    if (floe_energy_table_load(src_path("configs/energy-small.csv"), &e, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(floe_machine_load(src_path("configs/small.csv"), &m, &err), 0);
    floe_energy_cost c;
    floe_energy_costs(&e, &c);
    /* 4 cores * 1 mW + 10 mW */
    double st = floe_energy_static_w(&c, &m);
    assert_true(st > 0.014 - 1e-12 && st < 0.014 + 1e-12);
    /* 4 cores * (64 MACs * 1 pJ + 16 bytes * 2 pJ) per cycle at 100 MHz = 38.4 mW */
    double w = floe_energy_peak_vmm_w(&c, &m, FLOE_PREC_W8A8);
    assert_true(w > 0.0384 - 1e-12 && w < 0.0384 + 1e-12);
}

static void test_errors(void **state)
{
    (void)state;
    expect_line_error("afu_op_pj,", "afu_opp_pj,3", "afu_opp_pj", "unknown key");
    expect_line_error("afu_op_pj,", "afu_op_pj,cheap", "afu_op_pj", "expected a decimal number");
    const char *bad[] = {"afu_op_pj,nan", "afu_op_pj,inf",   "afu_op_pj,0x1p3", "afu_op_pj,1e",
                         "afu_op_pj,",    "afu_op_pj,1e999", "afu_op_pj,3 pJ",  "afu_op_pj,1..2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_line_error("afu_op_pj,", bad[i], "afu_op_pj", "expected a decimal number");
    expect_line_error("afu_op_pj,", "afu_op_pj,-0.5", "afu_op_pj", "outside the accepted range");
    expect_line_error("logic_scale,", "logic_scale,0", "logic_scale", "outside the accepted range");
    expect_line_error("logic_scale,", "logic_scale,101", "logic_scale", "outside the accepted range");
    expect_line_error("vector_op_pj,", "vector_op_pj,\"0.5", "vector_op_pj", "unclosed");
    expect_line_error("vector_op_pj,", "vector_op_pj,0.5\"", "vector_op_pj", "malformed CSV");
    expect_line_error("vector_op_pj,", "vector_op_pj,0.5,a,b", "vector_op_pj", "too many columns");

    const char *dir = floe_test_tmpdir("isa_energy_err2");
    floe_energy_table e;
    floe_err err;
    char *dup = append_text(np_text, "wire_scale,1\n");
    const char *path = write_tmp(dir, "dup.csv", dup);
    assert_int_equal(floe_energy_table_load(path, &e, &err), -1);
    assert_err_at(err.msg, path, count_lines(np_text) + 1, "wire_scale", "duplicate key");
    free(dup);
    char *miss = replace_line(np_text, "static_mw_per_chip,", "");
    path = write_tmp(dir, "miss.csv", miss);
    assert_int_equal(floe_energy_table_load(path, &e, &err), -1);
    assert_err_at(err.msg, path, count_lines(miss), "static_mw_per_chip", "missing");
    free(miss);
    path = write_tmp(dir, "empty.csv", "");
    assert_int_equal(floe_energy_table_load(path, &e, &err), -1);
    assert_err_at(err.msg, path, 1, "logic_scale", "empty");
    assert_int_equal(floe_energy_table_load("/nonexistent/energy.csv", &e, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/energy.csv: cannot open"));
    /* a machine description is not an energy table */
    assert_int_equal(floe_energy_table_load(src_path("configs/small.csv"), &e, &err), -1);
    assert_non_null(strstr(err.msg, "field 'cores_x': unknown key"));
}

static void test_fingerprint(void **state)
{
    (void)state;
    floe_energy_table a, b;
    floe_err err;
    assert_int_equal(floe_energy_table_parse("a", np_text, strlen(np_text), &a, &err), 0);
    uint64_t f0 = floe_energy_table_fingerprint(&a);
    /* the same values spelled differently, with other comments */
    char *t1 = replace_line(np_text, "mac_w8a8_pj,", "mac_w8a8_pj,3e-1,\"new comment\"");
    char *t2 = replace_line(t1, "afu_op_pj,", "  lut_op_pj , 3.000 "); /* the key's old name, still read */
    char *t3 = replace_line(t2, "eth_pj_per_byte,", "eth_pj_per_byte,200.0\n# trailing comment\n");
    if (floe_energy_table_parse("b", t3, strlen(t3), &b, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(floe_energy_table_fingerprint(&b) == f0);
    free(t1);
    free(t2);
    free(t3);
    /* -0 and 0 are the same value */
    a.mac_pj[FLOE_PREC_W2A2] = 0.0;
    b = a;
    b.mac_pj[FLOE_PREC_W2A2] = -0.0;
    assert_true(floe_energy_table_fingerprint(&a) == floe_energy_table_fingerprint(&b));
    /* every key matters */
    assert_int_equal(floe_energy_table_parse("a", np_text, strlen(np_text), &a, &err), 0);
    size_t n;
    const floe_kv_key *keys = floe_energy_table_keys(&n);
    for (size_t i = 0; i < n; i++) {
        b = a;
        double v;
        memcpy(&v, (char *)&b + keys[i].offset, sizeof v);
        v = v * 0.5 + 1e-3;
        memcpy((char *)&b + keys[i].offset, &v, sizeof v);
        assert_true(floe_energy_table_fingerprint(&b) != f0);
    }
    /* the small table differs, and an energy fingerprint is not a machine fingerprint domain */
    assert_int_equal(floe_energy_table_load(src_path("configs/energy-small.csv"), &b, &err), 0);
    assert_true(floe_energy_table_fingerprint(&b) != f0);
}

static void test_format_round_trip(void **state)
{
    (void)state;
    floe_energy_table e, back;
    floe_err err;
    assert_int_equal(floe_energy_table_parse("a", np_text, strlen(np_text), &e, &err), 0);
    size_t n;
    const floe_kv_key *keys = floe_energy_table_keys(&n);
    /* Writing every value with floe_kv_format and reading it back gives the same table. */
    char text[8192] = "";
    for (size_t i = 0; i < n; i++) {
        char v[64], line[160];
        floe_kv_format(v, sizeof v, &e, &keys[i]);
        snprintf(line, sizeof line, "%s,%s\n", keys[i].name, v);
        strcat(text, line);
    }
    if (floe_energy_table_parse("rt", text, strlen(text), &back, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(floe_energy_table_fingerprint(&back) == floe_energy_table_fingerprint(&e));
    char v[64];
    floe_kv_format(v, sizeof v, &e, &keys[1]); /* wire_scale */
    assert_string_equal(v, "0.8");
    /* and through floe_energy_table_write */
    const char *dir = floe_test_tmpdir("isa_energy_write");
    char path[4400];
    snprintf(path, sizeof path, "%s/e.csv", dir);
    if (floe_energy_table_write(path, &e, "written by a test", &err) != 0)
        fail_msg("%s", err.msg);
    if (floe_energy_table_load(path, &back, &err) != 0)
        fail_msg("%s", err.msg);
    assert_memory_equal(&back, &e, sizeof e);
    e.logic_scale = 0.0;
    assert_int_equal(floe_energy_table_write(path, &e, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "field 'logic_scale'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_northpole_and_costs),
        cmocka_unit_test(test_fit_is_the_base_scaled),
        cmocka_unit_test(test_small_by_hand),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_format_round_trip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
