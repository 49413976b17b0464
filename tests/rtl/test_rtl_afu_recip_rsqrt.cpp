// afu_recip and afu_rsqrt RTL vs floe_recip_u32 and floe_rsqrt_u64 (docs/numerics.md §4), bit for
// bit. Built twice (FLOE_RTL_RSQRT selects the unit): 0, every x up to 4096, every power of two
// (of four) and its neighbours, the largest inputs, and random inputs of every magnitude, on
// FLOE_RTL_LANES lanes (one beat = one input per lane). Then the elastic flow (rtl/pipe_ctl.sv with
// ELASTIC): a held output refuses a beat only when every register holds one, bubbles collapse behind
// it (a stall's drain takes as many cycles as results, not as stages), and under bursty back-pressure
// no result is lost, duplicated or reordered.
#include <array>
#include <deque>
#include <utility>

#include "tests/rtl/tb.h"

#include "isa/recip.h"

#ifdef FLOE_RTL_RSQRT
#include "Vafu_rsqrt.h"
typedef Vafu_rsqrt Vtop;
static const char *const UNIT = "afu_rsqrt";
static const int XBITS = 64;
static const long DEPTH = 97; // registers from the input to the output: the latency
static floe_requant_mult reference(uint64_t x) { return floe_rsqrt_u64(x); }
#else
#include "Vafu_recip.h"
typedef Vafu_recip Vtop;
static const char *const UNIT = "afu_recip";
static const int XBITS = 32;
static const long DEPTH = 33;
static floe_requant_mult reference(uint64_t x) { return floe_recip_u32((uint32_t)x); }
#endif

