// floe-rtl-check: co-simulation of the RTL core wrapper (rtl/core.sv) against the C simulator
// (sim/), docs/rtl.md "Co-simulation of the core".
//
// Every tile is one ISA instruction (vmm, requant, vrequant, vadd, vmax, vmul, vshift, vsat, exp2,
// lut8, lut16, recip, rsqrt, vsum, vsumsq, vmaxr, the composites rmsnorm, softmax, rmsnormt, vrequantt,
// and rope, requantk, multmul) with
// the core memory and accumulators it reads. The simulator runs it as a one-instruction program
// (its functional units give the expected bits, its timing model the cycles: the unit's busy time
// plus the unit's pipeline latency); the harness translates the same instruction into the core's
// micro-command (rtl/gen/core_cmd.h), loads the operands through the host port, runs the command
// and compares every result byte-for-byte (element by element) and the cycles.
//
// Tiles come from (a) random operands and (b) a compiled model: a built-in model (`tiny`) with
// random quantized weights, compiled for the machine (floe_compile_prefill) and run on the
// simulator with random embeddings; every supported instruction of every core is then replayed
// on the memory the run left (register offsets taken as 0: the first iteration of a loop).
//
// Usage: floe-rtl-check [--machine FILE] [--tiles N] [--model NAME] [--model-tiles N] [--act-scaling per-token] [--seed S]
//                       [--wave FILE] [--csv FILE] [--variant flip] [--expect-flip]
// Exit: 0 all results equal (with --expect-flip: the wrong variant was detected, every mismatch a
// requant rounding tie), 1 otherwise, 2 usage.
#include <verilated.h>
#include <verilated_fst_c.h>

#include "Vcore.h"
#include "Vcore_flip.h"

#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/atomic_file.h"
#include "common/rng.h"
#include "isa/builder.h"
#include "isa/elem.h"
#include "isa/insn.h"
#include "isa/lut.h"
#include "isa/machine.h"
#include "isa/opcodes.h"
#include "isa/recip.h"
#include "isa/requant.h"
#include "isa/token.h"
#include "compiler/compile.h"
#include "models/model_config.h"
#include "models/qmodel.h"
#include "rtl/gen/core_cmd.h"
#include "sim/sim.h"

