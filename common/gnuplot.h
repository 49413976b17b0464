/* Rendering PNG plots with gnuplot (Debian's gnuplot-nox, pngcairo terminal).
 *
 * The caller writes its data files and a gnuplot script body (without terminal or output settings);
 * floe_gnuplot_png runs gnuplot on it and renames the PNG into place only if gnuplot succeeded, so a
 * failed plot never leaves a truncated image behind.
 */
#ifndef FLOE_COMMON_GNUPLOT_H
#define FLOE_COMMON_GNUPLOT_H

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 0, or -1 with err set; FLOE_GNUPLOT_MISSING (err set) when gnuplot is not installed. */
#define FLOE_GNUPLOT_MISSING (-2)
int floe_gnuplot_png(const char *png_path, int width, int height, const char *script, floe_err *err);

/* For a plot that is a by-product of a long job (floe qat's qat.png, floe design's front.png, floe
 * run's plots): rc FLOE_GNUPLOT_MISSING becomes a warning on stderr naming the plot, and 0, so that a
 * machine without gnuplot still gets the job's results and a zero exit; any other rc is returned as
 * it is (an explicit plot, floe plot or --plot, fails instead). */
int floe_gnuplot_optional(int rc, const floe_err *err);

/* Writes `path` quoted for a gnuplot script (single quotes, '' for a quote) into out (size n). */
int floe_gnuplot_quote(char *out, size_t n, const char *path);

/* The range command for an axis whose data lie in [lo, hi], so that gnuplot never meets an empty
 * range (it would widen it and print a warning): for a constant series (lo == hi == v) writes
 * "set <axis>range [v - w:v + w]\n" into out (size n), w = |v| / 10 (positive when v is, so a log
 * axis stays valid), or 1 when v is 0; otherwise (lo < hi, or lo > hi: no data) an empty string, and
 * gnuplot autoscales. */
void floe_gnuplot_range(char *out, size_t n, const char *axis, double lo, double hi);

#ifdef __cplusplus
}
#endif

#endif
