/* The per-step CSV log of a training run (FP or QAT): rows kept in memory, the file rewritten
 * atomically, and a resumed run keeping the earlier file's rows up to the step it resumes from. */
#ifndef FLOE_TRAINER_RUN_LOG_H
#define FLOE_TRAINER_RUN_LOG_H

#include <stddef.h>

#include <stdio.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_run_log {
    char **lines; /* each ends in a newline; owned */
    size_t n, cap;
} floe_run_log;

int floe_run_log_add(floe_run_log *l, const char *line, floe_err *err);
void floe_run_log_free(floe_run_log *l);
/* Appends the rows of an earlier log at path whose step (first field) is <= upto; *seconds gets the
 * last such row's "seconds" column as the header names it (the final field when no header says so):
 * the elapsed seconds a resumed run continues from. A missing file is no error. */
int floe_run_log_load(floe_run_log *l, const char *path, int upto, double *seconds, floe_err *err);
int floe_run_log_write(const floe_run_log *l, const char *path, const char *header, floe_err *err);
/* Monotonic seconds. */
double floe_now_s(void);

/* printf to f and flush, when f is not NULL (a job's narrative: trainer/qat_job.h). */
void floe_log_printf(FILE *f, const char *fmt, ...) FLOE_PRINTF(2, 3);

#ifdef __cplusplus
}
#endif

#endif
