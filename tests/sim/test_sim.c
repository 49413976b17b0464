/* The simulator: random programs against the reference interpreter, timing, networks, threads,
 * synchronisation, faults, deadlock, statistics. */
#include "tests/sim/sim_test_util.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/file_read.h"
#include "common/rng.h"
#include "isa/builder.h"
#include "isa/elem.h"
#include "isa/numerics.h"
#include "tests/sim/ref_interp.h"

/* ---- random programs vs the reference interpreter ------------------------------------------- */

#define DATA_END 0x8000u
#define MULTS 0x8000u /* 256 valid multipliers */
#define LUT16_AT 0xA000u
#define LUT8_AT 0xA800u
#define MEMSZ 65536u

static uint64_t rnd(floe_rng *r, uint64_t lo, uint64_t hi) { return (uint64_t)floe_rng_range(r, (int64_t)lo, (int64_t)hi); }

/* A data-region address for `bytes` bytes, leaving room for `span` bytes of register offset. */
static int64_t data_at(floe_rng *r, uint64_t bytes, uint64_t span)
{
    return (int64_t)rnd(r, 0, DATA_END - bytes - span);
}

static void emit(floe_program *p, floe_opcode op, const int64_t *f, size_t nf)
{
    floe_err err;
    if (floe_emit_op(p, 0, 0, op, 0, f, nf, &err) != 0)
        fail_msg("%s", err.msg);
}

