// requant: per-channel fixed-point requantization, docs/numerics.md §2 (C reference:
// isa/requant.h floe_requant). For every lane i:
//   p = acc * m;  raw = shift == 0 ? p : (p + 2^(shift-1)) >>> shift;  y = clamp(raw, lo, hi)
// i.e. round half up with one 64-bit rounding, then saturation (lo/hi = the signed range of the
// target width, or any range such as softmax's [0, 32767]).
//
// Pipeline: 2 stages (multiply | round, shift and clamp), one beat per cycle, stall-all flow
// control (pipe_ctl): every stage advances when the output register is empty or being read. The
// split is the vector unit's MULR (vmul), which computes the same product, rounding and saturation
// in two stages.
//
// FLOE_RTL_FLIP_ROUNDING (a Verilator -D define) builds a deliberately wrong variant that rounds
// half DOWN; the co-simulation harness must catch it (tests/rtl, ctest rtl_requant_flip_detected).
module requant
  import floe_rtl_pkg::*;
#(
  parameter int LANES = REQUANT_LANES   // generated from the machine (vector_ops_per_cycle)
) (
  input  logic               clk,
  input  logic               rst_n,
  input  logic               in_valid,
  output logic               in_ready,
  input  logic signed [31:0] acc   [LANES],
  input  logic        [30:0] m     [LANES],   // mantissa, 0 <= m < 2^31
  input  logic         [5:0] shift [LANES],   // 0..62
  input  logic signed [31:0] lo,              // saturation range, shared by the beat
  input  logic signed [31:0] hi,
  output logic               out_valid,
  input  logic               out_ready,
  output logic signed [31:0] y     [LANES]
);
  // flow control: stage 1's registers load on adv[0], the output register on adv[1]
  logic [1:0] adv;
  /* verilator lint_off PINCONNECTEMPTY */
  pipe_ctl #(.STAGES(1)) u_ctl (.clk, .rst_n, .in_valid, .in_ready, .out_valid, .out_ready, .last(1'b1),
                                .adv, .v());
  /* verilator lint_on PINCONNECTEMPTY */

  // stage 1: exact 64-bit product (|acc * m| < 2^62)
  logic signed [63:0] p1  [LANES];
  logic        [5:0]  sh1 [LANES];
  logic signed [31:0] lo1, hi1;

  always_ff @(posedge clk) begin
    if (adv[0]) begin
      lo1 <= lo;
      hi1 <= hi;
    end
  end
  // a generate loop, so the lanes unroll at any LANES (Verilator 5.006 cannot keep a delayed
  // assignment to an array inside a procedural loop it does not unroll)
  for (genvar i = 0; i < LANES; i++) begin : g_lane
    always_ff @(posedge clk) begin
      if (adv[0]) begin
        p1[i]  <= $signed({{32{acc[i][31]}}, acc[i]}) * $signed({33'd0, m[i]});
        sh1[i] <= shift[i];
      end
      if (adv[1]) y[i] <= clamp(round_shift(p1[i], sh1[i]), lo1, hi1);
    end
  end

  // (p + 2^(s-1)) >>> s: one rounding adder and an arithmetic shift; no overflow as |p| < 2^62.
  function automatic logic signed [63:0] round_shift(input logic signed [63:0] p,
                                                     input logic [5:0] s);
    logic signed [63:0] half;
    if (s == 6'd0) return p;
    half = 64'sd1 <<< (s - 6'd1);
`ifdef FLOE_RTL_FLIP_ROUNDING
    half = half - 64'sd1;  // wrong on purpose: ties go down
`endif
    return (p + half) >>> s;
  endfunction

  function automatic logic signed [31:0] clamp(input logic signed [63:0] v,
                                               input logic signed [31:0] l,
                                               input logic signed [31:0] h);
    if (v < 64'(l)) return l;
    if (v > 64'(h)) return h;
    return v[31:0];
  endfunction
endmodule
