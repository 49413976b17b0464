// afu_exp2: the softmax exponential of the activation-function unit, docs/numerics.md §5 (C
// reference: isa/softmax.h floe_exp2_neg). Per lane, for a score x (int32, 8 fractional bits):
//   u = -min(x, 0); n = u >> 8; r = u & 255
//   y = n == 0 ? T[r] : n >= 17 ? 0 : (T[r] + 2^(n-1)) >> n          (Q15, exp2(0) = 32768)
// T, the fraction width, the Q format and the zero cut-off come from floe_rtl_pkg, generated from
// the C code (rtl/gen/floe_rtl_gen.c); nothing here is a copied number.
//
// Pipeline: 2 stages (negate + table ROM | rounding shift), one beat per cycle, stall-all flow
// (pipe_ctl).
module afu_exp2
  import floe_rtl_pkg::*;
#(
  parameter int LANES = AFU_LANES   // generated from the machine: afu_ops_per_cycle
) (
  input  logic                     clk,
  input  logic                     rst_n,
  input  logic                     in_valid,
  output logic                     in_ready,
  input  logic signed [31:0]       x [LANES],
  output logic                     out_valid,
  input  logic                     out_ready,
  output logic [EXP2_OUT_BITS:0]   y [LANES]     // Q15, 0..32768
);
  localparam int NB = 32 - EXP2_FRAC_BITS;      // width of the integer part n

  // flow control: stage 1's registers load on adv[0], the output register on adv[1]
  logic [1:0] adv;
  /* verilator lint_off PINCONNECTEMPTY */
  pipe_ctl #(.STAGES(1)) u_ctl (.clk, .rst_n, .in_valid, .in_ready, .out_valid, .out_ready, .last(1'b1),
                                .adv, .v());
  /* verilator lint_on PINCONNECTEMPTY */

  // stage 1: table entry, shift, and whether the result is certainly zero
  logic [EXP2_OUT_BITS:0] t1   [LANES];
  logic [4:0]             n1   [LANES];
  logic                   zero1 [LANES];

  for (genvar i = 0; i < LANES; i++) begin : g_lane
    logic [31:0]   u;
    logic [NB-1:0] n;
    assign u = x[i][31] ? 32'd0 - $unsigned(x[i]) : 32'd0;  // positive x counts as 0
    assign n = u[31:EXP2_FRAC_BITS];
    always_ff @(posedge clk) begin
      if (adv[0]) begin
        t1[i]    <= exp2_table(u[EXP2_FRAC_BITS-1:0]);
        n1[i]    <= n[4:0];
        zero1[i] <= 32'(n) >= 32'(EXP2_ZERO_N);
      end
      if (adv[1]) y[i] <= scale(t1[i], n1[i], zero1[i]);
    end
  end

  // T / 2^n rounded half up (one adder and a shift; n < 17 here, the sum fits in 17 bits)
  function automatic logic [EXP2_OUT_BITS:0] scale(input logic [EXP2_OUT_BITS:0] t,
                                                  input logic [4:0] n, input logic zero);
    logic [EXP2_OUT_BITS+1:0] s;
    if (zero) return '0;
    if (n == 5'd0) return t;
    s = {1'b0, t} + ((EXP2_OUT_BITS+2)'(1) << (n - 5'd1));
    s = s >> n;
    return s[EXP2_OUT_BITS:0];
  endfunction
endmodule
