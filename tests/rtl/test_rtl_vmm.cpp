// vmm RTL vs floe_vmm_i8_i8_ref, floe_vmm_i8_i4_ref and floe_vmm_i16_i8_ref (docs/numerics.md §9),
// bit for bit. An operation is LANES output channels over K inputs, streamed as ceil(K / per-beat)
// beats (the tail padded with zeros, odd int4 K included), starting from acc_in or from the
// previous result; accumulators near the int32 limits check the wrap-around.
#include <array>

#include "tests/rtl/tb.h"
#include "Vvmm.h"

#include "isa/saturate.h"
#include "isa/vmm.h"

namespace {

constexpr int L = FLOE_RTL_VMM_LANES, D = FLOE_RTL_VMM_DEPTH;
enum Mode { I8 = 0, I4 = 1, I16 = 2 };
static const char *const MODE_NAME[] = {"int8 x int8", "int8 x int4", "int16 x int8"};

struct In {
    uint8_t wprec4, xprec16, first, last;
    uint8_t x[2 * D];
    uint8_t w[L][D];
    int32_t acc_in[L];
};
typedef std::array<int32_t, L> Out;
typedef floe_tb::Beat<In, Out> B;
std::vector<B> *g_beats = nullptr;

int32_t draw(floe_rng *r, int extreme, int32_t lo, int32_t hi)
{
    if (extreme == 1)
        return lo;
    if (extreme == 2)
        return floe_rng_below(r, 2) ? lo : hi;
    return (int32_t)floe_rng_range(r, lo, hi);
}

// One operation of K inputs in `mode`, appended as beats; `acc` is the running accumulator state
// (the previous result), updated to this operation's result.
void add_op(std::vector<B> &beats, floe_rng *r, Mode mode, size_t K, bool load, int extreme,
            Out &acc)
{
    const size_t per_beat = mode == I4 ? 2 * D : D;
    const size_t nb = (K + per_beat - 1) / per_beat;
    const size_t Kp = nb * per_beat;
    std::vector<int16_t> x(Kp, 0);
    std::vector<int8_t> w((size_t)L * Kp, 0);
    const int32_t xlo = mode == I16 ? INT16_MIN : INT8_MIN, xhi = mode == I16 ? INT16_MAX : INT8_MAX;
    const int32_t wlo = mode == I4 ? -8 : -128, whi = mode == I4 ? 7 : 127;
    for (size_t k = 0; k < K; k++)
        x[k] = (int16_t)draw(r, extreme, xlo, xhi);
    for (size_t n = 0; n < (size_t)L; n++)
        for (size_t k = 0; k < K; k++)
            w[n * Kp + k] = (int8_t)draw(r, extreme, wlo, whi);
    Out acc_in;
    for (size_t n = 0; n < (size_t)L; n++) {
        int32_t a = (int32_t)floe_rng_u64(r);
        if (floe_rng_below(r, 2)) // near the limits: the sum wraps
            a = (a & 1) ? INT32_MAX - (a & 0xFFFF) : INT32_MIN + (a & 0xFFFF);
        acc_in[n] = a;
    }
    // The C reference, on the unpadded K.
    Out want = load ? acc_in : acc;
    for (size_t n = 0; n < (size_t)L; n++) {
        std::vector<int8_t> row8(K);
        std::vector<int16_t> xs(x.begin(), x.begin() + (long)K);
        for (size_t k = 0; k < K; k++)
            row8[k] = w[n * Kp + k];
        int32_t a = want[n];
        if (mode == I8) {
            std::vector<int8_t> x8(K);
            for (size_t k = 0; k < K; k++)
                x8[k] = (int8_t)x[k];
            floe_vmm_i8_i8_ref(&a, x8.data(), row8.data(), K, 1);
        } else if (mode == I4) {
            std::vector<int8_t> x8(K);
            std::vector<uint8_t> packed((K + 1) / 2);
            for (size_t k = 0; k < K; k++)
                x8[k] = (int8_t)x[k];
            floe_pack_i4_array(packed.data(), row8.data(), K);
            floe_vmm_i8_i4_ref(&a, x8.data(), packed.data(), K, 1);
        } else {
            floe_vmm_i16_i8_ref(&a, xs.data(), row8.data(), K, 1);
        }
        want[n] = a;
    }
    acc = want;
    for (size_t b = 0; b < nb; b++) {
        B beat{};
        beat.in.wprec4 = mode == I4;
        beat.in.xprec16 = mode == I16;
        beat.in.first = b == 0 && load;
        beat.in.last = b + 1 == nb;
        for (size_t n = 0; n < (size_t)L; n++)
            beat.in.acc_in[n] = acc_in[n];
        for (size_t j = 0; j < (size_t)D; j++) {
            size_t k = b * per_beat;
            if (mode == I8) {
                beat.in.x[j] = (uint8_t)x[k + j];
            } else if (mode == I4) {
                beat.in.x[2 * j] = (uint8_t)x[k + 2 * j];
                beat.in.x[2 * j + 1] = (uint8_t)x[k + 2 * j + 1];
            } else {
                beat.in.x[2 * j] = (uint8_t)((uint16_t)x[k + j] & 0xFF);
                beat.in.x[2 * j + 1] = (uint8_t)((uint16_t)x[k + j] >> 8);
            }
            for (size_t n = 0; n < (size_t)L; n++) {
                if (mode == I4)
                    beat.in.w[n][j] = floe_pack_i4(w[n * Kp + k + 2 * j], w[n * Kp + k + 2 * j + 1]);
                else
                    beat.in.w[n][j] = (uint8_t)w[n * Kp + k + j];
            }
        }
        beat.has_out = beat.in.last;
        beat.want = want;
        beats.push_back(beat);
    }
}

// n_ops random operations; mode < 0 mixes modes (and extremes, odd K, continued accumulations).
std::vector<B> make_ops(long n_ops, uint64_t seed, int mode, size_t fixed_beats)
{
    std::vector<B> beats;
    floe_rng r;
    floe_rng_seed(&r, seed);
    Out acc{};
    for (long i = 0; i < n_ops; i++) {
        Mode m = mode >= 0 ? (Mode)mode : (Mode)floe_rng_below(&r, 3);
        size_t per_beat = m == I4 ? 2 * D : D;
        size_t K = fixed_beats ? fixed_beats * per_beat : (size_t)floe_rng_range(&r, 1, 6 * (int64_t)per_beat);
        int extreme = mode >= 0 ? 0 : (int)floe_rng_below(&r, 8);
        extreme = extreme <= 2 ? extreme : 0;
        bool load = i == 0 || mode >= 0 || floe_rng_below(&r, 4) != 0;
        add_op(beats, &r, m, K, load, extreme, acc);
    }
    return beats;
}

} // namespace

