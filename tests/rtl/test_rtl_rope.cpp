// rope RTL vs floe_rope_rotate_i16 (docs/numerics.md §7), bit for bit: every combination of edge
// operands (x values 0, +-1, +-2^14, -2^15, 2^15 - 1 and an odd value; Q14 cos and sin 0, +-1,
// +-2^13 (the rounding ties), +-2^14 (the saturating products) and 2^14 - 1), and random pairs with
// cos and sin anywhere in [-2^14, 2^14] (the range the contract's int32 arithmetic is exact for), on
// FLOE_RTL_LANES lanes (one beat = one pair per lane). The reference rotates a head vector of
// 2 x FLOE_RTL_LANES values (x[i], x[i + h]) with a one-position table holding the beat's cos and sin.
// Runs at full rate (latency and one beat a cycle) and under random valid/ready, then the check that
// the harness can fail: one expected value made wrong must be detected as exactly one mismatch.
#include <array>

#include "tests/rtl/tb.h"
#include "Vrope.h"

#include "isa/rope.h"

namespace {

constexpr int L = FLOE_RTL_LANES;
struct Lane {
    int16_t a, b, c, s; // x[i], x[i + h], cos[i], sin[i]
};
typedef std::array<Lane, L> In;
typedef std::array<std::pair<int16_t, int16_t>, L> Out; // (y[i], y[i + h]) per lane
typedef floe_tb::Beat<In, Out> B;
std::vector<B> *g_beats = nullptr;
bool g_quiet = false;

std::vector<B> make_beats(long n_random, uint64_t seed, bool edges, long *n_ties, long *n_sat)
{
    std::vector<Lane> ls;
    if (edges) {
        const int16_t xs[] = {0, 1, -1, 16384, -16384, INT16_MIN, INT16_MAX, 12345};
        const int16_t cs[] = {0, 1, -1, 8192, -8192, 16384, -16384, 16383};
        for (int16_t a : xs)
            for (int16_t b : xs)
                for (int16_t c : cs)
                    for (int16_t s : cs)
                        ls.push_back(Lane{a, b, c, s});
    }
    floe_rng r;
    floe_rng_seed(&r, seed);
    for (long i = 0; i < n_random * L; i++) {
        Lane l;
        l.a = (int16_t)(floe_rng_u64(&r) >> 48);
        l.b = (int16_t)(floe_rng_u64(&r) >> 48);
        l.c = (int16_t)((int32_t)floe_rng_below(&r, 32769) - 16384);
        l.s = (int16_t)((int32_t)floe_rng_below(&r, 32769) - 16384);
        ls.push_back(l);
    }
    while (ls.size() % L)
        ls.push_back(Lane{0, 0, 16384, 0});
    std::vector<B> beats;
    for (size_t i = 0; i < ls.size(); i += L) {
        B bt{{}, true, {}};
        int16_t x[2 * L], cs[L], sn[L];
        for (int k = 0; k < L; k++) {
            const Lane &l = ls[i + (size_t)k];
            bt.in[(size_t)k] = l;
            x[k] = l.a;
            x[k + L] = l.b;
            cs[k] = l.c;
            sn[k] = l.s;
            int32_t lo = (int32_t)l.a * l.c - (int32_t)l.b * l.s, hi = (int32_t)l.b * l.c + (int32_t)l.a * l.s;
            *n_ties += ((lo & 0x3fff) == 0x2000) + ((hi & 0x3fff) == 0x2000);
            *n_sat += (lo >= (32768 << 14) - 8192 || lo < -(32768 << 14) - 8192) +
                      (hi >= (32768 << 14) - 8192 || hi < -(32768 << 14) - 8192);
        }
        floe_rope_table t = {1, L, cs, sn};
        floe_rope_rotate_i16(x, &t, 0);
        for (int k = 0; k < L; k++)
            bt.want[(size_t)k] = std::make_pair(x[k], x[k + L]);
        beats.push_back(bt);
    }
    return beats;
}

} // namespace

int main(int argc, char **argv)
{
    floe_tb::Tb<Vrope> tb("rope", argc, argv);
    floe_tb::Port<Vrope, In, Out> port;
    port.drive = [](Vrope *t, const In &in) {
        for (int i = 0; i < L; i++) {
            t->a[i] = (uint16_t)in[(size_t)i].a;
            t->b[i] = (uint16_t)in[(size_t)i].b;
            t->c[i] = (uint16_t)in[(size_t)i].c;
            t->s[i] = (uint16_t)in[(size_t)i].s;
        }
    };
    port.set_in_valid = [](Vrope *t, bool v) { t->in_valid = v; };
    port.in_ready = [](Vrope *t) { return t->in_ready != 0; };
    port.out_valid = [](Vrope *t) { return t->out_valid != 0; };
    port.set_out_ready = [](Vrope *t, bool v) { t->out_ready = v; };
    port.read = [](Vrope *t) {
        Out o;
        for (int i = 0; i < L; i++)
            o[(size_t)i] = std::make_pair((int16_t)t->ylo[i], (int16_t)t->yhi[i]);
        return o;
    };
    static long shown = 0;
    port.same = [](const Out &want, const Out &got, long idx) {
        bool ok = true;
        for (int i = 0; i < L; i++)
            if (want[(size_t)i] != got[(size_t)i]) {
                ok = false;
                if (!g_quiet && shown++ < 5) {
                    const Lane &l = (*g_beats)[(size_t)idx].in[(size_t)i];
                    std::printf("rope: (%d, %d) by (%d, %d): want (%d, %d) got (%d, %d)\n", l.a, l.b, l.c, l.s,
                                want[(size_t)i].first, want[(size_t)i].second, got[(size_t)i].first,
                                got[(size_t)i].second);
                }
            }
        return ok;
    };
    long n = floe_tb::cases(5000), ties = 0, sat = 0;
    std::vector<B> full = make_beats(n, 7, true, &ties, &sat), stress = make_beats(n / 4, 8, false, &ties, &sat);
    g_beats = &full;
    floe_tb::RunStats a = floe_tb::run(tb, port, full, false, 18);
    floe_tb::report("rope", "full rate", a, (long)full.size());
    g_beats = &stress;
    floe_tb::RunStats b = floe_tb::run(tb, port, stress, true, 19);
    floe_tb::report("rope", "random valid/ready", b, (long)stress.size());
    long failed = a.failed + b.failed, outputs = a.outputs + b.outputs;
    outputs++; // one more case: the latency at full rate
    if (a.first_latency != 2 || a.cycles > (uint64_t)full.size() + 3) {
        std::printf("rope: latency %ld, %llu cycles for %zu beats: expected 2 and one beat a cycle\n", a.first_latency,
                    (unsigned long long)a.cycles, full.size());
        failed++;
    }

    // The harness must be able to fail: the stress beats with one expected value wrong in its lowest
    // bit give exactly one mismatch.
    std::vector<B> wrong = stress;
    wrong[wrong.size() / 2].want[0].second ^= 1;
    g_beats = &wrong;
    g_quiet = true;
    floe_tb::RunStats c = floe_tb::run(tb, port, wrong, true, 20);
    bool detected = c.failed == 1 && c.outputs == b.outputs;
    std::printf("rope: one wrong expected value: %ld mismatch(es) of %ld results: %s\n", c.failed, c.outputs,
                detected ? "DETECTED" : "NOT DETECTED");
    if (!detected)
        failed++;
    outputs++;
    std::printf("rope: %d lanes, %ld lane results (%ld rounding ties, %ld saturated)\n", L, (a.outputs + b.outputs) * L,
                ties, sat);
    return floe_tb::finish(outputs - failed, failed);
}
