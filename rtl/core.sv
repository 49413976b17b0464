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
//   rmsnorm, softmax, rmsnormt, vrequantt: composites, run by the command sequencer as passes
//             over the row on the same units, the per-row scalar held in a register between passes.
// The control is three blocks of their own: the command intake (core_intake: handshake, the running
// pass's configuration, busy and done), the command sequencer (core_sequencer: the composites'
// passes) and the write-back (core_writeback: output buffers, capture, result writes). This file
// holds the memory, the port, the staging of operands and the units.
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
  import core_pkg::*;
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
  // clamp to the signed range of n bits, n = 2..32
  function automatic logic signed [31:0] sat32(input logic signed [31:0] v, input logic [5:0] n);
    logic signed [31:0] h;
    h = n >= 6'd32 ? 32'sh7fffffff : (32'sd1 <<< (n - 6'd1)) - 32'sd1;
    sat32 = v > h ? h : v < -h - 32'sd1 ? -h - 32'sd1 : v;
  endfunction

  // ---------------------------------------------------------------- state
  logic [7:0] mem [MEM];
  logic signed [31:0] accf [ACCS];

  // ---------------------------------------------------------------- command intake
  // the running pass's configuration (core_intake): a command's own, or a composite's next pass
  logic        accept, busy;
  logic [4:0]  op;
  logic [31:0] dst, aa, bb, ma;
  logic [ACC_INDEX_BITS-1:0] acc0;
  logic [31:0] n;
  logic [2:0]  idt, odt;
  logic        x16, w4, acc_set, chan;  // acc_set: vmm mode set (from 0)
  logic signed [7:0] amount;
  logic [31:0] ch, nchunks;              // elements per chunk, chunks of the pass
  logic        use_a, use_b, use_m;      // the streams the pass reads
  logic [31:0] rsin, hoff;               // rope: the sin stream, bytes from x[0] to x[h]
  logic [31:0] tbytes;                   // lookups: the table's bytes
  logic [31:0] xbytes, rowbytes;         // vmm: activation bytes, weight bytes per row
  logic        finish;                   // the running command ends at this edge
  // the sequencer's next pass
  logic [4:0]  np_op;
  logic [2:0]  np_idt, np_odt;
  logic [31:0] np_a, np_m, np_dst, np_n;
  logic        np_chan, np_use_a, np_use_m, np_stream, pass_load;
  core_intake #(.W(W), .VL(VL), .AL(AL)) u_intake (
    .clk, .rst_n, .cmd_valid, .cmd_ready, .cmd_op, .cmd_dst, .cmd_a, .cmd_b, .cmd_m, .cmd_acc, .cmd_n,
    .cmd_k, .cmd_dt, .cmd_dt2, .cmd_x16, .cmd_w4, .cmd_set, .cmd_chan, .cmd_amount, .accept, .busy, .done,
    .finish, .pass_load, .np_op, .np_idt, .np_odt, .np_a, .np_m, .np_dst, .np_n, .np_chan, .np_use_a,
    .np_use_m, .np_stream, .op, .dst, .aa, .bb, .ma, .acc0, .n, .rsin, .hoff, .x16, .w4, .acc_set, .chan,
    .amount, .idt, .odt, .use_a, .use_b, .use_m, .ch, .nchunks, .tbytes, .xbytes, .rowbytes);
  wire is_vmm = op == CMD_VMM;
  wire is_rk = op == CMD_REQUANTK;
  wire ew = busy && !is_vmm;             // an elementwise command is running

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

  // elementwise geometry: a chunk is `ch` elements, read as a whole and launched into the unit as
  // ch / lanes beats; ch = max(lanes, the elements of one port word of the narrowest operand or
  // result type), so that a narrow stream still fills whole port words (core_intake)
  logic        afu_op;                   // exp2, lut8, lut16, recip, rsqrt: the activation-function unit
  logic [31:0] lanes;
  assign afu_op = op == CMD_EXP2 || op == CMD_LUT8 || op == CMD_LUT16 || op == CMD_RECIP || op == CMD_RSQRT;
  assign lanes = afu_op ? 32'(AL) : 32'(VL);
  // rope: pairs (x[i], x[i+h]) with (cos[i], sin[i]), i < h: streams a = x, b = x + h, m = cos, 3 = sin;
  // each chunk's results are the lower half's and the upper half's (hoff bytes further)
  wire is_rope = op == CMD_ROPE;

  // the sequencer's state (core_sequencer, below): the composites' passes; its per-row scalar
  // registers feed the units
  logic        seq, seq_rms, seq_sm, seq_rmt, seq_vqt, sc_pass, sc_go, sum_pass, kw_go, m12, ew_finish;
  logic [63:0] sreg;
  logic signed [31:0] smax;
  logic [31:0] amx;                      // rmsnormt: max |q| of the row
  logic [30:0] rq_m;
  logic [5:0]  rq_sh;
  logic [31:0] kw_addr;

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
  logic [31:0] toff;
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

  // bytes of stream s in chunk c
  function automatic logic [31:0] sbytes(input logic [2:0] s, input logic [31:0] c);
    case (s)
      3'd0:    sbytes = use_a ? bytes_for(idt, chunk_elems(ch, n, c)) : 32'd0;
      3'd1:    sbytes = is_rk ? (c == 0 ? 32'd1 : 32'd0) : use_b ? bytes_for(idt, chunk_elems(ch, n, c)) : 32'd0;
      3'd2:    sbytes = is_rope ? bytes_for(DT_I16, chunk_elems(ch, n, c))
                      : !use_m ? 32'd0 : chan ? 32'd8 * chunk_elems(ch, n, c) : c == 0 ? (m12 ? 32'd12 : 32'd8) : 32'd0;
      default: sbytes = is_rope ? bytes_for(DT_I16, chunk_elems(ch, n, c)) : 32'd0;
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
  logic [3:0]  mk, tk, rk;                // K of the per-token multiplier, the row's k, requantk's k

  assign u_in_valid = ew && !tph && lc < nchunks && full[lb];
  assign launch_last = (lsub + 32'd1) * lanes >= chunk_elems(ch, n, lc);

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
  assign q_in_valid = (u_in_valid || sc_go) && uses_recip;
  assign s_in_valid = (u_in_valid || sc_go) && uses_rsqrt;
  assign d_in_valid = u_in_valid && uses_reduce;
  assign u_in_ready = uses_mm ? x_in_ready : is_rope ? o_in_ready : uses_vector ? v_in_ready : uses_requant ? r_in_ready : uses_exp2 ? e_in_ready
                    : uses_recip ? q_in_ready : uses_rsqrt ? s_in_ready : uses_reduce ? d_in_ready : l_in_ready;
  assign u_out_valid = uses_mm ? x_out_valid : is_rope ? o_out_valid : uses_vector ? v_out_valid : uses_requant ? r_out_valid : uses_exp2 ? e_out_valid
                     : uses_recip ? q_out_valid : uses_rsqrt ? s_out_valid : uses_reduce ? d_out_valid
                     : l_out_valid;

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
  // each lane's result as int32 (res) and as an 8-byte multiplier (res64: int32 m, then int32
  // shift, little-endian), packed to the result type by the write-back (core_writeback)
  logic               cap_ok, capture, cap_last, cap_end, wr_go, wr_end;
  logic [31:0]        cc, csub;           // chunk and beat the next capture takes
  logic [31:0]        wr_addr, wr_len;
  logic [7:0]         wr_data [W];
  logic signed [31:0] res   [VL];
  logic [63:0]        res64 [VL];
  always_comb begin
    for (int l = 0; l < VL; l++) begin
      res64[l] = uses_mm ? {26'd0, xsh[l], 1'b0, xm[l]} : l >= AL ? 64'd0 : uses_recip ? {26'd0, qsh[l % AL], 1'b0, qm[l % AL]}
                                            : {26'd0, sqsh[l % AL], 1'b0, sqm[l % AL]};
      if (uses_requant) res[l] = ry[l];
      else if (uses_vector) res[l] = vy[l];
      else if (l >= AL) res[l] = 32'sd0;
      else if (uses_exp2) res[l] = seq_sm ? scale_q15(16'(ey[l % AL]), rq_m, rq_sh) : 32'(ey[l % AL]);
      else if (op == CMD_LUT16) res[l] = sat32(clamp32(ly[l % AL], tlo, thi), obits);
      else res[l] = ly[l % AL];
    end
  end
  // a sum pass: the beat's exponentials of elements < n
  logic [31:0] beat_sum;
  always_comb begin
    beat_sum = 32'd0;
    for (int l = 0; l < AL; l++)
      if (cc * ch + csub * lanes + 32'(l) < n) beat_sum = beat_sum + 32'(ey[l]);
  end
  core_writeback #(.W(W), .VL(VL), .SA(SA)) u_writeback (
    .clk, .rst_n, .accept, .pass_load, .ew, .dst, .hoff, .n, .ch, .nchunks, .lanes, .odt, .is_rope, .uses_reduce,
    .sumsq(op == CMD_VSUMSQ), .seq, .sc_pass, .sum_pass, .u_out_valid, .y(res), .y64(res64), .ylo(ro_lo),
    .yhi(ro_hi), .dy, .rd_pending(tb_want || rd_want), .deep(uses_recip || uses_rsqrt), .lookup(uses_lut), .cap_ok,
    .capture, .cap_last, .cap_end, .cc, .csub, .wr_go, .wr_end, .wr_addr, .wr_len, .wr_data);

  // ---------------------------------------------------------------- command sequencer
  core_sequencer u_sequencer (
    .clk, .rst_n, .accept, .cmd_op, .cmd_dst, .cmd_a, .cmd_b, .cmd_m, .cmd_n, .cmd_dt, .cmd_chan, .ew,
    .launch(u_in_valid && u_in_ready), .capture, .cap_last, .cap_end, .wr_end, .uses_reduce, .uses_rsqrt,
    .unit_ready(uses_rsqrt ? s_in_ready : q_in_ready), .u_out_valid, .dy, .mt, .beat_sum, .beat_amax,
    .qm(qm[0]), .qsh(qsh[0]), .sqm(sqm[0]), .sqsh(sqsh[0]), .seq, .seq_rms, .seq_sm, .seq_rmt, .seq_vqt,
    .pass_load, .sc_pass, .sc_go, .sum_pass, .kw_go, .m12, .ew_finish, .sreg, .smax, .amx, .rq_m, .rq_sh,
    .kw_addr, .np_op, .np_idt, .np_odt, .np_a, .np_m, .np_dst, .np_n, .np_chan, .np_use_a, .np_use_m,
    .np_stream);


  // ---------------------------------------------------------------- vmm
  // phases: 0 read x, 1 weight beats, 2 drain
  logic [1:0]  vph;
  logic [31:0] vx_off;
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
    assign vm_acc_in[l] = acc_set ? 32'sd0 : accf[ACC_INDEX_BITS'(32'(acc0) + ejb + 32'(l))];
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
      p_addr = wr_addr;
      p_len = wr_len;
      p_wdata = wr_data;
    end else if (kw_go) begin           // per-token k: one byte after the row
      p_wr = 1'b1;
      p_addr = kw_addr;
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

  // ---------------------------------------------------------------- control: staging and vmm
  // The reader, the table load and the launch of the elementwise engine, and the vmm fetch; the
  // intake, the sequencer and the write-back keep their own registers. A composite's next pass
  // (pass_load) restarts the reader and the launch.
  assign finish = ew_finish || (busy && is_vmm && vm_out_valid && out_jb + 32'(ML) >= n);

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      full[0] <= 1'b0;
      full[1] <= 1'b0;
      wfull[0] <= 1'b0;
      wfull[1] <= 1'b0;
    end else begin
      if (accept) begin
        tph <= cmd_op == CMD_LUT8 || cmd_op == CMD_LUT16;
        toff <= 32'd0;
        lsub <= 32'd0;
        rd_c <= 32'd0;
        rd_s <= 3'd0;
        rd_off <= 32'd0;
        lc <= 32'd0;
        // vmm
        vph <= 2'd0;
        vx_off <= 32'd0;
        vj <= 32'd0;
        vk <= 32'd0;
        ejb <= 32'd0;
        ekc <= 32'd0;
        wb <= 1'b0;
        vlb <= 1'b0;
        out_jb <= 32'd0;
      end else if (ew) begin
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
          if (launch_last) begin
            full[lb] <= 1'b0;
            lc <= lc + 32'd1;
            lsub <= 32'd0;
          end else begin
            lsub <= lsub + 32'd1;
          end
        end
        if (pass_load) begin               // a composite's next pass
          lsub <= 32'd0;
          rd_c <= 32'd0;
          rd_s <= 3'd0;
          rd_off <= 32'd0;
          lc <= 32'd0;
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
        end
      end
      if (!busy && host_acc_we) accf[host_acc_addr] <= host_acc_wdata;
    end
  end
endmodule