namespace {

enum Unit { U_VMM, U_REQUANT, U_VECTOR, U_REDUCE, U_AFU, U_LUT, U_RECIP, U_RSQRT, U_RMSNORM, U_SOFTMAX, U_ROPE, U_RMSNORMT, U_VREQUANTT, U_REQUANTK, U_MULTMUL, U_COUNT };
const char *const unit_names[U_COUNT] = {"vmm",      "requant", "vector",    "vreduce",  "afu_exp2",
                                         "afu_lut", "afu_recip", "afu_rsqrt", "rmsnorm", "softmax", "rope",
                                         "rmsnormt", "vrequantt", "requantk", "multmul"};

struct Cmd {
    int op = 0;
    uint32_t dst = 0, a = 0, b = 0, m = 0, acc = 0, n = 0, k = 0;
    int dt = 0, dt2 = 0, x16 = 0, w4 = 0, set = 0, chan = 0, amount = 0;
    Unit unit = U_VMM;
    // what to load and what to compare
    std::vector<std::pair<uint32_t, uint32_t>> loads; // memory ranges (addr, bytes)
    uint32_t acc_load = 0;                            // accumulators to load from `acc`
    uint32_t out_addr = 0, out_bytes = 0;             // memory result (or accumulators for vmm)
    int out_dt = 0;
    uint32_t out_per = 1;                             // out_dt values per element (multipliers: m, shift)
    uint32_t out_n = 0;                               // result elements (n; a reduction's 1)
    bool kbyte = false;                               // per-token k: one int8 after the result
};

struct Tile {
    floe_insn in;
    const std::vector<uint8_t> *mem; // the core memory the instruction reads
    const std::vector<int32_t> *acc;
    int origin; // 0 random, 1 model
};

struct Stats {
    uint64_t tiles = 0, elems = 0, mismatches = 0, bad_tiles = 0, rtl = 0, sim = 0, unexplained = 0;
    double abs_err_sum = 0;
};

uint64_t bytes_for(int dt, uint64_t n) { return floe_dtype_bytes_for((floe_dtype)dt, n); }

// ISA instruction -> micro-command; false when the core does not model this form.
bool to_cmd(const floe_insn &in, uint32_t mem_bytes, uint32_t xmax, Cmd &c)
{
    auto mem = [](int64_t f) { return floe_mem_addr(f); };
    auto supported_dt = [](int64_t dt) { return dt == FLOE_DT_I4 || dt == FLOE_DT_I8 || dt == FLOE_DT_I16 || dt == FLOE_DT_I32; };
    switch (in.op) {
    case FLOE_OP_VMM: {
        c.op = FLOE_CORE_CMD_VMM;
        c.unit = U_VMM;
        c.acc = floe_acc_index(in.f[FLOE_F_VMM_acc]);
        c.a = mem(in.f[FLOE_F_VMM_x]);
        c.b = mem(in.f[FLOE_F_VMM_w]);
        c.k = (uint32_t)in.f[FLOE_F_VMM_k];
        c.n = (uint32_t)in.f[FLOE_F_VMM_n];
        int xp = (int)in.f[FLOE_F_VMM_xp], wp = (int)in.f[FLOE_F_VMM_wp];
        if (xp == FLOE_XP_I4 || wp == FLOE_WP_I2 || (xp == FLOE_XP_I16 && wp == FLOE_WP_I4) || c.k == 0 || c.n == 0)
            return false;
        c.x16 = xp == FLOE_XP_I16;
        c.w4 = wp == FLOE_WP_I4;
        c.set = in.f[FLOE_F_VMM_mode] == FLOE_MODE_SET;
        uint32_t xbytes = c.x16 ? 2 * c.k : c.k, rowbytes = c.w4 ? (c.k + 1) / 2 : c.k;
        if (xbytes > xmax || c.acc + c.n > FLOE_ACCUMULATORS)
            return false;
        c.loads = {{c.a, xbytes}, {c.b, rowbytes * c.n}};
        c.acc_load = c.set ? 0 : c.n;
        c.out_bytes = 4 * c.n;
        c.out_dt = FLOE_DT_I32;
        break;
    }
    case FLOE_OP_REQUANT:
    case FLOE_OP_VREQUANT: {
        int vr = in.op == FLOE_OP_VREQUANT;
        c.op = vr ? FLOE_CORE_CMD_VREQUANT : FLOE_CORE_CMD_REQUANT;
        c.unit = U_REQUANT;
        c.dst = mem(in.f[FLOE_F_REQUANT_dst]);
        c.n = (uint32_t)in.f[FLOE_F_REQUANT_n];
        c.dt = (int)in.f[FLOE_F_REQUANT_dt];
        c.chan = in.f[FLOE_F_REQUANT_scope] == FLOE_SCOPE_CHANNEL;
        c.m = mem(in.f[FLOE_F_REQUANT_mult]);
        if (!supported_dt(c.dt) || (c.dt == FLOE_DT_I4 && c.n % 2))
            return false;
        c.loads = {{c.m, c.chan ? 8 * c.n : 8}};
        if (vr) {
            c.a = mem(in.f[FLOE_F_VREQUANT_a]);
            c.loads.push_back({c.a, 4 * c.n});
        } else {
            c.acc = floe_acc_index(in.f[FLOE_F_REQUANT_acc]);
            if (c.acc + c.n > FLOE_ACCUMULATORS)
                return false;
            c.acc_load = c.n;
        }
        c.out_addr = c.dst;
        c.out_dt = c.dt;
        break;
    }
    case FLOE_OP_VADD:
    case FLOE_OP_VMAX:
    case FLOE_OP_VMUL:
        c.op = in.op == FLOE_OP_VADD ? FLOE_CORE_CMD_VADD : in.op == FLOE_OP_VMAX ? FLOE_CORE_CMD_VMAX : FLOE_CORE_CMD_VMUL;
        c.amount = in.op == FLOE_OP_VMUL ? (int)in.f[FLOE_F_VMUL_sh] : 0;
        c.unit = U_VECTOR;
        c.dst = mem(in.f[FLOE_F_VADD_dst]);
        c.a = mem(in.f[FLOE_F_VADD_a]);
        c.b = mem(in.f[FLOE_F_VADD_b]);
        c.n = (uint32_t)in.f[FLOE_F_VADD_n];
        c.dt = c.out_dt = (int)in.f[FLOE_F_VADD_dt];
        if (!supported_dt(c.dt) || (c.dt == FLOE_DT_I4 && c.n % 2))
            return false;
        c.loads = {{c.a, (uint32_t)bytes_for(c.dt, c.n)}, {c.b, (uint32_t)bytes_for(c.dt, c.n)}};
        c.out_addr = c.dst;
        break;
    case FLOE_OP_VSHIFT:
    case FLOE_OP_VSAT:
        c.op = in.op == FLOE_OP_VSHIFT ? FLOE_CORE_CMD_VSHIFT : FLOE_CORE_CMD_VSAT;
        c.unit = U_VECTOR;
        c.dst = mem(in.f[FLOE_F_VSHIFT_dst]);
        c.a = mem(in.f[FLOE_F_VSHIFT_a]);
        c.n = (uint32_t)in.f[FLOE_F_VSHIFT_n];
        c.dt = (int)in.f[in.op == FLOE_OP_VSAT ? FLOE_F_VSAT_from : FLOE_F_VSHIFT_dt];
        c.dt2 = in.op == FLOE_OP_VSAT ? (int)in.f[FLOE_F_VSAT_to] : c.dt;
        c.amount = in.op == FLOE_OP_VSHIFT ? (int)in.f[FLOE_F_VSHIFT_amount] : 0;
        if (!supported_dt(c.dt) || !supported_dt(c.dt2) || c.amount < -31 || c.amount > 31 ||
            ((c.dt == FLOE_DT_I4 || c.dt2 == FLOE_DT_I4) && c.n % 2))
            return false;
        c.loads = {{c.a, (uint32_t)bytes_for(c.dt, c.n)}};
        c.out_addr = c.dst;
        c.out_dt = c.dt2;
        break;
    case FLOE_OP_EXP2:
        c.op = FLOE_CORE_CMD_EXP2;
        c.unit = U_AFU;
        c.dst = mem(in.f[FLOE_F_EXP2_dst]);
        c.a = mem(in.f[FLOE_F_EXP2_src]);
        c.n = (uint32_t)in.f[FLOE_F_EXP2_n];
        c.loads = {{c.a, 4 * c.n}};
        c.out_addr = c.dst;
        c.out_dt = FLOE_DT_I32;
        break;
    case FLOE_OP_VSUM:
    case FLOE_OP_VSUMSQ:
    case FLOE_OP_VMAXR: // one result: int32 (vsum, vmaxr) or uint64 (vsumsq, compared as two int32)
        c.op = in.op == FLOE_OP_VSUM ? FLOE_CORE_CMD_VSUM : in.op == FLOE_OP_VSUMSQ ? FLOE_CORE_CMD_VSUMSQ
                                                                                     : FLOE_CORE_CMD_VMAXR;
        c.unit = U_REDUCE;
        c.dst = mem(in.f[FLOE_F_VSUM_dst]);
        c.a = mem(in.f[FLOE_F_VSUM_a]);
        c.n = (uint32_t)in.f[FLOE_F_VSUM_n];
        c.dt = (int)in.f[FLOE_F_VSUM_dt];
        if (!supported_dt(c.dt))
            return false;
        c.loads = {{c.a, (uint32_t)bytes_for(c.dt, c.n)}};
        c.out_addr = c.dst;
        c.out_dt = FLOE_DT_I32;
        c.out_per = in.op == FLOE_OP_VSUMSQ ? 2 : 1;
        c.out_n = 1;
        break;
    case FLOE_OP_RECIP:
    case FLOE_OP_RSQRT: { // results are multipliers: int32 m, int32 shift
        int rs = in.op == FLOE_OP_RSQRT;
        c.op = rs ? FLOE_CORE_CMD_RSQRT : FLOE_CORE_CMD_RECIP;
        c.unit = rs ? U_RSQRT : U_RECIP;
        c.dst = mem(in.f[FLOE_F_RECIP_dst]);
        c.a = mem(in.f[FLOE_F_RECIP_src]);
        c.n = (uint32_t)in.f[FLOE_F_RECIP_n];
        c.loads = {{c.a, (rs ? 8 : 4) * c.n}};
        c.out_addr = c.dst;
        c.out_dt = FLOE_DT_I32;
        c.out_per = 2;
        break;
    }
    case FLOE_OP_LUT8:
    case FLOE_OP_LUT16: {
        int l16 = in.op == FLOE_OP_LUT16;
        c.op = l16 ? FLOE_CORE_CMD_LUT16 : FLOE_CORE_CMD_LUT8;
        c.unit = U_LUT;
        c.dst = mem(in.f[FLOE_F_LUT8_dst]);
        c.a = mem(in.f[FLOE_F_LUT8_src]);
        c.b = mem(in.f[FLOE_F_LUT8_table]);
        c.n = (uint32_t)in.f[FLOE_F_LUT8_n];
        c.dt = c.out_dt = l16 ? (int)in.f[FLOE_F_LUT16_dt] : FLOE_DT_I16;
        if (!supported_dt(c.dt) || (c.dt == FLOE_DT_I4 && c.n % 2))
            return false;
        c.loads = {{c.a, l16 ? 2 * c.n : c.n}, {c.b, l16 ? 4 * (FLOE_LUT16_KNOTS + 2) : 512}};
        c.out_addr = c.dst;
        break;
    }
    case FLOE_OP_RMSNORM: // the sequencer: vsumsq + eps, rsqrt, requant by r x c[j]
        c.op = FLOE_CORE_CMD_RMSNORM;
        c.unit = U_RMSNORM;
        c.dst = mem(in.f[FLOE_F_RMSNORM_dst]);
        c.a = mem(in.f[FLOE_F_RMSNORM_src]);
        c.b = mem(in.f[FLOE_F_RMSNORM_c]);
        c.m = mem(in.f[FLOE_F_RMSNORM_eps]);
        c.n = (uint32_t)in.f[FLOE_F_RMSNORM_n];
        c.dt = c.out_dt = (int)in.f[FLOE_F_RMSNORM_dt];
        c.chan = in.f[FLOE_F_RMSNORM_scope] == FLOE_SCOPE_CHANNEL;
        if (!supported_dt(c.dt) || (c.dt == FLOE_DT_I4 && c.n % 2))
            return false;
        c.loads = {{c.a, 2 * c.n}, {c.b, c.chan ? 8 * c.n : 8}, {c.m, 8}};
        c.out_addr = c.dst;
        break;
    case FLOE_OP_SOFTMAX: // the sequencer: vmaxr, exp2 summed, recip, exp2 scaled
        c.op = FLOE_CORE_CMD_SOFTMAX;
        c.unit = U_SOFTMAX;
        c.dst = mem(in.f[FLOE_F_SOFTMAX_dst]);
        c.a = mem(in.f[FLOE_F_SOFTMAX_src]);
        c.n = (uint32_t)in.f[FLOE_F_SOFTMAX_n];
        c.loads = {{c.a, 4 * c.n}};
        c.out_addr = c.dst;
        c.out_dt = FLOE_DT_I16;
        break;
    case FLOE_OP_ROPE: // the rope unit: pairs (x[i], x[i+h]) with cos[i], sin[i]
        c.op = FLOE_CORE_CMD_ROPE;
        c.unit = U_ROPE;
        c.dst = mem(in.f[FLOE_F_ROPE_dst]);
        c.a = mem(in.f[FLOE_F_ROPE_src]);
        c.b = mem(in.f[FLOE_F_ROPE_cos]);
        c.m = mem(in.f[FLOE_F_ROPE_sin]);
        c.n = (uint32_t)in.f[FLOE_F_ROPE_n];
        c.dt = c.out_dt = FLOE_DT_I16;
        if (c.n % 2)
            return false;
        c.loads = {{c.a, 2 * c.n}, {c.b, c.n}, {c.m, c.n}};
        c.out_addr = c.dst;
        break;
    case FLOE_OP_RMSNORMT:
    case FLOE_OP_VREQUANTT: { // the sequencer, with per-token k (one int8 after the row)
        int rt = in.op == FLOE_OP_RMSNORMT;
        c.op = rt ? FLOE_CORE_CMD_RMSNORMT : FLOE_CORE_CMD_VREQUANTT;
        c.unit = rt ? U_RMSNORMT : U_VREQUANTT;
        c.dst = mem(in.f[rt ? FLOE_F_RMSNORMT_dst : FLOE_F_VREQUANTT_dst]);
        c.a = mem(in.f[rt ? FLOE_F_RMSNORMT_src : FLOE_F_VREQUANTT_a]);
        if (rt) {
            c.b = mem(in.f[FLOE_F_RMSNORMT_c]);
            c.m = mem(in.f[FLOE_F_RMSNORMT_eps]);
            c.n = (uint32_t)in.f[FLOE_F_RMSNORMT_n];
            c.dt = (int)in.f[FLOE_F_RMSNORMT_dt];
            c.loads = {{c.a, 2 * c.n}, {c.b, 12}, {c.m, 8}};
        } else {
            c.m = mem(in.f[FLOE_F_VREQUANTT_mult]);
            c.n = (uint32_t)in.f[FLOE_F_VREQUANTT_n];
            c.dt = (int)in.f[FLOE_F_VREQUANTT_dt];
            c.loads = {{c.a, 4 * c.n}, {c.m, 12}};
        }
        c.out_dt = c.dt;
        c.kbyte = true;
        if (!supported_dt(c.dt) || (c.dt == FLOE_DT_I4 && c.n % 2))
            return false;
        c.out_addr = c.dst;
        break;
    }
    case FLOE_OP_REQUANTK: // requant from the accumulators by {m_j, shift_j + k}, k one int8 in memory
        c.op = FLOE_CORE_CMD_REQUANTK;
        c.unit = U_REQUANTK;
        c.dst = mem(in.f[FLOE_F_REQUANTK_dst]);
        c.acc = floe_acc_index(in.f[FLOE_F_REQUANTK_acc]);
        c.m = mem(in.f[FLOE_F_REQUANTK_mult]);
        c.b = mem(in.f[FLOE_F_REQUANTK_k]);
        c.n = (uint32_t)in.f[FLOE_F_REQUANTK_n];
        c.dt = c.out_dt = (int)in.f[FLOE_F_REQUANTK_dt];
        c.chan = 1;
        if (!supported_dt(c.dt) || (c.dt == FLOE_DT_I4 && c.n % 2) || c.acc + c.n > FLOE_ACCUMULATORS)
            return false;
        c.loads = {{c.m, 8 * c.n}, {c.b, 1}};
        c.acc_load = c.n;
        c.out_addr = c.dst;
        break;
    case FLOE_OP_MULTMUL: // multipliers (m, shift) out
        c.op = FLOE_CORE_CMD_MULTMUL;
        c.unit = U_MULTMUL;
        c.dst = mem(in.f[FLOE_F_MULTMUL_dst]);
        c.a = mem(in.f[FLOE_F_MULTMUL_a]);
        c.m = mem(in.f[FLOE_F_MULTMUL_b]);
        c.n = (uint32_t)in.f[FLOE_F_MULTMUL_n];
        c.chan = in.f[FLOE_F_MULTMUL_scope] == FLOE_SCOPE_CHANNEL;
        c.loads = {{c.a, 8 * c.n}, {c.m, c.chan ? 8 * c.n : 8}};
        c.out_addr = c.dst;
        c.out_dt = FLOE_DT_I32;
        c.out_per = 2;
        break;
    default:
        return false;
    }
    if (c.n == 0 || c.n > 65535)
        return false;
    if (c.unit != U_REDUCE)
        c.out_n = c.n;
    if (c.unit != U_VMM)
        c.out_bytes = (uint32_t)bytes_for(c.out_dt, (uint64_t)c.out_per * c.out_n) + (c.kbyte ? 1 : 0);
    for (auto &r : c.loads)
        if ((uint64_t)r.first + r.second > mem_bytes)
            return false;
    if (c.unit != U_VMM && (uint64_t)c.out_addr + c.out_bytes > mem_bytes)
        return false;
    return true;
}

// The simulator's answer for one tile: memory and accumulators after it, and its cycles.
struct SimOut {
    std::vector<uint8_t> mem;
    std::vector<int32_t> acc;
    uint64_t cycles = 0;
};

int sim_tile(const floe_machine *m, const Tile &t, SimOut &o, floe_err *err)
{
    floe_program *p = floe_program_new(floe_machine_fingerprint(m));
    floe_sim *s = nullptr;
    int rc = -1;
    if (!p) {
        floe_err_set(err, "out of memory");
        return -1;
    }
    if (floe_emit(p, 0, 0, &t.in, err) == 0 && floe_sim_new(&s, m, nullptr, err) == 0 && floe_sim_load(s, p, err) == 0) {
        floe_memory *mem = floe_sim_memory(s, 0, 0);
        std::memcpy(mem->bytes, t.mem->data(), t.mem->size());
        floe_memory_note_write(mem, 0, t.mem->size());
        std::memcpy(floe_sim_accumulators(s, 0, 0), t.acc->data(), sizeof(int32_t) * FLOE_ACCUMULATORS);
        floe_sim_options opt{};
        if (floe_sim_run(s, &opt, err) == 0) {
            size_t nc = 0;
            const floe_core_stats *cs = floe_sim_core_stats(s, &nc);
            floe_unit u = floe_op_lookup(t.in.op)->unit;
            // the instruction's own time (docs/sim.md): its unit work and port time, then the
            // pipeline (recip, rsqrt: overlapped with the operand reads, as the simulator does)
            uint64_t n = (uint64_t)t.in.f[FLOE_F_RECIP_n]; // recip, rsqrt: n (their compute and write bytes)
            uint64_t compute = (n + m->afu_ops_per_cycle - 1) / m->afu_ops_per_cycle;
            o.cycles = floe_sim_done(m, t.in.op, cs[0].busy[u], compute ? compute : 1, 8 * n);
            o.mem.assign(mem->bytes, mem->bytes + t.mem->size());
            const int32_t *a = floe_sim_accumulators(s, 0, 0);
            o.acc.assign(a, a + FLOE_ACCUMULATORS);
            rc = 0;
        }
    }
    floe_sim_free(s);
    floe_program_free(p);
    return rc;
}

// The RTL side, for either model (the correct core or the flipped-rounding variant).
template <class V> class Rtl {
public:
    Rtl(const char *wave) : ctx_(new VerilatedContext)
    {
        if (wave)
            ctx_->traceEverOn(true);
        top_.reset(new V{ctx_.get(), "core"});
        if (wave) {
            fst_.reset(new VerilatedFstC);
            top_->trace(fst_.get(), 99);
            fst_->open(wave);
        }
        top_->clk = 0;
        top_->rst_n = 0;
        top_->cmd_valid = 0;
        top_->host_we = 0;
        top_->host_acc_we = 0;
        tick();
        tick();
        top_->rst_n = 1;
        tick();
    }
    ~Rtl()
    {
        if (fst_)
            fst_->close();
        top_->final();
    }
    static constexpr uint32_t W = sizeof(V::host_wdata) / sizeof(V::host_wdata[0]);

    void load(const std::vector<uint8_t> &mem, uint32_t addr, uint32_t bytes)
    {
        top_->host_we = 1;
        for (uint32_t off = 0; off < bytes; off += W) {
            top_->host_addr = addr + off;
            for (uint32_t i = 0; i < W; i++)
                top_->host_wdata[i] = addr + off + i < mem.size() ? mem[addr + off + i] : 0;
            // bytes past the range are written too: they are restored from the same image
            tick();
        }
        top_->host_we = 0;
    }
    void load_acc(const std::vector<int32_t> &acc, uint32_t first, uint32_t n)
    {
        top_->host_acc_we = 1;
        for (uint32_t i = 0; i < n; i++) {
            top_->host_acc_addr = first + i;
            top_->host_acc_wdata = acc[first + i];
            tick();
        }
        top_->host_acc_we = 0;
    }
    void read(std::vector<uint8_t> &out, uint32_t addr, uint32_t bytes)
    {
        out.resize(bytes);
        for (uint32_t off = 0; off < bytes; off += W) {
            top_->host_addr = addr + off;
            top_->eval();
            for (uint32_t i = 0; i < W && off + i < bytes; i++)
                out[off + i] = top_->host_rdata[i];
        }
    }
    int32_t read_acc(uint32_t i)
    {
        top_->host_acc_addr = i;
        top_->eval();
        return (int32_t)top_->host_acc_rdata;
    }
    // Runs one command; returns its cycles (from the accepting edge to the edge of the last
    // result), or 0 on a timeout.
    uint64_t run(const Cmd &c)
    {
        top_->cmd_op = c.op;
        top_->cmd_dst = c.dst;
        top_->cmd_a = c.a;
        top_->cmd_b = c.b;
        top_->cmd_m = c.m;
        top_->cmd_acc = c.acc;
        top_->cmd_n = c.n;
        top_->cmd_k = c.k;
        top_->cmd_dt = c.dt;
        top_->cmd_dt2 = c.dt2;
        top_->cmd_x16 = c.x16;
        top_->cmd_w4 = c.w4;
        top_->cmd_set = c.set;
        top_->cmd_chan = c.chan;
        top_->cmd_amount = (uint8_t)(int8_t)c.amount;
        top_->cmd_valid = 1;
        top_->eval();
        while (!top_->cmd_ready)
            tick();
        tick(); // the accepting edge
        top_->cmd_valid = 0;
        uint64_t cycles = 0;
        while (!top_->done) {
            if (++cycles > 10000000)
                return 0;
            tick();
        }
        return cycles;
    }

private:
    void tick()
    {
        top_->clk = 0;
        top_->eval();
        if (fst_)
            fst_->dump(ctx_->time());
        ctx_->timeInc(1);
        top_->clk = 1;
        top_->eval();
        if (fst_)
            fst_->dump(ctx_->time());
        ctx_->timeInc(1);
    }
    std::unique_ptr<VerilatedContext> ctx_;
    std::unique_ptr<V> top_;
    std::unique_ptr<VerilatedFstC> fst_;
};

// Is a requant mismatch a rounding tie (the discarded bits exactly one half)? The only results
// the flipped-rounding variant may change.
uint64_t load_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int b = 7; b >= 0; b--)
        v = v << 8 | p[b];
    return v;
}