/* One random core-local instruction whose operands all fit, with register r1 adding up to `span`. */
static void random_local(floe_rng *r, floe_program *p, unsigned reg, uint64_t span)
{
    int64_t R = (int64_t)reg << FLOE_MEM_ADDR_BITS;
    floe_dtype dt = (floe_dtype)rnd(r, 0, 4);
    uint64_t n = rnd(r, 0, 48);
    uint64_t nb = floe_dtype_bytes_for(dt, n);
    int kind = (int)rnd(r, 0, 21);
    switch (kind) {
    case 0: case 1: { /* vmm */
        int64_t xp = (int64_t)rnd(r, 0, 2), wp = (int64_t)rnd(r, 0, 2);
        floe_dtype xd = xp == 0 ? FLOE_DT_I4 : xp == 1 ? FLOE_DT_I8 : FLOE_DT_I16;
        floe_dtype wd = wp == 0 ? FLOE_DT_I2 : wp == 1 ? FLOE_DT_I4 : FLOE_DT_I8;
        uint64_t k = rnd(r, 0, 96), m = rnd(r, 0, 40);
        int64_t f[8] = {(int64_t)rnd(r, 0, 8192 - m), data_at(r, floe_dtype_bytes_for(xd, k), span) | R,
                        data_at(r, m * floe_dtype_bytes_for(wd, k), span) | R, (int64_t)k, (int64_t)m, xp, wp,
                        (int64_t)rnd(r, 0, 1)};
        if (kind == 0) {
            emit(p, FLOE_OP_VMM, f, 8);
            break;
        }
        /* vmmr: up to 4 rows, row r at x + r * r[reg] (the loop's stride, or r0: the same row) */
        int64_t rows = (int64_t)rnd(r, 0, 4), acc0 = (int64_t)rnd(r, 0, 8192 - m * (uint64_t)(rows ? rows : 1));
        int64_t g[10] = {acc0,         data_at(r, floe_dtype_bytes_for(xd, k), span * (uint64_t)(rows ? rows : 1)),
                         f[2],         f[3],
                         f[4],         rows,
                         (int64_t)reg, xp,
                         wp,           f[7]};
        emit(p, FLOE_OP_VMMR, g, 10);
        break;
    }
    case 2: { int64_t f[2] = {(int64_t)rnd(r, 0, 8192 - n), (int64_t)n}; emit(p, FLOE_OP_ACCCLR, f, 2); break; }
    case 3: case 4: case 5: {
        floe_opcode op = kind == 3 ? FLOE_OP_VADD : kind == 4 ? FLOE_OP_VMUL : FLOE_OP_VMAX;
        int64_t f[6] = {data_at(r, nb, span) | R, data_at(r, nb, span), data_at(r, nb, span) | R, (int64_t)n, dt,
                        (int64_t)rnd(r, 0, 62)};
        emit(p, op, f, op == FLOE_OP_VMUL ? 6 : 5);
        break;
    }
    case 6: {
        int64_t f[5] = {data_at(r, nb, span), data_at(r, nb, span) | R, (int64_t)n, dt, (int64_t)rnd(r, 0, 80) - 40};
        emit(p, FLOE_OP_VSHIFT, f, 5);
        break;
    }
    case 7: {
        floe_dtype to = (floe_dtype)rnd(r, 0, 4);
        int64_t f[5] = {data_at(r, floe_dtype_bytes_for(to, n), span) | R, data_at(r, nb, span), (int64_t)n, dt, to};
        emit(p, FLOE_OP_VSAT, f, 5);
        break;
    }
    case 8: {
        floe_opcode op = (floe_opcode)(FLOE_OP_VSUM + rnd(r, 0, 2));
        int64_t f[4] = {data_at(r, 8, span) | R, data_at(r, nb, span), (int64_t)n, dt};
        emit(p, op, f, 4);
        break;
    }
    case 9: case 10: {
        int pc = (int)rnd(r, 0, 1);
        floe_opcode op = kind == 9 ? FLOE_OP_REQUANT : FLOE_OP_VREQUANT;
        int64_t src = kind == 9 ? (int64_t)rnd(r, 0, 8192 - n) : data_at(r, 4 * n, span);
        int64_t f[6] = {data_at(r, nb, span) | R, src, MULTS + 8 * (int64_t)rnd(r, 0, 256 - n - 1), (int64_t)n, dt, pc};
        emit(p, op, f, 6);
        break;
    }
    case 11: {
        int64_t f[5] = {data_at(r, 8 * n, span) | R, MULTS + 8 * (int64_t)rnd(r, 0, 256 - n - 1),
                        MULTS + 8 * (int64_t)rnd(r, 0, 256 - n - 1), (int64_t)n, (int64_t)rnd(r, 0, 1)};
        emit(p, FLOE_OP_MULTMUL, f, 5);
        break;
    }
    case 12: {
        int64_t f[3] = {data_at(r, 4 * n, span) | R, (int64_t)rnd(r, 0, 8192 - n), (int64_t)n};
        emit(p, FLOE_OP_ACCST, f, 3);
        break;
    }
    case 13: {
        int64_t f[3] = {(int64_t)rnd(r, 0, 8192 - n), data_at(r, 4 * n, span) | R, (int64_t)n};
        emit(p, FLOE_OP_ACCLD, f, 3);
        break;
    }
    case 14: {
        int64_t f[4] = {data_at(r, 2 * n, span) | R, data_at(r, n, span), LUT8_AT, (int64_t)n};
        emit(p, FLOE_OP_LUT8, f, 4);
        break;
    }
    case 15: {
        int64_t f[5] = {data_at(r, nb, span) | R, data_at(r, 2 * n, span), LUT16_AT, (int64_t)n, dt};
        emit(p, FLOE_OP_LUT16, f, 5);
        break;
    }
    case 16: {
        floe_opcode op = (floe_opcode)(FLOE_OP_EXP2 + rnd(r, 0, 3)); /* exp2 softmax recip rsqrt */
        int64_t f[3] = {data_at(r, 8 * n, span) | R, data_at(r, 8 * n, span), (int64_t)n};
        emit(p, op, f, 3);
        break;
    }
    case 17: {
        int pc = (int)rnd(r, 0, 1);
        int64_t f[7] = {data_at(r, nb, span) | R, data_at(r, 2 * n, span), MULTS + 8 * (int64_t)rnd(r, 0, 256 - n - 1),
                        data_at(r, 8, span), (int64_t)n, dt, pc};
        emit(p, FLOE_OP_RMSNORM, f, 7);
        break;
    }
    case 18: {
        uint64_t h = n / 2;
        int64_t f[5] = {data_at(r, 4 * h, span) | R, data_at(r, 4 * h, span), data_at(r, 2 * h, span),
                        data_at(r, 2 * h, span), (int64_t)(2 * h)};
        emit(p, FLOE_OP_ROPE, f, 5);
        break;
    }
    case 19: {
        uint64_t b = rnd(r, 0, 300);
        int64_t f[3] = {data_at(r, b, span) | R, data_at(r, b, span), (int64_t)b};
        emit(p, FLOE_OP_COPY, f, 3);
        break;
    }
    case 20: {
        uint64_t b = rnd(r, 0, 300);
        int64_t f[3] = {data_at(r, b, span) | R, (int64_t)b, (int64_t)rnd(r, 0, 255)};
        emit(p, FLOE_OP_FILL, f, 3);
        break;
    }
    default: {
        uint64_t b = rnd(r, 1, 300), fb = rnd(r, 0, 4096);
        int ld = (int)rnd(r, 0, 1);
        int64_t f[3] = {ld ? data_at(r, b, span) | R : (int64_t)fb, ld ? (int64_t)fb : data_at(r, b, span) | R, (int64_t)b};
        emit(p, ld ? FLOE_OP_FBLD : FLOE_OP_FBST, f, 3);
        break;
    }
    }
}

static void fill_memory(floe_rng *r, uint8_t *mem)
{
    for (size_t i = 0; i < MEMSZ; i++)
        mem[i] = (uint8_t)floe_rng_u64(r);
    for (int i = 0; i < 256; i++) {
        floe_requant_mult q;
        floe_requant_mult_from_real(ldexp(1.0 + floe_rng_uniform(r), (int)floe_rng_range(r, -30, 20)), &q);
        floe_elem_store(mem + MULTS + 8 * i, FLOE_DT_I32, 0, q.m);
        floe_elem_store(mem + MULTS + 8 * i, FLOE_DT_I32, 1, q.shift);
    }
    floe_lut16 L;
    floe_silu_lut16_build(&L, 1.0 / 2048, 1.0 / 2048, 16);
    for (int i = 0; i < 257; i++)
        floe_elem_store(mem + LUT16_AT, FLOE_DT_I32, (size_t)i, L.v[i]);
    floe_elem_store(mem + LUT16_AT, FLOE_DT_I32, 257, L.lo);
    floe_elem_store(mem + LUT16_AT, FLOE_DT_I32, 258, L.hi);
}

