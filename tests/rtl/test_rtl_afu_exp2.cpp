// afu_exp2 RTL vs floe_exp2_neg (docs/numerics.md §5), bit for bit: every input from -5120 to +256
// (all non-zero outputs and past the cut-off), the extremes, and random int32 scores.
#include <array>

#include "tests/rtl/tb.h"
#include "Vafu_exp2.h"

#include "isa/softmax.h"

namespace {

constexpr int L = FLOE_RTL_LANES;
typedef std::array<int32_t, L> In;
typedef std::array<uint32_t, L> Out;
typedef floe_tb::Beat<In, Out> B;
std::vector<B> *g_beats = nullptr;

std::vector<B> make_beats(long n_random, uint64_t seed)
{
    std::vector<int32_t> xs;
    for (int32_t x = -5120; x <= 256; x++)
        xs.push_back(x);
    for (int32_t x : {INT32_MIN, INT32_MIN + 1, INT32_MAX, -(17 << 8), -(17 << 8) + 1, -(16 << 8) - 255})
        xs.push_back(x);
    floe_rng r;
    floe_rng_seed(&r, seed);
    for (long i = 0; i < n_random * L; i++) {
        int32_t x = (int32_t)floe_rng_u64(&r);
        x >>= floe_rng_below(&r, 32);
        xs.push_back(x);
    }
    while (xs.size() % L)
        xs.push_back(0);
    std::vector<B> beats;
    for (size_t i = 0; i < xs.size(); i += L) {
        B b{{}, true, {}};
        for (int k = 0; k < L; k++) {
            b.in[(size_t)k] = xs[i + (size_t)k];
            b.want[(size_t)k] = floe_exp2_neg(xs[i + (size_t)k]);
        }
        beats.push_back(b);
    }
    return beats;
}

} // namespace

int main(int argc, char **argv)
{
    floe_tb::Tb<Vafu_exp2> tb("afu_exp2", argc, argv);
    floe_tb::Port<Vafu_exp2, In, Out> port;
    port.drive = [](Vafu_exp2 *t, const In &in) {
        for (int i = 0; i < L; i++)
            t->x[i] = (uint32_t)in[(size_t)i];
    };
    port.set_in_valid = [](Vafu_exp2 *t, bool v) { t->in_valid = v; };
    port.in_ready = [](Vafu_exp2 *t) { return t->in_ready != 0; };
    port.out_valid = [](Vafu_exp2 *t) { return t->out_valid != 0; };
    port.set_out_ready = [](Vafu_exp2 *t, bool v) { t->out_ready = v; };
    port.read = [](Vafu_exp2 *t) {
        Out o;
        for (int i = 0; i < L; i++)
            o[(size_t)i] = t->y[i];
        return o;
    };
    static long shown = 0;
    port.same = [](const Out &want, const Out &got, long idx) {
        bool ok = true;
        for (int i = 0; i < L; i++)
            if (want[(size_t)i] != got[(size_t)i]) {
                ok = false;
                if (shown++ < 5)
                    std::printf("afu_exp2: x %d: want %u got %u\n", (*g_beats)[(size_t)idx].in[(size_t)i],
                                want[(size_t)i], got[(size_t)i]);
            }
        return ok;
    };
    long n = floe_tb::cases(20000);
    std::vector<B> full = make_beats(n, 3), stress = make_beats(n / 4, 4);
    g_beats = &full;
    floe_tb::RunStats a = floe_tb::run(tb, port, full, false, 13);
    floe_tb::report("afu_exp2", "full rate", a, (long)full.size());
    g_beats = &stress;
    floe_tb::RunStats b = floe_tb::run(tb, port, stress, true, 14);
    floe_tb::report("afu_exp2", "random valid/ready", b, (long)stress.size());
    std::printf("afu_exp2: %d lanes, %ld lane results\n", L, (a.outputs + b.outputs) * L);
    return floe_tb::finish(a.outputs + b.outputs - a.failed - b.failed, a.failed + b.failed);
}