bool requant_tie_ms(int64_t x, int32_t m, int32_t s)
{
    if (s <= 0)
        return false;
    int64_t p = x * (int64_t)m;
    uint64_t low = (uint64_t)p & ((UINT64_C(1) << s) - 1);
    return low == UINT64_C(1) << (s - 1);
}

bool requant_tie(int64_t x, const uint8_t *mult)
{
    int32_t m = floe_elem_load(mult, FLOE_DT_I32, 0), s = floe_elem_load(mult, FLOE_DT_I32, 1);
    if (s <= 0)
        return false;
    int64_t p = x * (int64_t)m;
    uint64_t low = (uint64_t)p & ((UINT64_C(1) << s) - 1);
    return low == UINT64_C(1) << (s - 1);
}

struct Options {
    const char *machine = FLOE_RTL_COSIM_MACHINE;
    long tiles = 500;
    long model_tiles = -1; // all
    uint64_t seed = 1;
    const char *wave = nullptr;
    const char *csv = nullptr;
    const char *model = "tiny";
    const char *act_scaling = nullptr; // the model's activation scaling (null: per-tensor)
    bool flip = false, expect_flip = false, verbose = false;
};

// Random tiles: one instruction of each kind in turn, random sizes, operands at random offsets of
// disjoint areas of a memory filled with random bytes (multipliers valid).
// Tile sizes scale with the machine, so that tiles stay long against the pipeline: n up to 10 x the
// vector unit's lanes, vmm depth up to 16 port words, rows up to 12 x the vmm lanes (on small:
// n <= 160, k <= 256, 48 rows).
struct Scale {
    uint32_t n_max, k_max, rows_max;
};