namespace {

constexpr int L = FLOE_RTL_LANES;
typedef std::array<uint64_t, L> In;
typedef std::array<std::pair<int32_t, int32_t>, L> Out; // (m, shift) per lane
typedef floe_tb::Beat<In, Out> B;
std::vector<B> *g_beats = nullptr;

std::vector<B> make_beats(long n_random, uint64_t seed, bool edges)
{
    std::vector<uint64_t> xs;
    const uint64_t top = XBITS == 64 ? UINT64_MAX : UINT32_MAX;
    if (edges) {
        for (uint64_t x = 0; x <= 4096; x++)
            xs.push_back(x);
        for (int b = 0; b < XBITS; b++)
            for (int64_t d = -2; d <= 2; d++) {
                uint64_t x = ((uint64_t)1 << b) + (uint64_t)d;
                if (x >= 1 && x <= top)
                    xs.push_back(x);
            }
        for (uint64_t d = 0; d < 16; d++)
            xs.push_back(top - d);
        if (XBITS == 64) {
            xs.push_back((uint64_t)0xFFFFFFFF * 0xFFFFFFFF); // largest odd square
            xs.push_back((uint64_t)0xFFFFFFFF * 0xFFFFFFFF + 1);
            xs.push_back((uint64_t)0xFFFFFFFF * 0xFFFFFFFF - 1);
        }
    }
    floe_rng r;
    floe_rng_seed(&r, seed);
    for (long i = 0; i < n_random; i++) {
        uint64_t x = floe_rng_u64(&r) >> (64 - XBITS);
        x >>= floe_rng_below(&r, (uint64_t)XBITS);
        xs.push_back(x);
    }
    while (xs.size() % L)
        xs.push_back(1);
    std::vector<B> beats;
    for (size_t i = 0; i < xs.size(); i += L) {
        B b{{}, true, {}};
        for (int k = 0; k < L; k++) {
            floe_requant_mult q = reference(xs[i + (size_t)k]);
            b.in[(size_t)k] = xs[i + (size_t)k];
            b.want[(size_t)k] = std::make_pair(q.m, q.shift);
        }
        beats.push_back(b);
    }
    return beats;
}

Out read_out(Vtop *t)
{
    Out o;
    for (int i = 0; i < L; i++)
        o[(size_t)i] = std::make_pair((int32_t)t->m[i], (int32_t)t->shift[i]);
    return o;
}

// Cycle-by-cycle driver of the elastic checks: every result in order, and the elastic invariant
// in every cycle: with the output held, in_ready is high exactly while a register is free (beats
// held < DEPTH); with the output read, always.
struct Flow {
    floe_tb::Tb<Vtop> &tb;
    std::deque<Out> held; // accepted, not yet taken (in the registers, the output included)
    long failed = 0, shown = 0;
    bool accepted = false; // the last cycle took its beat
    explicit Flow(floe_tb::Tb<Vtop> &t) : tb(t) {}
    void fail(const char *what)
    {
        failed++;
        if (shown++ < 5)
            std::printf("%s: elastic: %s (cycle %llu, %zu held)\n", UNIT, what,
                        (unsigned long long)tb.cycles(), held.size());
    }
    // one cycle: offer `beat` (none: nullptr), read the output if `ready`; true if a result was taken
    bool cycle(const B *beat, bool ready)
    {
        Vtop *t = tb.top();
        if (beat)
            for (int i = 0; i < L; i++)
                t->x[i] = beat->in[(size_t)i];
        t->in_valid = beat != nullptr;
        t->out_ready = ready;
        tb.settle();
        if ((t->in_ready != 0) != (ready || (long)held.size() < DEPTH))
            fail(t->in_ready ? "beat taken with every register full" : "beat refused with a register free");
        bool took = false;
        if (ready && t->out_valid) {
            if (held.empty())
                fail("output with no beat held");
            else {
                if (read_out(t) != held.front())
                    fail("result out of order or wrong");
                held.pop_front();
            }
            took = true;
        }
        accepted = beat && t->in_ready;
        if (accepted)
            held.push_back(beat->want);
        tb.tick();
        return took;
    }
    // output read, no input, until nothing is held: the cycles taken; every one must yield a result
    long drain()
    {
        long c = 0;
        while (!held.empty() && c < 4 * DEPTH) {
            if (!cycle(nullptr, true))
                fail("drain cycle without a result (a bubble)");
            c++;
        }
        return c;
    }
};

long elastic_checks(floe_tb::Tb<Vtop> &tb, long n_burst)
{
    Flow f(tb);
    std::vector<B> bs = make_beats((2 * DEPTH + n_burst) * L, 7, false);
    size_t next = 0;
    // 1. fill: output held, input every cycle: exactly DEPTH beats are taken, then drain in DEPTH
    for (long c = 0; c < DEPTH + 8; c++)
        if (f.cycle(&bs[next], false))
            f.fail("result taken with the output held");
        else if (f.accepted)
            next++;
    long filled = (long)f.held.size(), fill_drain = f.drain();
    if (filled != DEPTH || fill_drain != DEPTH)
        f.fail("fill: not DEPTH beats in and out");
    // 2. collapse: output held, sparse input (one beat in 4 cycles), then DEPTH cycles more: the
    //    bubbles between the beats close up, so the drain takes one cycle per result
    const long k = DEPTH / 4;
    for (long i = 0; i < k; i++)
        for (int g = 0; g < 4; g++)
            if (f.cycle(g == 0 ? &bs[next++] : nullptr, false))
                f.fail("result taken with the output held");
    for (long c = 0; c < DEPTH; c++)
        f.cycle(nullptr, false);
    if ((long)f.held.size() != k)
        f.fail("collapse: a sparse beat was refused");
    long sparse_drain = f.drain();
    if (sparse_drain != k)
        f.fail("collapse: the drain took more cycles than results");
    // 3. bursty back-pressure: the output held for runs of 0 to 2 DEPTH cycles, read for runs of 0
    //    to DEPTH, input offered with probability 1/2 or every cycle, by phase
    floe_rng r;
    floe_rng_seed(&r, 8);
    long run = 0, gaps = 2;
    bool ready = true;
    uint64_t t0 = tb.cycles();
    const long bursty = (long)(bs.size() - next);
    while (next < bs.size() || !f.held.empty()) {
        if (run-- <= 0) {
            ready = !ready;
            run = (long)floe_rng_below(&r, (uint64_t)(ready ? DEPTH : 2 * DEPTH) + 1);
            gaps = 1 + (long)floe_rng_below(&r, 2);
        }
        bool offer = next < bs.size() && floe_rng_below(&r, (uint64_t)gaps) == 0;
        f.cycle(offer ? &bs[next] : nullptr, ready);
        if (f.accepted)
            next++;
        if (tb.cycles() - t0 > 100000) {
            f.fail("bursty: deadlock");
            break;
        }
    }
    for (long c = 0; c < 2 * DEPTH; c++)
        if (f.cycle(nullptr, true))
            f.fail("bursty: a result after the last one (duplicated)");
    std::printf("%s: elastic: fill %ld beats, drain %ld cycles; %ld sparse beats drain in %ld cycles "
                "(%ld stages); %ld beats under bursty back-pressure in %llu cycles (%ld failed)\n",
                UNIT, filled, fill_drain, k, sparse_drain, DEPTH, bursty,
                (unsigned long long)(tb.cycles() - t0), f.failed);
    return f.failed;
}

} // namespace

