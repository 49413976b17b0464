/* A plain reference interpreter of the instruction set (docs/isa.md) for one core: instructions run
 * one at a time in stream order, with no timing, no caches and no fast paths, written from the ISA
 * page alone. Random programs are run on it and on the simulator, which must agree bit for bit.
 * Covers ctrl (except wait/bar) and every core-local instruction; fbld/fbst use `fb`. */
#ifndef FLOE_TESTS_REF_INTERP_H
#define FLOE_TESTS_REF_INTERP_H

#include <stddef.h>
#include <stdint.h>

#include "isa/program.h"

typedef struct ref_core {
    uint8_t *mem;
    size_t mem_bytes;
    int32_t acc[1 << 13];
    uint8_t *fb;
    size_t fb_bytes;
} ref_core;

/* Runs the stream; returns 0, or -1 on a fault (anything out of range). */
int ref_run(ref_core *c, const floe_core_code *code);

#endif
