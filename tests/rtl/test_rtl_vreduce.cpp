// vreduce RTL vs the simulator's vsum / vsumsq / vmaxr (docs/isa.md; sim/exec.c), bit for bit.
// Each reduction is a row of beats on FLOE_RTL_LANES lanes with a random lane mask per beat (the
// core's masks are a prefix, the unit takes any set); its elements are drawn from every element
// type the core reduces (int4, int8, int16, int32, sign-extended into the int32 lanes, as the core
// does). The expected result is what the simulator computes: the masked elements of each row are
// written to a core's memory in the row's type and the simulator runs one vsum / vsumsq / vmaxr per
// row (small.csv), so the reference is the simulator's own code, not a copy. Edge rows: no
// element (n = 0: SUM 0, MAX INT32_MIN), beats with no lane set inside a row, INT32_MIN/MAX rows
// (the int32 sum and the uint64 sum of squares wrap around), every type's extremes.
// Runs at full rate (rows back to back: latency and one beat a cycle) and under random
// valid/ready, then the deliberate check that the harness can fail: one expected value made wrong
// must be detected as exactly one mismatch.
#include <array>
#include <cstring>

#include "tests/rtl/tb.h"
#include "Vvreduce.h"

#include "isa/builder.h"
#include "isa/elem.h"
#include "isa/insn.h"
#include "isa/machine.h"
#include "isa/opcodes.h"
#include "sim/sim.h"

