// multmul: the product of two requantization multipliers (numerics §2, `floe_requant_mult_mul`).
//
// Per lane a = {am, ash} and b = {bm, bsh} (m < 2^31, shift 0..62) to {m, shift}, the arithmetic of
// mult_mul_pkg (the one RTL copy of the contract, also used by the core's rmsnorm). Pipeline: 2
// stages (the product and the shift sum | the normalisation, mult_mul_norm), one beat per cycle,
// stall-all flow control (pipe_ctl, docs/rtl.md conventions).
module multmul
  import floe_rtl_pkg::*;
  import mult_mul_pkg::*;
#(
  parameter int LANES = VECTOR_LANES
) (
  input  logic        clk,
  input  logic        rst_n,
  input  logic        in_valid,
  output logic        in_ready,
  input  logic [30:0] am [LANES],
  input  logic  [5:0] ash [LANES],
  input  logic [30:0] bm [LANES],
  input  logic  [5:0] bsh [LANES],
  output logic        out_valid,
  input  logic        out_ready,
  output logic [30:0] m [LANES],
  output logic  [5:0] shift [LANES]
);
  logic [1:0] adv;                      // load enables: stage 1, the output register
  logic [61:0] p1 [LANES];
  logic  [6:0] s1 [LANES];
  /* verilator lint_off PINCONNECTEMPTY */
  pipe_ctl #(.STAGES(1)) u_ctl (.clk, .rst_n, .in_valid, .in_ready, .out_valid, .out_ready, .last(1'b1),
                                .adv, .v());
  /* verilator lint_on PINCONNECTEMPTY */

  for (genvar l = 0; l < LANES; l++) begin : g_lane
    always_ff @(posedge clk) begin
      if (adv[0]) begin
        p1[l] <= 62'(am[l]) * 62'(bm[l]);
        s1[l] <= 7'(ash[l]) + 7'(bsh[l]);
      end
      if (adv[1]) {shift[l], m[l]} <= mult_mul_norm(p1[l], s1[l]);
    end
  end
endmodule
