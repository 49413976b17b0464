// Verilator co-simulation harness shared by the tests/rtl testbenches (docs/rtl.md).
//
// A unit is driven through its valid/ready ports by a list of beats; every beat that produces a
// result carries the result the C numeric core computes, and every output the RTL hands over is
// compared bit for bit with the next expected one, in order. Two runs per unit:
//   full rate   input always valid, output always ready: cycles per operation and latency;
//   stressed    random input gaps and output back-pressure: the handshakes.
// The closing line is "N passed, N failed" (one case = one output beat); the exit status is
// non-zero on any failure.
//
// Environment: FLOE_RTL_TRACE=<dir> dumps <dir>/<unit>.fst (FST waveform of every run; GTKWave
//              opens it; gtkwave's fst2vcd converts it);
//              FLOE_RTL_CASES=<n> overrides the number of random cases (e.g. small, with a trace).
#ifndef FLOE_TESTS_RTL_TB_H
#define FLOE_TESTS_RTL_TB_H

#include <verilated.h>
#include <verilated_fst_c.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/rng.h"

namespace floe_tb {

// Number of random cases: the unit's default unless FLOE_RTL_CASES says otherwise.
inline long cases(long dflt)
{
    const char *s = std::getenv("FLOE_RTL_CASES");
    if (!s || !*s)
        return dflt;
    long n = std::strtol(s, nullptr, 10);
    return n > 0 ? n : dflt;
}

template <class V> class Tb {
public:
    Tb(const char *unit, int argc, char **argv) : unit_(unit), ctx_(new VerilatedContext)
    {
        ctx_->commandArgs(argc, argv);
        const char *dir = std::getenv("FLOE_RTL_TRACE");
        if (dir && *dir)
            ctx_->traceEverOn(true); // must precede the model's construction
        top_.reset(new V{ctx_.get(), unit});
        if (dir && *dir) {
            trace_.reset(new VerilatedFstC);
            top_->trace(trace_.get(), 99);
            std::string path = std::string(dir) + "/" + unit + ".fst";
            trace_->open(path.c_str());
            std::printf("%s: waveform %s\n", unit, path.c_str());
        }
        top_->clk = 0;
        top_->rst_n = 0;
        top_->eval();
        tick();
        tick();
        top_->rst_n = 1;
        top_->eval();
    }
    ~Tb()
    {
        top_->final();
        if (trace_)
            trace_->close();
    }
    Tb(const Tb &) = delete;
    Tb &operator=(const Tb &) = delete;

    V *top() { return top_.get(); }
    const char *unit() const { return unit_; }
    uint64_t cycles() const { return cycles_; }

    // settle(): the combinational outputs for the inputs just set, clock low. tick(): one rising
    // edge, then the clock back low (two evaluations per cycle: the model's combinational logic is
    // most of the simulation time).
    void settle() { top_->eval(); }
    void tick()
    {
        dump();
        top_->clk = 1;
        top_->eval();
        dump();
        top_->clk = 0;
        top_->eval();
        cycles_++;
    }

private:
    void dump()
    {
        if (trace_)
            trace_->dump(ctx_->time());
        ctx_->timeInc(1);
    }
    const char *unit_;
    std::unique_ptr<VerilatedContext> ctx_;
    std::unique_ptr<V> top_;
    std::unique_ptr<VerilatedFstC> trace_;
    uint64_t cycles_ = 0;
};

// One input beat of a unit. `has_out`: the beat completes an operation whose result is `want`.
template <class In, class Out> struct Beat {
    In in;
    bool has_out;
    Out want;
};

struct RunStats {
    long outputs = 0, failed = 0;
    uint64_t cycles = 0;        // from the first beat offered to the last result taken
    long first_latency = -1;    // cycles from the first beat accepted to its result
    long max_latency = 0;       // over the operations (from the accepting edge of their last beat)
};

// Drives `beats` through the unit. drive(top, in): put a beat on the input port; read(top): the
// output port's value; same(want, got, index): compare (and report) one result.
template <class V, class In, class Out> struct Port {
    std::function<void(V *, const In &)> drive;
    std::function<void(V *, bool)> set_in_valid;
    std::function<bool(V *)> in_ready;
    std::function<bool(V *)> out_valid;
    std::function<void(V *, bool)> set_out_ready;
    std::function<Out(V *)> read;
    std::function<bool(const Out &, const Out &, long)> same;
};

template <class V, class In, class Out>
RunStats run(Tb<V> &tb, const Port<V, In, Out> &port, const std::vector<Beat<In, Out>> &beats,
             bool stress, uint64_t seed)
{
    floe_rng rng;
    floe_rng_seed(&rng, seed);
    RunStats st;
    V *top = tb.top();
    struct Pending {
        Out want;
        uint64_t accepted;
        long index;
    };
    std::deque<Pending> expect;
    size_t next = 0;
    long outputs_due = 0;
    for (const auto &b : beats)
        outputs_due += b.has_out ? 1 : 0;
    uint64_t start = tb.cycles(), idle = 0;
    while (st.outputs < outputs_due) {
        bool offer = next < beats.size() && (!stress || floe_rng_below(&rng, 4) != 0);
        bool ready = !stress || floe_rng_below(&rng, 3) != 0;
        if (offer)
            port.drive(top, beats[next].in);
        port.set_in_valid(top, offer);
        port.set_out_ready(top, ready);
        tb.settle();
        if (ready && port.out_valid(top)) {
            if (expect.empty()) {
                std::printf("%s: output beat with no operation pending\n", tb.unit());
                st.failed++;
                return st;
            }
            Out got = port.read(top);
            const Pending &p = expect.front();
            long lat = (long)(tb.cycles() - p.accepted);
            if (st.first_latency < 0)
                st.first_latency = lat;
            if (lat > st.max_latency)
                st.max_latency = lat;
            if (!port.same(p.want, got, p.index))
                st.failed++;
            st.outputs++;
            expect.pop_front();
            idle = 0;
        }
        if (offer && port.in_ready(top)) {
            if (beats[next].has_out)
                expect.push_back(Pending{beats[next].want, tb.cycles(), (long)next});
            next++;
            idle = 0;
        }
        tb.tick();
        if (++idle > 100000) {
            std::printf("%s: deadlock: no handshake for 100000 cycles\n", tb.unit());
            st.failed += outputs_due - st.outputs;
            break;
        }
    }
    port.set_in_valid(top, false);
    st.cycles = tb.cycles() - start;
    return st;
}

// Prints the cycle figures of a full-rate run and returns the failures.
inline long report(const char *unit, const char *what, const RunStats &s, long ops)
{
    std::printf("%s: %-26s %8ld ops  %9.3f cycles/op  latency %ld cycles  (%ld failed)\n", unit,
                what, ops, ops ? (double)s.cycles / (double)ops : 0.0, s.first_latency, s.failed);
    return s.failed;
}

inline int finish(long passed, long failed)
{
    std::printf("%ld passed, %ld failed\n", passed, failed);
    return failed ? 1 : 0;
}

} // namespace floe_tb

#endif
