// vector RTL vs the C contract, bit for bit: floe_sat_bits over exact 64-bit arithmetic for the
// elementwise ops (docs/numerics.md §1, and the one rounding rule for SHR; MULR is vmul's
// floe_requant_raw of the product), floe_lut8_apply and
// floe_lut16_apply for the lookups (§6) with SiLU tables from floe_silu_*_build and random tables.
#include <array>

#include "tests/rtl/tb.h"
#include "Vvector.h"

#include "isa/lut.h"
#include "isa/requant.h"
#include "isa/saturate.h"
#include "isa/silu.h"

namespace {

constexpr int L = FLOE_RTL_LANES;
enum Op { ADD, SUB, MUL, MAX, MIN, SHL, SHR, SAT, LUT8, LUT16, MULR, N_OPS };
static const char *const OP_NAME[] = {"add", "sub", "mul", "max", "min", "shl", "shr", "sat", "lut8", "lut16", "mulr"};

struct In {
    int op, bits, sh;
    int32_t a[L], b[L];
};
typedef std::array<int32_t, L> Out;
typedef floe_tb::Beat<In, Out> B;
std::vector<B> *g_beats = nullptr;

// The C definition of every op (the unit's contract, from isa/ primitives).
int32_t reference(const In &in, int i, const floe_lut8 &t8, const floe_lut16 &t16)
{
    int64_t a = in.a[i], b = in.b[i];
    int s = (int)(b & 31);
    switch (in.op) {
    case ADD: return floe_sat_bits(a + b, in.bits);
    case SUB: return floe_sat_bits(a - b, in.bits);
    case MUL: return floe_sat_bits(a * b, in.bits);
    case MAX: return floe_sat_bits(a > b ? a : b, in.bits);
    case MIN: return floe_sat_bits(a < b ? a : b, in.bits);
    case SHL: return floe_sat_bits(a * ((int64_t)1 << s), in.bits);
    case SHR: return floe_sat_bits(s == 0 ? a : (a + ((int64_t)1 << (s - 1))) >> s, in.bits);
    case SAT: return floe_sat_bits(a, in.bits);
    case LUT8: return floe_lut8_apply(&t8, (int8_t)(uint8_t)(uint32_t)in.a[i]);
    case MULR: return floe_sat_bits(floe_requant_raw((int32_t)a, (floe_requant_mult){(int32_t)b, in.sh}), in.bits);
    default: {
        floe_lut16 t = t16;
        t.hi = (int32_t)(((int64_t)1 << (in.bits - 1)) - 1);
        t.lo = -t.hi - 1;
        return floe_lut16_apply(&t, (int16_t)(uint16_t)(uint32_t)in.a[i]);
    }
    }
}

int32_t operand(floe_rng *r)
{
    switch (floe_rng_below(r, 8)) {
    case 0: return INT32_MIN;
    case 1: return INT32_MAX;
    case 2: return (int32_t)floe_rng_range(r, -3, 3);
    default: {
        int32_t v = (int32_t)floe_rng_u64(r);
        return v >> floe_rng_below(r, 32);
    }
    }
}

std::vector<B> make_beats(long n, uint64_t seed, const floe_lut8 &t8, const floe_lut16 &t16,
                          bool with_lut8)
{
    static const int common_bits[] = {4, 8, 16, 32};
    std::vector<B> beats;
    floe_rng r;
    floe_rng_seed(&r, seed);
    uint32_t sweep8 = 0, sweep16 = 0;
    for (long i = 0; i < n; i++) {
        B bt{};
        bt.in.op = (int)floe_rng_below(&r, N_OPS);
        if (bt.in.op == LUT8 && !with_lut8)
            bt.in.op = LUT16;
        bt.in.bits = floe_rng_below(&r, 2) ? common_bits[floe_rng_below(&r, 4)] : (int)floe_rng_range(&r, 2, 32);
        bt.in.sh = floe_rng_below(&r, 2) ? (int)floe_rng_range(&r, 0, 8) : (int)floe_rng_range(&r, 0, 62);
        for (int k = 0; k < L; k++) {
            bt.in.a[k] = operand(&r);
            bt.in.b[k] = operand(&r);
            if (bt.in.op == SHR && floe_rng_below(&r, 2)) { // an exact tie: a = odd * 2^(s-1)
                int s = (int)floe_rng_range(&r, 1, 31);
                bt.in.b[k] = s;
                bt.in.a[k] = (int32_t)((((uint32_t)floe_rng_u64(&r) | 1u) << (s - 1)));
            }
            // Half the lookups sweep the table in order: every lut8 index and every lut16 segment
            // (with a random fraction) comes up several times.
            if (bt.in.op == LUT8 && floe_rng_below(&r, 2))
                bt.in.a[k] = (int32_t)(sweep8++ % 256) - 128;
            if (bt.in.op == LUT16 && floe_rng_below(&r, 2))
                bt.in.a[k] = (int32_t)(((sweep16++ % 256) << 8) | (uint32_t)floe_rng_below(&r, 256)) - 32768;
        }
        bt.has_out = true;
        for (int k = 0; k < L; k++)
            bt.want[(size_t)k] = reference(bt.in, k, t8, t16);
        beats.push_back(bt);
    }
    return beats;
}

} // namespace

