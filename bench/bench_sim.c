/* bench_sim: the simulator's speed on the northpole machine (256 cores), one host thread.
 *   (a) VMM-dominated: every core runs a loop of int4 x int8 vmm (1024 x 512 weights resident in its
 *       memory) and requantizes the result.
 *   (b) NoC-heavy: every core exchanges 4 KiB messages with a partner that changes each round
 *       (shifting permutations across the mesh: long routes, shared links, contention).
 * Prints simulated MACs and cycles per host second (median of 3 runs).
 * Usage: bench_sim [configs-dir]   (default: the source tree's configs/) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isa/builder.h"
#include "isa/machine.h"
#include "sim/sim.h"
#include "sim/vmm.h"

#define CHECK(call)                                                                                      \
    do {                                                                                                 \
        if ((call) != 0) {                                                                               \
            fprintf(stderr, "bench_sim: %s\n", err.msg);                                                 \
            exit(1);                                                                                     \
        }                                                                                                \
    } while (0)

static floe_err err;

static void op(floe_program *p, unsigned x, unsigned y, floe_opcode o, unsigned t, const int64_t *f, size_t n)
{
    CHECK(floe_emit_op(p, x, y, o, t, f, n, &err));
}

static floe_program *vmm_program(const floe_machine *m, int iters)
{
    floe_program *p = floe_program_new(floe_machine_fingerprint(m));
    const int64_t K = 1024, N = 512, W = 0x1000, X = 0, OUT = 0x400, MULT = 0x800;
    for (unsigned y = 0; y < m->cores_y; y++)
        for (unsigned x = 0; x < m->cores_x; x++) {
            int64_t f1[3] = {X, K, 3}, f2[3] = {W, N * K / 2, 0x31};
            op(p, x, y, FLOE_OP_FILL, 0, f1, 3);
            op(p, x, y, FLOE_OP_FILL, 0, f2, 3);
            const uint8_t mult[8] = {0, 0, 0, 0x40, 40, 0, 0, 0}; /* m = 2^30, shift 40 */
            CHECK(floe_program_add_image(p, x, y, (uint32_t)MULT, mult, sizeof mult, &err));
            size_t h;
            CHECK(floe_loop_begin(p, x, y, 0, (uint32_t)iters, 0, 0, &h, &err));
            int64_t v[8] = {FLOE_ACC(0, 0), X, W, K, N, FLOE_XP_I8, FLOE_WP_I4, FLOE_MODE_SET};
            op(p, x, y, FLOE_OP_VMM, 0, v, 8);
            int64_t r[6] = {OUT, FLOE_ACC(0, 0), MULT, N, FLOE_DT_I8, FLOE_SCOPE_TENSOR};
            op(p, x, y, FLOE_OP_REQUANT, 0, r, 6);
            CHECK(floe_loop_end(p, x, y, h, &err));
        }
    return p;
}

static floe_program *noc_program(const floe_machine *m, int rounds)
{
    floe_program *p = floe_program_new(floe_machine_fingerprint(m));
    unsigned n = (unsigned)(m->cores_x * m->cores_y);
    const int64_t B = 4096;
    for (unsigned i = 0; i < n; i++) {
        unsigned x = i % (unsigned)m->cores_x, y = i / (unsigned)m->cores_x;
        int64_t f[3] = {0, B, (int64_t)(i & 0xff)};
        op(p, x, y, FLOE_OP_FILL, 0, f, 3);
        for (int r = 0; r < rounds; r++) {
            unsigned k = 1 + (unsigned)r * 37 % (n - 1);
            unsigned to = (i + k) % n, from = (i + n - k) % n;
            int64_t s[5] = {0, B, to % m->cores_x, to / m->cores_x, r % 16};
            op(p, x, y, FLOE_OP_SEND, 0, s, 5);
            int64_t v[5] = {B + (r % 8) * B, B, from % m->cores_x, from / m->cores_x, r % 16};
            op(p, x, y, FLOE_OP_RECV, 1, v, 5);
        }
    }
    return p;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void run(const char *name, const floe_machine *m, const floe_program *p)
{
    double host[3];
    floe_sim_result last;
    for (int rep = 0; rep < 3; rep++) {
        floe_sim *s;
        CHECK(floe_sim_new(&s, m, NULL, &err));
        CHECK(floe_sim_load(s, p, &err));
        CHECK(floe_sim_run(s, NULL, &err));
        last = *floe_sim_result_get(s);
        host[rep] = last.host_seconds;
        floe_sim_free(s);
    }
    qsort(host, 3, sizeof host[0], cmp);
    uint64_t macs = 0;
    for (int i = 0; i < FLOE_PREC_COUNT; i++)
        macs += last.actions.macs[i];
    uint64_t hops = 0;
    for (int i = 0; i < FLOE_NOC_COUNT; i++)
        hops += last.actions.noc_byte_hops[i];
    printf("%-14s %10llu insns %12llu cycles %14llu MACs %12llu byte-hops | host %.3f s: %8.2f G MAC/s, "
           "%10.3g cycles/s, %10.3g events/s\n",
           name, (unsigned long long)last.instructions, (unsigned long long)last.cycles, (unsigned long long)macs,
           (unsigned long long)hops, host[1], (double)macs / host[1] * 1e-9, (double)last.cycles / host[1],
           (double)last.events / host[1]);
}

int main(int argc, char **argv)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/northpole.csv", argc > 1 ? argv[1] : FLOE_SOURCE_DIR "/configs");
    floe_machine m;
    CHECK(floe_machine_load(path, &m, &err));
    printf("bench_sim: northpole (%llu x %llu cores), one host thread, vmm unit: %s\n\n", (unsigned long long)m.cores_x,
           (unsigned long long)m.cores_y, floe_vmm_impl_name(floe_vmm_select(FLOE_VMM_AUTO)));
    floe_program *a = vmm_program(&m, 64);
    run("(a) vmm", &m, a);
    floe_program_free(a);
    floe_program *b = noc_program(&m, 32);
    run("(b) noc", &m, b);
    floe_program_free(b);
    return 0;
}
