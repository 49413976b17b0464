/* The CSV log of a training run, kept in memory and rewritten atomically. */
#include "trainer/run_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/atomic_file.h"
#include "common/file_read.h"


int floe_run_log_add(floe_run_log *l, const char *line, floe_err *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        char **p = realloc(l->lines, cap * sizeof *p);
        if (!p)
            return floe_err_set(err, "out of memory for the training log");
        l->lines = p;
        l->cap = cap;
    }
    if (!(l->lines[l->n] = strdup(line)))
        return floe_err_set(err, "out of memory for the training log");
    l->n++;
    return 0;
}

void floe_run_log_free(floe_run_log *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->lines[i]);
    free(l->lines);
}

int floe_run_log_load(floe_run_log *l, const char *path, int upto, double *seconds, floe_err *err)
{
    char *data;
    size_t len;
    floe_err ignore;
    if (floe_read_file(path, (size_t)1 << 30, &data, &len, &ignore) != 0)
        return 0; /* no earlier log: start a new one */
    int rc = 0, col = -1; /* the "seconds" column by the header (qat.csv has columns after it); else the last */
    char *save = NULL;
    for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *end;
        long step = strtol(line, &end, 10);
        if (end == line) { /* the header */
            int k = 0;
            for (const char *f = line; f; f = strchr(f, ','), f = f ? f + 1 : NULL, k++)
                if (strncmp(f, "seconds", 7) == 0 && (f[7] == ',' || f[7] == '\0'))
                    col = k;
            continue;
        }
        if (*end != ',' || step > upto)
            continue; /* rows past the checkpoint */
        char buf[512];
        snprintf(buf, sizeof buf, "%s\n", line);
        if ((rc = floe_run_log_add(l, buf, err)) != 0)
            break;
        const char *v = NULL;
        if (col >= 0) {
            v = line;
            for (int k = 0; k < col && v; k++)
                v = (v = strchr(v, ',')) ? v + 1 : NULL;
        } else if ((v = strrchr(line, ',')))
            v++;
        *seconds = v ? strtod(v, NULL) : *seconds;
    }
    free(data);
    return rc;
}

int floe_run_log_write(const floe_run_log *l, const char *path, const char *header, floe_err *err)
{
    floe_afile af;
    if (floe_afile_open(&af, path, err) != 0)
        return -1;
    fputs(header, af.fp);
    for (size_t i = 0; i < l->n; i++)
        fputs(l->lines[i], af.fp);
    return floe_afile_commit(&af, err);
}

void floe_log_printf(FILE *f, const char *fmt, ...)
{
    if (!f)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fflush(f);
}

double floe_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