// Loads the table memory through the write port (lut8 entries are knots 0..255 of the same memory).
static void load_table(floe_tb::Tb<Vvector> &tb, const int32_t *v, int n)
{
    Vvector *t = tb.top();
    t->in_valid = 0;
    for (int i = 0; i < n; i++) {
        t->tbl_we = 1;
        t->tbl_addr = (uint16_t)i;
        t->tbl_data = (uint32_t)v[i] & ((1u << 22) - 1);
        tb.settle();
        tb.tick();
    }
    t->tbl_we = 0;
}

int main(int argc, char **argv)
{
    floe_tb::Tb<Vvector> tb("vector", argc, argv);
    floe_tb::Port<Vvector, In, Out> port;
    port.drive = [](Vvector *t, const In &in) {
        t->op = (uint8_t)in.op;
        t->bits = (uint8_t)in.bits;
        t->sh = (uint8_t)in.sh;
        for (int k = 0; k < L; k++) {
            t->a[k] = (uint32_t)in.a[k];
            t->b[k] = (uint32_t)in.b[k];
        }
    };
    port.set_in_valid = [](Vvector *t, bool v) { t->in_valid = v; };
    port.in_ready = [](Vvector *t) { return t->in_ready != 0; };
    port.out_valid = [](Vvector *t) { return t->out_valid != 0; };
    port.set_out_ready = [](Vvector *t, bool v) { t->out_ready = v; };
    port.read = [](Vvector *t) {
        Out o;
        for (int k = 0; k < L; k++)
            o[(size_t)k] = (int32_t)t->y[k];
        return o;
    };
    static long shown = 0;
    port.same = [](const Out &want, const Out &got, long idx) {
        bool ok = true;
        for (int k = 0; k < L; k++)
            if (want[(size_t)k] != got[(size_t)k]) {
                ok = false;
                const In &in = (*g_beats)[(size_t)idx].in;
                if (shown++ < 5)
                    std::printf("vector: %s bits %d a %d b %d: want %d got %d\n", OP_NAME[in.op], in.bits,
                                in.a[k], in.b[k], want[(size_t)k], got[(size_t)k]);
            }
        return ok;
    };

    // Three table contents: the SiLU lut8 (isa/silu.c), the SiLU lut16, random knots over the full
    // +-2^20 range. lut8 and lut16 share the memory, so lut8 is only exercised with the first.
    floe_lut8 silu8;
    floe_silu_lut8_build(&silu8, 1.0 / 16, 1.0 / 4096, 16);
    floe_lut16 silu16;
    floe_silu_lut16_build(&silu16, 1.0 / 2048, 1.0 / 2048, 16);
    static const char *const SET_NAME[] = {"full rate, SiLU lut8", "full rate, SiLU lut16", "full rate, random knots"};
    long outputs = 0, failed = 0, n = floe_tb::cases(6000);
    for (int set = 0; set < 3; set++) {
        floe_rng r;
        floe_rng_seed(&r, 50 + (uint64_t)set);
        int32_t mem[FLOE_LUT16_KNOTS];
        for (int k = 0; k < FLOE_LUT16_KNOTS; k++)
            mem[k] = set == 0 ? (k < 256 ? silu8.v[k] : 0)
                   : set == 1 ? silu16.v[k]
                              : (int32_t)floe_rng_range(&r, -FLOE_LUT16_KNOT_LIMIT, FLOE_LUT16_KNOT_LIMIT);
        floe_lut8 t8 = silu8;
        floe_lut16 t16 = silu16;
        for (int k = 0; k < FLOE_LUT16_KNOTS; k++)
            t16.v[k] = mem[k];
        load_table(tb, mem, FLOE_LUT16_KNOTS);
        std::vector<B> full = make_beats(n, 60 + (uint64_t)set, t8, t16, set == 0);
        std::vector<B> stress(full.begin(), full.begin() + (long)full.size() / 4);
        g_beats = &full;
        floe_tb::RunStats a = floe_tb::run(tb, port, full, false, 70 + (uint64_t)set);
        floe_tb::report("vector", SET_NAME[set], a, (long)full.size());
        g_beats = &stress;
        floe_tb::RunStats b = floe_tb::run(tb, port, stress, true, 80 + (uint64_t)set);
        floe_tb::report("vector", "random valid/ready", b, (long)stress.size());
        outputs += a.outputs + b.outputs;
        failed += a.failed + b.failed;
    }
    std::printf("vector: %d lanes, %ld lane results\n", L, outputs * L);
    return floe_tb::finish(outputs - failed, failed);
}
