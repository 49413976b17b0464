/* Every instruction's encoding: the table's invariants, round trips at the extremes of every field,
 * golden words that pin the bit layout, and every way decode refuses a word. */
#include "tests/test_util.h"

#include "isa/insn.h"
#include "tests/isa/isa_random.h"

static void test_table_invariants(void **state)
{
    (void)state;
    size_t n;
    const floe_op_info *t = floe_op_table(&n);
    assert_true(n >= 40);
    for (size_t i = 0; i < n; i++) {
        /* opcodes are grouped by unit: the high nibble is the unit */
        assert_int_equal(t[i].opcode >> 4, (int)t[i].unit);
        assert_ptr_equal(floe_op_lookup(t[i].opcode), &t[i]);
        assert_ptr_equal(floe_op_by_mnemonic(t[i].mnemonic, strlen(t[i].mnemonic)), &t[i]);
        assert_null(strchr(t[i].mnemonic, '.'));
        int bits = 11;
        for (int f = 0; f < t[i].nfields; f++) {
            assert_int_not_equal(t[i].fields[f].kind, FLOE_FK_END);
            bits += floe_kind_lookup(t[i].fields[f].kind)->bits;
            for (int g = 0; g < f; g++)
                assert_string_not_equal(t[i].fields[f].name, t[i].fields[g].name);
        }
        assert_int_equal(t[i].fields[t[i].nfields].kind, FLOE_FK_END);
        assert_true(bits <= 128);
        assert_true(t[i].nfields <= FLOE_MAX_FIELDS);
        for (size_t j = 0; j < i; j++) {
            assert_int_not_equal(t[i].opcode, t[j].opcode);
            assert_string_not_equal(t[i].mnemonic, t[j].mnemonic);
        }
    }
    for (unsigned op = 0; op < 256; op++) {
        const floe_op_info *o = floe_op_lookup(op);
        if (o)
            assert_int_equal(o->opcode, op);
    }
    assert_null(floe_op_by_mnemonic("vmmx", 4));
    assert_string_equal(floe_unit_name(FLOE_UNIT_AFU), "afu");
    assert_string_equal(floe_unit_name(FLOE_UNIT_COUNT), "?");
    assert_int_equal(floe_dtype_bytes_for(FLOE_DT_I4, 3), 2);
    assert_int_equal(floe_dtype_bytes_for(FLOE_DT_I2, 5), 2);
    assert_int_equal(floe_dtype_bytes_for(FLOE_DT_I32, 3), 12);
}

static void roundtrip(const floe_insn *in)
{
    uint8_t w[16];
    floe_insn back;
    floe_err err;
    if (floe_insn_encode(in, w, &err) != 0)
        fail_msg("encode: %s", err.msg);
    assert_int_equal(w[0], in->op);
    assert_int_equal(w[1] & 7, in->thread);
    if (floe_insn_decode(w, &back, &err) != 0)
        fail_msg("decode: %s", err.msg);
    assert_memory_equal(&back, in, sizeof back);
}

/* Every instruction, every thread, each field at its minimum, its maximum and random values. */
static void test_every_instruction_roundtrips(void **state)
{
    (void)state;
    size_t n;
    const floe_op_info *t = floe_op_table(&n);
    floe_rng r;
    floe_rng_seed(&r, 1);
    for (size_t i = 0; i < n; i++) {
        for (int trial = 0; trial < 200; trial++) {
            floe_insn in;
            memset(&in, 0, sizeof in);
            in.op = t[i].opcode;
            in.thread = (uint8_t)(trial % FLOE_THREADS);
            for (int f = 0; f < t[i].nfields; f++)
                in.f[f] = isa_random_field(&r, t[i].fields[f].kind);
            roundtrip(&in);
        }
    }
}

