/* The assembler and disassembler: exact round trips over random programs, the accepted syntax, and
 * every error path with its line:column. */
#include "tests/test_util.h"

#include "isa/asm.h"
#include "isa/container.h"
#include "tests/isa/isa_random.h"

static const uint64_t FP = 0xfeedULL;

static floe_program *assemble_ok(const char *src)
{
    floe_program *p;
    floe_err err;
    if (floe_asm(src, strlen(src), "t.s", &FP, &p, &err) != 0)
        fail_msg("assemble: %s", err.msg);
    return p;
}

/* Assembling src fails with exactly `msg` (the whole message, position included). */
static void assemble_fails(const char *src, const char *msg)
{
    floe_program *p = (floe_program *)1;
    floe_err err;
    int rc = floe_asm(src, strlen(src), "t.s", &FP, &p, &err);
    if (rc == 0)
        fail_msg("assembled, but expected: %s\n--- source:\n%s", msg, src);
    assert_null(p);
    if (strcmp(err.msg, msg) != 0)
        fail_msg("expected: %s\n     got: %s", msg, err.msg);
}

static char *disasm_text(const floe_program *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    floe_err err;
    if (floe_disasm(p, f, &err) != 0)
        fail_msg("disasm: %s", err.msg);
    fclose(f);
    return buf;
}

static void bytes_of(const floe_program *p, uint8_t **b, size_t *n)
{
    floe_err err;
    if (floe_program_write(p, b, n, &err) != 0)
        fail_msg("write: %s", err.msg);
}

/* builder -> container -> load -> disasm -> asm -> container: identical bytes; and the text is a
 * fixed point. */
static void test_random_roundtrip(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 2026);
    for (int i = 0; i < 300; i++) {
        floe_err err;
        floe_program *p = isa_random_program(&r, &err);
        if (!p)
            fail_msg("random program: %s", err.msg);
        uint8_t *b1, *b2;
        size_t n1, n2;
        bytes_of(p, &b1, &n1);
        floe_program *loaded;
        if (floe_program_read(b1, n1, NULL, &loaded, &err) != 0)
            fail_msg("read: %s", err.msg);
        char *text = disasm_text(loaded);
        floe_program *again;
        if (floe_asm(text, strlen(text), "rt.s", NULL, &again, &err) != 0)
            fail_msg("reassemble: %s\n%s", err.msg, text);
        bytes_of(again, &b2, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(b1, b2, n1);
        char *text2 = disasm_text(again);
        assert_string_equal(text, text2);
        free(text);
        free(text2);
        free(b1);
        free(b2);
        floe_program_free(p);
        floe_program_free(loaded);
        floe_program_free(again);
    }
}

