// core_pkg: what the core's blocks share (rtl/core.sv and its control: core_intake, core_sequencer,
// core_writeback; docs/rtl.md, "The core wrapper"): the core's own 8-byte element type and the
// byte and element arithmetic of its streams.
package core_pkg;
  import floe_rtl_pkg::*;

  // the core's own element type for 8-byte elements (rsqrt's uint64 input, recip's and rsqrt's
  // (m, shift) multipliers): not an ISA type, never a command's dt
  localparam logic [2:0] DT_X64 = 3'd7;

  function automatic logic [31:0] bytes_for(input logic [2:0] dt, input logic [31:0] n);
    case (dt)
      DT_I2:   bytes_for = (n + 32'd3) >> 2;
      DT_I4:   bytes_for = (n + 32'd1) >> 1;
      DT_I8:   bytes_for = n;
      DT_I16:  bytes_for = n << 1;
      DT_X64:  bytes_for = n << 3;
      default: bytes_for = n << 2;
    endcase
  endfunction

  function automatic logic [5:0] dt_bits(input logic [2:0] dt);
    case (dt)
      DT_I2:   dt_bits = 6'd2;
      DT_I4:   dt_bits = 6'd4;
      DT_I8:   dt_bits = 6'd8;
      DT_I16:  dt_bits = 6'd16;
      default: dt_bits = 6'd32;
    endcase
  endfunction

  function automatic logic [31:0] min32(input logic [31:0] a, input logic [31:0] b);
    min32 = a < b ? a : b;
  endfunction

  // elements of chunk c of a pass of n elements in chunks of ch
  function automatic logic [31:0] chunk_elems(input logic [31:0] ch, input logic [31:0] n, input logic [31:0] c);
    chunk_elems = min32(ch, n - c * ch);
  endfunction

  // the commands the sequencer runs as passes
  function automatic logic is_composite(input logic [4:0] o);
    is_composite = o == CMD_RMSNORM || o == CMD_SOFTMAX || o == CMD_RMSNORMT || o == CMD_VREQUANTT;
  endfunction
endpackage
