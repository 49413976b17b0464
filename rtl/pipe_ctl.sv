// pipe_ctl: the flow control of every unit's pipeline (docs/rtl.md, Conventions), written once. The
// pipeline is STAGES registers and an output register (index STAGES, `out_valid`); register s takes
// register s - 1's value (s = 0: the input beat) when `adv[s]`, and the unit's data registers of that
// stage load on the same enable. `v[s]`: register s holds a beat (the units that accumulate across
// beats, vmm and vreduce, update their accumulator only for one). The beat in register STAGES - 1
// becomes an output only with `last` (vmm, vreduce: the operation's last beat; the others tie it high).
//   ELASTIC = 0, stall-all: every register advances when the output register is empty or being read
//     (adv[s] = en = !out_valid || out_ready), so a held output stops the whole pipeline without
//     losing a beat. The short pipelines (two registers) use this.
//   ELASTIC = 1, elastic: a register advances when the output is being read or some register at or
//     after it is empty. A held output no longer stops the whole pipeline: the bubbles in flight
//     collapse behind it, so when the output is read again the results come out back to back (a
//     stall-all pipeline keeps its bubbles, and a port waiting for its last results idles over the
//     whole depth). afu_recip and afu_rsqrt use this.
// Either way in_ready = adv[0] (it may depend on out_ready), and at full rate every register
// advances every cycle: latency STAGES + 1, one beat a cycle.
module pipe_ctl #(
  parameter int STAGES  = 1,
  parameter bit ELASTIC = 1'b0
) (
  input  logic              clk,
  input  logic              rst_n,
  input  logic              in_valid,
  output logic              in_ready,
  output logic              out_valid,
  input  logic              out_ready,
  input  logic              last,       // the beat in register STAGES - 1 is an output beat
  output logic [STAGES:0]   adv,        // load enable of register s (STAGES: the output register)
  output logic [STAGES-1:0] v           // register s holds a beat
);
  if (ELASTIC) begin : g_elastic
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
  end else begin : g_stall_all
    assign adv = {(STAGES + 1){!out_valid || out_ready}};
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
      if (adv[STAGES]) out_valid <= v[STAGES-1] && last;
    end
  end
endmodule
