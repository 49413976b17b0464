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

#ifdef __cplusplus
}
#endif

#endif
