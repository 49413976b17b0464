// core: one core's datapath with its local memory (docs/rtl.md, "The core wrapper").
//
// A command (rtl/gen/core_cmd.h: op, addresses, lengths, element types, flags) is taken with a
// valid/ready handshake and executed tile by tile on the units:
//   vmm       x from memory into the activation buffer, then weight beats (one SRAM word per lane)
//             through `vmm` into the accumulator file;
//   requant   accumulators and multipliers through `requant` into memory (vrequant: int32 from memory);
//   vadd, vmax, vmul, vshift, vsat through `vector`; vsum, vsumsq, vmaxr through `vreduce`; exp2 through `afu_exp2`, recip through
//             `afu_recip`, rsqrt through `afu_rsqrt`, and lut8, lut16 through a second `vector` at
//             AFU_LANES with its own table (the activation-function unit); rope through `rope`,
//             multmul through `multmul`, requantk through `requant` (k read with the first chunk);
//   rmsnorm, softmax, rmsnormt, vrequantt: composites, run by the command sequencer below as passes
//             over the row on the same units, the per-row scalar held in a register between passes.
// Elementwise commands stream chunks (at least a port word of the narrowest type): operands are read
// into one of two staging buffers, a full buffer is launched into the unit (several beats) while the
// next chunk is read into the other, and the results are packed into one of two output buffers
// while the other is written back. A lookup first reads its table. Local memory is a byte-addressed SRAM
// with ONE port of SRAM_BYTES bytes per cycle (reads + writes, as the machine's
// sram_bytes_per_cycle), reads taking one cycle; result writes go first (behind recip, rsqrt and
// the lookups only when both output buffers are full). `done` is high for
// one cycle after the command's last result is written; a new command is taken when idle.
//
// The host port (memory and accumulators) is the testbench's load/unload path: it is only used
// while the core is idle and is not part of the timed datapath.
module core
  import floe_rtl_pkg::*;
  import mult_mul_pkg::*;