static void test_random_programs_match_reference(void **state)
{
    (void)state;
    floe_machine m;
    load_config("small", &m, NULL);
    floe_rng r;
    floe_rng_seed(&r, 91);
    static uint8_t mem[MEMSZ], fbimg[4096 + 300];
    static ref_core ref;
    static uint8_t refmem[MEMSZ], reffb[262144];
    for (int prog = 0; prog < 120; prog++) {
        fill_memory(&r, mem);
        for (size_t i = 0; i < sizeof fbimg; i++)
            fbimg[i] = (uint8_t)floe_rng_u64(&r);
        floe_program *p = floe_program_new(floe_machine_fingerprint(&m));
        floe_err err;
        assert_int_equal(floe_program_add_image(p, 0, 0, 0, mem, MEMSZ, &err), 0);
        assert_int_equal(floe_program_add_image(p, FLOE_FB, FLOE_FB, 0, fbimg, sizeof fbimg, &err), 0);
        int len = (int)rnd(&r, 1, 40);
        for (int i = 0; i < len; i++) {
            if (rnd(&r, 0, 5) == 0) { /* a loop over a few instructions, striding r1 */
                uint32_t count = (uint32_t)rnd(&r, 0, 3), body = (uint32_t)rnd(&r, 1, 3);
                int64_t stride = (int64_t)rnd(&r, 0, 64);
                int64_t z[2] = {1, 0};
                emit(p, FLOE_OP_SETI, z, 2);
                size_t h;
                assert_int_equal(floe_loop_begin(p, 0, 0, 0, count, 1, (int32_t)stride, &h, &err), 0);
                for (uint32_t b = 0; b < body; b++)
                    random_local(&r, p, 1, (uint64_t)stride * (count ? count - 1 : 0));
                assert_int_equal(floe_loop_end(p, 0, 0, h, &err), 0);
            } else {
                random_local(&r, p, 0, 0);
            }
        }
        /* the reference */
        memcpy(refmem, mem, MEMSZ);
        memset(reffb, 0, sizeof reffb);
        memcpy(reffb, fbimg, sizeof fbimg);
        memset(&ref, 0, sizeof ref);
        ref.mem = refmem;
        ref.mem_bytes = MEMSZ;
        ref.fb = reffb;
        ref.fb_bytes = sizeof reffb;
        floe_core_code *cc = floe_program_core(p, 0, 0, 0);
        assert_int_equal(ref_run(&ref, cc), 0);
        /* the simulator */
        floe_sim *s;
        assert_int_equal(floe_sim_new(&s, &m, NULL, &err), 0);
        assert_int_equal(floe_sim_load(s, p, &err), 0);
        if (floe_sim_run(s, NULL, &err) != 0)
            fail_msg("program %d: %s", prog, err.msg);
        floe_memory *sm = floe_sim_memory(s, 0, 0);
        if (memcmp(sm->bytes, refmem, MEMSZ) != 0) {
            size_t i = 0;
            while (sm->bytes[i] == refmem[i])
                i++;
            fail_msg("program %d: memory differs from the reference at 0x%zx", prog, i);
        }
        assert_memory_equal(floe_sim_accumulators(s, 0, 0), ref.acc, sizeof ref.acc);
        assert_memory_equal(floe_sim_memory(s, FLOE_FB, FLOE_FB)->bytes, reffb, sizeof reffb);
        floe_sim_free(s);
        floe_program_free(p);
    }
}

/* ---- timing ------------------------------------------------------------------------------------ */