static void test_syntax(void **state)
{
    (void)state;
    floe_program *p = assemble_ok("; a comment line\n"
                                  "# another\n"
                                  ".fingerprint 0xfeed\n"
                                  ".framebuffer\n"
                                  ".region kv, 0x1000, 0x100\n"
                                  ".core 2, 3   ; trailing comment\n"
                                  ".region a, 16, 64\n"
                                  ".region b, a+64, 32\n"
                                  ".data b+1\n"
                                  ".bytes 0A0b ff\n"
                                  ".bytes 10\n"
                                  "start: halt\n"
                                  "\tloop.t5 3, .Lend, r2, -8\n"
                                  "  vadd.t5 b+4+r2, a - 16 + 2, 0x10, 7, i16\n"
                                  ".Lend:\n"
                                  "fbld.t1 a, kv+8, 16\r\n"
                                  "vmm.t7 4+r3, a, b, 1, 2, i16, i2, add\n");
    floe_core_code *cc = floe_program_core(p, 2, 3, 0);
    assert_non_null(cc);
    assert_int_equal(cc->n, 5);
    assert_int_equal(cc->insns[0].op, FLOE_OP_HALT);
    assert_int_equal(cc->insns[0].thread, 0);
    assert_int_equal(cc->insns[1].thread, 5);
    assert_int_equal(cc->insns[1].f[0], 3);
    assert_int_equal(cc->insns[1].f[1], 1);
    assert_int_equal(cc->insns[1].f[2], 2);
    assert_int_equal(cc->insns[1].f[3], -8);
    assert_int_equal(cc->insns[2].f[0], FLOE_MEM(80 + 4, 2));
    assert_int_equal(cc->insns[2].f[1], FLOE_MEM(2, 0));
    assert_int_equal(cc->insns[2].f[4], FLOE_DT_I16);
    assert_int_equal(cc->insns[3].f[1], 0x1008);
    assert_int_equal(cc->insns[4].f[0], FLOE_ACC(4, 3));
    assert_int_equal(cc->insns[4].f[5], FLOE_XP_I16);
    assert_int_equal(cc->insns[4].f[6], FLOE_WP_I2);
    assert_int_equal(p->nimages, 1);
    assert_int_equal(p->images[0].addr, 81);
    assert_int_equal(p->images[0].len, 4);
    assert_int_equal(p->images[0].bytes[3], 0x10);
    /* ".L" labels stay in the assembler; others are symbols */
    assert_non_null(floe_program_symbol(p, 2, 3, "start", 5));
    assert_null(floe_program_symbol(p, 2, 3, ".Lend", 5));
    char buf[200];
    floe_insn_format(&cc->insns[2], p, 2, 3, buf, sizeof buf);
    assert_string_equal(buf, "vadd.t5 b+0x4+r2, 0x2, a, 7, i16");
    floe_program_free(p);
    /* no fingerprint at all; the directive alone is enough */
    floe_err err;
    assert_int_equal(floe_asm("", 0, "e.s", NULL, &p, &err), -1);
    assert_string_equal(err.msg, "e.s: no machine fingerprint: add a .fingerprint directive or give one");
    assert_int_equal(floe_asm(".fingerprint 0xffffffffffffffff\n", 32, "e.s", NULL, &p, &err), 0);
    assert_int_equal(p->fingerprint, UINT64_MAX);
    floe_program_free(p);
}

/* The disassembler's text, pinned: what users read and what tools may grep. */
static void test_disasm_golden(void **state)
{
    (void)state;
    floe_program *p = assemble_ok(".framebuffer\n.region kv, 0x1000, 256\n.data 0x1000\n.bytes 0102\n"
                                  ".core 1, 2\n.region x, 0x100, 64\nhead:\n  loop.t3 2, .Lb, r1, 4\n"
                                  "  fbld.t3 x+8+r1, kv+16, 4\n.Lb:\n  psend.t3 7+r2, 3, w, 15\n");
    char *text = disasm_text(p);
    assert_string_equal(text, "; Floe program: 1 core(s) with code, 3 instruction(s), 1 image(s), 3 symbol(s)\n"
                              ".fingerprint 0x000000000000feed\n"
                              "\n.framebuffer\n.region kv, 0x1000, 256\n.data 0x1000\n.bytes 0102\n"
                              "\n.core 1, 2\n.region x, 0x100, 64\n"
                              "head:\n"
                              "    loop.t3 2, .L2, r1, 4\n"
                              "    fbld.t3 x+0x8+r1, kv+0x10, 4\n"
                              ".L2:\n"
                              "    psend.t3 7+r2, 3, w, 15\n");
    free(text);
    char buf[128];
    floe_insn_format(&floe_program_core(p, 1, 2, 0)->insns[1], NULL, 1, 2, buf, sizeof buf);
    assert_string_equal(buf, "fbld.t3 0x108+r1, 0x1010, 4");
    floe_program_free(p);
}