namespace {

constexpr int L = FLOE_RTL_LANES;
struct In {
    int op; // 0 SUM, 1 SUMSQ, 2 MAX
    bool first, last;
    uint32_t mask;
    std::array<int32_t, L> a;
};
typedef uint64_t Out;
typedef floe_tb::Beat<In, Out> B;

const floe_dtype DTS[4] = {FLOE_DT_I4, FLOE_DT_I8, FLOE_DT_I16, FLOE_DT_I32};
const floe_opcode OPS[3] = {FLOE_OP_VSUM, FLOE_OP_VSUMSQ, FLOE_OP_VMAXR};

struct Row {
    int op;
    floe_dtype dt;
    std::vector<In> beats;
    std::vector<int32_t> elems; // the masked lanes, in order: the row the simulator reduces
    uint64_t want = 0;
};

int32_t draw(floe_rng *r, floe_dtype dt, int kind)
{
    int bits = floe_dtype_bits(dt);
    int64_t lo = -((int64_t)1 << (bits - 1)), hi = ((int64_t)1 << (bits - 1)) - 1;
    if (kind == 1)
        return (int32_t)lo;
    if (kind == 2)
        return (int32_t)hi;
    return (int32_t)floe_rng_range(r, lo, hi);
}

// kind 0 random, 1 every element the type's minimum, 2 its maximum; mask_mode 0 random masks,
// 1 all lanes, 2 one beat with no lane (n = 0)
Row make_row(floe_rng *r, int op, floe_dtype dt, int nbeats, int kind, int mask_mode)
{
    Row w;
    w.op = op;
    w.dt = dt;
    for (int b = 0; b < nbeats; b++) {
        In in{op, b == 0, b == nbeats - 1, 0, {}};
        uint32_t full = (1u << L) - 1;
        in.mask = mask_mode == 1 ? full : mask_mode == 2 ? 0 : (uint32_t)floe_rng_below(r, full + 1);
        for (int l = 0; l < L; l++) {
            // a lane outside the mask carries garbage that must not count
            in.a[(size_t)l] = (in.mask >> l) & 1 ? draw(r, dt, kind) : (int32_t)floe_rng_u64(r);
            if ((in.mask >> l) & 1)
                w.elems.push_back(in.a[(size_t)l]);
        }
        w.beats.push_back(in);
    }
    return w;
}

// The simulator's results for `rows`, in batches that fit one core's memory: row i's elements at
// a, its result at dst, one reduction instruction per row on thread 0.
int simulate(const floe_machine *m, std::vector<Row> &rows)
{
    size_t i = 0;
    while (i < rows.size()) {
        floe_err err;
        floe_program *p = floe_program_new(floe_machine_fingerprint(m));
        floe_sim *s = nullptr;
        if (!p || floe_sim_new(&s, m, nullptr, &err) != 0) {
            std::printf("vreduce: simulator: %s\n", p ? err.msg : "out of memory");
            floe_program_free(p);
            return -1;
        }
        floe_memory *mem = floe_sim_memory(s, 0, 0);
        std::vector<uint8_t> img(mem->capacity, 0);
        std::vector<std::pair<size_t, uint64_t>> dsts;
        uint64_t at = 0;
        size_t first = i;
        for (; i < rows.size(); i++) {
            const Row &w = rows[i];
            uint64_t n = w.elems.size(), nb = floe_dtype_bytes_for(w.dt, n);
            if (at + nb + 8 > mem->capacity)
                break;
            for (uint64_t e = 0; e < n; e++)
                floe_elem_store(img.data() + at, w.dt, e, w.elems[e]);
            floe_insn in{};
            in.op = OPS[w.op];
            int64_t f[4] = {FLOE_MEM(at + nb, 0), FLOE_MEM(at, 0), (int64_t)n, w.dt};
            std::memcpy(in.f, f, sizeof f);
            if (floe_emit(p, 0, 0, &in, &err) != 0) {
                std::printf("vreduce: emit: %s\n", err.msg);
                floe_sim_free(s);
                floe_program_free(p);
                return -1;
            }
            dsts.emplace_back(i, at + nb);
            at += nb + 8;
        }
        int rc = floe_sim_load(s, p, &err);
        if (rc == 0) {
            std::memcpy(mem->bytes, img.data(), img.size());
            floe_memory_note_write(mem, 0, img.size());
            floe_sim_options opt{};
            rc = floe_sim_run(s, &opt, &err);
        }
        if (rc == 0)
            for (auto &d : dsts) {
                const uint8_t *y = mem->bytes + d.second;
                uint64_t v = 0;
                for (int k = 0; k < (rows[d.first].op == 1 ? 8 : 4); k++)
                    v |= (uint64_t)y[k] << (8 * k);
                rows[d.first].want = v; // SUM, MAX: the int32 in the low half, as the unit's y
            }
        else
            std::printf("vreduce: simulator: %s\n", err.msg);
        floe_sim_free(s);
        floe_program_free(p);
        if (rc != 0 || i == first)
            return -1;
    }
    return 0;
}

std::vector<B> beats_of(const std::vector<Row> &rows)
{
    std::vector<B> bs;
    for (const Row &w : rows)
        for (const In &in : w.beats)
            bs.push_back(B{in, in.last, in.last ? w.want : 0});
    return bs;
}

const char *op_name(int op) { return op == 0 ? "SUM" : op == 1 ? "SUMSQ" : "MAX"; }

} // namespace

