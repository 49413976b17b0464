#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE (mmap is POSIX; these flags are not) */
#include "sim/memory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Host storage for a memory's bytes and written bits: zero-filled pages the operating system maps
 * on first touch (a whole chip's cores cost only what the program writes into them). */
static void *zeroed(uint64_t n)
{
    void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static uint64_t written_bytes(uint64_t capacity) { return sizeof(uint64_t) * ((capacity + 63) / 64 + 1); }

uint64_t floe_memory_host_bytes(uint64_t capacity) { return capacity + written_bytes(capacity); }

int floe_memory_init(floe_memory *m, const char *name, uint64_t capacity, floe_err *err)
{
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name);
    if (capacity > ((uint64_t)1 << 40))
        return floe_err_set(err, "%s: capacity of %llu bytes is beyond what the simulator models", name,
                            (unsigned long long)capacity);
    m->capacity = capacity;
    m->bytes = zeroed(capacity);
    m->written = zeroed(written_bytes(capacity));
    if (!m->bytes || !m->written) {
        floe_memory_free(m);
        return floe_err_set(err, "%s: out of host memory for %llu bytes", name, (unsigned long long)capacity);
    }
    return 0;
}

void floe_memory_free(floe_memory *m)
{
    if (m->bytes)
        munmap(m->bytes, m->capacity ? m->capacity : 1);
    if (m->written)
        munmap(m->written, written_bytes(m->capacity));
    m->bytes = NULL;
    m->written = NULL;
}

int floe_memory_move(floe_memory *to, floe_memory *from)
{
    if (to->capacity != from->capacity)
        return -1;
    if (to == from)
        return 0;
    floe_memory_free(to);
    to->bytes = from->bytes;
    to->written = from->written;
    to->high_water = from->high_water;
    from->bytes = NULL;
    from->written = NULL;
    from->high_water = 0;
    return 0;
}

int floe_memory_check(const floe_memory *m, uint64_t addr, uint64_t n, const char *what, floe_err *err)
{
    if (addr > m->capacity || n > m->capacity - addr) {
        unsigned long long end = (unsigned long long)addr + n;
        return floe_err_set(err, "%s: %s of %llu bytes at 0x%llx ends at 0x%llx, %llu bytes past the end of "
                                 "its %llu bytes",
                            m->name, what, (unsigned long long)n, (unsigned long long)addr, end,
                            end - (unsigned long long)m->capacity, (unsigned long long)m->capacity);
    }
    return 0;
}

static void mark_written(floe_memory *m, uint64_t addr, uint64_t n)
{
    uint64_t i = addr, end = addr + n;
    while (i < end && (i & 63)) {
        m->written[i >> 6] |= (uint64_t)1 << (i & 63);
        i++;
    }
    for (; i + 64 <= end; i += 64)
        m->written[i >> 6] = ~(uint64_t)0;
    for (; i < end; i++)
        m->written[i >> 6] |= (uint64_t)1 << (i & 63);
}

/* Returns the first unwritten address in [addr, addr + n), or UINT64_MAX if all are written. */
static uint64_t first_unwritten(const floe_memory *m, uint64_t addr, uint64_t n)
{
    uint64_t i = addr, end = addr + n;
    while (i < end) {
        if ((i & 63) == 0 && i + 64 <= end) {
            if (m->written[i >> 6] != ~(uint64_t)0)
                break;
            i += 64;
            continue;
        }
        if (!(m->written[i >> 6] & ((uint64_t)1 << (i & 63))))
            return i;
        i++;
    }
    for (; i < end; i++)
        if (!(m->written[i >> 6] & ((uint64_t)1 << (i & 63))))
            return i;
    return UINT64_MAX;
}

void floe_memory_note_write(floe_memory *m, uint64_t addr, uint64_t n)
{
    mark_written(m, addr, n);
    m->bytes_written += n;
    if (addr + n > m->high_water)
        m->high_water = addr + n;
}

int floe_memory_note_read(floe_memory *m, uint64_t addr, uint64_t n, int strict, floe_err *err)
{
    m->bytes_read += n;
    uint64_t bad = first_unwritten(m, addr, n);
    if (bad == UINT64_MAX)
        return 0;
    if (m->uninit_reads++ == 0)
        m->first_uninit_addr = bad;
    if (strict)
        return floe_err_set(err, "%s: read of uninitialised byte 0x%llx (in a %llu-byte read at 0x%llx)", m->name,
                            (unsigned long long)bad, (unsigned long long)n, (unsigned long long)addr);
    return 0;
}

int floe_memory_write(floe_memory *m, uint64_t addr, const void *src, uint64_t n, floe_err *err)
{
    if (floe_memory_check(m, addr, n, "write", err) != 0)
        return -1;
    if (n)
        memcpy(m->bytes + addr, src, n);
    floe_memory_note_write(m, addr, n);
    return 0;
}

int floe_memory_read(floe_memory *m, uint64_t addr, void *dst, uint64_t n, int strict, floe_err *err)
{
    if (floe_memory_check(m, addr, n, "read", err) != 0)
        return -1;
    if (floe_memory_note_read(m, addr, n, strict, err) != 0)
        return -1;
    if (n)
        memcpy(dst, m->bytes + addr, n);
    return 0;
}
