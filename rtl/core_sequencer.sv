// core_sequencer: the core's command sequencer (docs/rtl.md, "The core wrapper"). A composite
// (rmsnorm, softmax, rmsnormt, vrequantt) runs as a sequence of passes over its row on the
// elementwise engine, each pass an internal op with its own operands, loaded into the intake's pass
// configuration (core_intake) by `pass_load` one cycle after `pstart`; a per-row scalar is held in a
// register between passes. A reduction pass leaves its result in `sreg` (nothing is written), a
// scalar pass feeds one element to the divider or the root and keeps the multiplier in
// (rq_m, rq_sh); only the last pass writes the destination.
//   rmsnorm: 0 vsumsq of src, eps through the multiplier stream -> sreg = eps + sum q^2;
//            1 rsqrt(sreg) -> r;  2 requant of src (int16) by mult_mul(r, c[j]) into dst.
//   softmax: 0 vmaxr of src -> smax;  1 exp2(src - smax) on afu_exp2, summed into sreg (a sum
//            pass: nothing written);  2 recip(sreg) -> r, shift - 15;  3 exp2(src - smax) again,
//            each result requantized by r to [0, 32767] on its way into the output buffer, into dst.
//   rmsnormt: rmsnorm's passes, pass 0 also keeping max |q| (amx, at launch), pass 2 by
//            M * 2^k (M = mult_mul(r, C), k = token_k), then 3: k as one byte after the row.
//   vrequantt: 0 vmaxr of |x| - 1 (fits int32) -> amax - 1;  1 vrequant of x by M * 2^k;  2 k.
// `ew_finish`: the running elementwise command (one pass, or a composite's last) ends at this edge.
module core_sequencer
  import floe_rtl_pkg::*;
  import core_pkg::*;
