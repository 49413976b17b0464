// core_writeback: the core's result capture and write-back (docs/rtl.md, "The core wrapper"). Two
// output buffers: a chunk's result beats are packed to the result type into one while the other is
// written back to memory, a port word a cycle. A reduction's one result (4 or 8 bytes) is written
// after its last beat; rope's chunk is two segments, the lower half's and the upper half's (hoff
// bytes further; a word never spans the two). A reduction pass of the sequencer keeps its result
// (core_sequencer) and a sum pass sums its beats: neither is written. `wr_go` asks for the memory
// port, under the port order below.
module core_writeback
  import floe_rtl_pkg::*;
  import core_pkg::*;
#(
  parameter int W  = SRAM_BYTES,    // memory port bytes per cycle
  parameter int VL = VECTOR_LANES,  // lanes of a result beat
  parameter int SA = 4 * VL         // bytes of an output buffer
) (
  input  logic               clk,
  input  logic               rst_n,
  input  logic               accept,     // a command is taken: the first pass starts
  input  logic               pass_load,  // a composite's next pass starts
  input  logic               ew,         // an elementwise command is running
  // the running pass (core_intake, core_sequencer)
  input  logic [31:0]        dst,
  input  logic [31:0]        hoff,
  input  logic [31:0]        n,
  input  logic [31:0]        ch,
  input  logic [31:0]        nchunks,
  input  logic [31:0]        lanes,
  input  logic [2:0]         odt,
  input  logic               is_rope,
  input  logic               uses_reduce,
  input  logic               sumsq,      // the reduction is vsumsq (an 8-byte result)
  input  logic               seq,
  input  logic               sc_pass,
  input  logic               sum_pass,
  // the unit's result beat
  input  logic               u_out_valid,
  input  logic signed [31:0] y    [VL],  // lane results as int32,
  input  logic [63:0]        y64  [VL],  //   as 8-byte multipliers,
  input  logic signed [15:0] ylo  [VL],  //   rope's pairs
  input  logic signed [15:0] yhi  [VL],
  input  logic [63:0]        dy,         //   a reduction's result
  // port order
  input  logic               rd_pending, // an operand or table read waits for the port
  input  logic               deep,       // the unit is afu_recip or afu_rsqrt
  input  logic               lookup,     // the unit is the afu's lookup
  // capture
  output logic               cap_ok,     // the units' out_ready
  output logic               capture,
  output logic               cap_last,   // the chunk's last beat
  output logic               cap_end,    // the pass's last chunk
  output logic [31:0]        cc,         // chunk and beat being captured
  output logic [31:0]        csub,
  // write back
  output logic               wr_go,
  output logic               wr_end,     // the pass's last result word
  output logic [31:0]        wr_addr,
  output logic [31:0]        wr_len,
  output logic [7:0]         wr_data [W]
);
  logic [31:0] oc, wr_off;                // chunk being written, byte offset
  logic        ofull [2];
  logic [8*SA-1:0] obuf [2];
  logic [8*SA-1:0] obuf_next;
  logic        wr_want, wr_urgent, wr_last_word, last_out;
  logic [31:0] ob_bytes;
  assign cap_ok = !ofull[cc[0]];
  assign capture = ew && u_out_valid && cap_ok && !sc_pass;
  assign cap_last = uses_reduce || (csub + 1) * lanes >= chunk_elems(ch, n, cc);
  assign cap_end = cc + 32'd1 >= nchunks;
  // a reduction writes one result: 4 bytes (vsum, vmaxr) or 8 (vsumsq)
  assign ob_bytes = uses_reduce ? (sumsq ? 32'd8 : 32'd4)
                  : is_rope ? 32'd2 * bytes_for(odt, chunk_elems(ch, n, oc)) : bytes_for(odt, chunk_elems(ch, n, oc));
  // rope's upper half: the word goes hoff bytes further; a word never spans the two halves
  logic [31:0] seg_bytes;
  logic        wr_hi;
  assign seg_bytes = bytes_for(odt, chunk_elems(ch, n, oc));
  assign wr_hi = is_rope && wr_off >= seg_bytes;
  assign wr_len = min32(32'(W), (is_rope && !wr_hi ? seg_bytes : ob_bytes) - wr_off);
  assign wr_want = ew && ofull[oc[0]];
  // Port priority: result words go first (a short pipeline then drains at once, as the simulator's
  // busy + latency assumes), except behind the deep pipelines of afu_recip and afu_rsqrt: there
  // operand reads go first whenever a staging buffer is free behind recip and rsqrt, so the tile is
  // read ahead into the elastic pipeline (its registers hold results while the output buffers wait)
  // and the reads overlap its latency; a full pipeline refuses the next beat, the staging buffers
  // stay full and the writes get the port. (With results first, a tile longer than the pipeline
  // starved its reads behind the writes and paid the latency twice; with writes first whenever both
  // output buffers were full, reads and writes interleaved, the read-ahead ran out, and the last
  // results came as sparsely as they were read: northpole rsqrt +7.7%.) Lookups (a short pipeline
  // that cannot hold results) read first unless both output buffers are full: a lut16 chunk with
  // int32 results is one word in and two out, and with results first the reader waited behind the
  // writes while both staging buffers were full, the port idling while the unit worked (+5.5% on
  // small's int32 lut16 tiles, -0.1% reads first; docs/rtl.md).
  assign wr_urgent = ofull[0] && ofull[1];
  assign wr_go = wr_want && (!(deep || lookup) || (lookup && wr_urgent) || !rd_pending);
  assign wr_last_word = wr_off + wr_len >= ob_bytes;
  assign last_out = uses_reduce || oc + 32'd1 >= nchunks;
  assign wr_end = wr_go && wr_last_word && last_out;
  assign wr_addr = dst + oc * bytes_for(odt, ch) + wr_off + (wr_hi ? hoff - seg_bytes : 32'd0);
  for (genvar i = 0; i < W; i++) begin : g_wdata
    assign wr_data[i] = obuf[oc[0]][8 * (wr_off + 32'(i)) +: 8];
  end

  // the beat packed into the buffer being filled: lane l is element csub * lanes + l of the chunk
  always_comb begin
    obuf_next = obuf[cc[0]];
    for (int l = 0; l < VL; l++) begin
      logic [31:0] e;
      e = csub * lanes + 32'(l);
      if (32'(l) < lanes) begin
        case (odt)
          DT_I4:   obuf_next[4*e +: 4] = y[l][3:0];
          DT_I8:   obuf_next[8*e +: 8] = y[l][7:0];
          DT_I16:  obuf_next[16*e +: 16] = y[l][15:0];
          DT_X64:  obuf_next[64*e +: 64] = y64[l];
          default: obuf_next[32*e +: 32] = y[l];
        endcase
      end
    end
    if (uses_reduce) obuf_next[63:0] = dy;  // the one result of a reduction
    // rope: the lower half's chunk, then the upper half's (lanes past the chunk would overwrite it)
    for (int l = 0; l < VL; l++)
      if (is_rope && csub * lanes + 32'(l) < chunk_elems(ch, n, cc)) begin
        obuf_next[16*(csub * lanes + 32'(l)) +: 16] = ylo[l];
        obuf_next[16*(csub * lanes + 32'(l) + chunk_elems(ch, n, cc)) +: 16] = yhi[l];
      end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      ofull[0] <= 1'b0;
      ofull[1] <= 1'b0;
    end else if (accept) begin
      cc <= 32'd0;
      csub <= 32'd0;
      oc <= 32'd0;
      wr_off <= 32'd0;
    end else if (ew) begin
      // capture (into the buffer the writer is not working on); a reduction pass's scalar is kept by
      // the sequencer, a sum pass's beats are summed there
      if (capture && !(seq && uses_reduce)) begin
        if (!sum_pass) obuf[cc[0]] <= obuf_next;
        if (cap_last) begin
          if (!sum_pass) ofull[cc[0]] <= 1'b1;
          cc <= cc + 32'd1;
          csub <= 32'd0;
        end else begin
          csub <= csub + 32'd1;
        end
      end
      // write back
      if (wr_go) begin
        if (wr_last_word) begin
          ofull[oc[0]] <= 1'b0;
          oc <= oc + 32'd1;
          wr_off <= 32'd0;
        end else begin
          wr_off <= wr_off + wr_len;
        end
      end
      if (pass_load) begin
        cc <= 32'd0;
        csub <= 32'd0;
        oc <= 32'd0;
        wr_off <= 32'd0;
      end
    end
  end
endmodule