static void test_errors(void **state)
{
    (void)state;
    assemble_fails("halt\n", "t.s:1:1: instruction outside a .core section");
    assemble_fails(".core 0, 0\n  foo r1\n", "t.s:2:3: unknown instruction 'foo'");
    assemble_fails(".core 0, 0\nseti.t0 r1 5\n", "t.s:2:12: expected ',', got '5'");
    assemble_fails(".core 0, 0\nseti.t0 r0, 5\n",
                   "t.s:2:9: expected operand 'reg' of seti: writable register r1..r7, got 'r0'");
    assemble_fails(".core 0, 0\naccclr.t0 0, 70000\n",
                   "t.s:2:14: operand 'n' of accclr: 70000 is out of range (element count 0..65535)");
    assemble_fails(".core 0, 0\nvmm.t0 0, 0, 0, 1, 1, i9, i4, set\n",
                   "t.s:2:23: expected operand 'xp' of vmm: activation precision i4, i8 or i16, got 'i9'");
    assemble_fails(".core 0, 0\nvmm.t0 0, 0, 0, 1, 1, i8, i4\n",
                   "t.s:2:29: expected ',', got end of line");
    assemble_fails(".core 0, 0\nhalt.t0 extra\n", "t.s:2:9: expected end of line, got 'extra'");
    assemble_fails(".core 0, 0\nhalt.t8\n", "t.s:2:6: thread t8 out of range t0..t7");
    assemble_fails(".core 0, 0\nhalt.x1\n", "t.s:2:5: expected a thread suffix .t0 to .t7 after the mnemonic");
    assemble_fails(".core 0, 0\ncopy.t0 nowhere, 0, 4\n", "t.s:2:9: 'nowhere' is not a region defined in this .core");
    assemble_fails(".core 0, 0\ncopy.t0 0+r1+r2, 0, 4\n", "t.s:2:14: operand 'dst' of copy: memory operand "
                                                          "(address expression, optionally +rN) takes at most one register, added");
    assemble_fails(".core 0, 0\ncopy.t0 0-r1, 0, 4\n", "t.s:2:11: operand 'dst' of copy: memory operand "
                                                      "(address expression, optionally +rN) takes at most one register, added");
    assemble_fails(".core 0, 0\ncopy.t0 -4, 0, 4\n", "t.s:2:9: operand 'dst' of copy: -4 is out of range 0..2097151");
    assemble_fails(".core 0, 0\ncopy.t0 0x200000, 0, 4\n",
                   "t.s:2:9: operand 'dst' of copy: 2097152 is out of range 0..2097151");
    assemble_fails(".core 0, 0\nfill.t0 0, 4, 99999999999999999999\n", "t.s:2:15: number too large");
    assemble_fails(".core 0, 0\nfill.t0 0, 4, 0x\n", "t.s:2:15: expected a hexadecimal number, got '0x'");
    assemble_fails(".core 0, 0\nfill.t0 0, 4, 12ab\n", "t.s:2:15: expected a number, got '12ab'");
    assemble_fails(".core 0, 0\nseti.t0 r1, r2\n", "t.s:2:13: a register is not allowed in operand 'imm' of seti: "
                                                  "signed immediate -1048576..1048575");
    assemble_fails(".core 0, 0\nloop.t0 2, nowhere, r0, 0\nhalt.t0\n",
                   "t.s:2:12: undefined label 'nowhere' in core (0, 0)");
    assemble_fails(".core 0, 0\nloop.t0 2, e, r0, 0\ne:\n",
                   "t.s:2:12: the loop body up to label 'e' has 0 instructions; expected 1..1023 (the label goes "
                   "after the body)");
    assemble_fails(".core 0, 0\nloop.t0 2, e, r0, 0\nnop.t0\nnop.t1\ne:\n",
                   "t.s:4:1: core (0, 0) instruction 2: in the body of the loop at 0 (thread 0) but on thread 1");
    assemble_fails(".core 0, 0\nloop.t0 2, 5, r0, 0\nnop.t0\n",
                   "t.s:2:1: core (0, 0) instruction 0: loop body of 5 runs past the end of the stream (2 instructions)");
    assemble_fails(".core 0, 0\na:\na: halt\n", "t.s:3:1: symbol 'a' is already defined here");
    assemble_fails(".core 0, 0\n.Lx:\n.Lx:\n", "t.s:3:1: label '.Lx' is already defined in this core");
    assemble_fails(".core 0, 0\na: b:\n", "t.s:2:4: one label per line");
    assemble_fails(".core 0, 0\nr1:\n", "t.s:2:1: 'r1' is not a valid label name");
    assemble_fails(".framebuffer\nx:\n", "t.s:2:1: label outside a .core section");
    assemble_fails(".core 0, 0\n.region r3, 0, 4\n", "t.s:2:9: 'r3' is a register name, not usable for a region");
    assemble_fails(".core 0, 0\n.region 9a, 0, 4\n", "t.s:2:9: expected a region name, got '9a'");
    assemble_fails(".core 0, 0\n.region a, 0, 4\n.region a, 8, 4\n", "t.s:3:9: symbol 'a' is already defined here");
    assemble_fails(".core 0, 0\n.region a, 0x1ffff0, 0x20\n",
                   "t.s:2:9: region 'a': 0x1ffff0 + 32 runs past the end of the address space");
    assemble_fails(".core 0, 0\n.region a, -1, 4\n", "t.s:2:16: region 'a': base or size out of range");
    assemble_fails(".region a, 0, 4\n", "t.s:1:1: .region outside a .core or .framebuffer section");
    assemble_fails(".core 256, 0\n", "t.s:1:7: core x coordinate: 256 is out of range 0..255");
    assemble_fails(".core 1\n", "t.s:1:8: expected ',', got end of line");
    assemble_fails(".core 1, x\n", "t.s:1:10: expected core y coordinate, got 'x'");
    assemble_fails(".cores 1, 1\n", "t.s:1:1: unknown directive '.cores' (expected .fingerprint, .core, "
                                    ".framebuffer, .region, .data or .bytes)");
    assemble_fails(".core 0, 0\n.bytes 00\n", "t.s:2:1: .bytes without a preceding .data");
    assemble_fails(".core 0, 0\n.data 0\n.bytes 0\n", "t.s:3:9: expected the second hex digit of a byte, got end of line");
    assemble_fails(".core 0, 0\n.data 0\n.bytes zz\n", "t.s:3:8: expected hexadecimal bytes (pairs of hex digits), got 'zz'");
    assemble_fails(".core 0, 0\n.data 0\n.bytes\n", "t.s:3:7: expected hexadecimal bytes, got end of line");
    assemble_fails(".core 0, 0\n.data 0\n.core 1, 1\n", "t.s:2:1: .data without .bytes");
    assemble_fails(".core 0, 0\n.data 0\n.bytes 0000\n.data 1\n.bytes 00\n",
                   "t.s:4:1: image at 0x1 overlaps the image at 0x0");
    assemble_fails(".core 0, 0\n.data 0x1fffff\n.bytes 0000\n",
                   "t.s:2:1: image at 0x1fffff: 2 bytes run past the end of the address space (0x200000)");
    assemble_fails(".fingerprint 0x1\n", "t.s:1:14: fingerprint 0000000000000001 differs from the one given "
                                         "(000000000000feed)");
    assemble_fails(".fingerprint 0x12345678123456789\n",
                   "t.s:1:14: expected a 64-bit fingerprint (0x followed by up to 16 hex digits), got "
                   "'0x12345678123456789'");
    assemble_fails(".fingerprint\n",
                   "t.s:1:13: expected a 64-bit fingerprint (0x followed by up to 16 hex digits), got end of line");
    assemble_fails(".core 0, 0\n  , halt\n", "t.s:2:3: expected a label, a directive or an instruction, got ''");
    assemble_fails(".core 0, 0\n\x01\n", "t.s:2:1: unexpected byte 0x01; expected a label, a directive or an "
                                         "instruction");
    assemble_fails(".core 0, 0\nloop.t0 1, 9x, r0, 0\n", "t.s:2:12: expected a number, got '9x'");
    assemble_fails(".core 0, 0\nlut16.t0 0, 0, 0, 4\n", "t.s:2:20: expected ',', got end of line");
    assemble_fails(".core 0, 0\npsend.t0 0, 4, up, 0\n",
                   "t.s:2:16: expected operand 'dir' of psend: direction n, e, s or w, got 'up'");
    /* a NUL byte inside the text (the length, not a terminator, bounds the input) */
    floe_program *p;
    floe_err err;
    assert_int_equal(floe_asm(".core 0, 0\n\0halt\n", 17, "t.s", &FP, &p, &err), -1);
    assert_string_equal(err.msg, "t.s:2:1: unexpected byte 0x00; expected a label, a directive or an instruction");
}