Scale scale_of(const floe_machine &m, uint32_t xmax)
{
    uint64_t macs = m.vmm_macs_per_cycle[FLOE_PREC_W8A8], w = m.sram_bytes_per_cycle;
    uint64_t depth = w < macs ? w : macs, lanes = macs / depth;
    Scale sc;
    sc.n_max = (uint32_t)(10 * m.vector_ops_per_cycle);
    sc.k_max = (uint32_t)(16 * w < xmax ? 16 * w : xmax);
    sc.rows_max = (uint32_t)(12 * lanes);
    return sc;
}

floe_insn random_insn(floe_rng *r, int kind, std::vector<uint8_t> &mem, std::vector<int32_t> &acc, uint32_t xmax,
                      const Scale &sc)
{
    uint32_t cap = (uint32_t)mem.size(), q = cap / 4;
    for (auto &b : mem)
        b = (uint8_t)floe_rng_u64(r);
    for (auto &a : acc) {
        a = (int32_t)floe_rng_u64(r);
        uint64_t kind = floe_rng_below(r, 4); // a share of small values: unsaturated results, ties
        if (kind == 0)
            a = (int32_t)floe_rng_range(r, -70000, 70000);
        else if (kind == 1)
            a = (int32_t)floe_rng_range(r, -300, 300);
    }
    auto off = [&](uint32_t area) { return area * q + (uint32_t)floe_rng_below(r, 64); };
    static const int dts[4] = {FLOE_DT_I4, FLOE_DT_I8, FLOE_DT_I16, FLOE_DT_I32};
    floe_insn in{};
    in.thread = 0;
    uint32_t n = 1 + (uint32_t)floe_rng_below(r, sc.n_max);
    int dt = dts[floe_rng_below(r, 4)];
    if (dt == FLOE_DT_I4 && n % 2)
        n++;
    switch (kind) {
    case 0: { // vmm
        int x16 = floe_rng_below(r, 4) == 0, w4 = !x16 && floe_rng_below(r, 2);
        uint32_t k = 1 + (uint32_t)floe_rng_below(r, x16 ? xmax / 2 : sc.k_max);
        uint32_t nn = 1 + (uint32_t)floe_rng_below(r, sc.rows_max);
        uint32_t rowbytes = w4 ? (k + 1) / 2 : k;
        while ((uint64_t)rowbytes * nn > 2 * q - 64)
            nn /= 2;
        in.op = FLOE_OP_VMM;
        int64_t f[8] = {FLOE_ACC((uint32_t)floe_rng_below(r, 4096), 0), FLOE_MEM(off(0), 0), FLOE_MEM(off(1), 0), k, nn,
                        x16 ? FLOE_XP_I16 : FLOE_XP_I8, w4 ? FLOE_WP_I4 : FLOE_WP_I8,
                        floe_rng_below(r, 2) ? FLOE_MODE_SET : FLOE_MODE_ADD};
        std::memcpy(in.f, f, sizeof f);
        break;
    }
    case 1: { // requant / vrequant: multipliers with small and large shifts (ties at small ones)
        int vr = floe_rng_below(r, 3) == 0, chan = floe_rng_below(r, 2);
        uint32_t mb = off(2);
        for (uint32_t i = 0; i < (chan ? n : 1); i++) {
            int32_t s = floe_rng_below(r, 2) ? (int32_t)floe_rng_range(r, 0, 8) : (int32_t)floe_rng_range(r, 20, 62);
            int32_t m = floe_rng_below(r, 2) ? (int32_t)floe_rng_range(r, 0, 255) : (int32_t)(floe_rng_u64(r) & 0x7fffffff);
            floe_elem_store(&mem[mb + 8 * i], FLOE_DT_I32, 0, m);
            floe_elem_store(&mem[mb + 8 * i], FLOE_DT_I32, 1, s);
        }
        if (vr) { // some int32 inputs small, so ties happen
            uint32_t a = off(1);
            for (uint32_t i = 0; i < n; i++)
                if (floe_rng_below(r, 2))
                    floe_elem_store(&mem[a], FLOE_DT_I32, i,
                                    (int32_t)floe_rng_range(r, floe_rng_below(r, 2) ? -300 : -70000,
                                                            floe_rng_below(r, 2) ? 300 : 70000));
            in.op = FLOE_OP_VREQUANT;
            int64_t f[6] = {FLOE_MEM(off(0), 0), FLOE_MEM(a, 0), FLOE_MEM(mb, 0), n, dt,
                            chan ? FLOE_SCOPE_CHANNEL : FLOE_SCOPE_TENSOR};
            std::memcpy(in.f, f, sizeof f);
        } else {
            in.op = FLOE_OP_REQUANT;
            int64_t f[6] = {FLOE_MEM(off(0), 0), FLOE_ACC((uint32_t)floe_rng_below(r, 4096), 0), FLOE_MEM(mb, 0), n, dt,
                            chan ? FLOE_SCOPE_CHANNEL : FLOE_SCOPE_TENSOR};
            std::memcpy(in.f, f, sizeof f);
        }
        break;
    }
    case 2: { // vector (reductions included)
        int which = (int)floe_rng_below(r, 8);
        if (which < 2) {
            in.op = which ? FLOE_OP_VMAX : FLOE_OP_VADD;
            int64_t f[5] = {FLOE_MEM(off(0), 0), FLOE_MEM(off(1), 0), FLOE_MEM(off(2), 0), n, dt};
            std::memcpy(in.f, f, sizeof f);
        } else if (which == 4) { // vmul: shifts over the whole range, small ones give ties
            in.op = FLOE_OP_VMUL;
            int64_t sh = floe_rng_below(r, 2) ? floe_rng_range(r, 0, 8) : floe_rng_range(r, 0, 62);
            int64_t f[6] = {FLOE_MEM(off(0), 0), FLOE_MEM(off(1), 0), FLOE_MEM(off(2), 0), n, dt, sh};
            std::memcpy(in.f, f, sizeof f);
        } else if (which >= 5) { // vsum, vsumsq, vmaxr
            in.op = which == 5 ? FLOE_OP_VSUM : which == 6 ? FLOE_OP_VSUMSQ : FLOE_OP_VMAXR;
            int64_t f[4] = {FLOE_MEM(off(0), 0), FLOE_MEM(off(1), 0), n, dt};
            std::memcpy(in.f, f, sizeof f);
        } else if (which == 2) {
            in.op = FLOE_OP_VSHIFT;
            int64_t f[5] = {FLOE_MEM(off(0), 0), FLOE_MEM(off(1), 0), n, dt, floe_rng_range(r, -31, 31)};
            std::memcpy(in.f, f, sizeof f);
        } else {
            int to = dts[floe_rng_below(r, 4)];
            if (to == FLOE_DT_I4 && n % 2)
                n++;
            in.op = FLOE_OP_VSAT;
            int64_t f[5] = {FLOE_MEM(off(0), 0), FLOE_MEM(off(1), 0), n, dt, to};
            std::memcpy(in.f, f, sizeof f);
        }
        break;
    }
    case 4: { // recip, rsqrt: every magnitude, with zeros and exact powers (of four) mixed in
        int rs = (int)floe_rng_below(r, 2);
        uint32_t a = off(1);
        for (uint32_t i = 0; i < n; i++) {
            uint64_t x = floe_rng_u64(r) >> (rs ? 0 : 32);
            x >>= floe_rng_below(r, rs ? 64 : 32);
            uint64_t kind = floe_rng_below(r, 16);
            if (kind == 0)
                x = 0;
            else if (kind == 1)
                x = UINT64_C(1) << (floe_rng_below(r, rs ? 32 : 16) * 2);
            if (rs)
                for (int b = 0; b < 8; b++)
                    mem[a + 8 * i + (uint32_t)b] = (uint8_t)(x >> (8 * b));
            else
                floe_elem_store(&mem[a], FLOE_DT_I32, i, (int32_t)(uint32_t)x);
        }
        in.op = rs ? FLOE_OP_RSQRT : FLOE_OP_RECIP;
        int64_t f[3] = {FLOE_MEM(off(0), 0), FLOE_MEM(a, 0), n};
        std::memcpy(in.f, f, sizeof f);
        break;
    }
    case 5: { // composites: rmsnorm (int16 rows with small values, eps small or any, multipliers of every shift)
        uint64_t which = floe_rng_below(r, 7);
        if (which == 6) { // multmul: multipliers of every mantissa size and shift (zeros, denormals, carries)
            uint32_t a = off(1), b = off(2);
            int chan = (int)floe_rng_below(r, 2);
            for (uint32_t i = 0; i < n + (chan ? n : 1); i++) {
                uint32_t at = i < n ? a + 8 * i : b + 8 * (i - n);
                int32_t m = (int32_t)(floe_rng_u64(r) & 0x7fffffff) >> floe_rng_below(r, 31);
                if (floe_rng_below(r, 16) == 0)
                    m = floe_rng_below(r, 2) ? 0 : 0x7fffffff;
                floe_elem_store(&mem[at], FLOE_DT_I32, 0, m);
                floe_elem_store(&mem[at], FLOE_DT_I32, 1, (int32_t)floe_rng_range(r, 0, 62));
            }
            in.op = FLOE_OP_MULTMUL;
            int64_t f[5] = {FLOE_MEM(off(0), 0), FLOE_MEM(a, 0), FLOE_MEM(b, 0), n,
                            chan ? FLOE_SCOPE_CHANNEL : FLOE_SCOPE_TENSOR};
            std::memcpy(in.f, f, sizeof f);
            break;
        }
        if (which >= 3) { // per-token: rmsnormt, vrequantt, requantk ({m, shift, K}, k in 0..K_MAX)
            uint32_t a = off(1), mb = off(2), e = off(3);
            int big = floe_rng_below(r, 4) == 0;
            for (uint32_t i = 0; i < (which == 5 ? n : 1); i++) {
                floe_elem_store(&mem[mb + 8 * i], FLOE_DT_I32, 0, (int32_t)(floe_rng_u64(r) & 0x7fffffff) >> floe_rng_below(r, 8));
                floe_elem_store(&mem[mb + 8 * i], FLOE_DT_I32, 1,
                                (int32_t)(floe_rng_below(r, 2) ? floe_rng_range(r, 0, 62) : floe_rng_range(r, 20, 40)));
            }
            if (which != 5)
                floe_elem_store(&mem[mb], FLOE_DT_I32, 2, (int32_t)floe_rng_range(r, 0, FLOE_TOKEN_K_MAX));
            if (which == 3) {
                for (uint32_t i = 0; i < n; i++)
                    floe_elem_store(&mem[a], FLOE_DT_I16, i, (int32_t)floe_rng_range(r, big ? -32768 : -300, big ? 32767 : 300));
                uint64_t eps = floe_rng_below(r, 2) ? floe_rng_below(r, 1000) : floe_rng_u64(r) >> floe_rng_below(r, 64);
                for (int b = 0; b < 8; b++)
                    mem[e + (uint32_t)b] = (uint8_t)(eps >> (8 * b));
                in.op = FLOE_OP_RMSNORMT;
                int64_t f[6] = {FLOE_MEM(off(0), 0), FLOE_MEM(a, 0), FLOE_MEM(mb, 0), FLOE_MEM(e, 0), n, dt};
                std::memcpy(in.f, f, sizeof f);
            } else if (which == 4) { // int32 rows: small (ties, large k) or any, INT32_MIN at times
                for (uint32_t i = 0; i < n; i++) {
                    int32_t x = (int32_t)floe_rng_range(r, big ? -70000 : -300, big ? 70000 : 300);
                    if (floe_rng_below(r, 64) == 0)
                        x = floe_rng_below(r, 2) ? INT32_MIN : (int32_t)floe_rng_u64(r);
                    floe_elem_store(&mem[a], FLOE_DT_I32, i, x);
                }
                in.op = FLOE_OP_VREQUANTT;
                int64_t f[5] = {FLOE_MEM(off(0), 0), FLOE_MEM(a, 0), FLOE_MEM(mb, 0), n, dt};
                std::memcpy(in.f, f, sizeof f);
            } else {
                mem[e] = (uint8_t)floe_rng_range(r, 0, FLOE_TOKEN_K_MAX);
                in.op = FLOE_OP_REQUANTK;
                int64_t f[6] = {FLOE_MEM(off(0), 0), FLOE_ACC((uint32_t)floe_rng_below(r, 4096), 0), FLOE_MEM(mb, 0),
                                FLOE_MEM(e, 0), n, dt};
                std::memcpy(in.f, f, sizeof f);
            }
            break;
        }
        if (which == 2) { // rope: any int16 x, cos and sin within +-2^14 (Q14), half of them in place
            if (n % 2)
                n++;
            uint32_t a = off(1), co = off(2), si = off(3) + 2048;
            for (uint32_t i = 0; i < n; i++)
                floe_elem_store(&mem[a], FLOE_DT_I16, i, (int32_t)floe_rng_range(r, -32768, 32767));
            for (uint32_t i = 0; i < n / 2; i++) {
                floe_elem_store(&mem[co], FLOE_DT_I16, i, (int32_t)floe_rng_range(r, -16384, 16384));
                floe_elem_store(&mem[si], FLOE_DT_I16, i, (int32_t)floe_rng_range(r, -16384, 16384));
            }
            in.op = FLOE_OP_ROPE;
            int64_t f[5] = {FLOE_MEM(floe_rng_below(r, 2) ? a : off(0), 0), FLOE_MEM(a, 0), FLOE_MEM(co, 0), FLOE_MEM(si, 0), n};
            std::memcpy(in.f, f, sizeof f);
            break;
        }
        if (which == 1) { // softmax: scores near each other (exp2 scale), a few at the int32 extremes
            uint32_t a = off(1);
            int32_t base = (int32_t)floe_rng_range(r, -100000, 100000);
            for (uint32_t i = 0; i < n; i++) {
                uint64_t kind = floe_rng_below(r, 16);
                int32_t z = kind == 0 ? INT32_MIN : kind == 1 && floe_rng_below(r, 4) == 0 ? INT32_MAX
                                                  : base + (int32_t)floe_rng_range(r, -6000, 300);
                floe_elem_store(&mem[a], FLOE_DT_I32, i, z);
            }
            in.op = FLOE_OP_SOFTMAX;
            int64_t f[3] = {FLOE_MEM(off(0), 0), FLOE_MEM(a, 0), n};
            std::memcpy(in.f, f, sizeof f);
            break;
        }
        uint32_t a = off(1), cb = off(2), e = off(3);
        int chan = (int)floe_rng_below(r, 2), big = floe_rng_below(r, 4) == 0;
        for (uint32_t i = 0; i < n; i++)
            floe_elem_store(&mem[a], FLOE_DT_I16, i, (int32_t)floe_rng_range(r, big ? -32768 : -300, big ? 32767 : 300));
        for (uint32_t i = 0; i < (chan ? n : 1); i++) {
            floe_elem_store(&mem[cb + 8 * i], FLOE_DT_I32, 0, (int32_t)(floe_rng_u64(r) & 0x7fffffff) >> floe_rng_below(r, 4));
            floe_elem_store(&mem[cb + 8 * i], FLOE_DT_I32, 1, (int32_t)floe_rng_range(r, 0, 62));
        }
        uint64_t eps = floe_rng_below(r, 2) ? floe_rng_below(r, 1000) : floe_rng_u64(r) >> floe_rng_below(r, 64);
        for (int b = 0; b < 8; b++)
            mem[e + (uint32_t)b] = (uint8_t)(eps >> (8 * b));
        in.op = FLOE_OP_RMSNORM;
        int64_t f[7] = {FLOE_MEM(off(0), 0), FLOE_MEM(a, 0), FLOE_MEM(cb, 0), FLOE_MEM(e, 0), n, dt,
                        chan ? FLOE_SCOPE_CHANNEL : FLOE_SCOPE_TENSOR};
        std::memcpy(in.f, f, sizeof f);
        break;
    }
    default: {
        uint64_t which = floe_rng_below(r, 3);
        if (which == 0) { // exp2: scores mostly in the table's range
            uint32_t a = off(1);
            for (uint32_t i = 0; i < n; i++)
                if (floe_rng_below(r, 4))
                    floe_elem_store(&mem[a], FLOE_DT_I32, i, (int32_t)floe_rng_range(r, -5000, 300));
            in.op = FLOE_OP_EXP2;
            int64_t f[3] = {FLOE_MEM(off(0), 0), FLOE_MEM(a, 0), n};
            std::memcpy(in.f, f, sizeof f);
        } else if (which == 1) { // lut8: 256 random int16 entries
            uint32_t tb = off(2);
            in.op = FLOE_OP_LUT8;
            int64_t f[4] = {FLOE_MEM(off(0), 0), FLOE_MEM(off(1), 0), FLOE_MEM(tb, 0), n};
            std::memcpy(in.f, f, sizeof f);
        } else { // lut16: knots within +-2^20, a range that is full, narrow, or beyond the type
            uint32_t tb = off(2);
            for (int i = 0; i < FLOE_LUT16_KNOTS; i++)
                floe_elem_store(&mem[tb], FLOE_DT_I32, (size_t)i, (int32_t)floe_rng_range(r, -(1 << 20), 1 << 20));
            int32_t lo = (int32_t)floe_rng_range(r, -(1 << 21), 1 << 21), hi = (int32_t)floe_rng_range(r, -(1 << 21), 1 << 21);
            if (floe_rng_below(r, 2)) {
                lo = INT32_MIN;
                hi = INT32_MAX;
            }
            if (lo > hi)
                std::swap(lo, hi);
            floe_elem_store(&mem[tb], FLOE_DT_I32, FLOE_LUT16_KNOTS, lo);
            floe_elem_store(&mem[tb], FLOE_DT_I32, FLOE_LUT16_KNOTS + 1, hi);
            in.op = FLOE_OP_LUT16;
            int64_t f[5] = {FLOE_MEM(off(0), 0), FLOE_MEM(off(1), 0), FLOE_MEM(tb, 0), n, dt};
            std::memcpy(in.f, f, sizeof f);
        }
        break;
    }
    }
    return in;
}

