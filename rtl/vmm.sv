// vmm: the vector-matrix multiply engine, docs/numerics.md §9 (C reference: isa/vmm.h
// floe_vmm_i8_i8_ref, floe_vmm_i8_i4_ref, floe_vmm_i16_i8_ref). LANES output channels, each a dot
// product of one input slice with its weight row, accumulated in int32 with wrap-around:
//   acc[n] = (first ? acc_in[n] : acc[n]) + sum_k x[k] * w[n][k]        (mod 2^32)
//
// Multiplier slots: every lane has DEPTH slots, each two 9x5-bit signed half multipliers.
//   int8 weights (wprec4 = 0): one weight byte per slot, w = 16 * signed(hi nibble) + unsigned(lo
//     nibble); both halves take the same activation and the high half is shifted left by 4:
//     DEPTH MACs per lane per cycle.
//   int4 weights (wprec4 = 1): the byte holds two int4 weights (element 2j in bits 3..0, 2j+1 in
//     bits 7..4, docs/numerics.md §1); each half multiplies its own activation, no shift:
//     2 * DEPTH MACs per lane per cycle on the same weight bus. This is NorthPole's doubling.
//   int16 activations (xprec16 = 1, int8 weights): two passes over the same beat, the signed high
//     bytes (sum shifted left by 8) then the unsigned low bytes (the 9-bit activation operand holds
//     0..255): DEPTH MACs per lane every two cycles; in_ready is low during the first pass.
// Activations: x[0..DEPTH-1] (int8), x[0..2*DEPTH-1] (int8, with int4 weights), or DEPTH int16
// values little-endian in x[2j] (low byte), x[2j+1] (high byte).
//
// Pipeline: 2 stages (multiply and reduce each lane | accumulate), stall-all flow control (pipe_ctl). A beat
// with `last` makes the accumulators the output (out_valid) two cycles after it is accepted.
module vmm
  import floe_rtl_pkg::*;
#(
  parameter int LANES = VMM_LANES,   // output channels per cycle (generated from the machine)
  parameter int DEPTH = VMM_DEPTH    // weight bytes per lane per cycle (int8 MACs per lane per cycle)
) (
  input  logic               clk,
  input  logic               rst_n,
  input  logic               in_valid,
  output logic               in_ready,
  input  logic               wprec4,                  // weights: 1 = int4 (packed), 0 = int8
  input  logic               xprec16,                 // activations: 1 = int16 (two passes)
  input  logic               first,                   // start from acc_in
  input  logic               last,                    // emit the accumulators after this beat
  input  logic        [7:0]  x      [2*DEPTH],
  input  logic        [7:0]  w      [LANES][DEPTH],
  input  logic signed [31:0] acc_in [LANES],
  output logic               out_valid,
  input  logic               out_ready,
  output logic signed [31:0] acc    [LANES]
);
  // flow control: stage 1's registers load on adv[0], the accumulators on adv[1]; an operation's
  // accumulators leave after its last beat. Each pass of an int16 beat is a beat of the pipeline.
  logic [1:0] adv;
  logic       v1;                     // stage 1 holds a beat (a pass)
  logic       first1, last1;
  logic       ctl_ready;
  pipe_ctl #(.STAGES(1)) u_ctl (.clk, .rst_n, .in_valid, .in_ready(ctl_ready), .out_valid, .out_ready,
                                .last(last1), .adv, .v(v1));

  // int16 pass: 0 = high bytes (first cycle of the beat), 1 = low bytes
  logic ph;
  logic hold;  // the beat stays on the input for its second pass
  assign hold     = xprec16 && !ph;
  assign in_ready = ctl_ready && !hold;

  always_ff @(posedge clk) begin
    if (!rst_n) ph <= 1'b0;
    else if (adv[0] && in_valid && xprec16) ph <= !ph;
  end

  logic int4_mode;
  assign int4_mode = wprec4 && !xprec16;

  // stage 1: per-lane sums of this beat (already scaled by 256 for the high pass)
  logic signed [31:0] sum1    [LANES];
  logic signed [31:0] acc_in1 [LANES];

  always_ff @(posedge clk) begin
    if (adv[0]) begin
      first1 <= first && !(xprec16 && ph);  // int16: the high pass starts, the low pass ends
      last1  <= last && !hold;
    end
  end

  for (genvar i = 0; i < LANES; i++) begin : g_lane
    always_ff @(posedge clk) begin
      if (adv[0]) begin
        sum1[i]    <= lane_sum(x, w[i], int4_mode, xprec16, hold);
        acc_in1[i] <= acc_in[i];
      end
      if (adv[1] && v1) acc[i] <= (first1 ? acc_in1[i] : acc[i]) + sum1[i];
    end
  end

  // One lane's multiplier slots and adder tree for this beat. Each slot: two 9 x 5-bit signed half
  // multipliers (activation operands a_lo, a_hi; weight nibbles w_lo, w_hi), see the header.
  // Written as a function called from the clocked block so that simulation evaluates the array
  // only at clock edges.
  function automatic logic signed [31:0] lane_sum(input logic [7:0] xv [2*DEPTH],
                                                  input logic [7:0] wv [DEPTH],
                                                  input logic int4, input logic x16,
                                                  input logic hi_pass);
    logic signed [31:0] s;
    s = '0;
    for (int j = 0; j < DEPTH; j++) begin
      logic signed [8:0]  a_lo, a_hi;
      logic signed [4:0]  w_lo, w_hi;
      logic signed [13:0] p_lo, p_hi;
      logic signed [17:0] slot;
      if (x16) begin         // int16: signed high bytes, then unsigned low bytes
        a_lo = hi_pass ? $signed({xv[2*j+1][7], xv[2*j+1]}) : $signed({1'b0, xv[2*j]});
        a_hi = a_lo;
      end else if (int4) begin  // two activations per slot
        a_lo = $signed({xv[2*j][7], xv[2*j]});
        a_hi = $signed({xv[2*j+1][7], xv[2*j+1]});
      end else begin
        a_lo = $signed({xv[j][7], xv[j]});
        a_hi = a_lo;
      end
      w_lo = int4 ? $signed({wv[j][3], wv[j][3:0]}) : $signed({1'b0, wv[j][3:0]});
      w_hi = $signed({wv[j][7], wv[j][7:4]});
      p_lo = 14'(a_lo) * 14'(w_lo);
      p_hi = 14'(a_hi) * 14'(w_hi);
      slot = int4 ? 18'(p_lo) + 18'(p_hi) : 18'(p_lo) + (18'(p_hi) <<< 4);
      s    = s + 32'(slot);  // wraps mod 2^32, like the accumulator
    end
    return hi_pass ? s <<< 8 : s;
  endfunction
endmodule
