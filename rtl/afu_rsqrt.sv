// afu_rsqrt: exactly rounded reciprocal square root of the activation-function unit,
// docs/numerics.md §4 (C reference: isa/recip.h floe_rsqrt_u64). For x >= 1:
//   lz = clz64(x) rounded down to even; xn = x << lz                  (2^62 <= xn < 2^64)
//   a = isqrt(floor(2^126 / xn))   (a = 2^32 when xn = 2^62: the quotient 2^64 would not fit)
//   m = (a + 1) >> 1; shift = 62 - lz/2; m == 2^31 (x a power of four): m = 2^30, shift - 1
//   x == 0: {2^31 - 1, 0}
// A restoring divider (64 steps: the remainder starts at 2^62 < xn and brings down 64 zero bits),
// then the digit-by-digit square root of the 64-bit quotient (32 steps, one result bit each).
//
// Sequential: in_ready only when idle. Latency 64 + 32 + 1 + 1 = 98 cycles (99 per result back to
// back); x = 0 and powers of four need no iteration (1 and 2 cycles).
module afu_rsqrt (
  input  logic        clk,
  input  logic        rst_n,
  input  logic        in_valid,
  output logic        in_ready,
  input  logic [63:0] x,
  output logic        out_valid,
  input  logic        out_ready,
  output logic [30:0] m,        // mantissa in [2^30, 2^31), or 2^31 - 1 for x = 0
  output logic [5:0]  shift
);
  typedef enum logic [2:0] {IDLE, DIV, SQRT, FIN, DONE} state_t;
  state_t      state;
  logic [63:0] dsr;    // xn
  logic [64:0] rem;    // division remainder (< xn), or the square root's running remainder
  logic [62:0] q;      // quotient floor(2^126 / xn) so far (its last bit goes straight to rem)
  logic [63:0] res;    // root so far, scaled by the current digit (a <= 2^32 at the end)
  logic [63:0] one;    // current power of four of the digit-by-digit root
  logic [6:0]  cnt;
  logic [5:0]  sh;

  assign in_ready  = state == IDLE;
  assign out_valid = state == DONE;

  logic [6:0]  lz;
  logic [63:0] xn;
  assign lz = clz64_even(x);
  assign xn = x << lz;

  // division step: the dividend's remaining bits are all zero
  logic [65:0] dtrial;
  logic        dfits;
  assign dtrial = {rem, 1'b0};
  assign dfits  = dtrial >= {2'b0, dsr};

  // root step: x >= res + one ? (x -= res + one, res = res/2 + one) : res = res/2
  logic [64:0] rsum;
  logic        rfits;
  assign rsum  = {1'b0, res} + {1'b0, one};
  assign rfits = rem >= rsum;

  // m = (a + 1) >> 1 = (a >> 1) + (a & 1); 2^31 only for a power of four
  logic [31:0] mh;
  assign mh = res[32:1] + {31'd0, res[0]};

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state <= IDLE;
    end else begin
      case (state)
        IDLE: if (in_valid) begin
          sh <= 6'd62 - lz[6:1];
          if (x == 64'd0) begin
            m     <= 31'h7FFF_FFFF;  // saturated, as the C reference
            shift <= 6'd0;
            state <= DONE;
          end else if (xn == 64'h4000_0000_0000_0000) begin
            res   <= 64'h1_0000_0000;  // a = 2^32 exactly
            state <= FIN;
          end else begin
            dsr   <= xn;
            rem   <= 65'h0_4000_0000_0000_0000;  // floor(2^126 / 2^64) = 2^62
            q     <= 63'd0;
            cnt   <= 7'd64;
            state <= DIV;
          end
        end
        DIV: begin
          rem <= dfits ? 65'(dtrial - {2'b0, dsr}) : dtrial[64:0];
          q   <= {q[61:0], dfits};
          cnt <= cnt - 7'd1;
          if (cnt == 7'd1) begin
            // the root works in place on the finished quotient, from one = 2^62
            rem   <= {1'b0, q[62:0], dfits};
            res   <= 64'd0;
            one   <= 64'h4000_0000_0000_0000;
            cnt   <= 7'd32;
            state <= SQRT;
          end
        end
        SQRT: begin
          rem <= rfits ? 65'(rem - rsum) : rem;
          res <= rfits ? (res >> 1) + one : res >> 1;
          one <= one >> 2;
          cnt <= cnt - 7'd1;
          if (cnt == 7'd1) state <= FIN;
        end
        FIN: begin
          m     <= mh[31] ? 31'h4000_0000 : mh[30:0];
          shift <= mh[31] ? sh - 6'd1 : sh;
          state <= DONE;
        end
        DONE: if (out_ready) state <= IDLE;
        default: state <= IDLE;
      endcase
    end
  end

  // leading zeros rounded down to even, so that xn keeps sqrt(x)'s scale a power of two
  function automatic logic [6:0] clz64_even(input logic [63:0] v);
    clz64_even = 7'd64;
    for (int i = 0; i < 64; i++)
      if (v[i]) clz64_even = 7'(63 - i) & 7'h7E;
  endfunction
endmodule
