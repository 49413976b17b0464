// mult_mul_pkg: the contract's product of two requantization multipliers, `floe_requant_mult_mul`
// (docs/numerics.md §2, isa/requant.h), written once for the RTL: the multmul unit computes it in
// two stages (the product and the shift sum | mult_mul_norm), the core's rmsnorm and rmsnormt compose
// r x c[j] with mult_mul in one combinational step in front of the requant unit.
//
// For a = {am, ash} and b = {bm, bsh} (m < 2^31, shift 0..62): the 62-bit product am x bm
// renormalised to a 31-bit mantissa with one round half up, the shift the sum less the bits dropped;
// denormalised at shift 62; a rounding carry into bit 31 renormalises once more; a product 0 gives
// {0, 0} and a negative shift {2^31 - 1, 0} (the saturated multiplier). Results are {shift, m}.
package mult_mul_pkg;
  // {shift, m} of the product p = am x bm (< 2^62) with the shift sum s = ash + bsh (0..124)
  function automatic logic [36:0] mult_mul_norm(input logic [61:0] p, input logic [6:0] s);
    logic [63:0] q;
    logic signed [9:0] sh;
    logic [6:0] bl, r;
    sh = 10'(s);
    bl = 7'd0;
    for (int i = 0; i < 62; i++)
      if (p[i]) bl = 7'(i + 1);
    r = bl > 7'd31 ? bl - 7'd31 : 7'd0;
    if (sh - 10'($signed({1'b0, r})) > 10'sd62) r = 7'(sh - 10'sd62);  // denormalise
    q = r == 7'd0 ? 64'(p) : (64'(p) >> r) + ((64'(p) >> (r - 7'd1)) & 64'd1);
    sh = sh - 10'($signed({1'b0, r}));
    if (q[31]) begin                     // rounding carried into bit 31
      q = q >> 1;
      sh = sh - 10'sd1;
    end
    if (p == 62'd0) mult_mul_norm = 37'd0;
    else if (sh < 10'sd0) mult_mul_norm = {6'd0, 31'h7fffffff};
    else mult_mul_norm = {sh[5:0], q[30:0]};
  endfunction

  // {shift, m} of {am, ash} x {bm, bsh}
  function automatic logic [36:0] mult_mul(input logic [30:0] am, input logic [5:0] ash, input logic [30:0] bm,
                                           input logic [5:0] bsh);
    mult_mul = mult_mul_norm(62'(am) * 62'(bm), 7'(ash) + 7'(bsh));
  endfunction
endpackage