#(
  parameter int MEM   = MEM_BYTES,     // local memory bytes
  parameter int AB    = MEM_ADDR_BITS, // address bits
  parameter int W     = SRAM_BYTES,    // memory port bytes per cycle
  parameter int VL    = VECTOR_LANES,  // vector unit and requant lanes
  parameter int AL    = AFU_LANES,     // activation-function unit lanes
  parameter int ML    = VMM_LANES,     // vmm output lanes
  parameter int MD    = VMM_DEPTH,     // vmm weight bytes per lane per beat (<= W)
  parameter int ACCS  = ACCUMULATORS,
  parameter int XMAX  = 2048           // vmm activation buffer bytes (k int8, k/2 int16)
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
  output logic                      done,
  // host port (idle only)
  input  logic                      host_we,
  input  logic [31:0]               host_addr,
  input  logic [7:0]                host_wdata [W],
  output logic [7:0]                host_rdata [W],
  input  logic                      host_acc_we,
  input  logic [ACC_INDEX_BITS-1:0] host_acc_addr,
  input  logic signed [31:0]        host_acc_wdata,
  output logic signed [31:0]        host_acc_rdata
);
  localparam int CHMAX = (VL > AL ? VL : AL) > 2 * W ? (VL > AL ? VL : AL) : 2 * W; // int4: 2W per word
  // staging bytes of an a or b chunk (int32 elements), and of a result (recip, rsqrt: 8-byte
  // multipliers of AL lanes)
  // (multmul: 8-byte multipliers of VL lanes)
  localparam int SA = 4 * CHMAX > 8 * VL ? 4 * CHMAX : 8 * VL;
  localparam int SM = 8 * CHMAX;         // staging bytes of a chunk of multipliers
  localparam int XB = XMAX + 2 * MD;     // activation buffer with room for the last slice

  // ---------------------------------------------------------------- helpers
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

  // clamp to the signed range of n bits, n = 2..32
  function automatic logic signed [31:0] sat32(input logic signed [31:0] v, input logic [5:0] n);
    logic signed [31:0] h;
    h = n >= 6'd32 ? 32'sh7fffffff : (32'sd1 <<< (n - 6'd1)) - 32'sd1;
    sat32 = v > h ? h : v < -h - 32'sd1 ? -h - 32'sd1 : v;
  endfunction

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

  function automatic logic [31:0] min32(input logic [31:0] a, input logic [31:0] b);
    min32 = a < b ? a : b;
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

  // ---------------------------------------------------------------- state
  logic [7:0] mem [MEM];
  logic signed [31:0] accf [ACCS];

  logic        busy;
  logic [4:0]  op;
  logic [31:0] dst, aa, bb, ma;
  logic [ACC_INDEX_BITS-1:0] acc0;
  logic [31:0] n;
  logic [2:0]  idt, odt;
  logic        x16, w4, set, chan;
  logic signed [7:0] amount;

  assign cmd_ready = !busy;

  // ---------------------------------------------------------------- command sequencer
  // A composite (rmsnorm) runs as a sequence of passes over its row on the elementwise engine below,
  // each pass an internal op with its own operands; a per-row scalar is held in a register between
  // passes. A reduction pass leaves its result in `sreg` (nothing is written), a scalar pass feeds
  // one element to the divider or the root and keeps the multiplier in (rq_m, rq_sh); only the last
  // pass writes the destination. `pstart` loads the next pass's configuration (one cycle).
  //   rmsnorm: 0 vsumsq of src, eps through the multiplier stream -> sreg = eps + sum q^2;
  //            1 rsqrt(sreg) -> r;  2 requant of src (int16) by mult_mul(r, c[j]) into dst.
  //   softmax: 0 vmaxr of src -> smax;  1 exp2(src - smax) on afu_exp2, summed into sreg (a sum
  //            pass: nothing written);  2 recip(sreg) -> r, shift - 15;  3 exp2(src - smax) again,
  //            each result requantized by r to [0, 32767] on its way into the output buffer, into dst.
  //   rmsnormt: rmsnorm's passes, pass 0 also keeping max |q| (amx, at launch), pass 2 by
  //            M * 2^k (M = mult_mul(r, C), k = token_k), then 3: k as one byte after the row.
  //   vrequantt: 0 vmaxr of |x| - 1 (fits int32) -> amax - 1;  1 vrequant of x by M * 2^k;  2 k.
  logic        seq, pstart, sc_pass, sc_issued, p_last, sum_pass, kw_pass, m12;
  logic [31:0] amx;                      // rmsnormt: max |q| of the row
  logic [3:0]  mk, tk, rk;               // K of the per-token multiplier, the row's k, requantk's k
  logic signed [31:0] smax;
  logic [4:0]  cop;
  logic [2:0]  ps;
  logic [31:0] c_dst, c_a, c_b, c_m, c_n;
  logic [2:0]  c_dt;
  logic        c_chan;
  logic [63:0] sreg;
  logic [30:0] rq_m;
  logic [5:0]  rq_sh;
  function automatic logic is_composite(input logic [4:0] o);
    is_composite = o == CMD_RMSNORM || o == CMD_SOFTMAX || o == CMD_RMSNORMT || o == CMD_VREQUANTT;
  endfunction
  // the next pass
  logic [4:0]  np_op;
  logic [2:0]  np_idt, np_odt;
  logic [31:0] np_a, np_m;
  logic        np_chan, np_um, np_sc, np_last, np_sum, np_kw, np_m12;
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
  wire seq_rms = seq && cop == CMD_RMSNORM;
  wire seq_sm = seq && cop == CMD_SOFTMAX;
  wire seq_rmt = seq && cop == CMD_RMSNORMT;
  wire seq_vqt = seq && cop == CMD_VREQUANTT;
  wire is_rk = op == CMD_REQUANTK;

  // floe_token_k: the largest k in [1, min(K, shift)] with round_half_up(amax m / 2^(shift - k)) <= hi,
  // else 0 (amax <= 2^31, m < 2^31: the product is below 2^62)
  function automatic logic [3:0] token_k(input logic [31:0] amax, input logic [30:0] m, input logic [5:0] sh,
                                         input logic [3:0] kk, input logic signed [31:0] top);
    logic [63:0] p, r;
    logic [5:0] s;
    p = 64'(amax) * 64'(m);
    token_k = 4'd0;
    for (int k = 1; k <= TOKEN_K_MAX; k++) begin
      s = sh - 6'(k);
      r = s == 6'd0 ? p : (p + (64'd1 << (s - 6'd1))) >> s;
      if (4'(k) <= kk && 6'(k) <= sh && r <= 64'(top)) token_k = 4'(k);
    end
  endfunction

  // softmax's exponent operand: z - max, clamped to int32 (z <= max, so only from below)
  function automatic logic signed [31:0] sub_max(input logic signed [31:0] z, input logic signed [31:0] mx);
    logic signed [32:0] d;
    d = 33'(z) - 33'(mx);
    sub_max = d < -33'sh80000000 ? 32'sh80000000 : d[31:0];
  endfunction
  // softmax's scaling: floe_requant(e, r, 0, 32767) of an exponential e (0..32768)
  function automatic logic signed [31:0] scale_q15(input logic [15:0] e, input logic [30:0] m, input logic [5:0] sh);
    logic [46:0] p;
    logic [46:0] raw;
    p = 47'(e) * 47'(m);
    raw = sh == 6'd0 ? p : 47'((64'(p) + (64'd1 << (sh - 6'd1))) >> sh);
    scale_q15 = raw > 47'd32767 ? 32'sd32767 : 32'(raw);
  endfunction
  wire accept = cmd_valid && cmd_ready;
  wire is_vmm = op == CMD_VMM;

  // elementwise geometry: a chunk is `ch` elements, read as a whole and launched into the unit as
  // ch / lanes beats; ch = max(lanes, the elements of one port word of the narrowest operand or
  // result type), so that a narrow stream still fills whole port words (set when a command is taken)
  logic        afu_op;                   // exp2, lut8, lut16, recip, rsqrt: the activation-function unit
  logic [31:0] ch, lanes;
  logic [31:0] nchunks;
  logic        use_a, use_b, use_m;
  assign afu_op = op == CMD_EXP2 || op == CMD_LUT8 || op == CMD_LUT16 || op == CMD_RECIP || op == CMD_RSQRT;
  assign lanes = afu_op ? 32'(AL) : 32'(VL);
  wire ew = busy && !is_vmm;             // an elementwise command is running
  // rope: pairs (x[i], x[i+h]) with (cos[i], sin[i]), i < h: streams a = x, b = x + h, m = cos, 3 = sin;
  // each chunk's results are the lower half's and the upper half's (hoff bytes further)
  wire is_rope = op == CMD_ROPE;
  logic [31:0] rsin, hoff;

  // ---------------------------------------------------------------- port arbitration
  logic        p_rd, p_wr;               // this cycle's memory access
  logic [31:0] p_addr, p_len;            // byte address and length (<= W)
  logic [7:0]  p_wdata [W];
  logic [7:0]  rdata [W];                // the bytes a read returns (at the next edge)

  // ---------------------------------------------------------------- lookup table load (lut8, lut16)
  // The table is read a port word a cycle and written into the lookup unit's table memory in the
  // same cycle (one table write port per entry of a word); lut16's output range [lo, hi] is kept here.
  localparam int TP = W / 2;             // int16 entries per word (lut8); lut16 uses W / 4
  localparam int KB = LUT16_KNOT_BITS;
  logic        tph;                      // loading the table
  logic [31:0] toff, tbytes;
  logic signed [31:0] tlo, thi, tlo_next, thi_next;
  logic [TP-1:0]    t_we;
  logic [8:0]       t_addr;              // table row: TP entries
  logic [KB*TP-1:0] t_data;
  wire tb_want = ew && tph;
  // the word's entries lie in one row (rows of W/2 entries, lut16 words of W/4 aligned entries)
  always_comb begin
    logic [31:0] first;
    t_we = '0;
    t_data = '0;
    tlo_next = tlo;
    thi_next = thi;
    first = op == CMD_LUT16 ? toff >> 2 : toff >> 1;
    t_addr = 9'(first / 32'(TP));
    for (int j = 0; j < TP; j++) begin
      logic [31:0] idx, col;
      logic signed [31:0] v;
      idx = first + 32'(j);
      col = idx % 32'(TP);
      if (op == CMD_LUT16) begin
        v = j < W / 4 ? $signed({rdata[(4*j+3)%W], rdata[(4*j+2)%W], rdata[(4*j+1)%W], rdata[4*j]}) : 32'sd0;
        if (tb_want && j < W / 4 && idx < 32'(LUT16_KNOTS)) begin
          t_we[col] = 1'b1;
          t_data[KB*col +: KB] = v[KB-1:0];
        end
        if (tb_want && j < W / 4 && idx == 32'(LUT16_KNOTS)) tlo_next = v;
        if (tb_want && j < W / 4 && idx == 32'(LUT16_KNOTS) + 32'd1) thi_next = v;
      end else begin
        v = 32'($signed({rdata[(2*j+1)%W], rdata[2*j]}));
        if (tb_want && idx < 32'd256) begin
          t_we[col] = 1'b1;
          t_data[KB*col +: KB] = v[KB-1:0];
        end
      end
    end
  end

  // ---------------------------------------------------------------- elementwise reader
  logic [31:0] rd_c;                     // chunk being read
  logic [2:0]  rd_s;                     // stream: 0 a, 1 b, 2 m (rope: cos), 3 rope's sin
  logic [31:0] rd_off;
  logic        full [2];                 // staging buffer holds a whole chunk not yet launched
  logic [8*SA-1:0] sa [2];
  logic [8*SA-1:0] sb [2];
  logic [8*SM-1:0] sm [2];
  logic [8*SA-1:0] ss [2];

  function automatic logic [31:0] chunk_elems(input logic [31:0] c);
    chunk_elems = min32(ch, n - c * ch);
  endfunction

  // bytes of stream s in chunk c
  function automatic logic [31:0] sbytes(input logic [2:0] s, input logic [31:0] c);
    case (s)
      3'd0:    sbytes = use_a ? bytes_for(idt, chunk_elems(c)) : 32'd0;
      3'd1:    sbytes = is_rk ? (c == 0 ? 32'd1 : 32'd0) : use_b ? bytes_for(idt, chunk_elems(c)) : 32'd0;
      3'd2:    sbytes = is_rope ? bytes_for(DT_I16, chunk_elems(c))
                      : !use_m ? 32'd0 : chan ? 32'd8 * chunk_elems(c) : c == 0 ? (m12 ? 32'd12 : 32'd8) : 32'd0;
      default: sbytes = is_rope ? bytes_for(DT_I16, chunk_elems(c)) : 32'd0;
    endcase
  endfunction

  function automatic logic [31:0] sbase(input logic [2:0] s, input logic [31:0] c);
    case (s)
      3'd0:    sbase = aa + c * bytes_for(idt, ch);
      3'd1:    sbase = bb + c * bytes_for(idt, ch);
      3'd2:    sbase = is_rope ? ma + c * bytes_for(DT_I16, ch) : ma + (chan ? c * 32'd8 * ch : 32'd0);
      default: sbase = rsin + c * bytes_for(DT_I16, ch);
    endcase
  endfunction

  // the stream the reader works on now: the first at or after rd_s with bytes left (4: none)
  logic [2:0]  cur_s;
  logic        rd_active, rd_want, rd_chunk_end, rd_go;
  logic [31:0] cur_bytes;
  always_comb begin
    cur_s = 3'd4;
    for (int s = 3; s >= 0; s--)
      if (3'(s) >= rd_s && sbytes(3'(s), rd_c) != 0) cur_s = 3'(s);
    cur_bytes = cur_s == 3'd4 ? 32'd0 : sbytes(cur_s, rd_c);
  end
  assign rd_active = ew && !tph && rd_c < nchunks && !full[rd_c[0]];
  assign rd_want = rd_active && cur_s != 3'd4;            // needs the port
  // the chunk is complete after this cycle's read (or now, when nothing is left to read)
  always_comb begin
    rd_chunk_end = 1'b0;
    if (rd_active) begin
      if (cur_s == 3'd4) rd_chunk_end = 1'b1;
      else if (rd_off + 32'(W) >= cur_bytes) begin
        rd_chunk_end = 1'b1;
        for (int s = 0; s < 4; s++)
          if (3'(s) > cur_s && sbytes(3'(s), rd_c) != 0) rd_chunk_end = 1'b0;
      end
    end
  end
  assign rd_go = rd_want && p_rd;

  // ---------------------------------------------------------------- elementwise launch
  logic [31:0] lc, lsub;                  // chunk and beat to launch next
  logic        lb;
  assign lb = lc[0];
  logic        u_in_valid, u_in_ready, u_out_valid, launch_last;
  logic [63:0] mt;                        // the per-tensor multiplier

  assign u_in_valid = ew && !tph && lc < nchunks && full[lb];
  assign launch_last = (lsub + 32'd1) * lanes >= chunk_elems(lc);

  function automatic logic signed [31:0] elem(input logic [8*SA-1:0] buf_, input logic [2:0] dt,
                                              input logic [31:0] i);
    case (dt)
      DT_I4:   elem = 32'($signed(buf_[4*i +: 4]));
      DT_I8:   elem = 32'($signed(buf_[8*i +: 8]));
      DT_I16:  elem = 32'($signed(buf_[16*i +: 16]));
      default: elem = $signed(buf_[32*i +: 32]);
    endcase
  endfunction

  // unit operands: lane l takes element lsub * lanes + l of the chunk
  logic signed [31:0] va [VL];
  logic signed [31:0] vb [VL];
  logic signed [31:0] racc [VL];
  logic        [30:0] rm [VL];
  logic         [5:0] rsh [VL];
  logic signed [31:0] la [AL];
  logic        [63:0] lx [AL];             // rsqrt's uint64 operands (the 8-byte stream)
  logic [3:0]  vop, lop;
  logic [5:0]  obits;
  logic signed [31:0] lo, hi;
  assign obits = dt_bits(odt);
  assign hi = obits == 6'd32 ? 32'sh7fffffff : (32'sd1 <<< (obits - 6'd1)) - 32'sd1;
  assign lo = -hi - 32'sd1;
  always_comb begin
    case (op)
      CMD_VADD:   vop = 4'd0;                          // ADD
      CMD_VMAX:   vop = 4'd3;                          // MAX
      CMD_VMUL:   vop = 4'd10;                         // MULR
      CMD_VSHIFT: vop = amount >= 0 ? 4'd5 : 4'd6;     // SHL, SHR (round half up)
      default:    vop = 4'd7;                          // SAT
    endcase
  end
  assign lop = op == CMD_LUT8 ? 4'd8 : 4'd9;           // LUT8, LUT16
  // per-token scaling: the row's multiplier M (vrequantt: read; rmsnormt: r x C) and k, from the
  // multiplier word of chunk 0 (kept in mt, mk after it); one instance shared by the lanes
  wire seq_tok = seq_rmt || seq_vqt;
  /* verilator lint_off UNUSEDSIGNAL */
  logic [95:0] tc;                       // {K, shift, m}: bits above K unused
  /* verilator lint_on UNUSEDSIGNAL */
  logic [36:0] tok_mc;
  logic [30:0] tok_m;
  logic [5:0]  tok_sh;
  logic [3:0]  tok_k, cur_rk;
  assign tc = lc == 32'd0 ? sm[lb][95:0] : {28'd0, mk, mt};
  assign tok_mc = mult_mul(rq_m, rq_sh, tc[30:0], tc[37:32]);
  assign tok_m = seq_rmt ? tok_mc[30:0] : tc[30:0];
  assign tok_sh = seq_rmt ? tok_mc[36:31] : tc[37:32];
  assign tok_k = token_k(seq_rmt ? amx : sreg[31:0], tok_m, tok_sh, tc[67:64], hi);
  assign cur_rk = lc == 32'd0 ? sb[lb][3:0] : rk;

  for (genvar l = 0; l < VL; l++) begin : g_vop
    logic [31:0] e;
    /* verilator lint_off UNUSEDSIGNAL */
    logic [63:0] mult;                   // int32 m (bit 31 is zero), int32 shift (0..62)
    /* verilator lint_on UNUSEDSIGNAL */
    assign e = lsub * lanes + 32'(l);
    assign mult = chan ? sm[lb][64*e +: 64] : lc == 0 ? sm[lb][63:0] : mt;
    assign va[l] = elem(sa[lb], idt, e);
    assign vb[l] = op == CMD_VSHIFT ? (amount >= 0 ? 32'(amount) : -32'(amount)) : elem(sb[lb], idt, e);
    assign racc[l] = op == CMD_REQUANT || is_rk ? accf[ACC_INDEX_BITS'(32'(acc0) + lc * ch + e)] : va[l];
    logic [36:0] mm;                     // rmsnorm: r times the channel's multiplier
    assign mm = mult_mul(rq_m, rq_sh, mult[30:0], mult[37:32]);
    logic [6:0] sk;                      // requantk: shift + k (above 62: the result is 0)
    assign sk = 7'(mult[37:32]) + 7'(cur_rk);
    assign rm[l] = seq_tok ? tok_m : seq_rms ? mm[30:0] : is_rk ? (sk > 7'd62 ? 31'd0 : mult[30:0]) : mult[30:0];
    assign rsh[l] = seq_tok ? tok_sh - 6'(tok_k) : seq_rms ? mm[36:31] : is_rk ? (sk > 7'd62 ? 6'd0 : sk[5:0])
                  : mult[37:32];
  end
  for (genvar l = 0; l < AL; l++) begin : g_la
    assign la[l] = elem(sa[lb], idt, lsub * lanes + 32'(l));
    assign lx[l] = sm[lb][64 * (lsub * lanes + 32'(l)) +: 64];
  end

  // the units
  logic v_in_valid, v_in_ready, v_out_valid, r_in_valid, r_in_ready, r_out_valid;
  logic e_in_valid, e_in_ready, e_out_valid, l_in_valid, l_in_ready, l_out_valid;
  logic q_in_valid, q_in_ready, q_out_valid, s_in_valid, s_in_ready, s_out_valid;
  logic signed [31:0] vy [VL];
  logic signed [31:0] ry [VL];
  logic [EXP2_OUT_BITS:0] ey [AL];
  logic signed [31:0] ly [AL];
  logic        [31:0] lxa [AL];
  logic        [30:0] qm [AL];
  logic         [5:0] qsh [AL];
  logic        [30:0] sqm [AL];
  logic         [5:0] sqsh [AL];
  logic uses_vector, uses_requant, uses_exp2, uses_lut, uses_recip, uses_rsqrt, uses_reduce;
  logic uses_mm, x_in_valid, x_in_ready, x_out_valid;
  logic d_in_valid, d_in_ready, d_out_valid;
  logic [63:0] dy;
  logic [VL-1:0] dmask;
  assign uses_requant = op == CMD_REQUANT || op == CMD_VREQUANT || op == CMD_REQUANTK;
  assign uses_exp2 = op == CMD_EXP2;
  assign uses_lut = op == CMD_LUT8 || op == CMD_LUT16;
  assign uses_recip = op == CMD_RECIP;
  assign uses_rsqrt = op == CMD_RSQRT;
  assign uses_reduce = op == CMD_VSUM || op == CMD_VSUMSQ || op == CMD_VMAXR;
  assign uses_vector = !is_vmm && !uses_requant && !afu_op && !uses_reduce && !is_rope && !uses_mm;
  assign uses_mm = op == CMD_MULTMUL;
  assign x_in_valid = u_in_valid && uses_mm;
  logic o_in_valid, o_in_ready, o_out_valid;
  assign o_in_valid = u_in_valid && is_rope;
  assign v_in_valid = u_in_valid && uses_vector;
  assign r_in_valid = u_in_valid && uses_requant;
  assign e_in_valid = u_in_valid && uses_exp2;
  assign l_in_valid = u_in_valid && uses_lut;
  wire sc_go = ew && sc_pass && !sc_issued && !pstart;   // a scalar pass's one element
  wire kw_go = ew && kw_pass && !pstart;                  // the k pass's byte
  assign q_in_valid = (u_in_valid || sc_go) && uses_recip;
  assign s_in_valid = (u_in_valid || sc_go) && uses_rsqrt;
  assign d_in_valid = u_in_valid && uses_reduce;
  assign u_in_ready = uses_mm ? x_in_ready : is_rope ? o_in_ready : uses_vector ? v_in_ready : uses_requant ? r_in_ready : uses_exp2 ? e_in_ready
                    : uses_recip ? q_in_ready : uses_rsqrt ? s_in_ready : uses_reduce ? d_in_ready : l_in_ready;
  assign u_out_valid = uses_mm ? x_out_valid : is_rope ? o_out_valid : uses_vector ? v_out_valid : uses_requant ? r_out_valid : uses_exp2 ? e_out_valid
                     : uses_recip ? q_out_valid : uses_rsqrt ? s_out_valid : uses_reduce ? d_out_valid
                     : l_out_valid;

  logic cap_ok;
  logic signed [15:0] ro_a [VL];
  logic signed [15:0] ro_b [VL];
  logic signed [15:0] ro_c [VL];
  logic signed [15:0] ro_s [VL];
  logic signed [15:0] ro_lo [VL];
  logic signed [15:0] ro_hi [VL];
  for (genvar l = 0; l < VL; l++) begin : g_rope
    logic [31:0] e;
    assign e = lsub * lanes + 32'(l);
    assign ro_a[l] = sa[lb][16*e +: 16];
    assign ro_b[l] = sb[lb][16*e +: 16];
    assign ro_c[l] = sm[lb][16*e +: 16];
    assign ro_s[l] = ss[lb][16*e +: 16];
  end
  // multmul: a's multipliers (8 bytes each) times the multiplier stream's (per channel or per tensor)
  logic [30:0] xa_m [VL];
  logic  [5:0] xa_sh [VL];
  logic [30:0] xm [VL];
  logic  [5:0] xsh [VL];
  for (genvar l = 0; l < VL; l++) begin : g_mm
    assign xa_m[l] = sa[lb][64 * (lsub * lanes + 32'(l)) +: 31];
    assign xa_sh[l] = sa[lb][64 * (lsub * lanes + 32'(l)) + 32 +: 6];
  end
  multmul #(.LANES(VL)) u_multmul (
    .clk, .rst_n, .in_valid(x_in_valid), .in_ready(x_in_ready), .am(xa_m), .ash(xa_sh), .bm(rm), .bsh(rsh),
    .out_valid(x_out_valid), .out_ready(cap_ok), .m(xm), .shift(xsh));
  rope #(.LANES(VL)) u_rope (
    .clk, .rst_n, .in_valid(o_in_valid), .in_ready(o_in_ready), .a(ro_a), .b(ro_b), .c(ro_c), .s(ro_s),
    .out_valid(o_out_valid), .out_ready(cap_ok), .ylo(ro_lo), .yhi(ro_hi));
  vector #(.LANES(VL)) u_vector (
    .clk, .rst_n, .in_valid(v_in_valid), .in_ready(v_in_ready), .op(vop), .bits(obits),
    .sh(amount[5:0]), .a(va), .b(vb), .out_valid(v_out_valid), .out_ready(cap_ok), .y(vy),
    .tbl_we(1'b0), .tbl_addr(9'd0), .tbl_data('0));
  requant #(.LANES(VL)) u_requant (
    .clk, .rst_n, .in_valid(r_in_valid), .in_ready(r_in_ready), .acc(racc), .m(rm), .shift(rsh),
    .lo, .hi, .out_valid(r_out_valid), .out_ready(cap_ok), .y(ry));
  logic signed [31:0] lae [AL];
  for (genvar l = 0; l < AL; l++) begin : g_lae
    assign lae[l] = seq_sm ? sub_max(la[l], smax) : la[l];
  end
  afu_exp2 #(.LANES(AL)) u_exp2 (
    .clk, .rst_n, .in_valid(e_in_valid), .in_ready(e_in_ready), .x(lae),
    .out_valid(e_out_valid), .out_ready(cap_ok), .y(ey));
  // the activation-function unit's lookups: the vector datapath's LUT8/LUT16 at AFU_LANES, its own
  // table; lut16 runs unsaturated (bits 32) and the range [lo, hi] then the type apply below
  vector #(.LANES(AL), .TBL_PORTS(TP)) u_lut (
    .clk, .rst_n, .in_valid(l_in_valid), .in_ready(l_in_ready), .op(lop), .bits(6'd32), .sh(6'd0),
    .a(la), .b(la), .out_valid(l_out_valid), .out_ready(cap_ok), .y(ly),
    .tbl_we(t_we), .tbl_addr(t_addr), .tbl_data(t_data));
  // the divider and the root: pipelined, AFU_LANES results a cycle (docs/rtl.md)
  for (genvar l = 0; l < AL; l++) begin : g_lxa
    assign lxa[l] = sc_pass ? sreg[31:0] : la[l];
  end
  // reductions: the beat's lanes that hold an element (a row's tail leaves some empty); one result
  // at the last beat of the last chunk
  for (genvar l = 0; l < VL; l++) begin : g_dmask
    assign dmask[l] = lc * ch + lsub * lanes + 32'(l) < n;
  end
  // vrequantt's row max of |x|: |x| - 1 (x - 1, or ~x below 0) fits int32 for every x
  logic signed [31:0] vra [VL];
  logic [31:0] beat_amax;                // rmsnormt: max |q| of the beat's elements
  always_comb begin
    beat_amax = 32'd0;
    for (int l = 0; l < VL; l++)
      if (lc * ch + lsub * lanes + 32'(l) < n && 32'(va[l] < 0 ? -va[l] : va[l]) > beat_amax)
        beat_amax = 32'(va[l] < 0 ? -va[l] : va[l]);
  end
  for (genvar l = 0; l < VL; l++) begin : g_vra
    assign vra[l] = seq_vqt ? (va[l] < 0 ? ~va[l] : va[l] - 32'sd1) : va[l];
  end
  vreduce #(.LANES(VL)) u_reduce (
    .clk, .rst_n, .in_valid(d_in_valid), .in_ready(d_in_ready),
    .op(op == CMD_VSUMSQ ? 2'd1 : op == CMD_VMAXR ? 2'd2 : 2'd0),
    .first(lc == 32'd0 && lsub == 32'd0), .last(lc + 32'd1 >= nchunks && launch_last), .mask(dmask), .a(vra),
    .out_valid(d_out_valid), .out_ready(cap_ok), .y(dy));
  afu_recip #(.LANES(AL)) u_recip (
    .clk, .rst_n, .in_valid(q_in_valid), .in_ready(q_in_ready), .x(lxa),
    .out_valid(q_out_valid), .out_ready(cap_ok), .m(qm), .shift(qsh));
  logic [63:0] lxs [AL];
  for (genvar l = 0; l < AL; l++) begin : g_lxs
    assign lxs[l] = sc_pass ? sreg : lx[l];
  end
  afu_rsqrt #(.LANES(AL)) u_rsqrt (
    .clk, .rst_n, .in_valid(s_in_valid), .in_ready(s_in_ready), .x(lxs),
    .out_valid(s_out_valid), .out_ready(cap_ok), .m(sqm), .shift(sqsh));

  function automatic logic signed [31:0] clamp32(input logic signed [31:0] v, input logic signed [31:0] l,
                                                 input logic signed [31:0] h);
    clamp32 = v < l ? l : v > h ? h : v;
  endfunction

  // ---------------------------------------------------------------- results: capture and write back
  // Two output buffers: a chunk's beats are captured into one while the other is written.
  logic [31:0] cc, csub;                  // chunk and beat the next capture takes
  logic [31:0] oc, wr_off;                // chunk being written, byte offset
  logic        ofull [2];
  logic [8*SA-1:0] obuf [2];
  logic [8*SA-1:0] obuf_next;
  logic        wr_want, wr_go, wr_urgent, wr_last_word, capture, cap_last;
  logic [31:0] ob_bytes;
  assign cap_ok = !ofull[cc[0]];
  assign capture = ew && u_out_valid && cap_ok && !sc_pass;
  assign cap_last = uses_reduce || (csub + 1) * lanes >= chunk_elems(cc);
  // a reduction writes one result: 4 bytes (vsum, vmaxr) or 8 (vsumsq)
  assign ob_bytes = uses_reduce ? (op == CMD_VSUMSQ ? 32'd8 : 32'd4)
                  : is_rope ? 32'd2 * bytes_for(odt, chunk_elems(oc)) : bytes_for(odt, chunk_elems(oc));
  // rope's upper half: the word goes hoff bytes further; a word never spans the two halves
  logic [31:0] seg_bytes, wr_len;
  logic        wr_hi;
  assign seg_bytes = bytes_for(odt, chunk_elems(oc));
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
  assign wr_go = wr_want && (!(uses_recip || uses_rsqrt || uses_lut) || (uses_lut && wr_urgent) ||
                             !(tb_want || rd_want));
  assign wr_last_word = wr_off + wr_len >= ob_bytes;
  // a sum pass: the beat's exponentials of elements < n
  logic [31:0] beat_sum;
  always_comb begin
    beat_sum = 32'd0;
    for (int l = 0; l < AL; l++)
      if (cc * ch + csub * lanes + 32'(l) < n) beat_sum = beat_sum + 32'(ey[l]);
  end
  always_comb begin
    obuf_next = obuf[cc[0]];
    for (int l = 0; l < VL; l++) begin
      logic signed [31:0] y;
      logic [63:0] y64;                   // a multiplier: int32 m, then int32 shift (little-endian)
      logic [31:0] e;
      e = csub * lanes + 32'(l);
      y64 = uses_mm ? {26'd0, xsh[l], 1'b0, xm[l]} : l >= AL ? 64'd0 : uses_recip ? {26'd0, qsh[l % AL], 1'b0, qm[l % AL]}
                                         : {26'd0, sqsh[l % AL], 1'b0, sqm[l % AL]};
      if (uses_requant) y = ry[l];
      else if (uses_vector) y = vy[l];
      else if (l >= AL) y = 32'sd0;
      else if (uses_exp2) y = seq_sm ? scale_q15(16'(ey[l % AL]), rq_m, rq_sh) : 32'(ey[l % AL]);
      else if (op == CMD_LUT16) y = sat32(clamp32(ly[l % AL], tlo, thi), obits);
      else y = ly[l % AL];
      if (32'(l) < lanes) begin
        case (odt)
          DT_I4:   obuf_next[4*e +: 4] = y[3:0];
          DT_I8:   obuf_next[8*e +: 8] = y[7:0];
          DT_I16:  obuf_next[16*e +: 16] = y[15:0];
          DT_X64:  obuf_next[64*e +: 64] = y64;
          default: obuf_next[32*e +: 32] = y;
        endcase
      end
    end
    if (uses_reduce) obuf_next[63:0] = dy;  // the one result of a reduction
    // rope: the lower half's chunk, then the upper half's (lanes past the chunk would overwrite it)
    for (int l = 0; l < VL; l++)
      if (is_rope && csub * lanes + 32'(l) < chunk_elems(cc)) begin
        obuf_next[16*(csub * lanes + 32'(l)) +: 16] = ro_lo[l];
        obuf_next[16*(csub * lanes + 32'(l) + chunk_elems(cc)) +: 16] = ro_hi[l];
      end
  end

  // ---------------------------------------------------------------- vmm
  // phases: 0 read x, 1 weight beats, 2 drain
  logic [1:0]  vph;
  logic [31:0] xbytes, rowbytes, vx_off;
  logic [31:0] vj, vk;                   // reader: block's first row, byte of the block
  logic [8*XB-1:0] xbuf;
  // A block is ML consecutive rows, contiguous in memory: it is read linearly, a whole port word a
  // cycle, into one of two block buffers (a row's tail shares its word with the next row's head),
  // and the engine takes its beats (one MD-byte slice of every row) from there, as soon as the
  // block's last row has been read past the slice, so the last block's beats follow its reads.
  logic [8*ML*XMAX-1:0] wlin [2];
  logic [31:0] vblk;                     // bytes of the block being read
  logic        wfull [2];                // the buffer holds a whole block not yet consumed
  logic        wb;                       // buffer the reader fills
  logic        vlb;                      // buffer the engine takes beats from
  logic [31:0] ejb, ekc;                 // engine: block's first row, slice offset in the row
  logic [31:0] erows, eneed;
  logic [31:0] out_jb;                   // first row of the next vmm output
  logic        vm_in_valid, vm_in_ready, vm_out_valid;
  logic [7:0]  vm_x [2*MD];
  logic signed [31:0] vm_acc_in [ML];
  logic signed [31:0] vm_acc [ML];
  logic [7:0]  vm_w [ML][MD];
  always_comb
    for (int l = 0; l < ML; l++)
      for (int d = 0; d < MD; d++)
        vm_w[l][d] = ekc + 32'(d) < rowbytes ? wlin[vlb][8 * (32'(l) * rowbytes + ekc + 32'(d)) +: 8] : 8'd0;

  wire vx_want = busy && is_vmm && vph == 2'd0;
  wire vw_want = busy && is_vmm && vph == 2'd1 && !wfull[wb];
  assign vblk = min32(32'(ML), n - vj) * rowbytes;
  wire vw_block_end = vk + 32'(W) >= vblk;

  // the engine's next beat: the whole block is in, or the block being read has its last row read
  // past this slice (bytes [0, vk) of the reader's block are in its buffer)
  assign erows = min32(32'(ML), n - ejb);
  assign eneed = (erows - 32'd1) * rowbytes + min32(ekc + 32'(MD), rowbytes);
  assign vm_in_valid = busy && is_vmm && (wfull[vlb] || (vph == 2'd1 && wb == vlb && vk >= eneed));
  wire vm_last = ekc + 32'(MD) >= rowbytes;
  logic [31:0] xoff;
  assign xoff = (w4 || x16) ? ekc << 1 : ekc;
  for (genvar d = 0; d < 2 * MD; d++) begin : g_vx
    // activations past x (an odd int4 row's padding nibble, a partial slice) read as zero
    assign vm_x[d] = xoff + 32'(d) < xbytes ? xbuf[8 * (xoff + 32'(d)) +: 8] : 8'd0;
  end
  for (genvar l = 0; l < ML; l++) begin : g_vacc
    assign vm_acc_in[l] = set ? 32'sd0 : accf[ACC_INDEX_BITS'(32'(acc0) + ejb + 32'(l))];
  end

  vmm #(.LANES(ML), .DEPTH(MD)) u_vmm (
    .clk, .rst_n, .in_valid(vm_in_valid), .in_ready(vm_in_ready), .wprec4(w4), .xprec16(x16),
    .first(ekc == 32'd0), .last(vm_last), .x(vm_x), .w(vm_w), .acc_in(vm_acc_in),
    .out_valid(vm_out_valid), .out_ready(1'b1), .acc(vm_acc));

  // ---------------------------------------------------------------- the port
  always_comb begin
    p_rd = 1'b0;
    p_wr = 1'b0;
    p_addr = 32'd0;
    p_len = 32'd0;
    for (int i = 0; i < W; i++) p_wdata[i] = 8'd0;
    if (!busy) begin
      p_wr = host_we;
      p_addr = host_addr;
      p_len = 32'(W);
      p_wdata = host_wdata;
    end else if (wr_go) begin
      p_wr = 1'b1;
      p_addr = dst + oc * bytes_for(odt, ch) + wr_off + (wr_hi ? hoff - seg_bytes : 32'd0);
      p_len = wr_len;
      for (int i = 0; i < W; i++) p_wdata[i] = obuf[oc[0]][8 * (wr_off + 32'(i)) +: 8];
    end else if (kw_go) begin           // per-token k: one byte after the row
      p_wr = 1'b1;
      p_addr = c_dst + bytes_for(c_dt, c_n);
      p_len = 32'd1;
      p_wdata[0] = {4'd0, tk};
    end else if (tb_want) begin
      p_rd = 1'b1;
      p_addr = bb + toff;
      p_len = min32(32'(W), tbytes - toff);
    end else if (rd_want) begin
      p_rd = 1'b1;
      p_addr = sbase(cur_s, rd_c) + rd_off;
      p_len = min32(32'(W), cur_bytes - rd_off);
    end else if (vx_want) begin
      p_rd = 1'b1;
      p_addr = aa + vx_off;
      p_len = min32(32'(W), xbytes - vx_off);
    end else if (vw_want) begin
      p_rd = 1'b1;
      p_addr = bb + vj * rowbytes + vk;
      p_len = min32(32'(W), vblk - vk);
    end
  end

  // read data as seen by the destination buffers (bytes past the length read as zero)
  always_comb
    for (int i = 0; i < W; i++)
      rdata[i] = 32'(i) < p_len ? mem[AB'(p_addr + 32'(i))] : 8'd0;

  for (genvar i = 0; i < W; i++) begin : g_host
    assign host_rdata[i] = mem[AB'(host_addr + 32'(i))];
  end
  assign host_acc_rdata = accf[host_acc_addr];

  // (generate loops: they unroll at any width; see requant.sv)
  for (genvar i = 0; i < W; i++) begin : g_wr
    always_ff @(posedge clk)
      if (p_wr && 32'(i) < p_len) mem[AB'(p_addr + 32'(i))] <= p_wdata[i];
  end

  // read data into the staging buffers, the activation buffer and the weight beats
  wire vx_go = busy && !accept && is_vmm && vx_want;
  wire vw_go = busy && is_vmm && vw_want;
  for (genvar i = 0; i < W; i++) begin : g_rd
    always_ff @(posedge clk) begin
      if (busy && !is_vmm && rd_go) begin
        if (cur_s == 3'd0 && rd_off + 32'(i) < 32'(SA)) sa[rd_c[0]][8 * (rd_off + 32'(i)) +: 8] <= rdata[i];
        if (cur_s == 3'd1 && rd_off + 32'(i) < 32'(SA)) sb[rd_c[0]][8 * (rd_off + 32'(i)) +: 8] <= rdata[i];
        if (cur_s == 3'd2 && rd_off + 32'(i) < 32'(SM)) sm[rd_c[0]][8 * (rd_off + 32'(i)) +: 8] <= rdata[i];
        if (cur_s == 3'd3 && rd_off + 32'(i) < 32'(SA)) ss[rd_c[0]][8 * (rd_off + 32'(i)) +: 8] <= rdata[i];
      end
      if (vx_go && vx_off + 32'(i) < 32'(XB)) xbuf[8 * (vx_off + 32'(i)) +: 8] <= rdata[i];
    end
  end
  for (genvar i = 0; i < W; i++) begin : g_wlin
    always_ff @(posedge clk)
      if (vw_go && vk + 32'(i) < 32'(ML * XMAX)) wlin[wb][8 * (vk + 32'(i)) +: 8] <= rdata[i];
  end

  // ---------------------------------------------------------------- control
  logic last_out;
  assign last_out = uses_reduce || oc + 32'd1 >= nchunks;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      busy <= 1'b0;
      done <= 1'b0;
      seq <= 1'b0;
      pstart <= 1'b0;
      sc_pass <= 1'b0;
      sum_pass <= 1'b0;
      kw_pass <= 1'b0;
      full[0] <= 1'b0;
      full[1] <= 1'b0;
      wfull[0] <= 1'b0;
      wfull[1] <= 1'b0;
      ofull[0] <= 1'b0;
      ofull[1] <= 1'b0;
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
        set <= cmd_set;
        chan <= cmd_chan || cmd_op == CMD_RSQRT || cmd_op == CMD_REQUANTK;
        amount <= cmd_amount;
        idt <= in_dt(cmd_op, cmd_dt);
        odt <= out_dt(cmd_op, cmd_dt, cmd_dt2);
        use_a <= cmd_op != CMD_REQUANT && cmd_op != CMD_RSQRT && cmd_op != CMD_REQUANTK;
        use_b <= cmd_op == CMD_VADD || cmd_op == CMD_VMAX || cmd_op == CMD_VMUL || cmd_op == CMD_ROPE;
        use_m <= cmd_op == CMD_REQUANT || cmd_op == CMD_VREQUANT || cmd_op == CMD_RSQRT || cmd_op == CMD_REQUANTK ||
                 cmd_op == CMD_MULTMUL;
        begin
          logic [2:0] it, ot;
          logic [6:0] nb;
          logic [31:0] c;
          it = in_dt(cmd_op, cmd_dt);
          ot = out_dt(cmd_op, cmd_dt, cmd_dt2);
          nb = cmd_op == CMD_RSQRT || cmd_op == CMD_MULTMUL ? 7'd64 : cmd_op == CMD_RECIP ? 7'd32
             : cmd_op == CMD_REQUANT || cmd_op == CMD_REQUANTK || dt_bits(ot) < dt_bits(it) ? {1'b0, dt_bits(ot)} : {1'b0, dt_bits(it)};
          c = 32'(8 * W) / 32'(nb);
          if (cmd_op == CMD_EXP2 || cmd_op == CMD_LUT8 || cmd_op == CMD_LUT16 || cmd_op == CMD_RECIP ||
              cmd_op == CMD_RSQRT) c = c > 32'(AL) ? c : 32'(AL);
          else c = c > 32'(VL) ? c : 32'(VL);
          ch <= c;
          nchunks <= ((cmd_op == CMD_ROPE ? 32'(cmd_n) >> 1 : 32'(cmd_n)) + c - 32'd1) / c;
        end
        tph <= cmd_op == CMD_LUT8 || cmd_op == CMD_LUT16;
        toff <= 32'd0;
        tbytes <= cmd_op == CMD_LUT8 ? 32'd512 : 32'd4 * (32'(LUT16_KNOTS) + 32'd2);
        lsub <= 32'd0;
        cc <= 32'd0;
        csub <= 32'd0;
        rd_c <= 32'd0;
        rd_s <= 3'd0;
        rd_off <= 32'd0;
        lc <= 32'd0;
        oc <= 32'd0;
        wr_off <= 32'd0;
        // vmm
        vph <= 2'd0;
        vx_off <= 32'd0;
        xbytes <= cmd_x16 ? 32'(cmd_k) << 1 : 32'(cmd_k);
        rowbytes <= cmd_w4 ? (32'(cmd_k) + 32'd1) >> 1 : 32'(cmd_k);
        vj <= 32'd0;
        vk <= 32'd0;
        ejb <= 32'd0;
        ekc <= 32'd0;
        wb <= 1'b0;
        vlb <= 1'b0;
        out_jb <= 32'd0;
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
        if (is_composite(cmd_op)) begin  // the sequencer loads the first pass
          nchunks <= 32'd0;
          tph <= 1'b0;
        end
        if (cmd_n == 16'd0 || (cmd_op == CMD_VMM && cmd_k == 16'd0)) begin // nothing to do
          busy <= 1'b0;   // (the harness gives vmm k >= 1: a `set` with k = 0 is not modelled)
          done <= 1'b1;
        end
      end else if (busy && !is_vmm) begin
        // reader
        if (rd_active && (rd_go || cur_s == 3'd4)) begin
          if (rd_chunk_end) begin
            full[rd_c[0]] <= 1'b1;
            rd_c <= rd_c + 32'd1;
            rd_s <= 3'd0;
            rd_off <= 32'd0;
          end else if (rd_off + 32'(W) >= cur_bytes) begin
            rd_s <= cur_s + 3'd1;
            rd_off <= 32'd0;
          end else begin
            rd_off <= rd_off + 32'(W);
          end
        end
        // table
        if (tb_want) begin
          toff <= toff + 32'(W);
          if (toff + 32'(W) >= tbytes) tph <= 1'b0;
        end
        tlo <= tlo_next;
        thi <= thi_next;
        // launch
        if (u_in_valid && u_in_ready) begin
          if (lc == 32'd0 && lsub == 32'd0) begin
            mt <= sm[lb][63:0];
            mk <= sm[lb][67:64];
            tk <= tok_k;
            rk <= sb[lb][3:0];
          end
          if (seq_rmt && uses_reduce && beat_amax > amx) amx <= beat_amax;
          if (launch_last) begin
            full[lb] <= 1'b0;
            lc <= lc + 32'd1;
            lsub <= 32'd0;
          end else begin
            lsub <= lsub + 32'd1;
          end
        end
        // capture (into the buffer the writer is not working on)
        if (capture && seq && uses_reduce) begin   // the pass's scalar, kept
          if (seq_sm) smax <= dy[31:0];
          else if (seq_vqt) sreg <= 64'(dy[31:0]) + 64'd1;    // amax <= 2^31
          else sreg <= dy + mt;
          pstart <= 1'b1;
        end else if (capture && sum_pass) begin    // summed, not written
          sreg <= sreg + 64'(beat_sum);
          if (cap_last) begin
            cc <= cc + 32'd1;
            csub <= 32'd0;
            if (cc + 32'd1 >= nchunks) pstart <= 1'b1;
          end else begin
            csub <= csub + 32'd1;
          end
        end else if (capture) begin
          obuf[cc[0]] <= obuf_next;
          if (cap_last) begin
            ofull[cc[0]] <= 1'b1;
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
            if (last_out && seq && !p_last) begin
              pstart <= 1'b1;
            end else if (last_out) begin
              busy <= 1'b0;
              done <= 1'b1;
              seq <= 1'b0;
            end
          end else begin
            wr_off <= wr_off + wr_len;
          end
        end
        // sequencer: a scalar pass's element, its result, the next pass
        if (sc_go && (uses_rsqrt ? s_in_ready : q_in_ready)) sc_issued <= 1'b1;
        if (sc_pass && sc_issued && u_out_valid) begin
          rq_m <= uses_rsqrt ? sqm[0] : qm[0];
          // softmax: times 2^15 (Q15 probabilities); the reciprocal of a sum >= 1 has shift >= 31
          rq_sh <= uses_rsqrt ? sqsh[0] : seq_sm ? qsh[0] - 6'd15 : qsh[0];
          pstart <= 1'b1;
        end
        if (kw_go) begin
          busy <= 1'b0;
          done <= 1'b1;
          seq <= 1'b0;
        end
        if (pstart) begin
          pstart <= 1'b0;
          ps <= ps + 3'd1;
          op <= np_op;
          idt <= np_idt;
          odt <= np_odt;
          aa <= np_a;
          ma <= np_m;
          dst <= c_dst;
          n <= c_n;
          chan <= np_chan;
          use_a <= !np_sc;
          use_b <= 1'b0;
          use_m <= np_um;
          sc_pass <= np_sc;
          sum_pass <= np_sum;
          kw_pass <= np_kw;
          m12 <= np_m12;
          if (np_sum) sreg <= 64'd0;
          sc_issued <= 1'b0;
          p_last <= np_last;
          ch <= chunk_for(np_op, np_idt, np_odt);
          nchunks <= np_sc || np_kw ? 32'd0 : (c_n + chunk_for(np_op, np_idt, np_odt) - 32'd1) / chunk_for(np_op, np_idt, np_odt);
          lsub <= 32'd0;
          cc <= 32'd0;
          csub <= 32'd0;
          rd_c <= 32'd0;
          rd_s <= 3'd0;
          rd_off <= 32'd0;
          lc <= 32'd0;
          oc <= 32'd0;
          wr_off <= 32'd0;
        end
      end else if (busy) begin // vmm
        if (vx_want) begin
          if (vx_off + 32'(W) >= xbytes) vph <= 2'd1;
          vx_off <= vx_off + 32'(W);
        end
        if (vw_want) begin
          if (vw_block_end) begin
            wfull[wb] <= 1'b1;
            wb <= !wb;
            vk <= 32'd0;
            vj <= vj + 32'(ML);
            if (vj + 32'(ML) >= n) vph <= 2'd2;
          end else begin
            vk <= vk + 32'(W);
          end
        end
        if (vm_in_valid && vm_in_ready) begin
          if (vm_last) begin                // the block's last beat: its buffer is free
            wfull[vlb] <= 1'b0;
            vlb <= !vlb;
            ekc <= 32'd0;
            ejb <= ejb + 32'(ML);
          end else begin
            ekc <= ekc + 32'(MD);
          end
        end
        if (vm_out_valid) begin
          for (int l = 0; l < ML; l++)
            if (out_jb + 32'(l) < n) accf[ACC_INDEX_BITS'(32'(acc0) + out_jb + 32'(l))] <= vm_acc[l];
          out_jb <= out_jb + 32'(ML);
          if (out_jb + 32'(ML) >= n) begin
            busy <= 1'b0;
            done <= 1'b1;
          end
        end
      end
      if (!busy && host_acc_we) accf[host_acc_addr] <= host_acc_wdata;
    end
  end
endmodule
