// vector: the elementwise vector unit: arithmetic with saturation, shifts with the one rounding
// rule, and the lookup tables of docs/numerics.md §6 (C reference: isa/saturate.h floe_sat_bits,
// isa/lut.h floe_lut8_apply and floe_lut16_apply). Per lane, with sat = floe_sat_bits(., bits):
//   ADD sat(a + b)   SUB sat(a - b)   MUL sat(a * b)   MAX sat(max(a, b))   MIN sat(min(a, b))
//   SHL sat(a << s)  SHR sat(s == 0 ? a : (a + 2^(s-1)) >> s)   (s = b & 31; round half up)
//   SAT sat(a)
//   LUT8  T[x + 128] for x = int8(a)                              (the table's own width)
//   LUT16 x = int16(a); u = x + 32768; k = u >> 8; f = u & 255
//         clamp(T[k] + ((T[k+1] - T[k]) * f + 128) >> 8) to the signed `bits` range
// Every operation is exact in 64 bits before the one saturation.
//
// The table (257 knots of LUT16_KNOT_BITS, generated from isa/lut.h; lut8 uses entries 0..255) is
// loaded through the write port; a lookup accepted in the cycle of a write sees the old entry.
// Every lane has its own two read ports (a wrapper may bank or replicate the table instead).
//
// Pipeline: 2 stages (operate or fetch | interpolate and saturate), stall-all flow control
// (pipe_ctl).
module vector
  import floe_rtl_pkg::*;