static void test_golden_words(void **state)
{
    (void)state;
    uint8_t w[16];
    floe_err err;
    /* halt.t3: opcode 0x01, thread 3 in bits 8..10 */
    floe_insn halt = {FLOE_OP_HALT, 3, {0}};
    assert_int_equal(floe_insn_encode(&halt, w, &err), 0);
    const uint8_t halt_w[16] = {0x01, 0x03};
    assert_memory_equal(w, halt_w, 16);
    /* seti.t0 r1, -1: reg in bits 11..13, the 21-bit immediate in bits 14..34 */
    floe_insn seti = {FLOE_OP_SETI, 0, {1, -1}};
    assert_int_equal(floe_insn_encode(&seti, w, &err), 0);
    const uint8_t seti_w[16] = {0x03, 0xC8, 0xFF, 0xFF, 0x07};
    assert_memory_equal(w, seti_w, 16);
    /* vmm.t1 acc=5, x=0x10+r2, ...: acc in bits 11..26, x from bit 27 */
    floe_insn vmm = {FLOE_OP_VMM, 1, {FLOE_ACC(5, 0), FLOE_MEM(0x10, 2), 0, 0, 0, 0, 0, 0}};
    assert_int_equal(floe_insn_encode(&vmm, w, &err), 0);
    uint64_t lo = 0;
    for (int i = 0; i < 8; i++)
        lo |= (uint64_t)w[i] << (8 * i);
    assert_int_equal(lo, 0x10u | (1u << 8) | (5u << 11) | ((uint64_t)(0x10 | (2u << 21)) << 27));
}

static void test_encode_errors(void **state)
{
    (void)state;
    uint8_t w[16];
    floe_err err;
    floe_insn in = {FLOE_OP_VMM, 0, {0}};
    in.thread = 8;
    assert_int_equal(floe_insn_encode(&in, w, &err), -1);
    assert_non_null(strstr(err.msg, "thread 8"));
    in.thread = 0;
    in.f[3] = 65536; /* k: 16 bits */
    assert_int_equal(floe_insn_encode(&in, w, &err), -1);
    assert_non_null(strstr(err.msg, "field 'k'"));
    in.f[3] = 0;
    in.f[5] = FLOE_XP_COUNT;
    assert_int_equal(floe_insn_encode(&in, w, &err), -1);
    assert_non_null(strstr(err.msg, "field 'xp'"));
    floe_insn seti = {FLOE_OP_SETI, 0, {0, 5}}; /* r0 is not writable */
    assert_int_equal(floe_insn_encode(&seti, w, &err), -1);
    seti.f[0] = 1;
    seti.f[1] = 1 << 20; /* one past the signed 21-bit range */
    assert_int_equal(floe_insn_encode(&seti, w, &err), -1);
    floe_insn loop = {FLOE_OP_LOOP, 0, {1, 0, 0, 0}}; /* empty body */
    assert_int_equal(floe_insn_encode(&loop, w, &err), -1);
    floe_insn vmul = {FLOE_OP_VMUL, 0, {0, 0, 0, 0, 0, 63}}; /* shift 0..62 */
    assert_int_equal(floe_insn_encode(&vmul, w, &err), -1);
    floe_insn nop = {FLOE_OP_NOP, 0, {7}}; /* unused field not zero */
    assert_int_equal(floe_insn_encode(&nop, w, &err), -1);
    assert_non_null(strstr(err.msg, "unused field"));
    floe_insn bad = {0xFF, 0, {0}};
    assert_int_equal(floe_insn_encode(&bad, w, &err), -1);
    assert_non_null(strstr(err.msg, "unknown opcode 0xff"));
}