// The model's cores: memory and accumulators after the run, and their instruction streams.
struct ModelCore {
    std::vector<uint8_t> mem;
    std::vector<int32_t> acc;
    std::vector<floe_insn> insns;
};

int model_cores(const floe_machine *m, const char *model, const char *act_scaling, uint64_t seed,
                std::vector<ModelCore> &out, floe_err *err)
{
    floe_model_config cfg;
    floe_qmodel qm;
    if (floe_model_config_builtin(model, &cfg, err) != 0)
        return -1;
    floe_qconfig q = floe_qconfig_default();
    if (act_scaling && floe_qconfig_set_scaling(&q, act_scaling, 0, err) != 0)
        return -1;
    if (floe_qmodel_random(&qm, &cfg, &q, seed, err) != 0)
        return -1;
    floe_compile_opts o{};
    o.tokens = 4;
    floe_program *p = nullptr;
    floe_compile_report rep{};
    floe_sim *s = nullptr;
    int rc = -1;
    if (floe_compile_prefill(&qm, m, &o, &p, &rep, err) == 0 && floe_sim_new(&s, m, nullptr, err) == 0 &&
        floe_sim_load(s, p, err) == 0) {
        const floe_symbol *x = floe_program_symbol(p, rep.in_x, rep.in_y, "x", 1);
        floe_memory *in = floe_sim_memory(s, rep.in_x, rep.in_y);
        if (x && in) { // random int16 embeddings
            floe_rng r;
            floe_rng_seed(&r, seed ^ 0x5eed);
            for (uint32_t i = 0; i + 1 < x->size; i += 2)
                floe_elem_store(in->bytes + x->value, FLOE_DT_I16, i / 2, (int32_t)floe_rng_range(&r, -3000, 3000));
            floe_memory_note_write(in, x->value, x->size);
        }
        floe_sim_options opt{};
        if (floe_sim_run(s, &opt, err) == 0) {
            for (size_t i = 0; i < rep.ncores; i++) {
                unsigned cx = rep.cores[i].x, cy = rep.cores[i].y;
                floe_core_code *cc = floe_program_core(p, cx, cy, 0);
                floe_memory *mem = floe_sim_memory(s, cx, cy);
                if (!cc || !mem)
                    continue;
                ModelCore c;
                c.mem.assign(mem->bytes, mem->bytes + mem->capacity);
                const int32_t *a = floe_sim_accumulators(s, cx, cy);
                c.acc.assign(a, a + FLOE_ACCUMULATORS);
                c.insns.assign(cc->insns, cc->insns + cc->n);
                out.push_back(std::move(c));
            }
            rc = 0;
        }
    }
    floe_sim_free(s);
    floe_program_free(p);
    floe_compile_report_free(&rep);
    floe_qmodel_free(&qm);
    return rc;
}

