// rope: the rotary position embedding of int16 pairs (numerics, `floe_rope_rotate_i16`).
//
// Per lane a pair (a, b) = (x[i], x[i+h]) and the position's (c, s) = (cos[i], sin[i]), Q14:
//   ylo = sat16(floor((a c - b s + 2^13) / 2^14)),  yhi = sat16(floor((b c + a s + 2^13) / 2^14)).
// Products and sums are exact (33 bits), the shift is arithmetic (floor), as the C function's int32
// arithmetic for |c|, |s| <= 2^14. Pipeline: 2 stages (the four products | add, round, saturate),
// one beat per cycle, stall-all flow control (pipe_ctl, docs/rtl.md conventions).
module rope
  import floe_rtl_pkg::*;
#(
  parameter int LANES = VECTOR_LANES
) (
  input  logic               clk,
  input  logic               rst_n,
  input  logic               in_valid,
  output logic               in_ready,
  input  logic signed [15:0] a [LANES],
  input  logic signed [15:0] b [LANES],
  input  logic signed [15:0] c [LANES],
  input  logic signed [15:0] s [LANES],
  output logic               out_valid,
  input  logic               out_ready,
  output logic signed [15:0] ylo [LANES],
  output logic signed [15:0] yhi [LANES]
);
  localparam int F = ROPE_FRAC_BITS;
  logic [1:0] adv;                     // load enables: stage 1, the output register
  logic signed [31:0] ac [LANES];
  logic signed [31:0] bs [LANES];
  logic signed [31:0] bc [LANES];
  logic signed [31:0] as_ [LANES];
  /* verilator lint_off PINCONNECTEMPTY */
  pipe_ctl #(.STAGES(1)) u_ctl (.clk, .rst_n, .in_valid, .in_ready, .out_valid, .out_ready, .last(1'b1),
                                .adv, .v());
  /* verilator lint_on PINCONNECTEMPTY */

  function automatic logic signed [15:0] round_sat(input logic signed [32:0] v);
    logic signed [32:0] r;
    r = (v + (33'sd1 <<< (F - 1))) >>> F;
    round_sat = r > 33'sd32767 ? 16'sh7fff : r < -33'sd32768 ? 16'sh8000 : r[15:0];
  endfunction

  for (genvar l = 0; l < LANES; l++) begin : g_lane
    always_ff @(posedge clk) begin
      if (adv[0]) begin
        ac[l] <= 32'(a[l]) * 32'(c[l]);
        bs[l] <= 32'(b[l]) * 32'(s[l]);
        bc[l] <= 32'(b[l]) * 32'(c[l]);
        as_[l] <= 32'(a[l]) * 32'(s[l]);
      end
      if (adv[1]) begin
        ylo[l] <= round_sat(33'(ac[l]) - 33'(bs[l]));
        yhi[l] <= round_sat(33'(bc[l]) + 33'(as_[l]));
      end
    end
  end
endmodule
