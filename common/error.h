/* Error reporting for library code.
 *
 * Library functions never print and never exit: they return a non-zero status and describe the
 * problem in a caller-owned floe_err (which may be NULL when the caller does not care). The message
 * names the file, line and field at fault where there is one, e.g. "configs/small.csv:7: field
 * 'cores_x': expected an integer in [1, 64], got '0'". Commands print it and exit non-zero.
 */
#ifndef FLOE_COMMON_ERROR_H
#define FLOE_COMMON_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_ERR_MSG_MAX 1024

typedef struct floe_err {
    char msg[FLOE_ERR_MSG_MAX];
} floe_err;

#if defined(__GNUC__)
#define FLOE_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#define FLOE_PRINTF(fmt_idx, arg_idx)
#endif

/* Sets err->msg (if err is non-NULL) and returns -1, so `return floe_err_set(err, ...);` reads well. */
int floe_err_set(floe_err *err, const char *fmt, ...) FLOE_PRINTF(2, 3);

/* Prepends "prefix: " to an existing message (for adding the file name at an outer level). */
int floe_err_prefix(floe_err *err, const char *fmt, ...) FLOE_PRINTF(2, 3);

/* Clears the message. */
void floe_err_clear(floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
