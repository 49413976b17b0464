// multmul: the product of two requantization multipliers (numerics §2, `floe_requant_mult_mul`).
//
// Per lane a = {am, ash} and b = {bm, bsh} (m < 2^31, shift 0..62) to {m, shift}: the 62-bit product
// am x bm renormalised to a 31-bit mantissa (round half up), the shift the sum less the bits dropped;
// denormalised at shift 62; a rounding carry into bit 31 renormalises once more; a product 0 gives
// {0, 0} and a negative shift {2^31 - 1, 0}. Pipeline: 2 stages (the product and the shift sum |
// the normalisation), one beat per cycle, stall-all flow control (pipe_ctl, docs/rtl.md
// conventions). The core's rmsnorm composes r x c[j] with the same arithmetic in one combinational
// step (core.sv mult_mul).
module multmul
  import floe_rtl_pkg::*;
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

  // {shift, m} of the product p with shift sum s
  function automatic logic [36:0] norm(input logic [61:0] p, input logic [6:0] s);
    logic [63:0] q;
    logic signed [9:0] sh;
    logic [6:0] bl, r;
    sh = 10'(s);
    bl = 7'd0;
    for (int i = 0; i < 62; i++)
      if (p[i]) bl = 7'(i + 1);
    r = bl > 7'd31 ? bl - 7'd31 : 7'd0;
    if (sh - 10'($signed({1'b0, r})) > 10'sd62) r = 7'(sh - 10'sd62);  // denormalise
    q = r == 7'd0 ? 64'(p) : (64'(p) >> r) + ((64'(p) >> (r - 7'd1)) & 64'd1);
    sh = sh - 10'($signed({1'b0, r}));
    if (q[31]) begin                     // rounding carried into bit 31
      q = q >> 1;
      sh = sh - 10'sd1;
    end
    if (p == 62'd0) norm = 37'd0;
    else if (sh < 10'sd0) norm = {6'd0, 31'h7fffffff};
    else norm = {sh[5:0], q[30:0]};
  endfunction

  for (genvar l = 0; l < LANES; l++) begin : g_lane
    always_ff @(posedge clk) begin
      if (adv[0]) begin
        p1[l] <= 62'(am[l]) * 62'(bm[l]);
        s1[l] <= 7'(ash[l]) + 7'(bsh[l]);
      end
      if (adv[1]) {shift[l], m[l]} <= norm(p1[l], s1[l]);
    end
  end
endmodule