int main(int argc, char **argv)
{
    floe_tb::Tb<Vtop> tb(UNIT, argc, argv);
    floe_tb::Port<Vtop, In, Out> port;
    port.drive = [](Vtop *t, const In &in) {
        for (int i = 0; i < L; i++)
            t->x[i] = in[(size_t)i];
    };
    port.set_in_valid = [](Vtop *t, bool v) { t->in_valid = v; };
    port.in_ready = [](Vtop *t) { return t->in_ready != 0; };
    port.out_valid = [](Vtop *t) { return t->out_valid != 0; };
    port.set_out_ready = [](Vtop *t, bool v) { t->out_ready = v; };
    port.read = read_out;
    static long shown = 0;
    port.same = [](const Out &want, const Out &got, long idx) {
        bool ok = true;
        for (int i = 0; i < L; i++) {
            if (want[(size_t)i] == got[(size_t)i])
                continue;
            ok = false;
            if (shown++ < 5)
                std::printf("%s: x %llu: want {%d, %d} got {%d, %d}\n", UNIT,
                            (unsigned long long)(*g_beats)[(size_t)idx].in[(size_t)i], want[(size_t)i].first,
                            want[(size_t)i].second, got[(size_t)i].first, got[(size_t)i].second);
        }
        return ok;
    };
    long n = floe_tb::cases(XBITS == 64 ? 12000 : 20000);
    // The pipeline takes every x through the same stages: the cycle figures are the same for all.
    std::vector<B> timing = make_beats(n, 5, false), full = make_beats(0, 5, true),
                   stress = make_beats(n / 4, 6, false);
    g_beats = &timing;
    floe_tb::RunStats a = floe_tb::run(tb, port, timing, false, 15);
    floe_tb::report(UNIT, "full rate (random x)", a, (long)timing.size());
    g_beats = &full;
    floe_tb::RunStats e = floe_tb::run(tb, port, full, false, 16);
    floe_tb::report(UNIT, "edge cases", e, (long)full.size());
    g_beats = &stress;
    floe_tb::RunStats b = floe_tb::run(tb, port, stress, true, 17);
    floe_tb::report(UNIT, "random valid/ready", b, (long)stress.size());
    long outputs = a.outputs + e.outputs + b.outputs, failed = a.failed + e.failed + b.failed;
    // the latency and the full rate are the pipeline's: DEPTH cycles, one beat a cycle after it
    if (a.first_latency != DEPTH || a.cycles != (uint64_t)((long)timing.size() + DEPTH)) {
        std::printf("%s: full rate: latency %ld, %llu cycles for %zu beats (want %ld and %ld)\n", UNIT,
                    a.first_latency, (unsigned long long)a.cycles, timing.size(), DEPTH,
                    (long)timing.size() + DEPTH);
        failed++;
    }
    long ef = elastic_checks(tb, n / 4 / L);
    outputs++;
    failed += ef ? 1 : 0;
    std::printf("%s: %d lanes, %ld lane results\n", UNIT, L, outputs * L);
    return floe_tb::finish(outputs - failed, failed);
}
