// core: one core's datapath with its local memory (docs/rtl.md, "The core wrapper").
//
// A command (rtl/gen/core_cmd.h: op, addresses, lengths, element types, flags) is taken with a
// valid/ready handshake and executed tile by tile on the units:
//   vmm       x from memory into the activation buffer, then weight beats (one SRAM word per lane)
//             through `vmm` into the accumulator file;
//   requant   accumulators and multipliers through `requant` into memory (vrequant: int32 from memory);
//   vadd, vmax, vshift, vsat through `vector`; exp2 through `afu_exp2` (the activation-function unit).
// Elementwise commands stream chunks of the unit's lane count: operands are read into one of two
// staging buffers, a full buffer is launched into the unit while the next chunk is read into the
// other, and the unit's result is packed and written back. Local memory is a byte-addressed SRAM
// with ONE port of SRAM_BYTES bytes per cycle (reads + writes, as the machine's
// sram_bytes_per_cycle), reads taking one cycle; writes go first when both wait. `done` is high for
// one cycle after the command's last result is written; a new command is taken when idle.
//
// The host port (memory and accumulators) is the testbench's load/unload path: it is only used
// while the core is idle and is not part of the timed datapath.
module core
  import floe_rtl_pkg::*;
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
  input  logic [3:0]                cmd_op,
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
  localparam int SA = 4 * VL;            // staging bytes of an a or b chunk (int32 elements)
  localparam int SM = 8 * VL;            // staging bytes of a chunk of multipliers
  localparam int XB = XMAX + 2 * MD;     // activation buffer with room for the last slice
  localparam int MLB = ML > 1 ? $clog2(ML) : 1;

  // ---------------------------------------------------------------- helpers
  function automatic logic [31:0] bytes_for(input logic [2:0] dt, input logic [31:0] n);
    case (dt)
      DT_I2:   bytes_for = (n + 32'd3) >> 2;
      DT_I4:   bytes_for = (n + 32'd1) >> 1;
      DT_I8:   bytes_for = n;
      DT_I16:  bytes_for = n << 1;
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

  // ---------------------------------------------------------------- state
  logic [7:0] mem [MEM];
  logic signed [31:0] accf [ACCS];

  logic        busy;
  logic [3:0]  op;
  logic [31:0] dst, aa, bb, ma;
  logic [ACC_INDEX_BITS-1:0] acc0;
  logic [31:0] n;
  logic [2:0]  idt, odt;
  logic        x16, w4, set, chan;
  logic signed [7:0] amount;

  assign cmd_ready = !busy;
  wire accept = cmd_valid && cmd_ready;
  wire is_vmm = op == CMD_VMM;

  // elementwise geometry
  logic [31:0] ch;                       // elements per chunk
  logic [31:0] nchunks;
  logic        use_a, use_b, use_m;
  assign ch = op == CMD_EXP2 ? 32'(AL) : 32'(VL);

  // ---------------------------------------------------------------- port arbitration
  logic        p_rd, p_wr;               // this cycle's memory access
  logic [31:0] p_addr, p_len;            // byte address and length (<= W)
  logic [7:0]  p_wdata [W];

  // ---------------------------------------------------------------- elementwise reader
  logic [31:0] rd_c;                     // chunk being read
  logic [1:0]  rd_s;                     // stream: 0 a, 1 b, 2 m
  logic [31:0] rd_off;
  logic        full [2];                 // staging buffer holds a whole chunk not yet launched
  logic [8*SA-1:0] sa [2];
  logic [8*SA-1:0] sb [2];
  logic [8*SM-1:0] sm [2];

  function automatic logic [31:0] chunk_elems(input logic [31:0] c);
    chunk_elems = min32(ch, n - c * ch);
  endfunction

  // bytes of stream s in chunk c
  function automatic logic [31:0] sbytes(input logic [1:0] s, input logic [31:0] c);
    case (s)
      2'd0:    sbytes = use_a ? bytes_for(idt, chunk_elems(c)) : 32'd0;
      2'd1:    sbytes = use_b ? bytes_for(idt, chunk_elems(c)) : 32'd0;
      default: sbytes = !use_m ? 32'd0 : chan ? 32'd8 * chunk_elems(c) : c == 0 ? 32'd8 : 32'd0;
    endcase
  endfunction

  function automatic logic [31:0] sbase(input logic [1:0] s, input logic [31:0] c);
    case (s)
      2'd0:    sbase = aa + c * bytes_for(idt, ch);
      2'd1:    sbase = bb + c * bytes_for(idt, ch);
      default: sbase = ma + (chan ? c * 32'd8 * ch : 32'd0);
    endcase
  endfunction

  // the stream the reader works on now: the first at or after rd_s with bytes left (3: none)
  logic [1:0]  cur_s;
  logic        rd_active, rd_want, rd_chunk_end, rd_go;
  logic [31:0] cur_bytes;
  always_comb begin
    cur_s = 2'd3;
    for (int s = 2; s >= 0; s--)
      if (2'(s) >= rd_s && sbytes(2'(s), rd_c) != 0) cur_s = 2'(s);
    cur_bytes = cur_s == 2'd3 ? 32'd0 : sbytes(cur_s, rd_c);
  end
  assign rd_active = busy && !is_vmm && rd_c < nchunks && !full[rd_c[0]];
  assign rd_want = rd_active && cur_s != 2'd3;            // needs the port
  // the chunk is complete after this cycle's read (or now, when nothing is left to read)
  always_comb begin
    rd_chunk_end = 1'b0;
    if (rd_active) begin
      if (cur_s == 2'd3) rd_chunk_end = 1'b1;
      else if (rd_off + 32'(W) >= cur_bytes) begin
        rd_chunk_end = 1'b1;
        for (int s = 0; s < 3; s++)
          if (2'(s) > cur_s && sbytes(2'(s), rd_c) != 0) rd_chunk_end = 1'b0;
      end
    end
  end
  assign rd_go = rd_want && p_rd;

  // ---------------------------------------------------------------- elementwise launch
  logic [31:0] lc;                        // chunk to launch next
  logic        lb;
  assign lb = lc[0];
  logic        u_in_valid, u_in_ready, u_out_valid;
  logic        out_full;
  logic [31:0] oc, wr_off;
  logic [8*SA-1:0] obuf;
  logic [31:0] ob_bytes;
  logic [63:0] mt;                        // the per-tensor multiplier

  assign u_in_valid = busy && !is_vmm && lc < nchunks && full[lb];

  function automatic logic signed [31:0] elem(input logic [8*SA-1:0] buf_, input logic [2:0] dt,
                                              input int i);
    case (dt)
      DT_I4:   elem = 32'($signed(buf_[4*i +: 4]));
      DT_I8:   elem = 32'($signed(buf_[8*i +: 8]));
      DT_I16:  elem = 32'($signed(buf_[16*i +: 16]));
      default: elem = $signed(buf_[32*i +: 32]);
    endcase
  endfunction

  // unit operands
  logic signed [31:0] va [VL];
  logic signed [31:0] vb [VL];
  logic signed [31:0] racc [VL];
  logic        [30:0] rm [VL];
  logic         [5:0] rsh [VL];
  logic signed [31:0] ex [AL];
  logic [3:0]  vop;
  logic [5:0]  obits;
  logic signed [31:0] lo, hi;
  assign obits = dt_bits(odt);
  assign hi = obits == 6'd32 ? 32'sh7fffffff : (32'sd1 <<< (obits - 6'd1)) - 32'sd1;
  assign lo = -hi - 32'sd1;
  always_comb begin
    case (op)
      CMD_VADD:   vop = 4'd0;                          // ADD
      CMD_VMAX:   vop = 4'd3;                          // MAX
      CMD_VSHIFT: vop = amount >= 0 ? 4'd5 : 4'd6;     // SHL, SHR (round half up)
      default:    vop = 4'd7;                          // SAT
    endcase
  end
  for (genvar l = 0; l < VL; l++) begin : g_vop
    /* verilator lint_off UNUSEDSIGNAL */
    logic [63:0] mult;                   // int32 m (bit 31 is zero), int32 shift (0..62)
    /* verilator lint_on UNUSEDSIGNAL */
    assign mult = chan ? sm[lb][64*l +: 64] : lc == 0 ? sm[lb][63:0] : mt;
    assign va[l] = elem(sa[lb], idt, l);
    assign vb[l] = op == CMD_VSHIFT ? (amount >= 0 ? 32'(amount) : -32'(amount)) : elem(sb[lb], idt, l);
    assign racc[l] = op == CMD_REQUANT ? accf[ACC_INDEX_BITS'(32'(acc0) + lc * ch + 32'(l))] : va[l];
    assign rm[l] = mult[30:0];
    assign rsh[l] = mult[37:32];
  end
  for (genvar l = 0; l < AL; l++) begin : g_ex
    assign ex[l] = $signed(sa[lb][32*l +: 32]);
  end

  // the units
  logic v_in_valid, v_in_ready, v_out_valid, r_in_valid, r_in_ready, r_out_valid;
  logic e_in_valid, e_in_ready, e_out_valid;
  logic signed [31:0] vy [VL];
  logic signed [31:0] ry [VL];
  logic [EXP2_OUT_BITS:0] ey [AL];
  logic uses_vector, uses_requant;
  assign uses_requant = op == CMD_REQUANT || op == CMD_VREQUANT;
  assign uses_vector = !is_vmm && !uses_requant && op != CMD_EXP2;
  assign v_in_valid = u_in_valid && uses_vector;
  assign r_in_valid = u_in_valid && uses_requant;
  assign e_in_valid = u_in_valid && op == CMD_EXP2;
  assign u_in_ready = uses_vector ? v_in_ready : uses_requant ? r_in_ready : e_in_ready;
  assign u_out_valid = uses_vector ? v_out_valid : uses_requant ? r_out_valid : e_out_valid;

  vector #(.LANES(VL)) u_vector (
    .clk, .rst_n, .in_valid(v_in_valid), .in_ready(v_in_ready), .op(vop), .bits(obits),
    .a(va), .b(vb), .out_valid(v_out_valid), .out_ready(cap_ok), .y(vy),
    .tbl_we(1'b0), .tbl_addr(9'd0), .tbl_data('0));
  requant #(.LANES(VL)) u_requant (
    .clk, .rst_n, .in_valid(r_in_valid), .in_ready(r_in_ready), .acc(racc), .m(rm), .shift(rsh),
    .lo, .hi, .out_valid(r_out_valid), .out_ready(cap_ok), .y(ry));
  afu_exp2 #(.LANES(AL)) u_exp2 (
    .clk, .rst_n, .in_valid(e_in_valid), .in_ready(e_in_ready), .x(ex),
    .out_valid(e_out_valid), .out_ready(cap_ok), .y(ey));

  // result packing
  logic [8*SA-1:0] packed_y;
  always_comb begin
    packed_y = '0;
    if (op == CMD_EXP2) begin
      for (int l = 0; l < AL; l++) packed_y[32*l +: 32] = 32'(ey[l]);
    end else begin
      for (int l = 0; l < VL; l++) begin
        logic signed [31:0] y;
        y = uses_requant ? ry[l] : vy[l];
        case (odt)
          DT_I4:   packed_y[4*l +: 4] = y[3:0];
          DT_I8:   packed_y[8*l +: 8] = y[7:0];
          DT_I16:  packed_y[16*l +: 16] = y[15:0];
          default: packed_y[32*l +: 32] = y;
        endcase
      end
    end
  end
  // a result is taken when the output buffer is empty or its last word is written this cycle
  logic wr_want, wr_last_word, cap_ok, capture;
  logic [31:0] cap_c;                    // the chunk a capture takes
  assign wr_want = busy && !is_vmm && out_full;
  assign wr_last_word = wr_off + 32'(W) >= ob_bytes;
  assign cap_ok = !out_full || wr_last_word;
  assign capture = busy && !is_vmm && u_out_valid && cap_ok;
  assign cap_c = out_full ? oc + 32'd1 : oc;

  // ---------------------------------------------------------------- vmm
  // phases: 0 read x, 1 weight beats, 2 drain
  logic [1:0]  vph;
  logic [31:0] xbytes, rowbytes, vx_off;
  logic [31:0] vj, vk, vl;               // reader: block's first row, byte in row, lane
  logic [8*XB-1:0] xbuf;
  logic [7:0]  wst [2][ML][MD];         // a beat, one row slice per lane
  // short rows (rowbytes <= MD: one slice each): a block's rows are contiguous in memory, so the
  // beat is read as consecutive words into wlin and each lane takes its row from there
  logic        rowpk;
  logic [8*ML*MD-1:0] wlin [2];
  logic [31:0] vblk;                     // bytes of the block being read (rowpk mode)
  logic        wfull [2];
  logic        wfirst [2], wlast [2];
  logic [31:0] wjb [2], wkc [2];
  logic        wb;                       // buffer the reader fills
  logic        vlb;                      // buffer the engine takes next
  logic [31:0] out_jb;                   // first row of the next vmm output
  logic        vm_in_valid, vm_in_ready, vm_out_valid;
  logic [7:0]  vm_x [2*MD];
  logic signed [31:0] vm_acc_in [ML];
  logic signed [31:0] vm_acc [ML];
  logic [7:0]  vm_w [ML][MD];
  always_comb
    for (int l = 0; l < ML; l++)
      for (int d = 0; d < MD; d++)
        vm_w[l][d] = !rowpk ? wst[vlb][l][d]
                   : 32'(d) < rowbytes ? wlin[vlb][8 * (32'(l) * rowbytes + 32'(d)) +: 8] : 8'd0;

  wire vx_want = busy && is_vmm && vph == 2'd0;
  wire vw_want = busy && is_vmm && vph == 2'd1 && !wfull[wb];
  logic [31:0] vrow;
  assign vrow = vj + vl;
  logic [31:0] vslice;
  assign vslice = min32(32'(MD), rowbytes - vk);
  // the beat is complete after this lane: the last lane of the block, or the last row
  assign vblk = min32(32'(ML), n - vj) * rowbytes;
  wire vw_beat_end = rowpk ? vk + 32'(W) >= vblk : vl + 32'd1 >= 32'(ML) || vrow + 32'd1 >= n;

  assign vm_in_valid = busy && is_vmm && wfull[vlb];
  logic [31:0] xoff;
  assign xoff = (w4 || x16) ? wkc[vlb] << 1 : wkc[vlb];
  for (genvar d = 0; d < 2 * MD; d++) begin : g_vx
    // activations past x (an odd int4 row's padding nibble, a partial slice) read as zero
    assign vm_x[d] = xoff + 32'(d) < xbytes ? xbuf[8 * (xoff + 32'(d)) +: 8] : 8'd0;
  end
  for (genvar l = 0; l < ML; l++) begin : g_vacc
    assign vm_acc_in[l] = set ? 32'sd0 : accf[ACC_INDEX_BITS'(32'(acc0) + wjb[vlb] + 32'(l))];
  end

  vmm #(.LANES(ML), .DEPTH(MD)) u_vmm (
    .clk, .rst_n, .in_valid(vm_in_valid), .in_ready(vm_in_ready), .wprec4(w4), .xprec16(x16),
    .first(wfirst[vlb]), .last(wlast[vlb]), .x(vm_x), .w(vm_w), .acc_in(vm_acc_in),
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
    end else if (wr_want) begin                  // results first
      p_wr = 1'b1;
      p_addr = dst + oc * bytes_for(odt, ch) + wr_off;
      p_len = min32(32'(W), ob_bytes - wr_off);
      for (int i = 0; i < W; i++) p_wdata[i] = obuf[8 * (wr_off + 32'(i)) +: 8];
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
      p_addr = rowpk ? bb + vj * rowbytes + vk : bb + vrow * rowbytes + vk;
      p_len = rowpk ? min32(32'(W), vblk - vk) : vslice;
    end
  end

  // read data as seen by the destination buffers (bytes past the length read as zero)
  logic [7:0] rdata [W];
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
        if (cur_s == 2'd0 && rd_off + 32'(i) < 32'(SA)) sa[rd_c[0]][8 * (rd_off + 32'(i)) +: 8] <= rdata[i];
        if (cur_s == 2'd1 && rd_off + 32'(i) < 32'(SA)) sb[rd_c[0]][8 * (rd_off + 32'(i)) +: 8] <= rdata[i];
        if (cur_s == 2'd2 && rd_off + 32'(i) < 32'(SM)) sm[rd_c[0]][8 * (rd_off + 32'(i)) +: 8] <= rdata[i];
      end
      if (vx_go && vx_off + 32'(i) < 32'(XB)) xbuf[8 * (vx_off + 32'(i)) +: 8] <= rdata[i];
    end
  end
  for (genvar d = 0; d < MD; d++) begin : g_wst
    always_ff @(posedge clk)
      if (vw_go && !rowpk) wst[wb][vl[MLB-1:0]][d] <= 32'(d) < vslice ? rdata[d] : 8'd0;
  end
  for (genvar i = 0; i < W; i++) begin : g_wlin
    always_ff @(posedge clk)
      if (vw_go && rowpk && vk + 32'(i) < 32'(ML * MD)) wlin[wb][8 * (vk + 32'(i)) +: 8] <= rdata[i];
  end

  // ---------------------------------------------------------------- control
  logic last_out;
  assign last_out = oc + 32'd1 >= nchunks;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      busy <= 1'b0;
      done <= 1'b0;
      full[0] <= 1'b0;
      full[1] <= 1'b0;
      wfull[0] <= 1'b0;
      wfull[1] <= 1'b0;
      out_full <= 1'b0;
    end else begin
      done <= 1'b0;
      if (accept) begin
        busy <= 1'b1;
        op <= cmd_op;
        dst <= cmd_dst;
        aa <= cmd_a;
        bb <= cmd_b;
        ma <= cmd_m;
        acc0 <= cmd_acc;
        n <= 32'(cmd_n);
        x16 <= cmd_x16;
        w4 <= cmd_w4;
        set <= cmd_set;
        chan <= cmd_chan;
        amount <= cmd_amount;
        idt <= cmd_op == CMD_VREQUANT || cmd_op == CMD_EXP2 ? DT_I32 : cmd_dt;
        odt <= cmd_op == CMD_VSAT ? cmd_dt2 : cmd_op == CMD_EXP2 ? DT_I32 : cmd_dt;
        use_a <= cmd_op != CMD_REQUANT;
        use_b <= cmd_op == CMD_VADD || cmd_op == CMD_VMAX;
        use_m <= cmd_op == CMD_REQUANT || cmd_op == CMD_VREQUANT;
        nchunks <= (32'(cmd_n) + (cmd_op == CMD_EXP2 ? 32'(AL) : 32'(VL)) - 32'd1) /
                   (cmd_op == CMD_EXP2 ? 32'(AL) : 32'(VL));
        rd_c <= 32'd0;
        rd_s <= 2'd0;
        rd_off <= 32'd0;
        lc <= 32'd0;
        oc <= 32'd0;
        wr_off <= 32'd0;
        // vmm
        vph <= 2'd0;
        vx_off <= 32'd0;
        xbytes <= cmd_x16 ? 32'(cmd_k) << 1 : 32'(cmd_k);
        rowbytes <= cmd_w4 ? (32'(cmd_k) + 32'd1) >> 1 : 32'(cmd_k);
        rowpk <= (cmd_w4 ? (32'(cmd_k) + 32'd1) >> 1 : 32'(cmd_k)) <= 32'(MD);
        vj <= 32'd0;
        vk <= 32'd0;
        vl <= 32'd0;
        wb <= 1'b0;
        vlb <= 1'b0;
        out_jb <= 32'd0;
        if (cmd_n == 16'd0 || (cmd_op == CMD_VMM && cmd_k == 16'd0)) begin // nothing to do
          busy <= 1'b0;   // (the harness gives vmm k >= 1: a `set` with k = 0 is not modelled)
          done <= 1'b1;
        end
      end else if (busy && !is_vmm) begin
        // reader
        if (rd_active && (rd_go || cur_s == 2'd3)) begin
          if (rd_chunk_end) begin
            full[rd_c[0]] <= 1'b1;
            rd_c <= rd_c + 32'd1;
            rd_s <= 2'd0;
            rd_off <= 32'd0;
          end else if (rd_off + 32'(W) >= cur_bytes) begin
            rd_s <= cur_s + 2'd1;
            rd_off <= 32'd0;
          end else begin
            rd_off <= rd_off + 32'(W);
          end
        end
        // launch
        if (u_in_valid && u_in_ready) begin
          full[lb] <= 1'b0;
          lc <= lc + 32'd1;
          if (lc == 32'd0) mt <= sm[lb][63:0];
        end
        // write back
        if (wr_want) begin
          if (wr_last_word) begin
            out_full <= 1'b0;
            oc <= oc + 32'd1;
            if (last_out) begin
              busy <= 1'b0;
              done <= 1'b1;
            end
          end else begin
            wr_off <= wr_off + 32'(W);
          end
        end
        // capture (after the write-back: a capture in the cycle of the last write keeps the buffer full)
        if (capture) begin
          obuf <= packed_y;
          out_full <= 1'b1;
          wr_off <= 32'd0;
          ob_bytes <= bytes_for(odt, chunk_elems(cap_c));
        end
      end else if (busy) begin // vmm
        if (vx_want) begin
          if (vx_off + 32'(W) >= xbytes) vph <= 2'd1;
          vx_off <= vx_off + 32'(W);
        end
        if (vw_want) begin
          if (vw_beat_end && rowpk) begin   // the whole block in one beat
            wfull[wb] <= 1'b1;
            wfirst[wb] <= 1'b1;
            wlast[wb] <= 1'b1;
            wjb[wb] <= vj;
            wkc[wb] <= 32'd0;
            wb <= !wb;
            vk <= 32'd0;
            vj <= vj + 32'(ML);
            if (vj + 32'(ML) >= n) vph <= 2'd2;
          end else if (rowpk) begin
            vk <= vk + 32'(W);
          end else if (vw_beat_end) begin
            wfull[wb] <= 1'b1;
            wfirst[wb] <= vk == 32'd0;
            wlast[wb] <= vk + 32'(MD) >= rowbytes;
            wjb[wb] <= vj;
            wkc[wb] <= vk;
            wb <= !wb;
            vl <= 32'd0;
            if (vk + 32'(MD) < rowbytes) vk <= vk + 32'(MD);
            else begin
              vk <= 32'd0;
              vj <= vj + 32'(ML);
              if (vj + 32'(ML) >= n) vph <= 2'd2;
            end
          end else begin
            vl <= vl + 32'd1;
          end
        end
        if (vm_in_valid && vm_in_ready) begin
          wfull[vlb] <= 1'b0;
          vlb <= !vlb;
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
