// afu_recip: exactly rounded reciprocal of the activation-function unit, docs/numerics.md §4 (C
// reference: isa/recip.h floe_recip_u32). Per lane, for x >= 1:
//   lz = clz32(x); xn = x << lz;  m = floor((2^63 + xn) / (2 xn));  shift = 62 - lz
//   m == 2^31 (x a power of two): m = 2^30, shift - 1;      x == 0: {2^31 - 1, 0}
// The quotient is < 2^32, so a restoring divider needs 32 steps: the remainder starts at the
// dividend's upper half (2^31 < 2 xn) and takes in xn's 32 bits, one per step.
//
// Pipelined, radix 2, one divider step per stage (unrolled): stage 0 normalises (clz, shift) and
// loads; stages 1..31 are one step each; the output register takes the 32nd step and the
// renormalisation. LANES results per cycle at full rate, a fixed latency of 33 cycles
// from the accepting edge to out_valid for every x (the machine's recip_latency_cycles is this
// plus the core's memory round trip, docs/rtl.md). Elastic flow (pipe_ctl): a held output
// stops only the registers behind it that have no bubble to fill.
module afu_recip
  import floe_rtl_pkg::*;
#(
  parameter int LANES = AFU_LANES   // generated from the machine: afu_ops_per_cycle
) (
  input  logic        clk,
  input  logic        rst_n,
  input  logic        in_valid,
  output logic        in_ready,
  input  logic [31:0] x [LANES],
  output logic        out_valid,
  input  logic        out_ready,
  output logic [30:0] m [LANES],      // mantissa in [2^30, 2^31), or 2^31 - 1 for x = 0
  output logic [5:0]  shift [LANES]
);
  localparam int STEPS = 32;          // quotient bits; STEPS + 1 registers from input to output

  // The machine's recip_latency_cycles is this pipeline plus the write back (as afu_latency_cycles
  // is afu_exp2's two stages plus one): a machine that says otherwise does not describe this RTL.
  if (RECIP_LATENCY != STEPS + 2) begin : g_latency_check
    $error("machine recip_latency_cycles = %0d, afu_recip's pipeline needs %0d", RECIP_LATENCY, STEPS + 2);
  end

  // register s (after s divider steps) loads when adv[s]; adv[STEPS] is the output register
  logic [STEPS:0] adv;
  /* verilator lint_off PINCONNECTEMPTY */
  pipe_ctl #(.STAGES(STEPS), .ELASTIC(1'b1)) u_ctl (.clk, .rst_n, .in_valid, .in_ready, .out_valid, .out_ready,
                                                    .last(1'b1), .adv, .v());
  /* verilator lint_on PINCONNECTEMPTY */

  // Narrow stage registers (no struct) and one always_ff per stage (generate loops).
  for (genvar l = 0; l < LANES; l++) begin : g_lane
    logic [32:0] rem [STEPS];         // after s steps: partial remainder, < divisor 2 xn < 2^33
    logic [31:0] lq  [STEPS];         //   dividend bits still to bring down (MSB first), quotient bits in
    logic [31:0] xn  [STEPS];         //   normalised x (the divisor is 2 xn)
    logic [5:0]  sh  [STEPS];         //   carried along: shift,
    logic        zero[STEPS];         //   x = 0
    logic [31:0] q;                   // the whole quotient (< 2^32)
    logic [5:0]  sh_last;
    logic [5:0]  lz;
    assign lz = clz32(x[l]);
    assign q = {lq[STEPS-1][30:0], fits(rem[STEPS-1], lq[STEPS-1][31], xn[STEPS-1])};
    assign sh_last = sh[STEPS-1];
    always_ff @(posedge clk) begin
      if (adv[0]) begin
        rem[0]  <= 33'h0_8000_0000;     // floor((2^63 + xn) / 2^32) = 2^31
        lq[0]   <= x[l] << lz;
        xn[0]   <= x[l] << lz;
        sh[0]   <= 6'd62 - lz;
        zero[0] <= x[l] == 32'd0;       // saturated at the output, as the C reference
      end
    end
    always_ff @(posedge clk) begin
      if (adv[STEPS]) begin
        // renormalise: the quotient reaches 2^31 only when x is a power of two
        m[l]     <= zero[STEPS-1] ? 31'h7FFF_FFFF : q[31] ? 31'h4000_0000 : q[30:0];
        shift[l] <= zero[STEPS-1] ? 6'd0 : q[31] ? sh_last - 6'd1 : sh_last;
      end
    end
    for (genvar s = 1; s < STEPS; s++) begin : g_div
      always_ff @(posedge clk) begin
        if (adv[s]) begin
          rem[s]  <= rem_next(rem[s-1], lq[s-1][31], xn[s-1]);
          lq[s]   <= {lq[s-1][30:0], fits(rem[s-1], lq[s-1][31], xn[s-1])};
          xn[s]   <= xn[s-1];
          sh[s]   <= sh[s-1];
          zero[s] <= zero[s-1];
        end
      end
    end
  end

  // one restoring step: bring down the next dividend bit, subtract the divisor 2 xn if it fits
  function automatic logic fits(input logic [32:0] r, input logic b, input logic [31:0] d);
    fits = {r, b} >= {1'b0, d, 1'b0};
  endfunction
  function automatic logic [32:0] rem_next(input logic [32:0] r, input logic b, input logic [31:0] d);
    logic [33:0] trial;
    trial = {r, b};
    rem_next = fits(r, b, d) ? 33'(trial - {1'b0, d, 1'b0}) : trial[32:0];
  endfunction

  function automatic logic [5:0] clz32(input logic [31:0] val);
    clz32 = 6'd32;
    for (int i = 0; i < 32; i++)
      if (val[i]) clz32 = 6'(31 - i);
  endfunction
endmodule