static void test_vmm_timing(void **state)
{
    (void)state;
    /* small machine: 64 MACs/cycle at w4a8, vmm latency 4, instruction network 8 bytes/cycle, 1 cycle/hop */
    const char *text = ".core 0, 0\n"
                       ".data 0\n.bytes 01ff0203\n"
                       ".data 64\n.bytes 1234\n"
                       "    fill 4, 60, 1\n"
                       "    fill 66, 510, 0x21\n"
                       "    vmm 0, 0, 64, 64, 16, i8, i4, set\n"
                       "    halt\n";
    floe_sim *s;
    floe_program *p;
    floe_err err;
    assert_int_equal(sim_text("small", text, NULL, &s, &p, &err), 0);
    const floe_sim_result *R = floe_sim_result_get(s);
    /* load: 4 instructions x 16 bytes / 8 = 8 cycles + 1 hop = 9; fill 60 bytes: 4 cycles (16 B/cycle)
     * + latency 2 on the mem unit; fill 510: 32 + 2; vmm: 64 x 16 / 64 = 16 cycles of MACs, but it
     * reads 64 + 512 bytes from SRAM at 16 B/cycle: 36 cycles, + latency 4 */
    assert_int_equal(R->load_cycles, 9);
    assert_int_equal(R->cycles, 9 + (4 + 2) + (32 + 2) + (36 + 4));
    assert_int_equal(R->actions.macs[FLOE_PREC_W4A8], 64 * 16);
    /* result: row j of W is bytes 0x12 0x34 then 0x21 repeated (i4 pairs), x = 1, -1, 2, 3, then 1s */
    int8_t x[64], w[64];
    uint8_t *M = floe_sim_memory(s, 0, 0)->bytes;
    for (int i = 0; i < 64; i++)
        x[i] = (int8_t)M[i];
    for (int j = 0; j < 16; j++) {
        for (int i = 0; i < 64; i++)
            w[i] = (int8_t)floe_elem_load(M + 64 + 32 * j, FLOE_DT_I4, (size_t)i);
        int32_t want = 0;
        floe_vmm_i8_i8_ref(&want, x, w, 64, 1);
        assert_int_equal(floe_sim_accumulators(s, 0, 0)[j], want);
    }
    assert_true(R->have_energy && R->energy.mac_j > 0 && R->energy.static_j > 0);
    floe_sim_free(s);
    floe_program_free(p);
}

/* A machine whose core memories cannot all be allocated: a clean error, not a use of the freed
 * cores (seen: 256 x 256 cores of 4 GiB, each value within its documented range, made floe sim
 * crash). In a child with a 1 GiB address-space limit; not under AddressSanitizer, whose shadow
 * memory needs more address space than that. */
