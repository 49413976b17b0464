#include "sim/trace.h"

#include <stdio.h>

static void put_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int floe_trace_open(floe_trace *t, const char *path, double clock_hz, uint64_t max_events, floe_err *err)
{
    t->us_per_cycle = 1e6 / clock_hz;
    t->events = t->dropped = 0;
    t->max_events = max_events;
    t->first = 1;
    if (floe_afile_open(&t->file, path, err) != 0)
        return -1;
    fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", t->file.fp);
    return 0;
}

static void sep(floe_trace *t)
{
    if (!t->first)
        fputs(",\n", t->file.fp);
    t->first = 0;
}

void floe_trace_name(floe_trace *t, int pid, const char *process_name, int tid, const char *thread_name)
{
    FILE *f = t->file.fp;
    if (process_name) {
        sep(t);
        fprintf(f, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%d,\"args\":{\"name\":", pid);
        put_json_string(f, process_name);
        fprintf(f, "}},\n{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":%d,\"args\":{\"sort_index\":%d}}",
                pid, pid);
    }
    if (thread_name) {
        sep(t);
        fprintf(f, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":", pid, tid);
        put_json_string(f, thread_name);
        fputs("}}", f);
    }
}

void floe_trace_span(floe_trace *t, int pid, int tid, const char *name, const char *cat, uint64_t start,
                     uint64_t dur)
{
    if (t->max_events && t->events >= t->max_events) {
        t->dropped++;
        return;
    }
    t->events++;
    FILE *f = t->file.fp;
    sep(t);
    fputs("{\"ph\":\"X\",\"name\":", f);
    put_json_string(f, name);
    fputs(",\"cat\":", f);
    put_json_string(f, cat);
    fprintf(f, ",\"pid\":%d,\"tid\":%d,\"ts\":%.6f,\"dur\":%.6f,\"args\":{\"cycle\":%llu,\"cycles\":%llu}}", pid,
            tid, (double)start * t->us_per_cycle, (double)dur * t->us_per_cycle, (unsigned long long)start,
            (unsigned long long)dur);
}

int floe_trace_close(floe_trace *t, floe_err *err)
{
    FILE *f = t->file.fp;
    fprintf(f, "\n],\"otherData\":{\"generator\":\"floe\",\"events\":%llu,\"dropped_events\":%llu}}\n",
            (unsigned long long)t->events, (unsigned long long)t->dropped);
    return floe_afile_commit(&t->file, err);
}

void floe_trace_abort(floe_trace *t) { floe_afile_abort(&t->file); }
