/* A simulated memory: one core's SRAM or the chip's frame buffer (docs/sim.md, "Memory").
 *
 * Capacity is enforced (an access past the end is an error naming the memory, the address and how
 * far it overflows), every byte carries a "written" bit so reads of uninitialised memory are caught,
 * and read/written byte counts feed the energy model. Memory images in a program are loaded with
 * floe_memory_write like any other write, so they count as initialised.
 */
#ifndef FLOE_SIM_MEMORY_H
#define FLOE_SIM_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_memory {
    char name[48];       /* "core 3 (x=3, y=0) memory", "frame buffer": used in messages */
    uint8_t *bytes;      /* [capacity]; owned; zero pages the host maps on first touch */
    uint64_t *written;   /* one bit per byte; owned; likewise */
    uint64_t capacity;
    uint64_t bytes_read, bytes_written;
    uint64_t high_water; /* one past the highest byte ever written */
    uint64_t uninit_reads;      /* reads that touched unwritten bytes */
    uint64_t first_uninit_addr; /* address of the first such byte (valid if uninit_reads > 0) */
} floe_memory;

int floe_memory_init(floe_memory *m, const char *name, uint64_t capacity, floe_err *err);
/* Host address space floe_memory_init maps for a memory of `capacity` bytes (bytes and written bits;
 * pages cost host memory only once touched). */
uint64_t floe_memory_host_bytes(uint64_t capacity);
void floe_memory_free(floe_memory *m);

/* Moves the contents (bytes, written bits, high-water mark) of `from` into `to`, of equal capacity,
 * without copying: to's own are freed, `from` is left without any (bytes NULL: only
 * floe_memory_free, or a move into it, may follow). A chip that keeps its memories from one program
 * to the next hands them to the next program's simulator this way. Counts and names stay. Returns
 * 0, or -1 when the capacities differ (nothing moved). */
int floe_memory_move(floe_memory *to, floe_memory *from);

/* Checks that [addr, addr + n) lies inside the memory; returns 0, or -1 with err naming the memory,
 * the access and the bytes beyond the end. */
int floe_memory_check(const floe_memory *m, uint64_t addr, uint64_t n, const char *what, floe_err *err);

/* Writes n bytes (marks them initialised). */
int floe_memory_write(floe_memory *m, uint64_t addr, const void *src, uint64_t n, floe_err *err);
/* Reads n bytes; an unwritten byte is counted in uninit_reads (the data read is zero), and when
 * strict is non-zero it is also an error naming the address. */
int floe_memory_read(floe_memory *m, uint64_t addr, void *dst, uint64_t n, int strict, floe_err *err);

/* Direct pointers for the functional units after a successful check (no counting, no init
 * tracking): for reads call floe_memory_note_read first, for writes floe_memory_note_write after. */
static inline uint8_t *floe_memory_ptr(floe_memory *m, uint64_t addr) { return m->bytes + addr; }
int floe_memory_note_read(floe_memory *m, uint64_t addr, uint64_t n, int strict, floe_err *err);
void floe_memory_note_write(floe_memory *m, uint64_t addr, uint64_t n);

#ifdef __cplusplus
}
#endif

#endif