// Register offsets to 0 (the first iteration of a loop that starts its register at 0).
floe_insn strip_regs(floe_insn in)
{
    const floe_op_info *oi = floe_op_lookup(in.op);
    for (int i = 0; i < oi->nfields; i++) {
        if (oi->fields[i].kind == FLOE_FK_MEM)
            in.f[i] = FLOE_MEM(floe_mem_addr(in.f[i]), 0);
        else if (oi->fields[i].kind == FLOE_FK_ACC)
            in.f[i] = FLOE_ACC(floe_acc_index(in.f[i]), 0);
    }
    in.thread = 0;
    return in;
}

// A compiled vmmr as the vmm commands of its rows: the row stride is the value of the last `seti` of
// its register on its thread before it (how the compiler sets it); false when there is none.
bool vmmr_rows(const std::vector<floe_insn> &insns, size_t at, std::vector<floe_insn> &out)
{
    const floe_insn &v = insns[at];
    int64_t stride = 0;
    bool found = v.f[FLOE_F_VMMR_xs] == 0; // r0 reads zero
    for (size_t j = at; !found && j-- > 0;)
        if (insns[j].thread == v.thread && insns[j].op == FLOE_OP_SETI &&
            insns[j].f[FLOE_F_SETI_reg] == v.f[FLOE_F_VMMR_xs]) {
            stride = insns[j].f[FLOE_F_SETI_imm];
            found = true;
        }
    if (!found)
        return false;
    floe_insn s = strip_regs(v);
    for (int64_t r = 0; r < v.f[FLOE_F_VMMR_m]; r++) {
        floe_insn in{};
        in.op = FLOE_OP_VMM;
        int64_t x = (int64_t)floe_mem_addr(s.f[FLOE_F_VMMR_x]) + r * stride,
                a = (int64_t)floe_acc_index(s.f[FLOE_F_VMMR_acc]) + r * s.f[FLOE_F_VMMR_n];
        if (x < 0 || x >= (1 << FLOE_MEM_ADDR_BITS) || a >= (1 << FLOE_ACC_INDEX_BITS))
            return false;
        in.f[FLOE_F_VMM_acc] = FLOE_ACC(a, 0);
        in.f[FLOE_F_VMM_x] = FLOE_MEM(x, 0);
        in.f[FLOE_F_VMM_w] = s.f[FLOE_F_VMMR_w];
        in.f[FLOE_F_VMM_k] = s.f[FLOE_F_VMMR_k];
        in.f[FLOE_F_VMM_n] = s.f[FLOE_F_VMMR_n];
        in.f[FLOE_F_VMM_xp] = s.f[FLOE_F_VMMR_xp];
        in.f[FLOE_F_VMM_wp] = s.f[FLOE_F_VMMR_wp];
        in.f[FLOE_F_VMM_mode] = s.f[FLOE_F_VMMR_mode];
        out.push_back(in);
    }
    return true;
}

