// multmul RTL vs floe_requant_mult_mul (docs/numerics.md §2), bit for bit: every pair of edge
// multipliers (mantissas 0, 1, 3, 2^15, 2^30 - 1, 2^30, 2^30 + 1, 2^31 - 2, 2^31 - 1 and a pattern,
// shifts 0, 1, 30, 31, 32, 61, 62: products of every bit length, shift sums past 62 (denormalised),
// negative shifts (saturated), zeros), products whose rounding carries into bit 31, and random
// multipliers of every mantissa size and shift, on FLOE_RTL_LANES lanes (one beat = one product per
// lane). Runs at full rate (latency and one beat a cycle) and under random valid/ready, then the
// check that the harness can fail: one expected value made wrong must be detected as exactly one
// mismatch.
#include <array>
#include <utility>

#include "tests/rtl/tb.h"
#include "Vmultmul.h"

#include "isa/requant.h"

namespace {

constexpr int L = FLOE_RTL_LANES;
typedef std::array<std::pair<floe_requant_mult, floe_requant_mult>, L> In; // (a, b) per lane
typedef std::array<std::pair<int32_t, int32_t>, L> Out;                    // (m, shift) per lane
typedef floe_tb::Beat<In, Out> B;
std::vector<B> *g_beats = nullptr;
bool g_quiet = false;

int bit_length(uint64_t v)
{
    int b = 0;
    while (v) {
        b++;
        v >>= 1;
    }
    return b;
}

// p = am bm rounds to 2^31 at its top 31 bits: the carry into bit 31 that renormalises once more
bool carries(uint64_t am, uint64_t bm)
{
    uint64_t p = am * bm;
    int r = bit_length(p) - 31;
    return r > 0 && ((p >> r) + ((p >> (r - 1)) & 1)) == ((uint64_t)1 << 31);
}

std::vector<B> make_beats(long n_random, uint64_t seed, bool edges, long *n_carries)
{
    std::vector<std::pair<floe_requant_mult, floe_requant_mult>> ps;
    floe_rng r;
    floe_rng_seed(&r, seed);
    if (edges) {
        const int32_t ms[] = {0,         1,         3, 1 << 15, (1 << 30) - 1, 1 << 30, (1 << 30) + 1, INT32_MAX - 1,
                              INT32_MAX, 0x55555555};
        const int32_t shs[] = {0, 1, 30, 31, 32, 61, 62};
        std::vector<floe_requant_mult> es;
        for (int32_t m : ms)
            for (int32_t s : shs)
                es.push_back(floe_requant_mult{m, s});
        for (const auto &a : es)
            for (const auto &b : es)
                ps.push_back(std::make_pair(a, b));
        // rounding carries: the product's top 31 bits all ones and the next bit set, at every length
        for (int len = 32; len <= 62; len++) {
            uint64_t lo = ((uint64_t)1 << len) - ((uint64_t)1 << (len - 32)); // the least p that carries
            uint64_t amin = ((uint64_t)1 << (len - 31)) + 1;                  // so that bm < 2^31
            for (int tries = 0, found = 0; tries < 20000 && found < 20; tries++) {
                uint64_t am = amin + floe_rng_below(&r, ((uint64_t)1 << 31) - amin);
                uint64_t bm = (lo + am - 1) / am;
                if (bm >= ((uint64_t)1 << 31) || !carries(am, bm))
                    continue;
                int32_t as = (int32_t)floe_rng_below(&r, 63), bs = (int32_t)floe_rng_below(&r, 63);
                ps.push_back(std::make_pair(floe_requant_mult{(int32_t)am, as}, floe_requant_mult{(int32_t)bm, bs}));
                found++;
            }
        }
    }
    for (long i = 0; i < n_random * L; i++) {
        floe_requant_mult a, b;
        a.m = (int32_t)((floe_rng_u64(&r) >> 33) >> floe_rng_below(&r, 32)); // every mantissa size
        b.m = (int32_t)((floe_rng_u64(&r) >> 33) >> floe_rng_below(&r, 32));
        a.shift = (int32_t)floe_rng_below(&r, 63);
        b.shift = (int32_t)floe_rng_below(&r, 63);
        ps.push_back(std::make_pair(a, b));
    }
    while (ps.size() % L)
        ps.push_back(std::make_pair(floe_requant_mult{1, 0}, floe_requant_mult{1, 0}));
    std::vector<B> beats;
    for (size_t i = 0; i < ps.size(); i += L) {
        B b{{}, true, {}};
        for (int k = 0; k < L; k++) {
            const auto &p = ps[i + (size_t)k];
            floe_requant_mult q = floe_requant_mult_mul(p.first, p.second);
            b.in[(size_t)k] = p;
            b.want[(size_t)k] = std::make_pair(q.m, q.shift);
            if (carries((uint64_t)p.first.m, (uint64_t)p.second.m))
                (*n_carries)++;
        }
        beats.push_back(b);
    }
    return beats;
}

} // namespace

