// afu_recip and afu_rsqrt RTL vs floe_recip_u32 and floe_rsqrt_u64 (docs/numerics.md §4), bit for
// bit. Built twice (FLOE_RTL_RSQRT selects the unit): 0, every x up to 4096, every power of two
// (of four) and its neighbours, the largest inputs, and random inputs of every magnitude, on
// FLOE_RTL_LANES lanes (one beat = one input per lane).
#include <array>
#include <utility>

#include "tests/rtl/tb.h"

extern "C" {
#include "isa/recip.h"
}

#ifdef FLOE_RTL_RSQRT
#include "Vafu_rsqrt.h"
typedef Vafu_rsqrt Vtop;
static const char *const UNIT = "afu_rsqrt";
static const int XBITS = 64;
static floe_requant_mult reference(uint64_t x) { return floe_rsqrt_u64(x); }
#else
#include "Vafu_recip.h"
typedef Vafu_recip Vtop;
static const char *const UNIT = "afu_recip";
static const int XBITS = 32;
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
    port.read = [](Vtop *t) {
        Out o;
        for (int i = 0; i < L; i++)
            o[(size_t)i] = std::make_pair((int32_t)t->m[i], (int32_t)t->shift[i]);
        return o;
    };
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
    std::printf("%s: %d lanes, %ld lane results\n", UNIT, L, outputs * L);
    return floe_tb::finish(outputs - failed, failed);
}