static void test_builder_errors(void **state)
{
    (void)state;
    floe_program *p = floe_program_new(1);
    floe_err err;
    assert_int_equal(floe_emit_op(p, 0, 0, FLOE_OP_VMM, 0, (const int64_t[]){0}, 1, &err), -1);
    assert_string_equal(err.msg, "emit: vmm takes 8 fields, got 1");
    assert_int_equal(floe_emit_op(p, 0, 0, (floe_opcode)0xEE, 0, NULL, 0, &err), -1);
    assert_int_equal(floe_emit_op(p, 0, 0, FLOE_OP_HALT, 9, NULL, 0, &err), -1);
    assert_int_equal(floe_emit_op(p, 256, 0, FLOE_OP_HALT, 0, NULL, 0, &err), -1);
    assert_int_equal(floe_emit_op(p, 0, 0, FLOE_OP_ACCCLR, 0, (const int64_t[]){0, -1}, 2, &err), -1);
    assert_int_equal(floe_here(p, 0, 0), 0);
    size_t h;
    assert_int_equal(floe_loop_end(p, 0, 0, 0, &err), -1);
    assert_int_equal(floe_loop_begin(p, 0, 0, 1, 4, 0, 0, &h, &err), 0);
    assert_int_equal(floe_loop_end(p, 0, 0, h, &err), -1); /* empty body */
    assert_non_null(strstr(err.msg, "has 0 instructions"));
    assert_int_equal(floe_emit_op(p, 0, 0, FLOE_OP_NOP, 2, NULL, 0, &err), 0);
    assert_int_equal(floe_loop_end(p, 0, 0, h, &err), -1); /* another thread */
    assert_non_null(strstr(err.msg, "thread 2"));
    assert_int_equal(floe_label(p, 0, 0, ".Lx", &err), -1);
    assert_int_equal(floe_label(p, 0, 0, "r7", &err), -1); /* a register in assembly */
    assert_int_equal(floe_region(p, 0, 0, "r0", 0, 1, &err), -1);
    assert_int_equal(floe_region(p, 0, 0, "r8", 0, 1, &err), 0);
    assert_int_equal(floe_label(p, 0, 0, "ok", &err), 0);
    assert_int_equal(floe_label(p, 0, 0, "ok", &err), -1);
    assert_int_equal(floe_label(p, FLOE_FB, FLOE_FB, "fb", &err), -1);
    assert_int_equal(floe_region(p, 300, 0, "x", 0, 1, &err), -1);
    assert_int_equal(floe_region(p, FLOE_FB, FLOE_FB, "big", 0xFFFFFF00u, 0x100, &err), 0);
    assert_int_equal(floe_region(p, FLOE_FB, FLOE_FB, "big2", 0xFFFFFF00u, 0x101, &err), -1);
    char longname[80];
    memset(longname, 'a', sizeof longname - 1);
    longname[79] = '\0';
    assert_int_equal(floe_region(p, 0, 0, longname, 0, 1, &err), -1);
    assert_int_equal(floe_data(p, 0, 0, 0, "x", 0, &err), -1);
    assert_int_equal(floe_data(p, 0, 0, 8, "abcd", 4, &err), 0);
    assert_int_equal(floe_data(p, 0, 0, 4, "abcde", 5, &err), -1);
    assert_int_equal(floe_data(p, 0, 0, 11, "x", 1, &err), -1);
    assert_int_equal(floe_data(p, 0, 0, 12, "x", 1, &err), 0);
    /* the unclosed loop's placeholder body holds the thread-2 nop: the program does not validate */
    uint8_t *b;
    size_t n;
    assert_int_equal(floe_program_write(p, &b, &n, &err), -1);
    assert_string_equal(err.msg, "core (0, 0) instruction 1: in the body of the loop at 0 (thread 1) but on thread 2");
    assert_null(b);
    floe_program_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_roundtrip),
        cmocka_unit_test(test_syntax),
        cmocka_unit_test(test_disasm_golden),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_builder_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
