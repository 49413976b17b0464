// elastic_ctl: the stage control of an elastic pipeline (afu_recip, afu_rsqrt). The pipeline is
// STAGES registers and an output register (index STAGES, `out_valid`); register s takes register
// s - 1's value (s = 0: the input beat) when `adv[s]`, and its data registers load on the same
// enable. A register advances when the output is being read or some register at or after it is
// empty: a held output no longer stops the whole pipeline, the bubbles in flight collapse behind
// it, so when the output is read again the results come out back to back (a stall-all pipeline
// keeps its bubbles, and a port waiting for its last results idles over the whole depth).
// At full rate every register advances every cycle: the same latency (STAGES + 1) and one beat a
// cycle as a stall-all pipeline; valid/ready as the other units (in_ready may depend on out_ready).
module elastic_ctl #(
  parameter int STAGES = 2
) (
  input  logic              clk,
  input  logic              rst_n,
  input  logic              in_valid,
  output logic              in_ready,
  output logic              out_valid,
  input  logic              out_ready,
  output logic [STAGES:0]   adv         // load enable of register s (STAGES: the output register)
);
  logic [STAGES-1:0] v;                 // register s holds a beat

  // adv[s] = out_ready || some register s..STAGES is empty (a suffix OR of the holes)
  always_comb begin
    logic hole;
    hole = !out_valid;
    adv[STAGES] = hole || out_ready;
    for (int s = STAGES - 1; s >= 0; s--) begin
      hole = hole || !v[s];
      adv[s] = hole || out_ready;
    end
  end
  assign in_ready = adv[0];

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      v         <= '0;
      out_valid <= 1'b0;
    end else begin
      if (adv[0]) v[0] <= in_valid;
      for (int s = 1; s < STAGES; s++)
        if (adv[s]) v[s] <= v[s-1];
      if (adv[STAGES]) out_valid <= v[STAGES-1];
    end
  end
endmodule
