// afu_rsqrt: exactly rounded reciprocal square root of the activation-function unit,
// docs/numerics.md §4 (C reference: isa/recip.h floe_rsqrt_u64). Per lane, for x >= 1:
//   lz = clz64(x) rounded down to even; xn = x << lz                  (2^62 <= xn < 2^64)
//   a = isqrt(floor(2^126 / xn))   (a = 2^32 when xn = 2^62: the quotient 2^64 would not fit)
//   m = (a + 1) >> 1; shift = 62 - lz/2; m == 2^31 (x a power of four): m = 2^30, shift - 1
//   x == 0: {2^31 - 1, 0}
// A restoring divider (64 steps: the remainder starts at 2^62 < xn and brings down 64 zero bits),
// then the digit-by-digit square root of the 64-bit quotient (32 steps, one result bit each, the
// recurrence of floe_isqrt64 started at 2^62).
//
// Pipelined, radix 2, one step per stage (unrolled): stage 0 normalises and loads, stages 1..63
// are divider steps, the stage after them takes the 64th divider step and starts the root, 31
// stages of root steps follow and the output register takes the 32nd root step, the rounding
// (a + 1) >> 1 and the renormalisation. LANES results per cycle at full rate and a fixed latency
// of 97 cycles from the accepting edge to out_valid for every x (x = 0 and powers of four ride
// along with a flag). Elastic flow (pipe_ctl): a held output stops only the registers behind it
// that have no bubble to fill, so the results in flight close up while the output waits.
module afu_rsqrt
  import floe_rtl_pkg::*;
