/* Directories for command outputs. */
#ifndef FLOE_COMMON_PATH_H
#define FLOE_COMMON_PATH_H

#include <stddef.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* mkdir -p: creates `path` and its missing parents (mode 0777 & umask). */
int floe_mkdir_p(const char *path, floe_err *err);

/* Joins dir and name with one '/' into out (size n). Returns -1 if it does not fit. */
int floe_path_join(char *out, size_t n, const char *dir, const char *name);

#ifdef __cplusplus
}
#endif

#endif