int main(int argc, char **argv)
{
    floe_tb::Tb<Vmultmul> tb("multmul", argc, argv);
    floe_tb::Port<Vmultmul, In, Out> port;
    port.drive = [](Vmultmul *t, const In &in) {
        for (int i = 0; i < L; i++) {
            t->am[i] = (uint32_t)in[(size_t)i].first.m;
            t->ash[i] = (uint8_t)in[(size_t)i].first.shift;
            t->bm[i] = (uint32_t)in[(size_t)i].second.m;
            t->bsh[i] = (uint8_t)in[(size_t)i].second.shift;
        }
    };
    port.set_in_valid = [](Vmultmul *t, bool v) { t->in_valid = v; };
    port.in_ready = [](Vmultmul *t) { return t->in_ready != 0; };
    port.out_valid = [](Vmultmul *t) { return t->out_valid != 0; };
    port.set_out_ready = [](Vmultmul *t, bool v) { t->out_ready = v; };
    port.read = [](Vmultmul *t) {
        Out o;
        for (int i = 0; i < L; i++)
            o[(size_t)i] = std::make_pair((int32_t)t->m[i], (int32_t)t->shift[i]);
        return o;
    };
    static long shown = 0;
    port.same = [](const Out &want, const Out &got, long idx) {
        bool ok = true;
        for (int i = 0; i < L; i++)
            if (want[(size_t)i] != got[(size_t)i]) {
                ok = false;
                if (!g_quiet && shown++ < 5) {
                    const auto &p = (*g_beats)[(size_t)idx].in[(size_t)i];
                    std::printf("multmul: {%d, %d} x {%d, %d}: want {%d, %d} got {%d, %d}\n", p.first.m, p.first.shift,
                                p.second.m, p.second.shift, want[(size_t)i].first, want[(size_t)i].second,
                                got[(size_t)i].first, got[(size_t)i].second);
                }
            }
        return ok;
    };
    long n = floe_tb::cases(5000), carries = 0;
    std::vector<B> full = make_beats(n, 5, true, &carries), stress = make_beats(n / 4, 6, false, &carries);
    g_beats = &full;
    floe_tb::RunStats a = floe_tb::run(tb, port, full, false, 15);
    floe_tb::report("multmul", "full rate", a, (long)full.size());
    g_beats = &stress;
    floe_tb::RunStats b = floe_tb::run(tb, port, stress, true, 16);
    floe_tb::report("multmul", "random valid/ready", b, (long)stress.size());
    long failed = a.failed + b.failed, outputs = a.outputs + b.outputs;
    outputs++; // one more case: the latency at full rate
    if (a.first_latency != 2 || a.cycles > (uint64_t)full.size() + 3) {
        std::printf("multmul: latency %ld, %llu cycles for %zu beats: expected 2 and one beat a cycle\n",
                    a.first_latency, (unsigned long long)a.cycles, full.size());
        failed++;
    }

    // The harness must be able to fail: the stress beats with one expected shift wrong in one bit
    // give exactly one mismatch.
    std::vector<B> wrong = stress;
    wrong[wrong.size() / 2].want[0].second ^= 1;
    g_beats = &wrong;
    g_quiet = true;
    floe_tb::RunStats c = floe_tb::run(tb, port, wrong, true, 17);
    bool detected = c.failed == 1 && c.outputs == b.outputs;
    std::printf("multmul: one wrong expected value: %ld mismatch(es) of %ld results: %s\n", c.failed, c.outputs,
                detected ? "DETECTED" : "NOT DETECTED");
    if (!detected)
        failed++;
    outputs++;
    std::printf("multmul: %d lanes, %ld lane results (%ld rounding carries into bit 31)\n", L,
                (a.outputs + b.outputs) * L, carries);
    return floe_tb::finish(outputs - failed, failed);
}
