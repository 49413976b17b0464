// core_intake: the core's command intake (docs/rtl.md, "The core wrapper"). It takes a command
// (rtl/gen/core_cmd.h) with a valid/ready handshake when the core is idle (cmd_ready = !busy) and
// decodes it into the running pass's configuration: the unit's operation, the streams' addresses,
// element types and which streams are read, the element count and the chunk geometry (a chunk is a
// port word of the narrowest operand or result type, at least the unit's lanes), the table bytes of
// a lookup and the vmm row geometry. A composite's later passes are loaded from the sequencer
// (core_sequencer, `pass_load` and the np_* fields). `done` is high for one cycle after the command's
// last result is written (`finish`), or after the command is taken when there is nothing to do.
module core_intake
  import floe_rtl_pkg::*;
  import core_pkg::*;
#(
  parameter int W  = SRAM_BYTES,    // memory port bytes per cycle
  parameter int VL = VECTOR_LANES,  // vector unit and requant lanes
  parameter int AL = AFU_LANES      // activation-function unit lanes
) (
  input  logic                      clk,
  input  logic                      rst_n,
  // command
  input  logic                      cmd_valid,
  output logic                      cmd_ready,
  input  logic [4:0]                cmd_op,
  input  logic [31:0]               cmd_dst,
  input  logic [31:0]               cmd_a,
  input  logic [31:0]               cmd_b,
  input  logic [31:0]               cmd_m,
  input  logic [ACC_INDEX_BITS-1:0] cmd_acc,
  input  logic [15:0]               cmd_n,
  input  logic [15:0]               cmd_k,
  input  logic [2:0]                cmd_dt,
  input  logic [2:0]                cmd_dt2,
  input  logic                      cmd_x16,
  input  logic                      cmd_w4,
  input  logic                      cmd_set,
  input  logic                      cmd_chan,
  input  logic signed [7:0]         cmd_amount,
  output logic                      accept,     // a command is taken at this edge
  output logic                      busy,
  output logic                      done,
  input  logic                      finish,     // the running command ends at this edge
  // a composite's next pass (core_sequencer)
  input  logic                      pass_load,
  input  logic [4:0]                np_op,
  input  logic [2:0]                np_idt,
  input  logic [2:0]                np_odt,
  input  logic [31:0]               np_a,
  input  logic [31:0]               np_m,
  input  logic [31:0]               np_dst,
  input  logic [31:0]               np_n,
  input  logic                      np_chan,
  input  logic                      np_use_a,
  input  logic                      np_use_m,
  input  logic                      np_stream,  // the pass streams chunks (not a scalar or k pass)
  // the running pass
  output logic [4:0]                op,
  output logic [31:0]               dst,
  output logic [31:0]               aa,
  output logic [31:0]               bb,
  output logic [31:0]               ma,
  output logic [ACC_INDEX_BITS-1:0] acc0,
  output logic [31:0]               n,
  output logic [31:0]               rsin,       // rope: the sin stream
  output logic [31:0]               hoff,       // rope: bytes from x[0] to x[h]
  output logic                      x16,
  output logic                      w4,
  output logic                      acc_set,    // vmm: mode set (the accumulators start from 0)
  output logic                      chan,
  output logic signed [7:0]         amount,
  output logic [2:0]                idt,
  output logic [2:0]                odt,
  output logic                      use_a,
  output logic                      use_b,
  output logic                      use_m,
  output logic [31:0]               ch,         // elements per chunk
  output logic [31:0]               nchunks,
  output logic [31:0]               tbytes,     // lookups: the table's bytes
  output logic [31:0]               xbytes,     // vmm: activation bytes
  output logic [31:0]               rowbytes    // vmm: weight bytes per row
);
  assign cmd_ready = !busy;
  assign accept = cmd_valid && cmd_ready;

  // a command's operand and result element types
  function automatic logic [2:0] in_dt(input logic [4:0] o, input logic [2:0] dt);
    case (o)
      CMD_VREQUANT, CMD_EXP2, CMD_RECIP: in_dt = DT_I32;
      CMD_RSQRT, CMD_MULTMUL:            in_dt = DT_X64;
      CMD_LUT8:                          in_dt = DT_I8;
      CMD_LUT16, CMD_ROPE:               in_dt = DT_I16;
      default:                           in_dt = dt;
    endcase
  endfunction
  function automatic logic [2:0] out_dt(input logic [4:0] o, input logic [2:0] dt, input logic [2:0] dt2);
    case (o)
      CMD_VSAT:             out_dt = dt2;
      CMD_EXP2:             out_dt = DT_I32;
      CMD_LUT8, CMD_ROPE:   out_dt = DT_I16;
      CMD_RECIP, CMD_RSQRT, CMD_MULTMUL: out_dt = DT_X64;
      default:              out_dt = dt;
    endcase
  endfunction

  // elements of a chunk: a port word of the narrowest operand or result type, at least the unit's lanes
  function automatic logic [31:0] chunk_for(input logic [4:0] o, input logic [2:0] it, input logic [2:0] ot);
    logic [6:0] nb;
    logic [31:0] c;
    nb = o == CMD_RSQRT || o == CMD_MULTMUL ? 7'd64 : o == CMD_RECIP ? 7'd32
       : o == CMD_REQUANT || o == CMD_REQUANTK || dt_bits(ot) < dt_bits(it) ? {1'b0, dt_bits(ot)} : {1'b0, dt_bits(it)};
    c = 32'(8 * W) / 32'(nb);
    if (o == CMD_EXP2 || o == CMD_LUT8 || o == CMD_LUT16 || o == CMD_RECIP || o == CMD_RSQRT)
      chunk_for = c > 32'(AL) ? c : 32'(AL);
    else
      chunk_for = c > 32'(VL) ? c : 32'(VL);
  endfunction

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      busy <= 1'b0;
      done <= 1'b0;
    end else begin
      done <= 1'b0;
      if (accept) begin
        busy <= 1'b1;
        op <= cmd_op;
        dst <= cmd_dst;
        aa <= cmd_a;
        bb <= cmd_op == CMD_ROPE ? cmd_a + 32'(cmd_n) : cmd_b;   // (requantk: its k byte)
        ma <= cmd_op == CMD_RSQRT ? cmd_a : cmd_op == CMD_ROPE ? cmd_b : cmd_m;  // rsqrt's 8-byte operands use the multiplier stream
        acc0 <= cmd_acc;
        n <= cmd_op == CMD_ROPE ? 32'(cmd_n) >> 1 : 32'(cmd_n);
        rsin <= cmd_m;
        hoff <= 32'(cmd_n);                // x[h] is n bytes (h int16) past x[0]
        x16 <= cmd_x16;
        w4 <= cmd_w4;
        acc_set <= cmd_set;
        chan <= cmd_chan || cmd_op == CMD_RSQRT || cmd_op == CMD_REQUANTK;
        amount <= cmd_amount;
        idt <= in_dt(cmd_op, cmd_dt);
        odt <= out_dt(cmd_op, cmd_dt, cmd_dt2);
        use_a <= cmd_op != CMD_REQUANT && cmd_op != CMD_RSQRT && cmd_op != CMD_REQUANTK;
        use_b <= cmd_op == CMD_VADD || cmd_op == CMD_VMAX || cmd_op == CMD_VMUL || cmd_op == CMD_ROPE;
        use_m <= cmd_op == CMD_REQUANT || cmd_op == CMD_VREQUANT || cmd_op == CMD_RSQRT || cmd_op == CMD_REQUANTK ||
                 cmd_op == CMD_MULTMUL;
        begin
          logic [31:0] c;
          c = chunk_for(cmd_op, in_dt(cmd_op, cmd_dt), out_dt(cmd_op, cmd_dt, cmd_dt2));
          ch <= c;
          // a composite's first pass is loaded by the sequencer
          nchunks <= is_composite(cmd_op) ? 32'd0
                   : ((cmd_op == CMD_ROPE ? 32'(cmd_n) >> 1 : 32'(cmd_n)) + c - 32'd1) / c;
        end
        tbytes <= cmd_op == CMD_LUT8 ? 32'd512 : 32'd4 * (32'(LUT16_KNOTS) + 32'd2);
        xbytes <= cmd_x16 ? 32'(cmd_k) << 1 : 32'(cmd_k);
        rowbytes <= cmd_w4 ? (32'(cmd_k) + 32'd1) >> 1 : 32'(cmd_k);
        if (cmd_n == 16'd0 || (cmd_op == CMD_VMM && cmd_k == 16'd0)) begin // nothing to do
          busy <= 1'b0;   // (the harness gives vmm k >= 1: a `set` with k = 0 is not modelled)
          done <= 1'b1;
        end
      end else if (finish) begin
        busy <= 1'b0;
        done <= 1'b1;
      end
      if (pass_load) begin
        op <= np_op;
        idt <= np_idt;
        odt <= np_odt;
        aa <= np_a;
        ma <= np_m;
        dst <= np_dst;
        n <= np_n;
        chan <= np_chan;
        use_a <= np_use_a;
        use_b <= 1'b0;
        use_m <= np_use_m;
        ch <= chunk_for(np_op, np_idt, np_odt);
        nchunks <= np_stream ? (np_n + chunk_for(np_op, np_idt, np_odt) - 32'd1) / chunk_for(np_op, np_idt, np_odt)
                             : 32'd0;
      end
    end
  end
endmodule
