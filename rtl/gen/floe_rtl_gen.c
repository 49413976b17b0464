/* Prints the SystemVerilog package floe_rtl_pkg (docs/rtl.md) from the C numeric
 * contract, so the RTL never carries a hand-copied number: widths come from the isa/ headers and the
 * exp2 table from floe_exp2_table itself. Run at configure time (rtl/CMakeLists.txt, try_run) and
 * also built as the target floe_rtl_gen, whose output a ctest compares with the configured file.
 *
 * The machine figures (lanes, MACs per cycle, memory, threads, latencies) come from a machine
 * description (a configs/ CSV), read with floe_machine_load: the one source of truth (docs/machine.md).
 *
 * Usage: floe_rtl_gen MACHINE.csv   (package on stdout; exit 1 with a message on stderr)
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "isa/lut.h"
#include "isa/machine.h"
#include "isa/opcodes.h"
#include "isa/requant.h"
#include "isa/rope.h"
#include "isa/token.h"
#include "isa/softmax.h"
#include "rtl/gen/core_cmd.h"

/* Bits of a signed value holding every integer in [-lim, lim]. */
static int signed_bits_for(long long lim)
{
    int b = 1;
    while ((1LL << (b - 1)) - 1 < lim)
        b++;
    return b;
}

/* Smallest b with 2^b >= v (v >= 1). */
static int clog2(uint64_t v)
{
    int b = 0;
    while (b < 63 && ((uint64_t)1 << b) < v)
        b++;
    return b;
}

/* The vmm engine's shape from the machine (docs/rtl.md): a beat gives each lane one SRAM word of
 * weights (DEPTH = the SRAM port width, so weights streamed from local memory fill the port), and
 * LANES x DEPTH = the int8 MACs per cycle. A port wider than the MAC count gives one lane. */
static int vmm_shape(const char *path, const floe_machine *m, uint64_t *lanes, uint64_t *depth)
{
    uint64_t macs = m->vmm_macs_per_cycle[FLOE_PREC_W8A8], w = m->sram_bytes_per_cycle;
    *depth = w < macs ? w : macs;
    *lanes = macs / *depth;
    if (*lanes * *depth != macs) {
        fprintf(stderr, "floe_rtl_gen: %s: field 'vmm_w8a8_macs_per_cycle': %llu is not a multiple of "
                "sram_bytes_per_cycle %llu: the vmm engine's LANES x DEPTH cannot equal it (docs/rtl.md)\n",
                path, (unsigned long long)macs, (unsigned long long)w);
        return -1;
    }
    return 0;
}

