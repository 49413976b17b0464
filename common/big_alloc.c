#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE */
#include "common/big_alloc.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE ((uintptr_t)2 << 20)

void floe_big_release(void *p, size_t bytes)
{
    const long ps = sysconf(_SC_PAGESIZE);
    const uintptr_t page = ps > 0 ? (uintptr_t)ps : 4096;
    uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1), hi = ((uintptr_t)p + bytes) & ~(page - 1);
    if (p && hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

void *floe_big_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) { /* refused here: sanitizers' calloc aborts on it */
        errno = ENOMEM;
        return NULL;
    }
    void *p = calloc(n, size);
    size_t bytes = n * size;
#ifdef MADV_HUGEPAGE
    if (p && bytes >= 2 * HUGE_PAGE) {
        /* glibc serves a request this large by a fresh mmap, untouched: the hint comes before the
         * first fault. The inside whole 2 MiB pages only: madvise wants page-aligned ranges. */
        uintptr_t lo = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
        uintptr_t hi = ((uintptr_t)p + bytes) & ~(HUGE_PAGE - 1);
        if (hi > lo)
            (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    }
#endif
    return p;
}
