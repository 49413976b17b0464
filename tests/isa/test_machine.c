/* The machine description: loading the shipped configs, every validation error (file:line:field),
 * the fingerprint's definition and stability, and the derived figures. */
#include "tests/test_util.h"

#include <inttypes.h>

#include "common/rng.h"
#include "isa/machine.h"
#include "tests/isa/machine_test_util.h"

static char *small_text;

static int setup(void **state)
{
    (void)state;
    small_text = src_text("configs/small.csv");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(small_text);
    return 0;
}

/* Loads `text` from a temp file and expects failure; returns the message (static). */
static const char *load_fails(const char *text, const char **path_out)
{
    static floe_err err;
    const char *dir = floe_test_tmpdir("isa_machine_err");
    const char *path = write_tmp(dir, "m.csv", text);
    floe_machine m;
    if (floe_machine_load(path, &m, &err) == 0)
        fail_msg("loaded a machine that should have been refused:\n%s", text);
    *path_out = path;
    return err.msg;
}

/* Replaces the line of `key` in small.csv by `repl` and expects an error on that line naming `field`. */
static void expect_line_error(const char *key_prefix, const char *repl, const char *field, const char *what)
{
    char *text = replace_line(small_text, key_prefix, repl);
    const char *path;
    const char *msg = load_fails(text, &path);
    assert_err_at(msg, path, line_of(small_text, key_prefix), field, what);
    free(text);
}

