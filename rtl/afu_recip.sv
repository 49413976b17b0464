// afu_recip: exactly rounded reciprocal of the activation-function unit, docs/numerics.md §4 (C
// reference: isa/recip.h floe_recip_u32). For x >= 1:
//   lz = clz32(x); xn = x << lz;  m = floor((2^63 + xn) / (2 xn));  shift = 62 - lz
//   m == 2^31 (x a power of two): m = 2^30, shift - 1;      x == 0: {2^31 - 1, 0}
// The quotient is < 2^32, so a restoring divider needs 32 steps: the remainder starts at the
// dividend's upper half (2^31 < 2 xn) and takes in xn's 32 bits, one per cycle.
//
// Sequential: in_ready only when idle; 1 cycle to normalise and load, 32 divide cycles, then the
// result waits in the output register until out_ready: 33 cycles from the accepting edge to
// out_valid, 34 cycles per result back to back.
module afu_recip (
  input  logic        clk,
  input  logic        rst_n,
  input  logic        in_valid,
  output logic        in_ready,
  input  logic [31:0] x,
  output logic        out_valid,
  input  logic        out_ready,
  output logic [30:0] m,        // mantissa in [2^30, 2^31), or 2^31 - 1 for x = 0
  output logic [5:0]  shift
);
  typedef enum logic [1:0] {IDLE, DIV, DONE} state_t;
  state_t      state;
  logic [32:0] rem;    // partial remainder, < divisor < 2^33
  logic [32:0] dsr;    // divisor 2 xn
  logic [31:0] low;    // dividend bits still to bring down (xn, MSB first)
  logic [30:0] q;      // quotient so far (bit 31 only appears in the last step)
  logic [5:0]  cnt;
  logic [5:0]  sh;

  assign in_ready  = state == IDLE;
  assign out_valid = state == DONE;

  logic [5:0]  lz;
  logic [31:0] xn;
  assign lz = clz32(x);
  assign xn = x << lz;

  // one restoring step: bring down the next dividend bit, subtract the divisor if it fits
  logic [33:0] trial;
  logic        fits;
  logic [31:0] q_next;
  assign trial  = {rem, low[31]};
  assign fits   = trial >= {1'b0, dsr};
  assign q_next = {q, fits};

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state <= IDLE;
    end else begin
      case (state)
        IDLE: if (in_valid) begin
          if (x == 32'd0) begin
            m     <= 31'h7FFF_FFFF;  // saturated, as the C reference
            shift <= 6'd0;
            state <= DONE;
          end else begin
            rem   <= 33'h0_8000_0000;  // floor((2^63 + xn) / 2^32) = 2^31
            dsr   <= {xn, 1'b0};
            low   <= xn;
            q     <= 31'd0;
            cnt   <= 6'd32;
            sh    <= 6'd62 - lz;
            state <= DIV;
          end
        end
        DIV: begin
          rem <= fits ? 33'(trial - {1'b0, dsr}) : trial[32:0];
          q   <= q_next[30:0];
          low <= {low[30:0], 1'b0};
          cnt <= cnt - 6'd1;
          if (cnt == 6'd1) begin
            // renormalise: the quotient reaches 2^31 only when x is a power of two
            m     <= q_next[31] ? 31'h4000_0000 : q_next[30:0];
            shift <= q_next[31] ? sh - 6'd1 : sh;
            state <= DONE;
          end
        end
        DONE: if (out_ready) state <= IDLE;
        default: state <= IDLE;
      endcase
    end
  end

  function automatic logic [5:0] clz32(input logic [31:0] v);
    clz32 = 6'd32;
    for (int i = 0; i < 32; i++)
      if (v[i]) clz32 = 6'(31 - i);
  endfunction
endmodule
