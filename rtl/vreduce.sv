// vreduce: the vector unit's reductions, docs/isa.md vsum / vsumsq / vmaxr (C reference: the
// simulator's sim/exec.c, numerics §3: every reduction exact in integers, wrap-around where the
// ISA says so). Over the elements of all beats from `first` to `last`:
//   SUM    sum of int32 elements modulo 2^32          (y[31:0])
//   SUMSQ  sum of squares modulo 2^64                 (y, unsigned)
//   MAX    maximum, INT32_MIN when no lane is valid  (y[31:0])
// `mask` marks the lanes of a beat that hold an element (the tail of a row leaves lanes empty).
//
// Pipeline: 2 stages (square and reduce the beat's lanes | accumulate across beats), one beat per
// cycle, stall-all flow control (pipe_ctl) as the other units; one output beat per reduction, at `last`.
module vreduce
  import floe_rtl_pkg::*;
#(
  parameter int LANES = VECTOR_LANES   // generated from the machine: vector_ops_per_cycle
) (
  input  logic                     clk,
  input  logic                     rst_n,
  input  logic                     in_valid,
  output logic                     in_ready,
  input  logic [1:0]               op,       // 0 SUM, 1 SUMSQ, 2 MAX (shared by the reduction)
  input  logic                     first,    // the reduction's first beat
  input  logic                     last,     // its last beat: the result follows
  input  logic [LANES-1:0]         mask,
  input  logic signed [31:0]       a [LANES],
  output logic                     out_valid,
  input  logic                     out_ready,
  output logic [63:0]              y
);
  localparam logic [1:0] SUMSQ = 2'd1, MAX = 2'd2;    // (0: SUM)

  // flow control: stage 1's registers load on adv[0], the running result and the output on adv[1];
  // a row's result leaves at its last beat
  logic [1:0] adv;
  logic       v1;                     // stage 1 holds a beat
  logic       last1;
  pipe_ctl #(.STAGES(1)) u_ctl (.clk, .rst_n, .in_valid, .in_ready, .out_valid, .out_ready, .last(last1),
                                .adv, .v(v1));

  // stage 1: the beat's partial sum (of squares) and maximum
  logic [63:0] bsum;
  logic signed [31:0] bmax;
  always_comb begin
    bsum = 64'd0;
    bmax = 32'sh8000_0000;
    for (int l = 0; l < LANES; l++) begin
      if (mask[l]) begin
        bsum = bsum + (op == SUMSQ ? 64'($signed(64'(a[l])) * $signed(64'(a[l]))) : 64'($signed(a[l])));
        if (a[l] > bmax) bmax = a[l];
      end
    end
  end

  logic               first1;
  logic [1:0]         op1;
  logic [63:0]        s1;
  logic signed [31:0] m1;
  // stage 2: the running result
  logic [63:0]        acc;
  logic [63:0]        acc_next;
  always_comb begin
    if (op1 == MAX)
      acc_next = {32'd0, first1 || m1 > $signed(acc[31:0]) ? m1 : acc[31:0]};
    else
      acc_next = first1 ? s1 : acc + s1;
  end

  always_ff @(posedge clk) begin
    if (adv[0]) begin
      first1 <= first;
      last1  <= last;
      op1    <= op;
      s1     <= bsum;
      m1     <= bmax;
    end
    if (adv[1]) begin
      if (v1) acc <= acc_next;
      if (v1 && last1) y <= op1 == SUMSQ ? acc_next : {32'd0, acc_next[31:0]};
    end
  end
endmodule
