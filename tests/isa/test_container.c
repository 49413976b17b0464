/* The program container: canonical round trips, and every way a file can be truncated, corrupted or
 * built for another machine. */
#include "tests/test_util.h"

#include "isa/container.h"
#include "tests/isa/isa_random.h"

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void wr64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes the checksums after a test patched a file on purpose, so the check behind them runs. */
static void fix_crcs(uint8_t *b, size_t len)
{
    uint32_t nsec = rd32(b + 12);
    if (32 + (size_t)nsec * 32 <= len) {
        for (uint32_t s = 0; s < nsec; s++) {
            uint8_t *e = b + 32 + s * 32;
            uint64_t off = rd32(e + 8) | (uint64_t)rd32(e + 12) << 32, n = rd32(e + 16) | (uint64_t)rd32(e + 20) << 32;
            if (off <= len && n <= len - off)
                wr32(e + 28, floe_crc32(b + off, (size_t)n));
        }
        wr32(b + 24, floe_crc32(b + 32, (size_t)nsec * 32));
    }
    wr32(b + 28, floe_crc32(b, 28));
}

static floe_program *sample(void)
{
    floe_err err;
    floe_program *p = floe_program_new(0x1122334455667788ull);
    assert_int_equal(floe_region(p, 0, 0, "x", 0, 256, &err), 0);
    assert_int_equal(floe_region(p, FLOE_FB, FLOE_FB, "kv", 0x10000, 4096, &err), 0);
    const uint8_t data[5] = {1, 2, 3, 4, 5};
    assert_int_equal(floe_data(p, 0, 0, 0x40, data, sizeof data, &err), 0);
    assert_int_equal(floe_data(p, FLOE_FB, FLOE_FB, 0x10000, data, 3, &err), 0);
    size_t h;
    assert_int_equal(floe_loop_begin(p, 0, 0, 2, 8, 1, 16, &h, &err), 0);
    assert_int_equal(floe_emit_op(p, 0, 0, FLOE_OP_VMM, 2,
                                  (const int64_t[]){FLOE_ACC(0, 0), FLOE_MEM(0, 1), FLOE_MEM(0x400, 1), 64, 32,
                                                    FLOE_XP_I8, FLOE_WP_I4, FLOE_MODE_ADD},
                                  8, &err), 0);
    assert_int_equal(floe_loop_end(p, 0, 0, h, &err), 0);
    assert_int_equal(floe_label(p, 0, 0, "done", &err), 0);
    assert_int_equal(floe_emit_op(p, 0, 0, FLOE_OP_HALT, 2, NULL, 0, &err), 0);
    assert_int_equal(floe_emit_op(p, 1, 0, FLOE_OP_SIG, 0, (const int64_t[]){3, 0, 0}, 3, &err), 0);
    return p;
}

static void write_prog(const floe_program *p, uint8_t **b, size_t *n)
{
    floe_err err;
    if (floe_program_write(p, b, n, &err) != 0)
        fail_msg("write: %s", err.msg);
}

static void expect_refusal(const uint8_t *b, size_t n, const char *needle)
{
    floe_program *q = NULL;
    floe_err err;
    assert_int_equal(floe_program_read(b, n, NULL, &q, &err), -1);
    assert_null(q);
    if (needle && !strstr(err.msg, needle))
        fail_msg("expected '%s' in '%s'", needle, err.msg);
}

