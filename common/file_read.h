/* Reading whole files into memory. */
#ifndef FLOE_COMMON_FILE_READ_H
#define FLOE_COMMON_FILE_READ_H

#include <stddef.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads all of `path` into a malloc'ed buffer (caller frees) with a NUL byte after the data (not
 * counted in *len), so text parsers can treat it as a string. Refuses files over max_bytes. */
int floe_read_file(const char *path, size_t max_bytes, char **data, size_t *len, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
