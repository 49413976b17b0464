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

int floe_gnuplot_png(const char *png_path, int width, int height, const char *script, floe_err *err);

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