static void test_roundtrip_and_layout(void **state)
{
    (void)state;
    floe_program *p = sample();
    uint8_t *b, *b2;
    size_t n, n2;
    write_prog(p, &b, &n);
    assert_memory_equal(b, "FLOEPRG\0", 8);
    assert_int_equal(rd32(b + 8), FLOE_CONTAINER_VERSION);
    assert_int_equal(rd32(b + 12), 5); /* 2 code, 2 images, 1 symbols */
    assert_int_equal(n % 8, 0);
    floe_program *q;
    floe_err err;
    uint64_t fp = 0x1122334455667788ull;
    assert_int_equal(floe_program_read(b, n, &fp, &q, &err), 0);
    assert_int_equal(q->fingerprint, fp);
    assert_int_equal(q->ncores, 2);
    assert_int_equal(q->cores[0].n, 3);
    assert_int_equal(q->cores[0].insns[0].f[1], 1); /* loop body */
    assert_int_equal(q->nimages, 2);
    assert_int_equal(q->nsymbols, 3);
    write_prog(q, &b2, &n2);
    assert_int_equal(n, n2);
    assert_memory_equal(b, b2, n);
    /* through a file */
    char path[4200];
    snprintf(path, sizeof path, "%s/p.flp", floe_test_tmpdir("isa_container"));
    assert_int_equal(floe_program_save(p, path, &err), 0);
    floe_program *r;
    assert_int_equal(floe_program_load(path, NULL, &r, &err), 0);
    floe_program_free(r);
    assert_int_equal(floe_program_load("/nonexistent/p.flp", NULL, &r, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/p.flp"));
    free(b);
    free(b2);
    floe_program_free(p);
    floe_program_free(q);
}

/* Every prefix of a valid file is refused cleanly (ASan catches any read past the end). */
static void test_truncated_at_every_byte(void **state)
{
    (void)state;
    floe_program *p = sample();
    uint8_t *b;
    size_t n;
    write_prog(p, &b, &n);
    for (size_t k = 0; k < n; k++) {
        uint8_t *c = malloc(k ? k : 1); /* an exact-size copy so ASan sees any overread */
        memcpy(c, b, k);
        expect_refusal(c, k, NULL);
        free(c);
    }
    free(b);
    floe_program_free(p);
}

/* Every byte matters: flipping any bit of any byte is detected. */
static void test_every_byte_corrupted(void **state)
{
    (void)state;
    floe_program *p = sample();
    uint8_t *b;
    size_t n;
    write_prog(p, &b, &n);
    for (size_t k = 0; k < n; k++)
        for (int bit = 0; bit < 8; bit += 3) {
            b[k] ^= (uint8_t)(1u << bit);
            expect_refusal(b, n, NULL);
            b[k] ^= (uint8_t)(1u << bit);
        }
    free(b);
    floe_program_free(p);
}

static void test_specific_refusals(void **state)
{
    (void)state;
    floe_program *p = sample();
    uint8_t *b;
    size_t n;
    write_prog(p, &b, &n);
    uint8_t *c = malloc(n + 64);
    floe_err err;
    floe_program *q;
#define RESET() memcpy(c, b, n)
    RESET();
    c[0] = 'X';
    expect_refusal(c, n, "bad magic");
    RESET();
    wr32(c + 8, 2);
    fix_crcs(c, n);
    expect_refusal(c, n, "container version 2 is not supported");
    RESET();
    uint64_t other = 42;
    assert_int_equal(floe_program_read(c, n, &other, &q, &err), -1);
    assert_non_null(strstr(err.msg, "built for machine fingerprint 1122334455667788"));
    RESET();
    wr32(c + 12, 0x7FFFFFFF);
    fix_crcs(c, n);
    expect_refusal(c, n, "section entries do not fit");
    RESET();
    c[40] ^= 1; /* the section table */
    wr32(c + 28, floe_crc32(c, 28));
    expect_refusal(c, n, "section table checksum");
    RESET();
    c[28] ^= 1;
    expect_refusal(c, n, "header checksum");
    /* section 0: offset past the end, inside the table, length overflowing */
    RESET();
    wr64(c + 32 + 8, (uint64_t)n + 8);
    fix_crcs(c, n);
    expect_refusal(c, n, "outside the payload area");
    RESET();
    wr64(c + 32 + 8, 8);
    fix_crcs(c, n);
    expect_refusal(c, n, "outside the payload area");
    RESET();
    wr64(c + 32 + 16, UINT64_MAX);
    fix_crcs(c, n);
    expect_refusal(c, n, "outside the payload area");
    RESET();
    wr64(c + 32 + 8, 32 + 5 * 32 + 8);
    fix_crcs(c, n);
    expect_refusal(c, n, "expected");
    /* a payload byte, with a stale checksum */
    RESET();
    c[n - 1] ^= 0x80;
    expect_refusal(c, n, NULL);
    RESET();
    c[32 + 5 * 32 + 20] ^= 1; /* inside the first code section */
    expect_refusal(c, n, "checksum mismatch (corrupted payload)");
    /* an unknown section kind */
    RESET();
    wr32(c + 32, 9);
    fix_crcs(c, n);
    expect_refusal(c, n, "unknown kind 9");
    /* code section length not a multiple of 16 */
    RESET();
    wr64(c + 32 + 16, 40);
    fix_crcs(c, n);
    expect_refusal(c, n, NULL);
    /* a second code section for core (0, 0) */
    RESET();
    c[32 + 32 + 4] = 0;
    fix_crcs(c, n);
    expect_refusal(c, n, "second code section");
    /* a code section for a place that is not a core */
    RESET();
    c[32 + 4] = 0xFF;
    c[32 + 5] = 0x01;
    fix_crcs(c, n);
    expect_refusal(c, n, "malformed code section");
    /* an undefined opcode inside the code, with a valid checksum */
    RESET();
    c[32 + 5 * 32] = 0xEE;
    fix_crcs(c, n);
    expect_refusal(c, n, "instruction 0: unknown opcode 0xee");
    /* a loop body running off the end: patch the loop's body field to 1023 */
    RESET();
    {
        uint8_t *w = c + 32 + 5 * 32;
        uint64_t lo = 0;
        for (int i = 0; i < 8; i++)
            lo |= (uint64_t)w[i] << (8 * i);
        lo |= (uint64_t)1023 << 27;
        wr64(w, lo);
    }
    fix_crcs(c, n);
    expect_refusal(c, n, "runs past the end of the stream");
    /* trailing garbage */
    RESET();
    memset(c + n, 0, 8);
    expect_refusal(c, n + 8, "unexpected bytes after the last section");
    /* non-zero padding (the 5-byte image is padded with 3 zeros) */
    RESET();
    int found = 0;
    for (uint32_t k = 0; k < 5; k++) {
        const uint8_t *e = c + 32 + k * 32;
        if (rd32(e) == FLOE_SECTION_IMAGE && rd32(e + 16) == 5) {
            c[rd32(e + 8) + 6] = 1;
            found = 1;
        }
    }
    assert_true(found);
    expect_refusal(c, n, "padding byte 6 is not zero");
    free(c);
    free(b);
    floe_program_free(p);
}

static void test_symbols_section_refusals(void **state)
{
    (void)state;
    floe_program *p = floe_program_new(1);
    floe_err err;
    assert_int_equal(floe_region(p, 3, 4, "abc", 16, 16, &err), 0);
    uint8_t *b;
    size_t n;
    write_prog(p, &b, &n);
    /* one section: symbols at 64: count(4) x(2) y(2) kind(1) namelen(1) 0(2) value(4) size(4) name */
    assert_int_equal(rd32(b + 32), FLOE_SECTION_SYMBOLS);
    uint8_t *c = malloc(n);
    memcpy(c, b, n);
    wr32(c + 64, 2); /* claims two symbols */
    fix_crcs(c, n);
    expect_refusal(c, n, "runs past the section's end");
    memcpy(c, b, n);
    c[64 + 4 + 5] = 60; /* name length past the end */
    fix_crcs(c, n);
    expect_refusal(c, n, "name runs past");
    memcpy(c, b, n);
    c[64 + 4 + 16] = '9'; /* invalid name */
    fix_crcs(c, n);
    expect_refusal(c, n, "invalid name");
    memcpy(c, b, n);
    c[64 + 4 + 4] = 7; /* unknown kind */
    fix_crcs(c, n);
    expect_refusal(c, n, "unknown kind");
    memcpy(c, b, n);
    c[64 + 4 + 6] = 1; /* reserved */
    fix_crcs(c, n);
    expect_refusal(c, n, "reserved");
    memcpy(c, b, n);
    wr32(c + 64, 0); /* zero symbols but bytes left */
    fix_crcs(c, n);
    expect_refusal(c, n, "left over");
    memcpy(c, b, n);
    wr32(c + 64 + 4 + 12, 0xFFFFFFFF); /* region size past the address space */
    fix_crcs(c, n);
    expect_refusal(c, n, "past the end of the address space");
    free(c);
    free(b);
    floe_program_free(p);
}

/* Only the canonical order is accepted: a loaded program writes back to the very same bytes. */
static void test_order_refusals(void **state)
{
    (void)state;
    floe_program *p = floe_program_new(1);
    floe_err err;
    assert_int_equal(floe_region(p, 0, 0, "aa", 0, 4, &err), 0);
    assert_int_equal(floe_region(p, 0, 0, "bb", 8, 4, &err), 0);
    assert_int_equal(floe_emit_op(p, 0, 0, FLOE_OP_HALT, 0, NULL, 0, &err), 0);
    assert_int_equal(floe_emit_op(p, 1, 0, FLOE_OP_NOP, 0, NULL, 0, &err), 0);
    assert_int_equal(floe_data(p, 0, 0, 100, "x", 1, &err), 0);
    uint8_t *b;
    size_t n;
    write_prog(p, &b, &n);
    /* sections: code (0,0) at 160, code (1,0) at 176, image at 192 (8), symbols at 200 */
    assert_int_equal(rd32(b + 12), 4);
    uint8_t *c = malloc(n);
    /* the two symbols swapped (equal sizes): "bb" first */
    memcpy(c, b, n);
    memcpy(c + 204, b + 204 + 18, 18);
    memcpy(c + 204 + 18, b + 204, 18);
    fix_crcs(c, n);
    expect_refusal(c, n, "symbol 1 ('aa') is out of canonical order");
    /* the two code sections' payloads and places swapped */
    memcpy(c, b, n);
    memcpy(c + 32 + 4, b + 64 + 4, 4);
    memcpy(c + 64 + 4, b + 32 + 4, 4);
    memcpy(c + 160, b + 176, 16);
    memcpy(c + 176, b + 160, 16);
    fix_crcs(c, n);
    expect_refusal(c, n, "section 1: core (0, 0) is out of canonical order");
    /* kinds out of order: code after an image */
    memcpy(c, b, n);
    wr32(c + 32, FLOE_SECTION_IMAGE);
    fix_crcs(c, n);
    expect_refusal(c, n, "section 1: kind 1 after kind 2");
    free(c);
    free(b);
    floe_program_free(p);
}

/* Random programs: write, read, write gives the same bytes. */
static void test_random_programs(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 99);
    for (int i = 0; i < 300; i++) {
        floe_err err;
        floe_program *p = isa_random_program(&r, &err);
        if (!p)
            fail_msg("random program: %s", err.msg);
        uint8_t *b, *b2;
        size_t n, n2;
        write_prog(p, &b, &n);
        floe_program *q;
        if (floe_program_read(b, n, &p->fingerprint, &q, &err) != 0)
            fail_msg("read: %s", err.msg);
        write_prog(q, &b2, &n2);
        assert_int_equal(n, n2);
        assert_memory_equal(b, b2, n);
        free(b);
        free(b2);
        floe_program_free(p);
        floe_program_free(q);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_and_layout),
        cmocka_unit_test(test_truncated_at_every_byte),
        cmocka_unit_test(test_every_byte_corrupted),
        cmocka_unit_test(test_specific_refusals),
        cmocka_unit_test(test_symbols_section_refusals),
        cmocka_unit_test(test_order_refusals),
        cmocka_unit_test(test_random_programs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