int main(int argc, char **argv)
{
    floe_machine mach;
    floe_err err;
    if (floe_machine_load(FLOE_RTL_SIM_MACHINE, &mach, &err) != 0) {
        std::printf("vreduce: %s\n", err.msg);
        return 1;
    }
    floe_rng r;
    floe_rng_seed(&r, 21);
    std::vector<Row> rows;
    for (int op = 0; op < 3; op++)
        for (int d = 0; d < 4; d++) {
            rows.push_back(make_row(&r, op, DTS[d], 1, 0, 2)); // n = 0
            for (int kind = 1; kind <= 2; kind++)
                for (int nb : {1, 3, 9})
                    rows.push_back(make_row(&r, op, DTS[d], nb, kind, 1));
        }
    long n = floe_tb::cases(1500);
    for (long i = 0; i < n; i++) {
        int op = (int)floe_rng_below(&r, 3), d = (int)floe_rng_below(&r, 4);
        int nb = 1 + (int)floe_rng_below(&r, floe_rng_below(&r, 4) ? 6 : 40);
        int kind = floe_rng_below(&r, 8) == 0 ? 1 + (int)floe_rng_below(&r, 2) : 0;
        rows.push_back(make_row(&r, op, DTS[d], nb, kind, 0));
    }
    if (simulate(&mach, rows) != 0)
        return 1;
    // split: most rows for the full-rate run, a quarter under back-pressure
    std::vector<Row> stress_rows(rows.begin() + (long)(rows.size() * 3 / 4), rows.end());
    rows.resize(rows.size() * 3 / 4);
    std::vector<B> full = beats_of(rows), stress = beats_of(stress_rows);

    floe_tb::Tb<Vvreduce> tb("vreduce", argc, argv);
    floe_tb::Port<Vvreduce, In, Out> port;
    port.drive = [](Vvreduce *t, const In &in) {
        t->op = (uint8_t)in.op;
        t->first = in.first;
        t->last = in.last;
        t->mask = in.mask;
        for (int l = 0; l < L; l++)
            t->a[l] = (uint32_t)in.a[(size_t)l];
    };
    port.set_in_valid = [](Vvreduce *t, bool v) { t->in_valid = v; };
    port.in_ready = [](Vvreduce *t) { return t->in_ready != 0; };
    port.out_valid = [](Vvreduce *t) { return t->out_valid != 0; };
    port.set_out_ready = [](Vvreduce *t, bool v) { t->out_ready = v; };
    port.read = [](Vvreduce *t) { return (Out)t->y; };
    static const std::vector<B> *cur = nullptr;
    static long shown = 0;
    static bool quiet = false;
    port.same = [](const Out &want, const Out &got, long idx) {
        if (want == got)
            return true;
        if (!quiet && shown++ < 5)
            std::printf("vreduce: %s row ending at beat %ld: want 0x%016llx got 0x%016llx\n",
                        op_name((*cur)[(size_t)idx].in.op), idx, (unsigned long long)want, (unsigned long long)got);
        return false;
    };

    long rows_full = (long)rows.size(), rows_stress = (long)stress_rows.size(), failed = 0;
    cur = &full;
    floe_tb::RunStats a = floe_tb::run(tb, port, full, false, 31);
    floe_tb::report("vreduce", "full rate, rows back to back", a, (long)full.size());
    // one beat a cycle with rows back to back, the result 2 cycles after a row's last beat
    if (a.max_latency != 2 || a.first_latency != 2 || a.cycles != (uint64_t)full.size() + 2) {
        std::printf("vreduce: full rate: latency %ld..%ld, %llu cycles for %zu beats (want 2, %zu)\n",
                    a.first_latency, a.max_latency, (unsigned long long)a.cycles, full.size(), full.size() + 2);
        failed++;
    }
    cur = &stress;
    floe_tb::RunStats b = floe_tb::run(tb, port, stress, true, 32);
    floe_tb::report("vreduce", "random valid/ready", b, (long)stress.size());
    failed += a.failed + b.failed;
    long outputs = a.outputs + b.outputs;

    // The harness must be able to fail: the same stress rows with one expected value wrong (one
    // bit of a SUMSQ result's high half, which only a 64-bit compare sees) give exactly one mismatch.
    std::vector<B> wrong = stress;
    for (auto it = wrong.rbegin(); it != wrong.rend(); ++it)
        if (it->has_out && it->in.op == 1) {
            it->want ^= (uint64_t)1 << 60;
            break;
        }
    cur = &wrong;
    quiet = true;
    floe_tb::RunStats c = floe_tb::run(tb, port, wrong, true, 33);
    bool detected = c.failed == 1 && c.outputs == b.outputs;
    std::printf("vreduce: one wrong expected value: %ld mismatch(es) of %ld results: %s\n", c.failed, c.outputs,
                detected ? "DETECTED" : "NOT DETECTED");
    if (!detected)
        failed++;
    outputs++;

    long counts[3] = {0, 0, 0};
    for (const Row &w : rows)
        counts[w.op]++;
    for (const Row &w : stress_rows)
        counts[w.op]++;
    std::printf("vreduce: %d lanes, %ld + %ld rows (SUM %ld, SUMSQ %ld, MAX %ld), %zu beats\n", L, rows_full,
                rows_stress, counts[0], counts[1], counts[2], full.size() + stress.size());
    return floe_tb::finish(outputs - failed, failed);
}
