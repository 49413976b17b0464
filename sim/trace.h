/* Chrome trace-event JSON timelines (the format Perfetto and chrome://tracing open).
 *
 * One process per core ("core 3 (x=3, y=0)"), one thread per unit ("vmm", "vector", ...): each busy
 * interval of a unit is a complete event ("ph":"X") with its start and duration converted from
 * cycles to microseconds at the machine's clock. The file is written atomically when closed; a trace
 * over max_events keeps the first max_events and says how many it dropped in its metadata.
 */
#ifndef FLOE_SIM_TRACE_H
#define FLOE_SIM_TRACE_H

#include <stdint.h>

#include "common/atomic_file.h"
#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_trace {
    floe_afile file;
    double us_per_cycle;
    uint64_t events, max_events, dropped;
    int first;
} floe_trace;

/* Opens `path`; clock_hz converts cycles to time. max_events = 0 means no limit. */
int floe_trace_open(floe_trace *t, const char *path, double clock_hz, uint64_t max_events, floe_err *err);
/* Names a track: process `pid` (a core) and thread `tid` (a unit). */
void floe_trace_name(floe_trace *t, int pid, const char *process_name, int tid, const char *thread_name);
/* A busy interval [start, start + dur) in cycles; name and category are JSON-escaped. */
void floe_trace_span(floe_trace *t, int pid, int tid, const char *name, const char *cat, uint64_t start,
                     uint64_t dur);
/* Writes the closing bracket and commits the file. */
int floe_trace_close(floe_trace *t, floe_err *err);
/* Discards the file. */
void floe_trace_abort(floe_trace *t);

#ifdef __cplusplus
}
#endif

#endif