template <class V> int run(const Options &o, const floe_machine &mach)
{
    floe_err err;
    Rtl<V> rtl(o.wave);
    const uint32_t cap = (uint32_t)mach.core_mem_bytes, xmax = FLOE_RTL_XMAX;
    Stats st[2][U_COUNT];
    uint64_t skipped = 0;
    std::map<std::string, uint64_t> not_modelled; // the model's core-local instructions the core lacks
    std::vector<uint8_t> got;

    auto check = [&](const Tile &t) -> int {
        Cmd c;
        if (!to_cmd(t.in, cap, xmax, c)) {
            skipped++;
            return 0;
        }
        SimOut so;
        if (sim_tile(&mach, t, so, &err) != 0) {
            std::fprintf(stderr, "floe-rtl-check: simulator: %s\n", err.msg);
            return -1;
        }
        for (auto &r : c.loads)
            rtl.load(*t.mem, r.first, r.second);
        if (c.unit != U_VMM) // the destination's old bytes (an odd int4 tail keeps its other nibble)
            rtl.load(*t.mem, c.out_addr, c.out_bytes);
        rtl.load_acc(*t.acc, c.acc, c.acc_load);
        uint64_t cycles = rtl.run(c);
        if (cycles == 0) {
            std::fprintf(stderr, "floe-rtl-check: the core did not finish a %s command\n", floe_core_cmd_names[c.op]);
            return -1;
        }
        if (o.verbose)
            std::printf("tile %-6s %-9s n %5u k %5u dt %d->%d x16 %d w4 %d chan %d: rtl %6" PRIu64 " sim %6" PRIu64 "\n",
                        t.origin ? "model" : "random", floe_op_lookup(t.in.op)->mnemonic, c.n, c.k, c.dt, c.out_dt,
                        c.x16, c.w4, c.chan, cycles, so.cycles);
        Stats &s = st[t.origin][c.unit];
        s.tiles++;
        s.rtl += cycles;
        s.sim += so.cycles;
        s.abs_err_sum += std::fabs((double)cycles - (double)so.cycles) / (double)so.cycles;
        uint64_t bad = 0;
        if (c.unit == U_VMM) {
            for (uint32_t i = 0; i < c.n; i++) {
                s.elems++;
                if (rtl.read_acc(c.acc + i) != so.acc[c.acc + i]) {
                    bad++;
                    s.unexplained++;
                }
            }
        } else {
            rtl.read(got, c.out_addr, c.out_bytes);
            for (uint32_t i = 0; i < c.out_per * c.out_n; i++) {
                s.elems += i % c.out_per == 0;
                int32_t want = floe_elem_load(&so.mem[c.out_addr], (floe_dtype)c.out_dt, i);
                int32_t have = floe_elem_load(got.data(), (floe_dtype)c.out_dt, i);
                if (want == have)
                    continue;
                bad++;
                bool tie = false;
                if (c.unit == U_REQUANT) {
                    int64_t x = c.op == FLOE_CORE_CMD_REQUANT ? (*t.acc)[c.acc + i]
                                                              : floe_elem_load(&(*t.mem)[c.a], FLOE_DT_I32, i);
                    tie = requant_tie(x, &(*t.mem)[c.m + (c.chan ? 8 * i : 0)]);
                }
                if (c.unit == U_RMSNORMT || c.unit == U_VREQUANTT || c.unit == U_REQUANTK) {
                    const uint8_t *M = t.mem->data();
                    int32_t hi = (int32_t)(((int64_t)1 << (floe_dtype_bits((floe_dtype)c.dt) - 1)) - 1);
                    floe_requant_mult up{0, 0};
                    int64_t x = 0;
                    if (c.unit == U_REQUANTK) {
                        int k = (int8_t)M[c.b];
                        up = {floe_elem_load(M + c.m + 8 * i, FLOE_DT_I32, 0), floe_elem_load(M + c.m + 8 * i, FLOE_DT_I32, 1) + k};
                        x = (*t.acc)[c.acc + i];
                    } else {
                        uint32_t mw = c.unit == U_RMSNORMT ? c.b : c.m;
                        floe_requant_mult mc = {floe_elem_load(M + mw, FLOE_DT_I32, 0), floe_elem_load(M + mw, FLOE_DT_I32, 1)};
                        int K = floe_elem_load(M + mw, FLOE_DT_I32, 2);
                        uint64_t amax = 0, sum = c.unit == U_RMSNORMT ? load_u64(M + c.m) : 0;
                        for (uint32_t j = 0; j < c.n; j++) {
                            int64_t v = c.unit == U_RMSNORMT ? floe_elem_load(M + c.a, FLOE_DT_I16, j)
                                                              : floe_elem_load(M + c.a, FLOE_DT_I32, j);
                            sum += (uint64_t)(v * v);
                            amax = (uint64_t)(v < 0 ? -v : v) > amax ? (uint64_t)(v < 0 ? -v : v) : amax;
                        }
                        if (c.unit == U_RMSNORMT)
                            mc = floe_requant_mult_mul(floe_rsqrt_u64(sum), mc);
                        up = floe_token_mult_up(mc, floe_token_k(amax, mc, K, hi));
                        x = c.unit == U_RMSNORMT ? floe_elem_load(M + c.a, FLOE_DT_I16, i) : floe_elem_load(M + c.a, FLOE_DT_I32, i);
                    }
                    tie = up.shift <= 62 && requant_tie_ms(x, up.m, up.shift);
                }
                if (c.unit == U_RMSNORM) { // its last pass is a requant by mult_mul(r, c[j])
                    const uint8_t *M = t.mem->data();
                    uint64_t sum = load_u64(M + c.m);
                    for (uint32_t j = 0; j < c.n; j++) {
                        int64_t q = floe_elem_load(M + c.a, FLOE_DT_I16, j);
                        sum += (uint64_t)(q * q);
                    }
                    uint32_t cj = c.b + (c.chan ? 8 * i : 0);
                    floe_requant_mult cm = {floe_elem_load(M + cj, FLOE_DT_I32, 0), floe_elem_load(M + cj, FLOE_DT_I32, 1)};
                    floe_requant_mult mm = floe_requant_mult_mul(floe_rsqrt_u64(sum), cm);
                    tie = requant_tie_ms(floe_elem_load(M + c.a, FLOE_DT_I16, i), mm.m, mm.shift);
                }
                if (!tie)
                    s.unexplained++;
                if (s.mismatches + bad <= 3 && !o.expect_flip)
                    std::fprintf(stderr, "mismatch: %s element %u: rtl %d, sim %d\n", floe_op_lookup(t.in.op)->mnemonic,
                                 i, have, want);
            }
        }
        if (c.kbyte) { // the per-token k after the row
            uint32_t kb = c.out_bytes - 1;
            s.elems++;
            if (got[kb] != so.mem[c.out_addr + kb]) {
                bad++;
                s.unexplained++;
                std::fprintf(stderr, "mismatch: %s k: rtl %d, sim %d\n", floe_op_lookup(t.in.op)->mnemonic, (int8_t)got[kb],
                             (int8_t)so.mem[c.out_addr + kb]);
            }
        }
        s.mismatches += bad;
        s.bad_tiles += bad != 0;
        return 0;
    };

    // (a) random operands
    const Scale sc = scale_of(mach, xmax);
    floe_rng r;
    floe_rng_seed(&r, o.seed);
    std::vector<uint8_t> mem(cap);
    std::vector<int32_t> acc(FLOE_ACCUMULATORS);
    for (long i = 0; i < o.tiles; i++) {
        Tile t{random_insn(&r, (int)(i % 6), mem, acc, xmax, sc), &mem, &acc, 0};
        if (check(t) != 0)
            return 1;
    }
    // (b) a compiled model
    std::vector<ModelCore> cores;
    if (o.model_tiles != 0) {
        if (model_cores(&mach, o.model, o.act_scaling, o.seed, cores, &err) != 0) {
            std::fprintf(stderr, "floe-rtl-check: compiled model: %s\n", err.msg);
            return 1;
        }
        long done = 0;
        for (auto &c : cores)
            for (size_t ii = 0; ii < c.insns.size(); ii++) {
                const floe_insn &in = c.insns[ii];
                if (o.model_tiles > 0 && done >= o.model_tiles)
                    break;
                if (in.op == FLOE_OP_VMMR) { // the core runs it as m vmm commands, one per input row
                    std::vector<floe_insn> rows;
                    if (!vmmr_rows(c.insns, ii, rows)) {
                        not_modelled["vmmr"]++;
                        continue;
                    }
                    for (auto &row : rows) {
                        Tile t{row, &c.mem, &c.acc, 1};
                        Cmd probe;
                        if (!to_cmd(t.in, cap, xmax, probe))
                            continue;
                        done++;
                        if (check(t) != 0)
                            return 1;
                    }
                    continue;
                }
                Tile t{strip_regs(in), &c.mem, &c.acc, 1};
                Cmd probe;
                if (!to_cmd(t.in, cap, xmax, probe)) { // control, noc, composites: not core commands
                    floe_unit u = floe_op_lookup(in.op)->unit;
                    if (u != FLOE_UNIT_CTRL && u != FLOE_UNIT_NOC)
                        not_modelled[floe_op_lookup(in.op)->mnemonic]++;
                    continue;
                }
                done++;
                if (check(t) != 0)
                    return 1;
            }
    }

    // report
    std::string text = "origin,unit,tiles,elements,mismatches,rtl_cycles,sim_cycles,error_pct,mean_abs_tile_error_pct\n";
    std::printf("floe-rtl-check: machine %s (fingerprint %016" PRIx64 "), model %s%s\n", o.machine,
                floe_machine_fingerprint(&mach), o.model_tiles ? o.model : "(none)",
                o.flip ? ", core with flipped requant rounding (wrong on purpose)" : "");
    std::printf("%-7s %-9s %6s %9s %10s %11s %11s %8s %9s\n", "origin", "unit", "tiles", "elements", "mismatches",
                "rtl_cycles", "sim_cycles", "error_%", "tile_|e|%");
    uint64_t mism = 0, unexplained = 0, total = 0;
    for (int org = 0; org < 2; org++)
        for (int u = 0; u < U_COUNT; u++) {
            const Stats &s = st[org][u];
            if (!s.tiles)
                continue;
            double e = s.sim ? 100.0 * ((double)s.rtl - (double)s.sim) / (double)s.sim : 0;
            double ae = 100.0 * s.abs_err_sum / (double)s.tiles;
            const char *on = org ? "model" : "random";
            std::printf("%-7s %-9s %6" PRIu64 " %9" PRIu64 " %10" PRIu64 " %11" PRIu64 " %11" PRIu64 " %+8.2f %9.2f\n", on,
                        unit_names[u], s.tiles, s.elems, s.mismatches, s.rtl, s.sim, e, ae);
            char line[256];
            std::snprintf(line, sizeof line, "%s,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.3f,%.3f\n", on,
                          unit_names[u], s.tiles, s.elems, s.mismatches, s.rtl, s.sim, e, ae);
            text += line;
            mism += s.mismatches;
            unexplained += s.unexplained;
            total += s.elems;
        }
    std::printf("(%" PRIu64 " random tiles of forms the core does not model skipped", skipped);
    if (!not_modelled.empty()) {
        std::printf("; the model's compute instructions that are not core commands:");
        for (auto &kv : not_modelled)
            std::printf(" %s %" PRIu64, kv.first.c_str(), kv.second);
    }
    std::printf(")\n");
    if (o.csv) {
        floe_err e2;
        if (floe_write_file_atomic(o.csv, text.data(), text.size(), &e2) != 0) {
            std::fprintf(stderr, "floe-rtl-check: %s\n", e2.msg);
            return 1;
        }
    }
    if (o.expect_flip) {
        bool ok = mism > 0 && unexplained == 0;
        std::printf("wrong variant: %" PRIu64 " mismatching elements of %" PRIu64 ", %" PRIu64
                    " not a requant rounding tie: %s\n",
                    mism, total, unexplained, ok ? "DETECTED" : "NOT DETECTED");
        std::printf("%d passed, %d failed\n", ok ? 1 : 0, ok ? 0 : 1);
        return ok ? 0 : 1;
    }
    std::printf("%" PRIu64 " passed, %" PRIu64 " failed\n", total - mism, mism);
    return mism ? 1 : 0;
}

