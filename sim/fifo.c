#include "sim/fifo.h"

#include <stdlib.h>
#include <string.h>

void floe_fifo_init(floe_fifo *f) { memset(f, 0, sizeof *f); }

void floe_fifo_free(floe_fifo *f)
{
    for (size_t i = 0; i < f->count; i++)
        free(f->chunks[(f->head + i) % f->cap].data);
    free(f->chunks);
    memset(f, 0, sizeof *f);
}

int floe_fifo_push(floe_fifo *f, const void *data, uint64_t len, uint64_t arrival)
{
    if (len == 0)
        return 0;
    if (f->count == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        floe_fifo_chunk *c = malloc(cap * sizeof *c);
        if (!c)
            return -1;
        for (size_t i = 0; i < f->count; i++)
            c[i] = f->chunks[(f->head + i) % f->cap];
        free(f->chunks);
        f->chunks = c;
        f->cap = cap;
        f->head = 0;
    }
    uint8_t *copy = malloc(len);
    if (!copy)
        return -1;
    memcpy(copy, data, len);
    f->chunks[(f->head + f->count) % f->cap] = (floe_fifo_chunk){copy, len, 0, arrival};
    f->count++;
    f->bytes += len;
    return 0;
}

uint64_t floe_fifo_take(floe_fifo *f, void *out, uint64_t n)
{
    uint64_t latest = 0;
    uint8_t *o = out;
    while (n) {
        floe_fifo_chunk *c = &f->chunks[f->head];
        uint64_t k = c->len - c->off < n ? c->len - c->off : n;
        memcpy(o, c->data + c->off, k);
        o += k;
        c->off += k;
        n -= k;
        f->bytes -= k;
        latest = c->arrival > latest ? c->arrival : latest;
        if (c->off == c->len) {
            free(c->data);
            f->head = (f->head + 1) % f->cap;
            f->count--;
        }
    }
    return latest;
}