static void test_machine_too_big_for_the_host(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip();
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    skip();
#endif
#endif
    floe_machine m;
    load_config("northpole", &m, NULL);
    m.cores_x = m.cores_y = 256;
    m.core_mem_bytes = 1ull << 32;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {1ull << 30, 1ull << 30};
        setrlimit(RLIMIT_AS, &rl);
        floe_sim *s = NULL;
        floe_err err;
        int rc = floe_sim_new(&s, &m, NULL, &err);
        _exit(rc == -1 && s == NULL && strstr(err.msg, "host address space") ? 0 : 3);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* A machine that fits the address-space limit but not what the process has left of it (here 2 GiB of
 * the limit reserved before the second simulator): refused with the figures, before mapping (the
 * check compared the whole limit, and the mapping then failed). Not under AddressSanitizer. */
static void test_machine_too_big_for_what_is_left(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip();
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    skip();
#endif
#endif
    floe_machine m;
    load_config("northpole", &m, NULL);
    m.cores_x = 48, m.cores_y = 32; /* 1536 cores of 2 MiB: 3 GiB */
    m.core_mem_bytes = 2ull << 20;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        unsigned long long pages = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        if (!f || fscanf(f, "%llu", &pages) != 1)
            _exit(4);
        fclose(f);
        const unsigned long long limit = pages * (unsigned long long)sysconf(_SC_PAGESIZE) + (4500ull << 20);
        struct rlimit rl = {limit, limit};
        setrlimit(RLIMIT_AS, &rl);
        floe_sim *s = NULL;
        floe_err err;
        if (floe_sim_new(&s, &m, NULL, &err) != 0) /* fits: 3 GiB of the 4.4 GiB left */
            _exit(5);
        floe_sim_free(s);
        void *r = malloc(2ull << 30); /* mapped, never touched */
        if (!r)
            _exit(6);
        s = NULL;
        int rc = floe_sim_new(&s, &m, NULL, &err);
        _exit(rc == -1 && s == NULL && strstr(err.msg, "host address space") && strstr(err.msg, "maps already") ? 0
                                                                                                                : 3);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* vmmr: m rows through the weights read once; each row's sums are a vmm's. */
static uint64_t vmmr_run(int rows, int32_t acc[32], int32_t want1[16])
{
    char text[512];
    snprintf(text, sizeof text,
             ".core 0, 0\n"
             ".data 0\n.bytes 01ff0203\n"
             ".data 64\n.bytes 1234\n"
             "    fill 4, 60, 1\n"
             "    fill 66, 510, 0x21\n"
             "    fill 576, 64, 0xfe\n" /* row 1: all -2 */
             "    seti r2, 576\n"
             "    vmmr 0, 0, 64, 64, 16, %d, r2, i8, i4, set\n"
             "    halt\n",
             rows);
    floe_sim *s;
    floe_program *p;
    floe_err err;
    if (sim_text("small", text, NULL, &s, &p, &err) != 0)
        fail_msg("%s", err.msg);
    memcpy(acc, floe_sim_accumulators(s, 0, 0), 32 * sizeof(int32_t));
    const uint8_t *M = floe_sim_memory(s, 0, 0)->bytes;
    for (int j = 0; j < 16; j++) { /* row 1 is -2 everywhere: -2 times the row sum of W */
        want1[j] = 0;
        for (int i = 0; i < 64; i++)
            want1[j] += -2 * floe_elem_load(M + 64 + 32 * j, FLOE_DT_I4, (size_t)i);
    }
    const floe_sim_result *R = floe_sim_result_get(s);
    assert_int_equal(R->actions.macs[FLOE_PREC_W4A8], 64 * 16 * rows);
    uint64_t cycles = R->cycles;
    floe_sim_free(s);
    floe_program_free(p);
    return cycles;
}

static void test_vmmr_reads_weights_once(void **state)
{
    (void)state;
    int32_t one[32], two[32], want1[16];
    uint64_t c1 = vmmr_run(1, one, want1), c2 = vmmr_run(2, two, want1);
    /* small machine: 64 MACs/cycle, 16 B/cycle of SRAM. One row: 1024 MACs (16 cycles) but 64 + 512
     * bytes read (36 cycles); two rows: 2048 MACs (32) and 2 x 64 + 512 bytes (40): 4 cycles more,
     * where two vmm would take 36 more. */
    assert_int_equal(c2 - c1, 4);
    assert_memory_equal(one, two, 16 * sizeof(int32_t));
    assert_memory_equal(two + 16, want1, 16 * sizeof(int32_t));
}

static void test_threads_overlap_and_units_serialise(void **state)
{
    (void)state;
    /* two threads on different units overlap; on the same unit they take turns */
    const char *different = ".core 0, 0\n"
                            "    fill.t0 0, 1600, 1\n"      /* mem: 100 cycles + 2 */
                            "    vmax.t1 2000, 2000, 2000, 160, i8\n"; /* vector: 10 cycles, SRAM 480 B: 30 + 3 */
    const char *same = ".core 0, 0\n"
                       "    fill.t0 0, 1600, 1\n"
                       "    fill.t1 2000, 1600, 1\n";
    floe_sim *s;
    floe_program *p;
    floe_err err;
    assert_int_equal(sim_text("small", different, NULL, &s, &p, &err), 0);
    uint64_t load = floe_sim_result_get(s)->load_cycles;
    /* the fill holds the SRAM port for 100 cycles (thread 0 goes first at equal cycles), then the
     * vmax takes it: 100 + 30 + 3; without the shared port it would overlap entirely */
    assert_int_equal(floe_sim_result_get(s)->cycles, load + 133);
    assert_true(floe_sim_result_get(s)->uninit_reads > 0); /* vmax read memory nobody wrote */
    floe_sim_free(s);
    floe_program_free(p);
    /* a unit that does not touch memory overlaps fully: accclr of 1600 accumulators (100 cycles + 4) */
    const char *overlap = ".core 0, 0\n"
                          "    fill.t0 0, 1600, 1\n"
                          "    accclr.t1 0, 1600\n";
    assert_int_equal(sim_text("small", overlap, NULL, &s, &p, &err), 0);
    load = floe_sim_result_get(s)->load_cycles;
    assert_int_equal(floe_sim_result_get(s)->cycles, load + 104);
    floe_sim_free(s);
    floe_program_free(p);
    assert_int_equal(sim_text("small", same, NULL, &s, &p, &err), 0);
    load = floe_sim_result_get(s)->load_cycles;
    assert_int_equal(floe_sim_result_get(s)->cycles, load + 100 + 100 + 2);
    size_t nc;
    const floe_core_stats *cs = floe_sim_core_stats(s, &nc);
    assert_int_equal(nc, 4);
    assert_int_equal(cs[0].busy[FLOE_UNIT_MEM], 200);
    assert_int_equal(cs[0].sram_bytes[FLOE_UNIT_MEM], 3200); /* two fills of 1600 bytes */
    assert_int_equal(cs[0].sram_bytes[FLOE_UNIT_VECTOR], 0);
    floe_sim_free(s);
    floe_program_free(p);
}

/* ---- networks and synchronisation ------------------------------------------------------------ */

static void test_send_recv_sig_wait(void **state)
{
    (void)state;
    const char *text = ".core 0, 0\n"
                       ".data 0\n.bytes 0102030405060708090a0b0c0d0e0f10\n"
                       "    send 0, 16, 1, 1, 3\n"
                       "    wait 2, 1\n"
                       "    fill 100, 4, 7\n"
                       ".core 1, 1\n"
                       "    recv 32, 16, 0, 0, 3\n"
                       "    sig 2, 0, 0\n";
    floe_sim *s;
    floe_program *p;
    floe_err err;
    assert_int_equal(sim_text("small", text, NULL, &s, &p, &err), 0);
    uint8_t *dst = floe_sim_memory(s, 1, 1)->bytes;
    for (int i = 0; i < 16; i++)
        assert_int_equal(dst[32 + i], i + 1);
    assert_int_equal(floe_sim_memory(s, 0, 0)->bytes[100], 7);
    const floe_sim_result *R = floe_sim_result_get(s);
    assert_int_equal(R->actions.noc_byte_hops[FLOE_NOC_ACT], 16 * 2);
    /* core (0,0) loads 3 instructions (48 bytes at 8 B/cycle) + 1 hop: starts at 7. send: 16 bytes
     * = 2 cycles per link, head on the second link at 7 + 2, arrives at 9 + 2 + 2 = 13. core (1,1)
     * loads 2 instructions + 2 hops: starts at 6, its recv completes at 13 + 1 = 14, sig travels 2
     * hops: the semaphore rises at 14 + 1 + 4 = 19; then fill 4 bytes: 1 cycle + 2 latency -> 22 */
    assert_int_equal(R->cycles, 22);
    floe_sim_free(s);
    floe_program_free(p);
}

static void test_multicast_psum_and_barrier(void **state)
{
    (void)state;
    const char *text = ".core 0, 0\n"
                       ".data 0\n.bytes 0a0b0c0d\n"
                       "    mcast 0, 4, 0, 0, 1, 1, 0\n"
                       "    accld 0, 0, 1\n"
                       "    psend 0, 1, e, 5\n"
                       ".core 1, 0\n"
                       "    recv.t1 8, 4, 0, 0, 0\n"
                       "    bar.t1 9, 3\n"
                       "    bar.t0 9, 3\n"
                       "    accld 0, 8, 1\n"
                       "    precv 0, 1, w, 5\n"
                       "    accst 16, 0, 1\n"
                       ".core 0, 1\n    recv 8, 4, 0, 0, 0\n"
                       ".core 1, 1\n    recv 8, 4, 0, 0, 0\n";
    floe_sim *s;
    floe_program *p;
    floe_err err;
    assert_int_equal(sim_text("small", text, NULL, &s, &p, &err), 0);
    for (unsigned y = 0; y < 2; y++)
        for (unsigned x = 0; x < 2; x++)
            if (x || y)
                assert_int_equal(floe_sim_memory(s, x, y)->bytes[8], 0x0a);
    /* core (1,0): its own word plus the partial sum from the west, wrapping int32 */
    int32_t got = floe_elem_load(floe_sim_memory(s, 1, 0)->bytes + 16, FLOE_DT_I32, 0);
    assert_int_equal(got, (int32_t)(2u * 0x0d0c0b0au));
    /* the tree crosses three links once each */
    assert_int_equal(floe_sim_result_get(s)->actions.noc_byte_hops[FLOE_NOC_ACT], 3 * 4);
    floe_sim_free(s);
    floe_program_free(p);
}

static void test_deadlock_is_reported(void **state)
{
    (void)state;
    const char *text = ".core 1, 0\n    recv 0, 8, 0, 1, 2\n"
                       ".core 0, 1\n    wait 3, 2\n";
    floe_sim *s;
    floe_program *p;
    floe_err err;
    assert_int_equal(sim_text("small", text, NULL, &s, &p, &err), -1);
    assert_non_null(strstr(err.msg, "deadlock"));
    assert_non_null(strstr(err.msg, "core (1, 0) thread 0 at instruction 0 (recv) waits for 8 bytes from core (0, 1)"));
    assert_non_null(strstr(err.msg, "core (0, 1) thread 0 at instruction 0 (wait) waits for semaphore 3 >= 2"));
    floe_sim_free(s);
    floe_program_free(p);
}

/* ---- faults and refusals ----------------------------------------------------------------------- */

static void test_faults(void **state)
{
    (void)state;
    floe_sim *s;
    floe_program *p;
    floe_err err;
    /* small core memory is 64 KiB */
    assert_int_equal(sim_text("small", ".core 1, 1\n    fill 65530, 10, 0\n", NULL, &s, &p, &err), -1);
    assert_non_null(strstr(err.msg, "core 3 (x=1, y=1) thread 0, instruction 0 (fill)"));
    assert_non_null(strstr(err.msg, "outside the core's 65536 bytes"));
    floe_sim_free(s);
    floe_program_free(p);
    assert_int_equal(sim_text("small", ".core 0, 0\n    seti r2, -8\n    fill 4+r2, 10, 0\n", NULL, &s, &p, &err), -1);
    assert_non_null(strstr(err.msg, "address -4"));
    floe_sim_free(s);
    floe_program_free(p);
    assert_int_equal(sim_text("small", ".core 0, 0\n    psend 0, 4, n, 0\n", NULL, &s, &p, &err), -1);
    assert_non_null(strstr(err.msg, "no neighbour to the n"));
    floe_sim_free(s);
    floe_program_free(p);
    assert_int_equal(sim_text("small", ".core 0, 0\n    send 0, 4, 2, 0, 0\n", NULL, &s, &p, &err), -1);
    assert_non_null(strstr(err.msg, "inside the 2 x 2 grid"));
    floe_sim_free(s);
    floe_program_free(p);
    /* the small machine has 2 threads per core */
    assert_int_equal(sim_text("small", ".core 0, 0\n    nop.t3\n", NULL, &s, &p, &err), -1);
    assert_non_null(strstr(err.msg, "thread 3, but this machine has 2 threads per core"));
    floe_sim_free(s);
    floe_program_free(p);
    /* code outside the grid, an image too large */
    assert_int_equal(sim_text("small", ".core 5, 0\n    nop\n", NULL, &s, &p, &err), -1);
    assert_non_null(strstr(err.msg, "core (5, 0), outside this machine's 2 x 2 grid"));
    floe_sim_free(s);
    floe_program_free(p);
    assert_int_equal(sim_text("small", ".core 0, 0\n.data 65535\n.bytes 0102\n    nop\n", NULL, &s, &p, &err), -1);
    assert_non_null(strstr(err.msg, "1 bytes past the end"));
    floe_sim_free(s);
    floe_program_free(p);
}

/* Per-token scaling (docs/isa.md: vrequantt, requantk, rmsnormt): the simulator computes the
 * contract's integers (isa/token.h), writes each row's shift after it, charges the row max and the
 * trial requantizations, and refuses a K outside 0..8. */
static void hex_bytes(char *t, size_t n, const void *p, size_t len)
{
    size_t u = strlen(t);
    u += (size_t)snprintf(t + u, n - u, ".bytes ");
    for (size_t i = 0; i < len; i++)
        u += (size_t)snprintf(t + u, n - u, "%02x", ((const uint8_t *)p)[i]);
    snprintf(t + u, n - u, "\n");
}

static void test_per_token_instructions(void **state)
{
    (void)state;
    enum { N = 8, K = 4 };
    int32_t wide[N] = {900, -1200, 35, 0, -7, 1500, 222, -1};
    int16_t q[N] = {300, -120, 45, 0, -7, 150, 22, -1};
    floe_requant_mult M = {1 << 30, 36}; /* 2^-6: 1500 -> 23.4, so k = 2 fits int8 */
    uint8_t tm[16] = {0}, mults[8 * N], eps[8] = {3};
    floe_elem_store(tm, FLOE_DT_I32, 0, M.m);
    floe_elem_store(tm, FLOE_DT_I32, 1, M.shift);
    floe_elem_store(tm, FLOE_DT_I32, 2, K);
    floe_requant_mult ch[N];
    for (int i = 0; i < N; i++) {
        ch[i] = (floe_requant_mult){(int32_t)(1u << 30) + 12345 * i, 28 + i};
        floe_elem_store(mults + 8 * i, FLOE_DT_I32, 0, ch[i].m);
        floe_elem_store(mults + 8 * i, FLOE_DT_I32, 1, ch[i].shift);
    }
    floe_requant_mult c;
    assert_int_equal(floe_requant_mult_from_real(2.0, &c), 0); /* the rmsnorm gain multiplier: row max ~1.7 */
    uint8_t cm[16] = {0};
    floe_elem_store(cm, FLOE_DT_I32, 0, c.m);
    floe_elem_store(cm, FLOE_DT_I32, 1, c.shift);
    floe_elem_store(cm, FLOE_DT_I32, 2, K);
    static char text[8192];
    snprintf(text, sizeof text, ".core 0, 0\n.data 0\n");
    hex_bytes(text, sizeof text, wide, sizeof wide);
    strcat(text, ".data 64\n");
    hex_bytes(text, sizeof text, tm, sizeof tm);
    strcat(text, ".data 192\n");
    hex_bytes(text, sizeof text, mults, sizeof mults);
    strcat(text, ".data 400\n");
    hex_bytes(text, sizeof text, q, sizeof q);
    strcat(text, ".data 448\n");
    hex_bytes(text, sizeof text, eps, sizeof eps);
    strcat(text, ".data 464\n");
    hex_bytes(text, sizeof text, cm, sizeof cm);
    strcat(text, "    vrequantt 128, 0, 64, 8, i8\n"
                 "    accld 0, 0, 8\n"
                 "    requantk 300, 0, 192, 136, 8, i16\n"
                 "    rmsnormt 480, 400, 464, 448, 8, i4\n"
                 "    halt\n");
    floe_sim *s;
    floe_program *p;
    floe_err err;
    if (sim_text("small", text, NULL, &s, &p, &err) != 0)
        fail_msg("%s", err.msg);
    const uint8_t *Mem = floe_sim_memory(s, 0, 0)->bytes;
    int32_t y[N];
    int k = floe_token_requant_row(y, wide, N, M, K, -128, 127);
    assert_int_equal(k, 2);
    for (int i = 0; i < N; i++)
        assert_int_equal((int8_t)Mem[128 + i], y[i]);
    assert_int_equal((int8_t)Mem[136], k);
    for (int i = 0; i < N; i++)
        assert_int_equal(floe_elem_load(Mem + 300, FLOE_DT_I16, (size_t)i), floe_requant_k(wide[i], ch[i], k, -32768, 32767));
    int kr = floe_rmsnorm_row_token(y, q, N, 3, c, K, -8, 7);
    for (int i = 0; i < N; i++)
        assert_int_equal(floe_elem_load(Mem + 480, FLOE_DT_I4, (size_t)i), y[i]);
    assert_int_equal((int8_t)Mem[480 + 4], kr);
    assert_true(kr > 0);
    const floe_sim_result *R = floe_sim_result_get(s);
    /* rmsnormt as the RTL core runs it (docs/sim.md): one afu op (the root); its squares, max |q|,
     * requant, multiplier product and k's trials are vector ops */
    assert_int_equal(R->actions.afu_ops, 1);
    assert_int_equal(R->actions.vector_ops, (2 * N + K + 1) + 2 * 8 + (N + 1) + (3 * N + K + 1));
    print_message("vrequantt k %d, rmsnormt k %d; vector ops %llu\n", k, kr, (unsigned long long)R->actions.vector_ops);
    floe_sim_free(s);
    floe_program_free(p);
    /* K = 9 is refused */
    floe_elem_store(tm, FLOE_DT_I32, 2, 9);
    snprintf(text, sizeof text, ".core 0, 0\n.data 0\n");
    hex_bytes(text, sizeof text, wide, sizeof wide);
    strcat(text, ".data 64\n");
    hex_bytes(text, sizeof text, tm, sizeof tm);
    strcat(text, "    vrequantt 128, 0, 64, 8, i8\n    halt\n");
    assert_int_equal(sim_text("small", text, NULL, &s, &p, &err), -1);
    assert_non_null(strstr(err.msg, "K = 9 is outside 0..8"));
    floe_sim_free(s);
    floe_program_free(p);
}

static void test_program_for_another_machine_is_refused(void **state)
{
    (void)state;
    floe_machine small, np;
    load_config("small", &small, NULL);
    load_config("northpole", &np, NULL);
    floe_program *p = assemble(&np, ".core 0, 0\n    nop\n");
    floe_sim *s;
    floe_err err;
    assert_int_equal(floe_sim_new(&s, &small, NULL, &err), 0);
    assert_int_equal(floe_sim_load(s, p, &err), -1);
    assert_non_null(strstr(err.msg, "compiled for machine fingerprint"));
    floe_sim_free(s);
    floe_program_free(p);
}

static void test_uninitialised_reads_strict(void **state)
{
    (void)state;
    floe_sim *s;
    floe_program *p;
    floe_err err;
    floe_sim_options o = {.strict = 1};
    assert_int_equal(sim_text("small", ".core 0, 0\n.data 0\n.bytes 01020304\n    copy 100, 0, 4\n    copy 200, 2, 4\n",
                              &o, &s, &p, &err), -1);
    assert_non_null(strstr(err.msg, "uninitialised byte 0x4"));
    floe_sim_free(s);
    floe_program_free(p);
}

static void test_trace_and_regions(void **state)
{
    (void)state;
    const char *dir = floe_test_tmpdir("sim_trace_run");
    char path[4300];
    snprintf(path, sizeof path, "%s/t.json", dir);
    floe_sim_options o = {.trace_path = path};
    const char *text = ".core 0, 0\n"
                       "layer0:\n    fill 0, 64, 1\n    fill 64, 64, 2\n"
                       "layer1:\n    vadd 128, 0, 64, 64, i8\n"
                       ".core 1, 0\n"
                       "layer1:\n    fill 0, 32, 3\n";
    floe_sim *s;
    floe_program *p;
    floe_err err;
    assert_int_equal(sim_text("small", text, &o, &s, &p, &err), 0);
    size_t nr;
    const floe_region_stats *rs = floe_sim_region_stats(s, &nr);
    assert_int_equal(nr, 2);
    assert_string_equal(rs[0].name, "layer0");
    assert_int_equal(rs[0].insns, 2);
    assert_int_equal(rs[0].cores, 1);
    assert_int_equal(rs[1].cores, 2);
    assert_int_equal(rs[1].insns, 2);
    assert_int_equal(rs[1].busy[FLOE_UNIT_MEM], 2);
    char *data;
    size_t len;
    assert_int_equal(floe_read_file(path, 1 << 20, &data, &len, &err), 0);
    cJSON *root = cJSON_Parse(data);
    assert_non_null(root);
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(root, "traceEvents")) >= 4);
    cJSON_Delete(root);
    free(data);
    floe_sim_free(s);
    floe_program_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_programs_match_reference),
        cmocka_unit_test(test_vmm_timing),
        cmocka_unit_test(test_vmmr_reads_weights_once),
        cmocka_unit_test(test_machine_too_big_for_the_host),
        cmocka_unit_test(test_machine_too_big_for_what_is_left),
        cmocka_unit_test(test_threads_overlap_and_units_serialise),
        cmocka_unit_test(test_send_recv_sig_wait),
        cmocka_unit_test(test_multicast_psum_and_barrier),
        cmocka_unit_test(test_deadlock_is_reported),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_per_token_instructions),
        cmocka_unit_test(test_program_for_another_machine_is_refused),
        cmocka_unit_test(test_uninitialised_reads_strict),
        cmocka_unit_test(test_trace_and_regions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