static void test_load_northpole(void **state)
{
    (void)state;
    floe_machine m;
    floe_err err;
    if (floe_machine_load(src_path("configs/northpole.csv"), &m, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(m.cores_x, 16);
    assert_int_equal(m.cores_y, 16);
    assert_int_equal(m.clock_hz, 400000000);
    assert_int_equal(m.threads_per_core, 8);
    assert_int_equal(m.vmm_macs_per_cycle[FLOE_PREC_W8A8], 1024);
    assert_int_equal(m.vmm_macs_per_cycle[FLOE_PREC_W4A4], 2048);
    assert_int_equal(m.vmm_macs_per_cycle[FLOE_PREC_W2A2], 4096);
    assert_int_equal(m.vector_ops_per_cycle, 256);
    assert_int_equal(m.afu_ops_per_cycle, 32);
    assert_int_equal(m.core_mem_bytes, 768 * 1024);
    assert_int_equal(m.framebuffer_bytes, 32 * 1024 * 1024);
    assert_int_equal(m.cards_per_server, 16);
    assert_int_equal(floe_machine_validate(&m, &err), 0);

    floe_machine_derived d;
    floe_machine_derive(&m, &d);
    assert_int_equal(d.cores, 256);
    assert_int_equal(d.chips, 16);
    /* The published sanity check: 256 cores x 2048 ops x 400 MHz ~ 210 T-ops/s at 8-bit. */
    assert_true(d.peak_ops_per_s[FLOE_PREC_W8A8] == 256.0 * 2048.0 * 400e6);
    assert_true(d.peak_ops_per_s[FLOE_PREC_W8A8] > 209e12 && d.peak_ops_per_s[FLOE_PREC_W8A8] < 211e12);
    assert_true(d.peak_ops_per_s[FLOE_PREC_W4A4] == 2.0 * d.peak_ops_per_s[FLOE_PREC_W8A8]);
    assert_true(d.peak_macs_per_s[FLOE_PREC_W8A8] * 2.0 == d.peak_ops_per_s[FLOE_PREC_W8A8]);
    assert_int_equal(d.core_mem_total_bytes, 192ull << 20);
    assert_int_equal(d.chip_mem_bytes, 224ull << 20);
    assert_true(d.system_mem_bytes == 16.0 * (224ull << 20));
    assert_true(d.cycle_ns == 2.5);
    assert_int_equal(d.mesh_diameter_hops, 30);
    assert_int_equal(d.bisection_links, 16);
    assert_int_equal(d.noc_bisection_bytes_per_cycle[FLOE_NOC_ACT], 2 * 16 * m.noc[FLOE_NOC_ACT].link_bytes_per_cycle);
    assert_int_equal(d.noc_diameter_cycles[FLOE_NOC_ACT], 30 * m.noc[FLOE_NOC_ACT].hop_cycles);
    /* The rack figure the SRAM bandwidth assumption comes from: 3.7 PB/s over 288 cards. */
    double rack = d.sram_bytes_per_s * 288.0;
    assert_true(rack > 3.5e15 && rack < 4.0e15);
}

static void test_load_small(void **state)
{
    (void)state;
    floe_machine m;
    floe_err err;
    if (floe_machine_load(src_path("configs/small.csv"), &m, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(m.cores_x * m.cores_y, 4);
    assert_int_equal(m.core_mem_bytes, 65536);
    floe_machine_derived d;
    floe_machine_derive(&m, &d);
    assert_true(d.peak_macs_per_s[FLOE_PREC_W8A8] == 4.0 * 64.0 * 100e6);
    assert_int_equal(d.chips, 2);
    assert_int_equal(d.bisection_links, 2);
    assert_int_equal(d.mesh_diameter_hops, 2);
}

static void test_bisection_shapes(void **state)
{
    (void)state;
    floe_machine m;
    floe_err err;
    assert_int_equal(floe_machine_parse("small", small_text, strlen(small_text), &m, &err), 0);
    const struct {
        uint64_t x, y, links, diameter;
    } cases[] = {{1, 1, 0, 0}, {2, 1, 1, 1}, {1, 5, 1, 4}, {8, 2, 2, 8}, {3, 3, 3, 4}, {16, 16, 16, 30}, {4, 9, 4, 11}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        m.cores_x = cases[i].x;
        m.cores_y = cases[i].y;
        floe_machine_derived d;
        floe_machine_derive(&m, &d);
        assert_int_equal(d.bisection_links, cases[i].links);
        assert_int_equal(d.mesh_diameter_hops, cases[i].diameter);
        assert_int_equal(d.noc_bisection_bytes_per_cycle[FLOE_NOC_PSUM],
                         2 * cases[i].links * m.noc[FLOE_NOC_PSUM].link_bytes_per_cycle);
    }
}

static void test_unknown_key(void **state)
{
    (void)state;
    expect_line_error("cores_y,", "cores_z,2,", "cores_z", "unknown key");
    expect_line_error("clock_hz,", "Clock_hz,100000000", "Clock_hz", "unknown key");
    /* a header is only a header as the first record */
    expect_line_error("eth_latency_ns,", "key,value,comment", "key", "unknown key");
}

static void test_duplicate_key(void **state)
{
    (void)state;
    char *text = append_text(small_text, "cores_x,4,again\n");
    const char *path;
    const char *msg = load_fails(text, &path);
    assert_err_at(msg, path, count_lines(small_text) + 1, "cores_x", "duplicate key");
    char first[64];
    snprintf(first, sizeof first, "first given on line %d", line_of(small_text, "cores_x,"));
    assert_non_null(strstr(msg, first));
    free(text);
}

static void test_missing_key(void **state)
{
    (void)state;
    char *text = replace_line(small_text, "afu_ops_per_cycle,", "# afu_ops_per_cycle removed");
    const char *path;
    const char *msg = load_fails(text, &path);
    assert_err_at(msg, path, count_lines(small_text), "afu_ops_per_cycle", "missing");
    free(text);
    /* a file of comments only names the first key, at its last line */
    msg = load_fails("# nothing\n\n# here\n", &path);
    assert_err_at(msg, path, 3, "cores_x", "missing");
}

/* A key's old name is still read, as the new key, with the same fingerprint; both names at once are a
 * duplicate. */
static void test_renamed_keys(void **state)
{
    (void)state;
    floe_machine base, m;
    floe_err err;
    assert_int_equal(floe_machine_parse("s", small_text, strlen(small_text), &base, &err), 0);
    char *t1 = replace_line(small_text, "afu_ops_per_cycle,", "lut_ops_per_cycle,4");
    char *t2 = replace_line(t1, "afu_latency_cycles,", "lut_latency_cycles,3");
    if (floe_machine_parse("old.csv", t2, strlen(t2), &m, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(m.afu_ops_per_cycle, 4);
    assert_int_equal(m.afu_latency_cycles, 3);
    assert_true(floe_machine_fingerprint(&m) == floe_machine_fingerprint(&base));
    char *t3 = append_text(small_text, "lut_ops_per_cycle,4\n");
    const char *path;
    const char *msg = load_fails(t3, &path);
    assert_err_at(msg, path, count_lines(small_text) + 1, "lut_ops_per_cycle", "duplicate key");
    free(t1);
    free(t2);
    free(t3);
}

static void test_bad_numbers(void **state)
{
    (void)state;
    const char *bad[] = {"clock_hz,fast", "clock_hz,-100000000", "clock_hz,+100000000", "clock_hz,1e8",
                         "clock_hz,100000000.0", "clock_hz,0x5f5e100", "clock_hz,", "clock_hz,\" 100000000\"",
                         "clock_hz,99999999999999999999999", "clock_hz,100000000 Hz"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_line_error("clock_hz,", bad[i], "clock_hz", "expected a non-negative decimal integer");
}

static void test_out_of_range(void **state)
{
    (void)state;
    expect_line_error("cores_x,", "cores_x,0", "cores_x", "outside the accepted range [1, 256] cores");
    expect_line_error("cores_x,", "cores_x,257", "cores_x", "value 257");
    expect_line_error("clock_hz,", "clock_hz,999999", "clock_hz", "outside");
    expect_line_error("noc_act_hop_cycles,", "noc_act_hop_cycles,0", "noc_act_hop_cycles", "outside");
    expect_line_error("core_mem_bytes,", "core_mem_bytes,4294967297", "core_mem_bytes", "outside");
    /* the ends of a range are accepted */
    char *text = replace_line(small_text, "cores_x,", "cores_x,256");
    floe_machine m;
    floe_err err;
    assert_int_equal(floe_machine_parse("t", text, strlen(text), &m, &err), 0);
    assert_int_equal(m.cores_x, 256);
    free(text);
}

static void test_malformed_csv(void **state)
{
    (void)state;
    expect_line_error("cores_y,", "cores_y,\"2\"x,comment", "cores_y", "malformed CSV");
    expect_line_error("cores_y,", "cores_y,2\"x", "cores_y", "malformed CSV");
    expect_line_error("cores_y,", "\"cores_y\"z,2", "(key column)", "malformed CSV");
    expect_line_error("cores_y,", "cores_y,2,a,b", "cores_y", "too many columns");
    expect_line_error("cores_y,", "cores_y", "cores_y", "missing value");
    expect_line_error("cores_y,", ",2", "", "empty key");
    /* an unterminated quote is reported on the line its record starts */
    char *text = append_text(small_text, "cores_x,2,\"never closed\n# still inside\n");
    const char *path;
    const char *msg = load_fails(text, &path);
    assert_err_at(msg, path, count_lines(small_text) + 1, "cores_x", "not closed");
    free(text);
}

static void test_empty_and_nonexistent(void **state)
{
    (void)state;
    const char *path;
    const char *msg = load_fails("", &path);
    assert_err_at(msg, path, 1, "cores_x", "empty");
    floe_machine m;
    floe_err err;
    const char *dir = floe_test_tmpdir("isa_machine_missing");
    char missing[4400];
    snprintf(missing, sizeof missing, "%s/no-such.csv", dir);
    assert_int_equal(floe_machine_load(missing, &m, &err), -1);
    char want[4500];
    snprintf(want, sizeof want, "%s: cannot open", missing);
    assert_non_null(strstr(err.msg, want));
}

/* Line numbers stay right across comments, blank lines, CRLF and multi-line quoted comments. */
static void test_line_numbers(void **state)
{
    (void)state;
    const char *text = "# machine\n"
                       "\n"
                       "   # indented comment\n"
                       "key,value,comment\n"
                       "cores_x,2,\"a comment over\n"
                       "# three lines, with a comma\n"
                       "lines\"\r\n"
                       "\r\n"
                       "cores_y,two\n";
    const char *path;
    const char *msg = load_fails(text, &path);
    assert_err_at(msg, path, 9, "cores_y", "got 'two'");
    /* a quoted field may start with '#' and span lines */
    char *t2 = replace_line(small_text, "cores_y,", "cores_y,2,\"\n#x\n\"");
    char *t3 = append_text(t2, "bogus,1\n");
    msg = load_fails(t3, &path);
    assert_err_at(msg, path, count_lines(small_text) + 3, "bogus", "unknown key");
    free(t2);
    free(t3);
}

static void test_header_bom_and_spacing(void **state)
{
    (void)state;
    floe_machine a, b;
    floe_err err;
    assert_int_equal(floe_machine_parse("a", small_text, strlen(small_text), &a, &err), 0);
    /* byte-order mark, no header, spaces around values, quoted key */
    char *nohdr = replace_line(small_text, "key,value", "# no header");
    char *t = malloc(strlen(nohdr) + 4);
    assert_non_null(t);
    strcpy(t, "\xef\xbb\xbf");
    strcat(t, nohdr);
    free(nohdr);
    char *t2 = replace_line(t, "cores_x,", "\"cores_x\" ,  2  ,  spaced ");
    if (floe_machine_parse("b", t2, strlen(t2), &b, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(b.cores_x, 2);
    assert_true(floe_machine_fingerprint(&a) == floe_machine_fingerprint(&b));
    free(t);
    free(t2);
}

/* The fingerprint's documented definition, recomputed independently. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const unsigned char *)p)[i]) * 0x100000001b3ull;
    return h;
}

static void test_fingerprint_definition(void **state)
{
    (void)state;
    floe_machine m;
    floe_err err;
    assert_int_equal(floe_machine_load(src_path("configs/northpole.csv"), &m, &err), 0);
    size_t n;
    const floe_kv_key *keys = floe_machine_keys(&n);
    uint64_t h = fnv(0xcbf29ce484222325ull, "floe-machine-v1", 16);
    for (size_t i = 0; i < n; i++) {
        /* keys renamed since (docs/machine.md, "Renamed keys") are hashed under their first name */
        const char *name = strcmp(keys[i].name, "afu_ops_per_cycle") == 0    ? "lut_ops_per_cycle"
                           : strcmp(keys[i].name, "afu_latency_cycles") == 0 ? "lut_latency_cycles"
                                                                             : keys[i].name;
        h = fnv(h, name, strlen(name) + 1);
        uint64_t v = (uint64_t)floe_kv_get(&m, &keys[i]);
        unsigned char le[8];
        for (int j = 0; j < 8; j++)
            le[j] = (unsigned char)(v >> (8 * j));
        h = fnv(h, le, 8);
    }
    assert_true(h == floe_machine_fingerprint(&m));
}

static void test_fingerprint_stable_and_sensitive(void **state)
{
    (void)state;
    floe_machine base, m;
    floe_err err;
    assert_int_equal(floe_machine_parse("s", small_text, strlen(small_text), &base, &err), 0);
    uint64_t f0 = floe_machine_fingerprint(&base);
    /* comments, blank lines, order of lines, leading zeros: same values, same fingerprint */
    char *t1 = replace_line(small_text, "cores_x,", "\n# moved\ncores_x , 0002 , \"a different comment\"");
    char *t2 = replace_line(t1, "clock_hz,", "# clock below");
    char *t3 = append_text(t2, "\n\nclock_hz,100000000\n");
    if (floe_machine_parse("s3", t3, strlen(t3), &m, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(floe_machine_fingerprint(&m) == f0);
    free(t1);
    free(t2);
    free(t3);
    /* any value changed: a different fingerprint, and all of them distinct */
    size_t n;
    const floe_kv_key *keys = floe_machine_keys(&n);
    uint64_t *seen = calloc(n, sizeof *seen);
    assert_non_null(seen);
    for (size_t i = 0; i < n; i++) {
        m = base;
        uint64_t v;
        memcpy(&v, (char *)&m + keys[i].offset, sizeof v);
        v = v + 1 <= (uint64_t)keys[i].max ? v + 1 : v - 1;
        memcpy((char *)&m + keys[i].offset, &v, sizeof v);
        assert_int_equal(floe_machine_validate(&m, &err), 0);
        seen[i] = floe_machine_fingerprint(&m);
        assert_true(seen[i] != f0);
        for (size_t j = 0; j < i; j++)
            assert_true(seen[j] != seen[i]);
    }
    free(seen);
    /* and through a file: one changed figure */
    char *t4 = replace_line(small_text, "eth_latency_ns,", "eth_latency_ns,5001");
    assert_int_equal(floe_machine_parse("s4", t4, strlen(t4), &m, &err), 0);
    assert_true(floe_machine_fingerprint(&m) != f0);
    free(t4);
    /* the two shipped machines differ */
    assert_int_equal(floe_machine_load(src_path("configs/northpole.csv"), &m, &err), 0);
    assert_true(floe_machine_fingerprint(&m) != f0);
}

static void test_validate_and_names(void **state)
{
    (void)state;
    floe_machine m;
    floe_err err;
    assert_int_equal(floe_machine_parse("s", small_text, strlen(small_text), &m, &err), 0);
    m.threads_per_core = 0;
    assert_int_equal(floe_machine_validate(&m, &err), -1);
    assert_non_null(strstr(err.msg, "field 'threads_per_core'"));
    assert_string_equal(floe_prec_name(FLOE_PREC_W4A8), "w4a8");
    assert_string_equal(floe_prec_name(FLOE_PREC_W8A16), "w8a16");
    assert_string_equal(floe_noc_name(FLOE_NOC_PSUM), "psum");
    assert_string_equal(floe_prec_name(FLOE_PREC_COUNT), "?");
    /* every key appears in both shipped configs, and key names are unique */
    size_t n;
    const floe_kv_key *keys = floe_machine_keys(&n);
    char *np = src_text("configs/northpole.csv");
    for (size_t i = 0; i < n; i++) {
        char prefix[128];
        snprintf(prefix, sizeof prefix, "%s,", keys[i].name);
        assert_true(line_of(np, prefix) > 0);
        assert_true(line_of(small_text, prefix) > 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(keys[i].name, keys[j].name);
    }
    free(np);
}

static void test_write_round_trip(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("isa_machine_write");
    char path[4400];
    snprintf(path, sizeof path, "%s/out.csv", dir);
    floe_machine m, back;
    floe_err err;
    assert_int_equal(floe_machine_load(src_path("configs/northpole.csv"), &m, &err), 0);
    m.cores_x = 8; /* a sweep point: changed in memory, written, read back */
    if (floe_machine_write(path, &m, "sweep point\ncores_x = 8", &err) != 0)
        fail_msg("%s", err.msg);
    if (floe_machine_load(path, &back, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(floe_machine_fingerprint(&back) == floe_machine_fingerprint(&m));
    assert_memory_equal(&back, &m, sizeof m);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "# sweep point\n");
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "# cores_x = 8\n");
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "key,value,comment\n");
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "cores_x,8,\"cores; columns of the core grid\"\n");
    fclose(f);
    /* an invalid machine is refused and nothing is written */
    m.cores_y = 0;
    char bad[4400];
    snprintf(bad, sizeof bad, "%s/bad.csv", dir);
    assert_int_equal(floe_machine_write(bad, &m, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "field 'cores_y'"));
    assert_null(fopen(bad, "r"));
}

/* Property: any corruption of a valid file either loads a valid machine or fails with a message that
 * names the file, a line and a field; never a crash (the sanitizer build checks memory too). */
static void test_mutations_never_crash(void **state)
{
    (void)state;
    static const char alphabet[] = ",\"\n\r#x0 9\t-";
    size_t len = strlen(small_text);
    char *buf = malloc(len + 64);
    assert_non_null(buf);
    floe_rng r;
    floe_rng_seed(&r, 20261122);
    int loaded = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(buf, small_text, len + 1);
        size_t n = len;
        int edits = 1 + (int)floe_rng_below(&r, 3);
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)floe_rng_below(&r, n + 1);
            char c = alphabet[floe_rng_below(&r, sizeof alphabet - 1)];
            switch (floe_rng_below(&r, 4)) {
            case 0: /* replace */
                if (at < n)
                    buf[at] = c;
                break;
            case 1: /* insert */
                memmove(buf + at + 1, buf + at, n - at + 1);
                buf[at] = c;
                n++;
                break;
            case 2: /* delete */
                if (at < n) {
                    memmove(buf + at, buf + at + 1, n - at);
                    n--;
                }
                break;
            default: /* truncate */
                buf[at] = '\0';
                n = at;
                break;
            }
        }
        floe_machine m;
        floe_err err;
        if (floe_machine_parse("mut.csv", buf, n, &m, &err) == 0) {
            loaded++;
            assert_int_equal(floe_machine_validate(&m, &err), 0);
        } else {
            assert_true(strncmp(err.msg, "mut.csv:", 8) == 0);
            assert_non_null(strstr(err.msg, ": field '"));
        }
    }
    assert_true(loaded > 0 && loaded < 3000);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_northpole),
        cmocka_unit_test(test_load_small),
        cmocka_unit_test(test_bisection_shapes),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_missing_key),
        cmocka_unit_test(test_bad_numbers),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_malformed_csv),
        cmocka_unit_test(test_empty_and_nonexistent),
        cmocka_unit_test(test_line_numbers),
        cmocka_unit_test(test_header_bom_and_spacing),
        cmocka_unit_test(test_fingerprint_definition),
        cmocka_unit_test(test_fingerprint_stable_and_sensitive),
        cmocka_unit_test(test_validate_and_names),
        cmocka_unit_test(test_renamed_keys),
        cmocka_unit_test(test_mutations_never_crash),
        cmocka_unit_test(test_write_round_trip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