#(
  parameter int LANES = AFU_LANES   // generated from the machine: afu_ops_per_cycle
) (
  input  logic        clk,
  input  logic        rst_n,
  input  logic        in_valid,
  output logic        in_ready,
  input  logic [63:0] x [LANES],
  output logic        out_valid,
  input  logic        out_ready,
  output logic [30:0] m [LANES],      // mantissa in [2^30, 2^31), or 2^31 - 1 for x = 0
  output logic [5:0]  shift [LANES]
);
  localparam int DSTEPS = 64;         // divider steps (quotient bits)
  localparam int RSTEPS = 32;         // root steps (root bits)
  localparam int NV = DSTEPS + RSTEPS;// stage registers before the output register

  // The machine's rsqrt_latency_cycles is this pipeline (NV + 1 registers) plus the write back.
  if (RSQRT_LATENCY != NV + 2) begin : g_latency_check
    $error("machine rsqrt_latency_cycles = %0d, afu_rsqrt's pipeline needs %0d", RSQRT_LATENCY, NV + 2);
  end

  // register k loads when adv[k]: divider stages 0..DSTEPS-1, root stages DSTEPS..NV-1, output NV
  logic [NV:0] adv;
  /* verilator lint_off PINCONNECTEMPTY */
  pipe_ctl #(.STAGES(NV), .ELASTIC(1'b1)) u_ctl (.clk, .rst_n, .in_valid, .in_ready, .out_valid, .out_ready,
                                                 .last(1'b1), .adv, .v());
  /* verilator lint_on PINCONNECTEMPTY */

  // Every stage register is at most 64 bits wide (no struct), so the simulator keeps them native;
  // the stages are generate loops (one always_ff each), unrolled at any depth.
  for (genvar l = 0; l < LANES; l++) begin : g_lane
    logic [63:0] drem [DSTEPS];       // after k divider steps: remainder (< xn),
    logic [63:0] dq   [DSTEPS];       //   quotient floor(2^126 / xn) so far,
    logic [63:0] dxn  [DSTEPS];       //   normalised x, the divisor
    logic [63:0] rrem [RSTEPS];       // after 64 divider and j root steps: the quotient's remainder,
    logic [63:0] rres [RSTEPS];       //   the root so far (scaled by the current digit)
    logic [5:0]  sh   [NV];           // carried along: shift,
    logic        zero [NV];           //   x = 0,
    logic        pow4 [NV];           //   xn = 2^62 (a = 2^32 exactly)
    logic [63:0] q_last;
    /* verilator lint_off UNUSEDSIGNAL */
    logic [63:0] res_last;            // a <= 2^32
    /* verilator lint_on UNUSEDSIGNAL */
    logic [31:0] mh;                  // (a + 1) >> 1 = (a >> 1) + (a & 1); 2^31 only for a power of four
    logic [5:0]  sh_last;
    logic [6:0]  lz;
    logic [63:0] xn;
    assign lz = clz64_even(x[l]);
    assign xn = x[l] << lz;
    assign q_last = {dq[DSTEPS-1][62:0], dfits(drem[DSTEPS-1], dxn[DSTEPS-1])};
    assign res_last = rres_next(rrem[RSTEPS-1], rres[RSTEPS-1], RSTEPS - 1);
    assign mh = res_last[32:1] + {31'd0, res_last[0]};
    assign sh_last = sh[NV-1];
    always_ff @(posedge clk) begin
      if (adv[0]) begin
        drem[0] <= 64'h4000_0000_0000_0000;  // floor(2^126 / 2^64) = 2^62
        dq[0]   <= 64'd0;
        dxn[0]  <= xn;
        sh[0]   <= 6'd62 - lz[6:1];
        zero[0] <= x[l] == 64'd0;
        pow4[0] <= xn == 64'h4000_0000_0000_0000;
      end
    end
    for (genvar k = 1; k < NV; k++) begin : g_flags
      always_ff @(posedge clk) begin
        if (adv[k]) begin
          sh[k]   <= sh[k-1];
          zero[k] <= zero[k-1];
          pow4[k] <= pow4[k-1];
        end
      end
    end
    always_ff @(posedge clk) begin
      if (adv[DSTEPS]) begin
        // the root works on the finished quotient, from one = 2^62
        rrem[0] <= q_last;
        rres[0] <= 64'd0;
      end
    end
    always_ff @(posedge clk) begin
      if (adv[NV]) begin
        if (zero[NV-1]) begin           // saturated, as the C reference
          m[l]     <= 31'h7FFF_FFFF;
          shift[l] <= 6'd0;
        end else if (pow4[NV-1] || mh[31]) begin
          m[l]     <= 31'h4000_0000;
          shift[l] <= sh_last - 6'd1;
        end else begin
          m[l]     <= mh[30:0];
          shift[l] <= sh_last;
        end
      end
    end
    for (genvar k = 1; k < DSTEPS; k++) begin : g_div
      always_ff @(posedge clk) begin
        if (adv[k]) begin
          drem[k] <= drem_next(drem[k-1], dxn[k-1]);
          dq[k]   <= {dq[k-1][62:0], dfits(drem[k-1], dxn[k-1])};
          dxn[k]  <= dxn[k-1];
        end
      end
    end
    for (genvar j = 1; j < RSTEPS; j++) begin : g_root
      always_ff @(posedge clk) begin
        if (adv[DSTEPS + j]) begin
          rrem[j] <= rrem_next(rrem[j-1], rres[j-1], j - 1);
          rres[j] <= rres_next(rrem[j-1], rres[j-1], j - 1);
        end
      end
    end
  end

  // Division step (the dividend's remaining bits are all zero): the trial 2 rem is 65 bits; its
  // top bit set means it fits (2 rem >= 2^64 > xn), and the difference (< xn) is exact modulo
  // 2^64, so every operation is 64 bits wide.
  function automatic logic dfits(input logic [63:0] rem, input logic [63:0] xn);
    dfits = rem[63] || {rem[62:0], 1'b0} >= xn;
  endfunction
  function automatic logic [63:0] drem_next(input logic [63:0] rem, input logic [63:0] xn);
    drem_next = dfits(rem, xn) ? {rem[62:0], 1'b0} - xn : {rem[62:0], 1'b0};
  endfunction

  // Root step j (one = 2^(62 - 2j)): rem >= res + one ? (rem -= res + one, res = res/2 + one)
  //                                                  : res = res/2
  // (res + one < 2^63 throughout: res is the partial root scaled by the current digit)
  function automatic logic [63:0] rrem_next(input logic [63:0] rem, input logic [63:0] res, input int j);
    logic [63:0] sum;
    sum = res + (64'd1 << (62 - 2 * j));
    rrem_next = rem >= sum ? rem - sum : rem;
  endfunction
  function automatic logic [63:0] rres_next(input logic [63:0] rem, input logic [63:0] res, input int j);
    logic [63:0] one;
    one = 64'd1 << (62 - 2 * j);
    rres_next = rem >= res + one ? (res >> 1) + one : res >> 1;
  endfunction

  // leading zeros rounded down to even, so that xn keeps sqrt(x)'s scale a power of two
  function automatic logic [6:0] clz64_even(input logic [63:0] val);
    clz64_even = 7'd64;
    for (int i = 0; i < 64; i++)
      if (val[i]) clz64_even = 7'(63 - i) & 7'h7E;
  endfunction
endmodule
