/* Large zeroed buffers backed by 2 MiB pages where the kernel has them.
 *
 * A training step of a real shape touches gigabytes of freshly allocated memory (parameters,
 * gradients, moments, activations). In 4 KiB pages that is a page fault per 4 KiB on first touch,
 * and in a virtual machine a fault costs tens of microseconds: the first FP step of smollm2-135m at
 * 512 tokens took 19 s against 2 s for the next (950,000 faults). Linux's transparent huge pages
 * in their default "madvise" mode serve only regions that ask for them, so floe_big_calloc asks
 * (madvise MADV_HUGEPAGE on the 2 MiB-aligned inside of the buffer) before anything touches it.
 * A hint only: where the kernel refuses or has no huge pages, the buffer is an ordinary calloc.
 *
 * floe_big_calloc(n, size): as calloc (NULL with errno ENOMEM when n * size overflows or memory
 * runs out; free() releases it); the hint is given for buffers of 4 MiB and more. */
#ifndef FLOE_COMMON_BIG_ALLOC_H
#define FLOE_COMMON_BIG_ALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void *floe_big_calloc(size_t n, size_t size);

/* Gives the whole pages inside [p, p + bytes) back to the system (MADV_DONTNEED): they stop counting
 * as resident and read as zero when next touched. For a part of a buffer whose content is no longer
 * needed (a teacher's logits once its head is formed elsewhere); the buffer itself stays valid. */
void floe_big_release(void *p, size_t bytes);

#ifdef __cplusplus
}
#endif

#endif
