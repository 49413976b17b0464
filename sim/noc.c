#include "sim/noc.h"

#include <stdlib.h>
#include <string.h>

int floe_noc_init(floe_noc_model *noc, const char *name, int cols, int rows, uint32_t width, uint32_t hop_latency,
                  floe_err *err)
{
    memset(noc, 0, sizeof *noc);
    if (cols < 1 || rows < 1 || cols > 4096 || rows > 4096)
        return floe_err_set(err, "noc %s: mesh %d x %d out of range", name, cols, rows);
    if (width == 0)
        return floe_err_set(err, "noc %s: link width must be at least 1 byte/cycle", name);
    size_t n = (size_t)cols * rows * 4;
    noc->free_at = calloc(n, sizeof *noc->free_at);
    noc->links = calloc(n, sizeof *noc->links);
    if (!noc->free_at || !noc->links) {
        floe_noc_free(noc);
        return floe_err_set(err, "noc %s: out of memory", name);
    }
    noc->name = name;
    noc->cols = cols;
    noc->rows = rows;
    noc->width = width;
    noc->hop_latency = hop_latency;
    return 0;
}

void floe_noc_free(floe_noc_model *noc)
{
    free(noc->free_at);
    free(noc->links);
    noc->free_at = NULL;
    noc->links = NULL;
}

void floe_noc_reset(floe_noc_model *noc)
{
    size_t n = (size_t)noc->cols * noc->rows * 4;
    memset(noc->free_at, 0, n * sizeof *noc->free_at);
    memset(noc->links, 0, n * sizeof *noc->links);
    noc->messages = noc->byte_hops = 0;
}

int floe_noc_hops(const floe_noc_model *noc, int src, int dst)
{
    int dx = dst % noc->cols - src % noc->cols, dy = dst / noc->cols - src / noc->cols;
    return abs(dx) + abs(dy);
}

/* The next core and the outgoing link taken from `at` towards `dst` under XY routing. */
static int step(const floe_noc_model *noc, int at, int dst, size_t *link)
{
    int x = at % noc->cols, y = at / noc->cols, tx = dst % noc->cols, ty = dst / noc->cols;
    int dir, next;
    if (x != tx) {
        dir = tx > x ? FLOE_NOC_E : FLOE_NOC_W;
        next = at + (tx > x ? 1 : -1);
    } else {
        dir = ty > y ? FLOE_NOC_S : FLOE_NOC_N;
        next = at + (ty > y ? noc->cols : -noc->cols);
    }
    *link = (size_t)at * 4 + dir;
    return next;
}

static uint64_t ser_cycles(const floe_noc_model *noc, uint64_t bytes)
{
    return (bytes + noc->width - 1) / noc->width;
}

/* Reserve one link for a head arriving no earlier than `ready`; returns the head time on the link. */
static uint64_t cross(floe_noc_model *noc, size_t link, uint64_t ready, uint64_t bytes, uint64_t S)
{
    uint64_t t = ready > noc->free_at[link] ? ready : noc->free_at[link];
    noc->free_at[link] = t + S;
    noc->links[link].bytes += bytes;
    noc->links[link].busy_cycles += S;
    noc->byte_hops += bytes;
    return t;
}

uint64_t floe_noc_send(floe_noc_model *noc, int src, int dst, uint64_t bytes, uint64_t t)
{
    if (src == dst)
        return t;
    uint64_t S = ser_cycles(noc, bytes);
    noc->messages++;
    int at = src;
    uint64_t head = t;
    int first = 1;
    while (at != dst) {
        size_t link;
        int next = step(noc, at, dst, &link);
        head = cross(noc, link, first ? head : head + noc->hop_latency, bytes, S);
        first = 0;
        at = next;
    }
    return head + noc->hop_latency + S;
}

uint64_t floe_noc_multicast(floe_noc_model *noc, int src, const int *dst, size_t n, uint64_t bytes, uint64_t t,
                            uint64_t *arrival)
{
    /* Head time at every core the tree has reached so far; UINT64_MAX = not reached. Destinations are
     * walked in the given order; a prefix of a path already in the tree is reused, not re-reserved. */
    size_t cores = (size_t)noc->cols * noc->rows;
    uint64_t *reached = malloc(cores * sizeof *reached);
    uint64_t S = ser_cycles(noc, bytes), latest = t;
    if (!reached) { /* degrade to unicasts: same arrivals or later, never wrong about data */
        for (size_t i = 0; i < n; i++) {
            uint64_t a = floe_noc_send(noc, src, dst[i], bytes, t);
            if (arrival)
                arrival[i] = a;
            latest = a > latest ? a : latest;
        }
        return latest;
    }
    for (size_t i = 0; i < cores; i++)
        reached[i] = UINT64_MAX;
    reached[src] = t;
    noc->messages++;
    for (size_t i = 0; i < n; i++) {
        int at = src;
        uint64_t head = t;
        int first = 1;
        while (at != dst[i]) {
            size_t link;
            int next = step(noc, at, dst[i], &link);
            if (reached[next] != UINT64_MAX) {
                head = reached[next];
            } else {
                head = cross(noc, link, first ? head : head + noc->hop_latency, bytes, S);
                reached[next] = head;
            }
            first = 0;
            at = next;
        }
        uint64_t a = dst[i] == src ? t : head + noc->hop_latency + S;
        if (arrival)
            arrival[i] = a;
        latest = a > latest ? a : latest;
    }
    free(reached);
    return latest;
}

uint64_t floe_noc_bisection_bytes_per_cycle(const floe_noc_model *noc)
{
    /* cut across the longer dimension: min(cols, rows) links each way */
    int across = noc->cols >= noc->rows ? noc->rows : noc->cols;
    if ((noc->cols >= noc->rows ? noc->cols : noc->rows) < 2)
        return 0;
    return (uint64_t)across * 2 * noc->width;
}