int main(int argc, char **argv)
{
    floe_tb::Tb<Vvmm> tb("vmm", argc, argv);
    floe_tb::Port<Vvmm, In, Out> port;
    port.drive = [](Vvmm *t, const In &in) {
        t->wprec4 = in.wprec4;
        t->xprec16 = in.xprec16;
        t->first = in.first;
        t->last = in.last;
        for (int j = 0; j < 2 * D; j++)
            t->x[j] = in.x[j];
        for (int n = 0; n < L; n++) {
            for (int j = 0; j < D; j++)
                t->w[n][j] = in.w[n][j];
            t->acc_in[n] = (uint32_t)in.acc_in[n];
        }
    };
    port.set_in_valid = [](Vvmm *t, bool v) { t->in_valid = v; };
    port.in_ready = [](Vvmm *t) { return t->in_ready != 0; };
    port.out_valid = [](Vvmm *t) { return t->out_valid != 0; };
    port.set_out_ready = [](Vvmm *t, bool v) { t->out_ready = v; };
    port.read = [](Vvmm *t) {
        Out o;
        for (int n = 0; n < L; n++)
            o[(size_t)n] = (int32_t)t->acc[n];
        return o;
    };
    static long shown = 0;
    port.same = [](const Out &want, const Out &got, long idx) {
        bool ok = true;
        for (int n = 0; n < L; n++)
            if (want[(size_t)n] != got[(size_t)n]) {
                ok = false;
                if (shown++ < 5) {
                    const In &in = (*g_beats)[(size_t)idx].in;
                    std::printf("vmm: beat %ld (%s) lane %d: want %d got %d\n", idx,
                                MODE_NAME[in.xprec16 ? 2 : in.wprec4], n, want[(size_t)n], got[(size_t)n]);
                }
            }
        return ok;
    };

    long outputs = 0, failed = 0;
    // Cycle figures: one-beat operations at full rate in each mode (MACs per cycle).
    long n_timing = floe_tb::cases(3000);
    for (int m = 0; m < 3; m++) {
        std::vector<B> beats = make_ops(n_timing, 20 + (uint64_t)m, m, 1);
        g_beats = &beats;
        floe_tb::RunStats s = floe_tb::run(tb, port, beats, false, 30 + (uint64_t)m);
        char what[64];
        std::snprintf(what, sizeof what, "%s, 1 beat/op", MODE_NAME[m]);
        floe_tb::report("vmm", what, s, (long)beats.size());
        double macs = (double)L * (m == I4 ? 2 * D : D) * (double)beats.size() / (double)s.cycles;
        std::printf("vmm: %-26s %.1f MACs/cycle (%d lanes x %d slots)\n", MODE_NAME[m], macs, L, D);
        outputs += s.outputs;
        failed += s.failed;
    }
    // Mixed modes, K from 1 to 6 beats, extremes, continued accumulations; then with back-pressure.
    long n_mixed = floe_tb::cases(3000);
    std::vector<B> mixed = make_ops(n_mixed, 40, -1, 0), stress = make_ops(n_mixed / 3, 41, -1, 0);
    g_beats = &mixed;
    floe_tb::RunStats a = floe_tb::run(tb, port, mixed, false, 42);
    floe_tb::report("vmm", "mixed, 1-6 beats/op", a, a.outputs);
    g_beats = &stress;
    floe_tb::RunStats b = floe_tb::run(tb, port, stress, true, 43);
    floe_tb::report("vmm", "random valid/ready", b, b.outputs);
    outputs += a.outputs + b.outputs;
    failed += a.failed + b.failed;
    std::printf("vmm: %d lanes x %d slots, %ld operations\n", L, D, outputs);
    return floe_tb::finish(outputs - failed, failed);
}