static void test_decode_refusals(void **state)
{
    (void)state;
    floe_insn out;
    floe_err err;
    /* every unassigned opcode */
    for (unsigned op = 0; op < 256; op++) {
        uint8_t w[16] = {(uint8_t)op};
        if (!floe_op_lookup(op)) {
            assert_int_equal(floe_insn_decode(w, &out, &err), -1);
            assert_non_null(strstr(err.msg, "unknown opcode"));
        }
    }
    /* every reserved bit of every instruction */
    size_t n;
    const floe_op_info *t = floe_op_table(&n);
    for (size_t i = 0; i < n; i++) {
        floe_insn in = {t[i].opcode, 0, {0}};
        for (int f = 0; f < t[i].nfields; f++)
            in.f[f] = t[i].fields[f].kind == FLOE_FK_REGW || t[i].fields[f].kind == FLOE_FK_BODY ? 1 : 0;
        uint8_t w[16];
        assert_int_equal(floe_insn_encode(&in, w, &err), 0);
        int used = 11;
        for (int f = 0; f < t[i].nfields; f++)
            used += floe_kind_lookup(t[i].fields[f].kind)->bits;
        for (int b = used; b < 128; b++) {
            uint8_t c[16];
            memcpy(c, w, 16);
            c[b / 8] ^= (uint8_t)(1u << (b % 8));
            assert_int_equal(floe_insn_decode(c, &out, &err), -1);
            assert_non_null(strstr(err.msg, "reserved bit"));
        }
    }
    /* an enumeration out of range: vsat's 'from' data type = 7 */
    floe_insn vsat = {FLOE_OP_VSAT, 0, {0, 0, 0, 0, 0}};
    uint8_t w[16];
    assert_int_equal(floe_insn_encode(&vsat, w, &err), 0);
    int from_bit = 11 + 24 + 24 + 16;
    for (int b = 0; b < 3; b++)
        w[(from_bit + b) / 8] |= (uint8_t)(1u << ((from_bit + b) % 8));
    assert_int_equal(floe_insn_decode(w, &out, &err), -1);
    assert_non_null(strstr(err.msg, "field 'from'"));
    /* seti with r0, loop with an empty body */
    uint8_t seti_r0[16] = {FLOE_OP_SETI};
    assert_int_equal(floe_insn_decode(seti_r0, &out, &err), -1);
    uint8_t loop0[16] = {FLOE_OP_LOOP};
    assert_int_equal(floe_insn_decode(loop0, &out, &err), -1);
    assert_non_null(strstr(err.msg, "field 'body'"));
}

/* Any 16 bytes either decode to an instruction that encodes back to them, or are refused. */
static void test_random_words(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 7);
    size_t n;
    const floe_op_info *t = floe_op_table(&n);
    int accepted = 0;
    for (int trial = 0; trial < 200000; trial++) {
        uint8_t w[16], back[16];
        for (int i = 0; i < 16; i++)
            w[i] = (uint8_t)floe_rng_below(&r, 256);
        w[0] = t[floe_rng_below(&r, n)].opcode;
        /* clear a random number of high bits, so that some words are canonical */
        int keep = (int)floe_rng_below(&r, 129);
        for (int b = keep; b < 128; b++)
            w[b / 8] &= (uint8_t)~(1u << (b % 8));
        floe_insn in;
        floe_err err;
        if (floe_insn_decode(w, &in, &err) == 0) {
            accepted++;
            assert_int_equal(floe_insn_encode(&in, back, &err), 0);
            assert_memory_equal(w, back, 16);
        }
    }
    assert_true(accepted > 1000);
}

/* docs/isa.md documents every instruction with its operands in encoding order. */
static void test_every_instruction_documented(void **state)
{
    (void)state;
    const char *src = getenv("FLOE_SOURCE_DIR");
    char path[4200];
    snprintf(path, sizeof path, "%s/docs/isa.md", src ? src : ".");
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char doc[1 << 17];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    doc[n] = '\0';
    fclose(f);
    size_t nops;
    const floe_op_info *t = floe_op_table(&nops);
    for (size_t i = 0; i < nops; i++) {
        char want[256];
        size_t u = (size_t)snprintf(want, sizeof want, "`%s", t[i].mnemonic);
        for (int k = 0; k < t[i].nfields; k++)
            u += (size_t)snprintf(want + u, sizeof want - u, "%s%s", k ? ", " : " ", t[i].fields[k].name);
        snprintf(want + u, sizeof want - u, "` (0x%02X)", t[i].opcode);
        if (!strstr(doc, want))
            fail_msg("docs/isa.md does not document %s", want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_invariants),
        cmocka_unit_test(test_every_instruction_roundtrips),
        cmocka_unit_test(test_golden_words),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_decode_refusals),
        cmocka_unit_test(test_random_words),
        cmocka_unit_test(test_every_instruction_documented),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