#(
  parameter int LANES = VECTOR_LANES,  // generated from the machine: vector_ops_per_cycle
  parameter int TBL_PORTS = 1          // table entries written per cycle (the core loads a word a cycle)
) (
  input  logic                              clk,
  input  logic                              rst_n,
  input  logic                              in_valid,
  output logic                              in_ready,
  input  logic [3:0]                        op,
  input  logic [5:0]                        bits,      // output width, 2..32
  input  logic [5:0]                        sh,        // MULR's shift, 0..62 (shared by the beat)
  input  logic signed [31:0]                a   [LANES],
  input  logic signed [31:0]                b   [LANES],
  output logic                              out_valid,
  input  logic                              out_ready,
  output logic signed [31:0]                y   [LANES],
  // table write port: one row of TBL_PORTS consecutive entries (row r = entries r*TBL_PORTS ..),
  // entry j of the row written when tbl_we[j]; with TBL_PORTS = 1 a row is one entry
  input  logic [TBL_PORTS-1:0]                 tbl_we,
  input  logic [8:0]                           tbl_addr,
  input  logic [LUT16_KNOT_BITS*TBL_PORTS-1:0] tbl_data
);
  localparam logic [3:0] ADD = 4'd0, SUB = 4'd1, MUL = 4'd2, MAX = 4'd3, MIN = 4'd4, SHL = 4'd5,
                         SHR = 4'd6, SAT = 4'd7, LUT8 = 4'd8, LUT16 = 4'd9, MULR = 4'd10;
  localparam int KB = LUT16_KNOT_BITS;

  // flow control: stage 1's registers load on adv[0], the output register on adv[1]
  logic [1:0] adv;
  /* verilator lint_off PINCONNECTEMPTY */
  pipe_ctl #(.STAGES(1)) u_ctl (.clk, .rst_n, .in_valid, .in_ready, .out_valid, .out_ready, .last(1'b1),
                                .adv, .v());
  /* verilator lint_on PINCONNECTEMPTY */

  localparam int ROWS = (LUT16_KNOTS + TBL_PORTS - 1) / TBL_PORTS;
  localparam int RB = ROWS > 1 ? $clog2(ROWS) : 1;
  logic [KB*TBL_PORTS-1:0] tbl [ROWS];
  logic [KB*TBL_PORTS-1:0] row_next;
  always_comb begin
    row_next = tbl_addr < 9'(ROWS) ? tbl[tbl_addr[RB-1:0]] : '0;
    for (int j = 0; j < TBL_PORTS; j++)
      if (tbl_we[j]) row_next[KB*j +: KB] = tbl_data[KB*j +: KB];
  end
  always_ff @(posedge clk) begin
    if (|tbl_we && tbl_addr < 9'(ROWS)) tbl[tbl_addr[RB-1:0]] <= row_next;
  end
  function automatic logic signed [KB-1:0] entry(input logic [8:0] k);
    int unsigned kk;
    kk = 32'(k);
    entry = $signed(tbl[RB'(kk / TBL_PORTS)][KB * (kk % TBL_PORTS) +: KB]);
  endfunction

  logic [3:0] op1;
  logic [5:0] bits1;
  always_ff @(posedge clk) begin
    if (adv[0]) begin
      op1   <= op;
      bits1 <= bits;
    end
  end

  for (genvar i = 0; i < LANES; i++) begin : g_lane
    // stage 1: the exact result (arithmetic), or the two knots and the fraction (lookups)
    logic signed [63:0]   raw;
    logic [8:0]           k0, k1;
    logic [4:0]           s;
    assign s = b[i][4:0];
    always_comb begin
      k0  = '0;
      k1  = '0;
      raw = '0;
      case (op)
        ADD:  raw = 64'(a[i]) + 64'(b[i]);
        SUB:  raw = 64'(a[i]) - 64'(b[i]);
        MUL:  raw = 64'(a[i]) * 64'(b[i]);
        MAX:  raw = a[i] > b[i] ? 64'(a[i]) : 64'(b[i]);
        MIN:  raw = a[i] < b[i] ? 64'(a[i]) : 64'(b[i]);
        SHL:  raw = 64'(a[i]) <<< s;
        SHR:  raw = s == 5'd0 ? 64'(a[i]) : (64'(a[i]) + (64'sd1 <<< (s - 5'd1))) >>> s;
        SAT:  raw = 64'(a[i]);
        MULR: begin                                      // vmul: (a b + 2^(sh-1)) >> sh, |a b| < 2^62
          raw = 64'(a[i]) * 64'(b[i]);
          if (sh != 6'd0) raw = (raw + (64'sd1 <<< (sh - 6'd1))) >>> sh;
        end
        LUT8: k0  = {1'b0, ~a[i][7], a[i][6:0]};          // x + 128
        LUT16: begin
          k0 = {1'b0, ~a[i][15], a[i][14:8]};              // (x + 32768) >> 8
          k1 = k0 + 9'd1;
        end
        default: raw = '0;
      endcase
    end

    logic signed [63:0]   raw1;
    logic signed [KB-1:0] t0, t1;
    logic [7:0]           f1;
    always_ff @(posedge clk) begin
      if (adv[0]) begin
        raw1 <= raw;
        t0   <= entry(k0);
        t1   <= entry(k1);
        f1   <= a[i][7:0];
      end
    end

    // stage 2: interpolate (d * f < 2^29: exact in 32 bits) and saturate
    logic signed [KB:0]   d;
    logic signed [31:0]   interp;
    assign d      = (KB+1)'(t1) - (KB+1)'(t0);
    assign interp = 32'(t0) + ((32'(d) * $signed({24'd0, f1}) + 32'sd128) >>> 8);
    always_ff @(posedge clk) begin
      if (adv[1]) begin
        case (op1)
          LUT8:    y[i] <= 32'(t0);
          LUT16:   y[i] <= sat(64'(interp), bits1);
          default: y[i] <= sat(raw1, bits1);
        endcase
      end
    end
  end

  // clamp to [-2^(n-1), 2^(n-1) - 1], n = 2..32
  function automatic logic signed [31:0] sat(input logic signed [63:0] v, input logic [5:0] n);
    logic signed [63:0] hi;
    hi = (64'sd1 <<< (n - 6'd1)) - 64'sd1;
    if (v > hi) return hi[31:0];
    if (v < -hi - 64'sd1) return 32'(-hi - 64'sd1);
    return v[31:0];
  endfunction
endmodule
