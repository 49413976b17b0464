#include "cli/numerics_plot.h"

#include <math.h>
#include <stdio.h>

#include "common/atomic_file.h"
#include "common/gnuplot.h"
#include "common/path.h"
#include "isa/numerics.h"

static double silu_fn(double x, const void *ctx)
{
    (void)ctx;
    return floe_silu_ref(x);
}

/* Opens DIR/name for writing; the caller fills it and commits. */
static int open_data(floe_afile *af, const char *dir, const char *name, char *path, size_t n, floe_err *err)
{
    if (floe_path_join(path, n, dir, name) != 0)
        return floe_err_set(err, "%s: path too long", dir);
    return floe_afile_open(af, path, err);
}

static int render(const char *dir, const char *png, const char *script, floe_err *err)
{
    char path[4096];
    if (floe_path_join(path, sizeof path, dir, png) != 0)
        return floe_err_set(err, "%s: path too long", dir);
    return floe_gnuplot_png(path, 900, 520, script, err);
}

int floe_numerics_plot(const char *dir, floe_err *err)
{
    if (floe_mkdir_p(dir, err) != 0)
        return -1;
    char path[4096], q[8300], script[28000]; /* room for three quoted paths */
    floe_afile af;

    /* exp2: every input with a non-zero output */
    if (open_data(&af, dir, "numerics_exp2.dat", path, sizeof path, err) != 0)
        return -1;
    fprintf(af.fp, "# x_real integer_q15 exact_q15 error_lsb\n");
    for (int32_t x = 0; x >= -17 * 256; x--) {
        double exact = ldexp(exp2(x / 256.0), 15);
        uint32_t y = floe_exp2_neg(x);
        fprintf(af.fp, "%.6f %u %.6f %.6f\n", x / 256.0, y, exact, y - exact);
    }
    if (floe_afile_commit(&af, err) != 0)
        return -1;
    floe_gnuplot_quote(q, sizeof q, path);
    snprintf(script, sizeof script,
             "set title 'softmax exponential: exp2(x) in Q15 (docs/numerics.md section 5)'\n"
             "set xlabel 'x (log2 domain)'\nset ylabel 'value (Q15 LSB)'\nset y2label 'error (LSB)'\n"
             "set ytics nomirror\nset y2tics\nset y2range [-1:1]\nset grid\nset key top left\n"
             "plot %s u 1:3 w l lw 2 t 'exact 2^15 * 2^x', %s u 1:2 w l dt 2 t 'integer exp2', "
             "%s u 1:4 axes x1y2 w p pt 7 ps 0.2 t 'error (right axis)'\n",
             q, q, q);
    /* without gnuplot every data file is still written, and the result says the plots are missing */
    int rc = render(dir, "numerics_exp2.png", script, err), missing = rc == FLOE_GNUPLOT_MISSING;
    if (rc != 0 && !missing)
        return -1;

    /* SiLU through an interpolated int16 table, s_in = s_out = 2^-11 */
    floe_lut16 t;
    const double s = 1.0 / 2048;
    floe_lut16_build(&t, silu_fn, NULL, s, s, 16);
    if (open_data(&af, dir, "numerics_silu.dat", path, sizeof path, err) != 0)
        return -1;
    fprintf(af.fp, "# x_real integer_real exact_real error_lsb\n");
    for (int x = -32768; x < 32768; x += 4) {
        int32_t y = floe_lut16_apply(&t, (int16_t)x);
        double exact = floe_silu_ref(x * s);
        fprintf(af.fp, "%.6f %.6f %.6f %.6f\n", x * s, y * s, exact, y - exact / s);
    }
    if (floe_afile_commit(&af, err) != 0)
        return -1;
    floe_gnuplot_quote(q, sizeof q, path);
    snprintf(script, sizeof script,
             "set title 'SiLU through a 257-knot interpolated int16 table, s_in = s_out = 2^-11'\n"
             "set xlabel 'x'\nset ylabel 'silu(x)'\nset y2label 'error (LSB)'\nset ytics nomirror\n"
             "set y2tics\nset y2range [-2:2]\nset grid\nset key top left\n"
             "plot %s u 1:3 w l lw 2 t 'silu(x)', %s u 1:2 w l dt 2 t 'integer table', "
             "%s u 1:4 axes x1y2 w p pt 7 ps 0.2 t 'error (right axis)'\n",
             q, q, q);
    rc = render(dir, "numerics_silu.png", script, err);
    missing |= rc == FLOE_GNUPLOT_MISSING;
    if (rc != 0 && rc != FLOE_GNUPLOT_MISSING)
        return -1;

    /* reciprocal and rsqrt: error of the mantissa in LSB, log-spaced inputs */
    if (open_data(&af, dir, "numerics_recip.dat", path, sizeof path, err) != 0)
        return -1;
    fprintf(af.fp, "# x recip_error_lsb rsqrt_error_lsb\n");
    for (double lx = 0; lx < 32; lx += 1.0 / 64) {
        uint32_t x = (uint32_t)floor(exp2(lx));
        floe_requant_mult a = floe_recip_u32(x), b = floe_rsqrt_u64(x);
        fprintf(af.fp, "%u %.6f %.6f\n", x, (double)((long double)a.m - ldexpl(1.0L / x, a.shift)),
                (double)((long double)b.m - ldexpl(1.0L / sqrtl((long double)x), b.shift)));
    }
    if (floe_afile_commit(&af, err) != 0)
        return -1;
    floe_gnuplot_quote(q, sizeof q, path);
    snprintf(script, sizeof script,
             "set title 'exactly rounded reciprocal and rsqrt: mantissa error (docs/numerics.md section 4)'\n"
             "set xlabel 'x'\nset logscale x 2\nset ylabel 'error (LSB of the 31-bit mantissa)'\n"
             "set yrange [-0.6:0.6]\nset grid\nset key bottom right\n"
             "plot %s u 1:2 w p pt 7 ps 0.3 t 'recip', %s u 1:3 w p pt 7 ps 0.3 t 'rsqrt'\n",
             q, q);
    rc = render(dir, "numerics_recip.png", script, err);
    return rc != 0 ? rc : missing ? FLOE_GNUPLOT_MISSING : 0;
}