int usage(const char *msg)
{
    if (msg)
        std::fprintf(stderr, "floe-rtl-check: %s\n", msg);
    std::fprintf(stderr,
                 "usage: floe-rtl-check [--machine FILE] [--tiles N] [--model NAME] [--model-tiles N] [--act-scaling per-token]\n"
                 "                      [--seed S] [--wave FILE.fst]\n"
                 "                      [--csv FILE] [--variant flip] [--expect-flip] [--verbose]\n");
    return 2;
}

} // namespace

int main(int argc, char **argv)
{
    Options o;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto val = [&]() -> const char * { return i + 1 < argc ? argv[++i] : nullptr; };
        const char *v = nullptr;
        if (a == "--help" || a == "-h") {
            usage(nullptr);
            return 0;
        } else if (a == "--verbose" || a == "-v") {
            o.verbose = true;
        } else if (a == "--expect-flip") {
            o.expect_flip = o.flip = true;
        } else if (a == "--variant") {
            if (!(v = val()) || (std::strcmp(v, "flip") && std::strcmp(v, "core")))
                return usage("--variant takes core or flip");
            o.flip = !std::strcmp(v, "flip");
        } else if (a == "--machine" || a == "-m") {
            if (!(o.machine = val()))
                return usage("--machine needs a file");
        } else if (a == "--tiles" || a == "--model-tiles" || a == "--seed") {
            char *end = nullptr;
            if (!(v = val()))
                return usage("a number is missing");
            long long n = std::strtoll(v, &end, 10);
            if (*end || n < (a == "--model-tiles" ? -1 : 0))
                return usage((a + " takes a non-negative integer").c_str());
            if (a == "--tiles")
                o.tiles = (long)n;
            else if (a == "--model-tiles")
                o.model_tiles = (long)n;
            else
                o.seed = (uint64_t)n;
        } else if (a == "--model") {
            if (!(o.model = val()))
                return usage("--model needs a built-in model name (tiny, S, M)");
        } else if (a == "--act-scaling") {
            if (!(o.act_scaling = val()))
                return usage("--act-scaling needs per-tensor or per-token");
        } else if (a == "--wave") {
            if (!(o.wave = val()))
                return usage("--wave needs a file");
        } else if (a == "--csv") {
            if (!(o.csv = val()))
                return usage("--csv needs a file");
        } else {
            return usage(("unknown argument " + a).c_str());
        }
    }
    floe_machine mach;
    floe_err err;
    if (floe_machine_load(o.machine, &mach, &err) != 0) {
        std::fprintf(stderr, "floe-rtl-check: %s\n", err.msg);
        return 1;
    }
    if (floe_machine_fingerprint(&mach) != FLOE_RTL_COSIM_FINGERPRINT) {
        std::fprintf(stderr,
                     "floe-rtl-check: %s: machine fingerprint %016" PRIx64 " is not the verilated core's %016" PRIx64
                     " (%s): the core's parameters are generated at configure time; reconfigure with "
                     "-DFLOE_RTL_COSIM_MACHINE=%s\n",
                     o.machine, floe_machine_fingerprint(&mach), (uint64_t)FLOE_RTL_COSIM_FINGERPRINT,
                     FLOE_RTL_COSIM_MACHINE, o.machine);
        return 1;
    }
    Verilated::commandArgs(1, argv);
    return o.flip ? run<Vcore_flip>(o, mach) : run<Vcore>(o, mach);
}