(
  input  logic               clk,
  input  logic               rst_n,
  // the command, at intake
  input  logic               accept,
  input  logic [4:0]         cmd_op,
  input  logic [31:0]        cmd_dst,
  input  logic [31:0]        cmd_a,
  input  logic [31:0]        cmd_b,
  input  logic [31:0]        cmd_m,
  input  logic [15:0]        cmd_n,
  input  logic [2:0]         cmd_dt,
  input  logic               cmd_chan,
  // the engine
  input  logic               ew,         // an elementwise command is running
  input  logic               launch,     // a beat enters the unit
  input  logic               capture,    // a result beat is taken (core_writeback)
  input  logic               cap_last,   //   the last beat of its chunk
  input  logic               cap_end,    //   ... of the pass's last chunk
  input  logic               wr_end,     // the pass's last result word is written
  input  logic               uses_reduce,
  input  logic               uses_rsqrt,
  input  logic               unit_ready, // the divider's or the root's in_ready (a scalar pass)
  input  logic               u_out_valid,
  input  logic [63:0]        dy,         // vreduce's result
  input  logic [63:0]        mt,         // the per-tensor multiplier word (rmsnorm: eps)
  input  logic [31:0]        beat_sum,   // a sum pass: the captured beat's exponentials
  input  logic [31:0]        beat_amax,  // rmsnormt: max |q| of the launched beat
  input  logic [30:0]        qm,         // afu_recip's lane 0
  input  logic [5:0]         qsh,
  input  logic [30:0]        sqm,        // afu_rsqrt's lane 0
  input  logic [5:0]         sqsh,
  // state
  output logic               seq,        // a composite is running
  output logic               seq_rms,
  output logic               seq_sm,
  output logic               seq_rmt,
  output logic               seq_vqt,
  output logic               pass_load,  // the next pass loads at this edge
  output logic               sc_pass,    // a scalar pass (one element to the divider or the root)
  output logic               sc_go,      //   its element is offered
  output logic               sum_pass,   // a sum pass (results summed into sreg, not written)
  output logic               kw_go,      // the k pass writes its byte
  output logic               m12,        // the multiplier stream is {m, shift, K}
  output logic               ew_finish,
  output logic [63:0]        sreg,
  output logic signed [31:0] smax,
  output logic [31:0]        amx,        // rmsnormt: max |q| of the row
  output logic [30:0]        rq_m,       // the scalar pass's multiplier
  output logic [5:0]         rq_sh,
  output logic [31:0]        kw_addr,    // the k byte: after the row
  // the next pass (into core_intake)
  output logic [4:0]         np_op,
  output logic [2:0]         np_idt,
  output logic [2:0]         np_odt,
  output logic [31:0]        np_a,
  output logic [31:0]        np_m,
  output logic [31:0]        np_dst,
  output logic [31:0]        np_n,
  output logic               np_chan,
  output logic               np_use_a,
  output logic               np_use_m,
  output logic               np_stream
);
  logic        pstart, sc_issued, p_last, kw_pass;   // pstart: the next pass loads at the next edge
  logic [4:0]  cop;
  logic [2:0]  ps;
  logic [31:0] c_dst, c_a, c_b, c_m, c_n;
  logic [2:0]  c_dt;
  logic        c_chan;
  logic        np_um, np_sc, np_last, np_sum, np_kw, np_m12;
  always_comb begin
    np_op = CMD_VSUMSQ;
    np_idt = DT_I16;
    np_odt = DT_I32;
    np_a = c_a;
    np_m = c_m;
    np_chan = 1'b0;
    np_um = 1'b0;
    np_sc = 1'b0;
    np_last = 1'b0;
    np_sum = 1'b0;
    np_kw = 1'b0;
    np_m12 = 1'b0;
    if (cop == CMD_VREQUANTT) begin
      np_idt = DT_I32;
      case (ps)
        3'd0: np_op = CMD_VMAXR;
        3'd1: begin
          np_op = CMD_VREQUANT;
          np_odt = c_dt;
          np_um = 1'b1;
          np_m12 = 1'b1;
        end
        default: begin
          np_kw = 1'b1;
          np_last = 1'b1;
        end
      endcase
    end else if (cop == CMD_SOFTMAX) begin
      np_idt = DT_I32;
      case (ps)
        3'd0: np_op = CMD_VMAXR;
        3'd1: begin
          np_op = CMD_EXP2;
          np_sum = 1'b1;
        end
        3'd2: begin
          np_op = CMD_RECIP;
          np_sc = 1'b1;
        end
        default: begin
          np_op = CMD_EXP2;
          np_odt = DT_I16;
          np_last = 1'b1;
        end
      endcase
    end else begin
      case (ps)
        3'd0: np_um = 1'b1;              // vsumsq; eps (8 bytes) as a per-tensor multiplier
        3'd1: begin
          np_op = CMD_RSQRT;
          np_sc = 1'b1;
        end
        3'd2: begin
          np_op = CMD_VREQUANT;
          np_odt = c_dt;
          np_m = c_b;
          np_chan = c_chan;
          np_um = 1'b1;
          np_m12 = cop == CMD_RMSNORMT;  // {m, shift, K}
          np_last = cop == CMD_RMSNORM;
        end
        default: begin                   // rmsnormt's k
          np_kw = 1'b1;
          np_last = 1'b1;
        end
      endcase
    end
  end
  assign np_dst = c_dst;
  assign np_n = c_n;
  assign np_use_a = !np_sc;
  assign np_use_m = np_um;
  assign np_stream = !(np_sc || np_kw);

  assign seq_rms = seq && cop == CMD_RMSNORM;
  assign seq_sm = seq && cop == CMD_SOFTMAX;
  assign seq_rmt = seq && cop == CMD_RMSNORMT;
  assign seq_vqt = seq && cop == CMD_VREQUANTT;
  assign pass_load = ew && pstart;
  assign sc_go = ew && sc_pass && !sc_issued && !pstart;   // a scalar pass's one element
  assign kw_go = ew && kw_pass && !pstart;                  // the k pass's byte
  assign ew_finish = (wr_end && !(seq && !p_last)) || kw_go;
  assign kw_addr = c_dst + bytes_for(c_dt, c_n);

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      seq <= 1'b0;
      pstart <= 1'b0;
      sc_pass <= 1'b0;
      sum_pass <= 1'b0;
      kw_pass <= 1'b0;
    end else if (accept) begin
      seq <= is_composite(cmd_op);
      cop <= cmd_op;
      ps <= 3'd0;
      pstart <= is_composite(cmd_op) && cmd_n != 16'd0;
      sc_pass <= 1'b0;
      sum_pass <= 1'b0;
      kw_pass <= 1'b0;
      m12 <= 1'b0;
      amx <= 32'd0;
      c_dst <= cmd_dst;
      c_a <= cmd_a;
      c_b <= cmd_b;
      c_m <= cmd_m;
      c_n <= 32'(cmd_n);
      c_dt <= cmd_dt;
      c_chan <= cmd_chan;
    end else if (ew) begin
      if (launch && seq_rmt && uses_reduce && beat_amax > amx) amx <= beat_amax;
      // a result beat: a reduction pass's scalar is kept, a sum pass's beat summed
      if (capture && seq && uses_reduce) begin
        if (seq_sm) smax <= dy[31:0];
        else if (seq_vqt) sreg <= 64'(dy[31:0]) + 64'd1;    // amax <= 2^31
        else sreg <= dy + mt;
        pstart <= 1'b1;
      end else if (capture && sum_pass) begin
        sreg <= sreg + 64'(beat_sum);
        if (cap_last && cap_end) pstart <= 1'b1;
      end
      // the pass's last result written: the next pass, or the command's end
      if (wr_end && seq && !p_last) pstart <= 1'b1;
      else if (wr_end) seq <= 1'b0;
      // a scalar pass's element, its result
      if (sc_go && unit_ready) sc_issued <= 1'b1;
      if (sc_pass && sc_issued && u_out_valid) begin
        rq_m <= uses_rsqrt ? sqm : qm;
        // softmax: times 2^15 (Q15 probabilities); the reciprocal of a sum >= 1 has shift >= 31
        rq_sh <= uses_rsqrt ? sqsh : seq_sm ? qsh - 6'd15 : qsh;
        pstart <= 1'b1;
      end
      if (kw_go) seq <= 1'b0;
      // the next pass
      if (pstart) begin
        pstart <= 1'b0;
        ps <= ps + 3'd1;
        sc_pass <= np_sc;
        sum_pass <= np_sum;
        kw_pass <= np_kw;
        m12 <= np_m12;
        if (np_sum) sreg <= 64'd0;
        sc_issued <= 1'b0;
        p_last <= np_last;
      end
    end
  end
endmodule
