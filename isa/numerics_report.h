/* Writing the accuracy report of the numeric core (isa/numerics_check.h) as text and CSV. */
#ifndef FLOE_ISA_NUMERICS_REPORT_H
#define FLOE_ISA_NUMERICS_REPORT_H

#include <stdio.h>

#include "common/error.h"
#include "isa/numerics_check.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A fixed-width table; returns the number of rows whose error exceeds their bound. */
int floe_accuracy_print(FILE *out, const floe_accuracy_row *rows, int n);
/* CSV with a header row, written atomically. */
int floe_accuracy_write_csv(const char *path, const floe_accuracy_row *rows, int n, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