static void machine_params(const char *path, const floe_machine *m, uint64_t lanes, uint64_t depth)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    printf("\n  // The machine: %s (docs/machine.md), fingerprint %016llx.\n", base,
           (unsigned long long)floe_machine_fingerprint(m));
    printf("  localparam logic [63:0] MACHINE_FINGERPRINT = 64'h%016llx;\n",
           (unsigned long long)floe_machine_fingerprint(m));
    printf("  localparam int CORES_X = %llu;\n", (unsigned long long)m->cores_x);
    printf("  localparam int CORES_Y = %llu;\n", (unsigned long long)m->cores_y);
    printf("  localparam int THREADS = %llu;\n", (unsigned long long)m->threads_per_core);
    printf("  localparam longint CLOCK_HZ = %llu;\n", (unsigned long long)m->clock_hz);
    for (int p = 0; p < FLOE_PREC_COUNT; p++) {
        char name[16];
        snprintf(name, sizeof name, "%s", floe_prec_name((floe_prec)p));
        for (char *c = name; *c; c++)
            *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
        printf("  localparam int VMM_%s_MACS = %llu;\n", name, (unsigned long long)m->vmm_macs_per_cycle[p]);
    }
    printf("  localparam int VECTOR_OPS = %llu;\n", (unsigned long long)m->vector_ops_per_cycle);
    printf("  localparam int AFU_OPS = %llu;\n", (unsigned long long)m->afu_ops_per_cycle);
    printf("  localparam longint CORE_MEM_BYTES = %llu;\n", (unsigned long long)m->core_mem_bytes);
    printf("  localparam int SRAM_BYTES_PER_CYCLE = %llu;\n", (unsigned long long)m->sram_bytes_per_cycle);
    printf("  localparam int VMM_LATENCY = %llu;\n", (unsigned long long)m->vmm_latency_cycles);
    printf("  localparam int VECTOR_LATENCY = %llu;\n", (unsigned long long)m->vector_latency_cycles);
    printf("  localparam int AFU_LATENCY = %llu;\n", (unsigned long long)m->afu_latency_cycles);
    printf("  localparam int SRAM_LATENCY = %llu;\n", (unsigned long long)m->sram_latency_cycles);
    printf("  localparam int RECIP_LATENCY = %llu;  // afu_recip's pipeline + 1 (it checks)\n",
           (unsigned long long)m->recip_latency_cycles);
    printf("  localparam int RSQRT_LATENCY = %llu;  // afu_rsqrt's pipeline + 1 (it checks)\n",
           (unsigned long long)m->rsqrt_latency_cycles);
    printf("  // Unit shapes derived from the figures above (docs/rtl.md, \"Generated parameters\").\n");
    printf("  localparam int VMM_DEPTH = %llu;      // weight bytes per lane per beat = min(SRAM port, MACs)\n",
           (unsigned long long)depth);
    printf("  localparam int VMM_LANES = %llu;      // VMM_LANES * VMM_DEPTH = VMM_W8A8_MACS\n",
           (unsigned long long)lanes);
    printf("  localparam int VECTOR_LANES = %llu;   // = VECTOR_OPS\n", (unsigned long long)m->vector_ops_per_cycle);
    printf("  localparam int REQUANT_LANES = %llu;  // requant runs on the vector unit: = VECTOR_OPS\n",
           (unsigned long long)m->vector_ops_per_cycle);
    printf("  localparam int AFU_LANES = %llu;      // = AFU_OPS\n", (unsigned long long)m->afu_ops_per_cycle);
    printf("  localparam int SRAM_BYTES = %llu;     // core memory port: bytes per cycle, reads + writes\n",
           (unsigned long long)m->sram_bytes_per_cycle);
    printf("  localparam int MEM_BYTES = %llu;\n", (unsigned long long)m->core_mem_bytes);
    printf("  localparam int MEM_ADDR_BITS = %d;\n", clog2(m->core_mem_bytes));
    printf("  localparam int ACCUMULATORS = %d;     // isa: what the ACC operand indexes\n",
           1 << FLOE_ACC_INDEX_BITS);
    printf("  localparam int ACC_INDEX_BITS = %d;\n", FLOE_ACC_INDEX_BITS);
    printf("\n  // Element types (isa/opcodes.h floe_dtype) and the core's micro-commands (rtl/gen/core_cmd.h).\n");
    static const char *dts[FLOE_DT_COUNT] = {"I2", "I4", "I8", "I16", "I32"};
    for (int d = 0; d < FLOE_DT_COUNT; d++)
        printf("  localparam logic [2:0] DT_%s = 3'd%d;\n", dts[d], d);
    _Static_assert(FLOE_CORE_CMD_COUNT <= 32, "the core's cmd_op is 5 bits");
    for (int c = 0; c < FLOE_CORE_CMD_COUNT; c++)
        printf("  localparam logic [4:0] CMD_%s = 5'd%d;\n", floe_core_cmd_names[c], c);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: floe_rtl_gen MACHINE.csv\n");
        return 2;
    }
    floe_machine mach;
    floe_err err;
    if (floe_machine_load(argv[1], &mach, &err) != 0) {
        fprintf(stderr, "floe_rtl_gen: %s\n", err.msg);
        return 1;
    }
    uint64_t lanes, depth;
    if (vmm_shape(argv[1], &mach, &lanes, &depth) != 0)
        return 1;

    /* exp2 is zero from the first integer part n where the largest table entry shifts out
     * (docs/numerics.md §5 says 17); found from the C function, not assumed. */
    int zero_n = 1;
    while (floe_exp2_neg(-(int32_t)((uint32_t)zero_n << FLOE_EXP2_FRAC_BITS)) != 0)
        zero_n++;
    for (int n = zero_n; n < 64; n++) /* the cut-off must be final: nothing non-zero beyond it */
        for (int r = 0; r < 256; r++)
            if ((int64_t)n * 256 + r <= INT32_MAX && floe_exp2_neg(-(int32_t)(n * 256 + r)) != 0) {
                fprintf(stderr, "floe_rtl_gen: exp2 is not zero past its cut-off\n");
                return 1;
            }

    printf("// Generated by rtl/gen/floe_rtl_gen.c from the C numeric contract (isa/, docs/numerics.md)\n");
    printf("// and the machine description (configs/*.csv, docs/machine.md).\n");
    printf("// Do not edit: rerun CMake (or build floe_rtl_gen) after changing isa/ or the machine.\n");
    /* a package of shared constants: each unit uses only some of them */
    printf("/* verilator lint_off UNUSEDPARAM */\n");
    printf("package floe_rtl_pkg;\n");
    printf("  // docs/numerics.md §2: requantization shift range\n");
    printf("  localparam int REQUANT_MAX_SHIFT = %d;\n", FLOE_REQUANT_MAX_SHIFT);
    printf("  localparam int REQUANT_SHIFT_BITS = %d;\n", signed_bits_for(FLOE_REQUANT_MAX_SHIFT) - 1);
    printf("  // docs/numerics.md §5: exp2 input fraction, output Q format, zero cut-off, table\n");
    printf("  localparam int EXP2_FRAC_BITS = %d;\n", FLOE_EXP2_FRAC_BITS);
    printf("  localparam int TOKEN_K_MAX = %d;       // isa/token.h: the largest per-token K\n", FLOE_TOKEN_K_MAX);
    printf("  localparam int ROPE_FRAC_BITS = %d;    // isa/rope.h: cos and sin in Q14\n", FLOE_ROPE_FRAC_BITS);
    printf("  localparam int EXP2_OUT_BITS = %d;\n", FLOE_EXP2_OUT_BITS);
    printf("  localparam int EXP2_ZERO_N = %d;\n", zero_n);
    printf("  // docs/numerics.md §6: lut16 knots and their signed width (+-%d)\n", FLOE_LUT16_KNOT_LIMIT);
    printf("  localparam int LUT16_KNOTS = %d;\n", FLOE_LUT16_KNOTS);
    printf("  localparam int LUT16_KNOT_BITS = %d;\n", signed_bits_for(FLOE_LUT16_KNOT_LIMIT));
    machine_params(argv[1], &mach, lanes, depth);
    printf("\n  // T[r] = round_half_up(2^15 * 2^(-r/256)): floe_exp2_table, as a ROM.\n");
    printf("  function automatic logic [EXP2_OUT_BITS:0] exp2_table(input logic [EXP2_FRAC_BITS-1:0] r);\n");
    printf("    case (r)\n");
    for (int r = 0; r < 256; r++)
        printf("      8'd%d: exp2_table = 16'd%u;\n", r, (unsigned)floe_exp2_table[r]);
    printf("      default: exp2_table = 16'd0;\n");
    printf("    endcase\n");
    printf("  endfunction\n");
    printf("endpackage\n");
    printf("/* verilator lint_on UNUSEDPARAM */\n");
    return 0;
}
