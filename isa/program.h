/* A program in memory (docs/isa.md, "Programs"): per-core instruction streams, memory images and
 * symbols, bound to one machine by its fingerprint.
 *
 * A core is named by its grid coordinates (x, y), each 0..255; (FLOE_FB, FLOE_FB) names the frame
 * buffer, which has images and regions but no code. The program keeps cores, images and symbols in
 * one canonical order (cores by (y, x) with the frame buffer last; images by place and address;
 * symbols by place, kind, value and name), so equal programs serialise to equal bytes whatever
 * order the compiler or the assembler produced them in.
 *
 * Ownership: the program owns every array and image buffer; floe_program_free releases them all.
 * The builder API (isa/builder.h) is how code adds to a program.
 */
#ifndef FLOE_ISA_PROGRAM_H
#define FLOE_ISA_PROGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "isa/insn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_FB 0xFFFFu             /* the frame buffer's pseudo-coordinate */
#define FLOE_NAME_MAX 63 /* symbol names: 1..63 bytes of [A-Za-z0-9_.], not starting with a digit or ".L", not r0..r7 */
#define FLOE_CORE_MEM_LIMIT (1u << FLOE_MEM_ADDR_BITS) /* addressable bytes of core memory */

typedef struct floe_core_code {
    uint16_t x, y;
    size_t n, cap;
    floe_insn *insns;
} floe_core_code;

typedef struct floe_image {
    uint16_t x, y;      /* a core, or (FLOE_FB, FLOE_FB) */
    uint32_t addr;      /* byte address in that core's memory or the frame buffer */
    size_t len;         /* >= 1 */
    uint8_t *bytes;     /* owned */
} floe_image;

typedef enum floe_sym_kind { FLOE_SYM_REGION = 1, FLOE_SYM_LABEL = 2 } floe_sym_kind;

typedef struct floe_symbol {
    uint16_t x, y;
    uint8_t kind;                  /* floe_sym_kind */
    char name[FLOE_NAME_MAX + 1];
    uint32_t value;                /* region: base address; label: instruction index in the core's stream */
    uint32_t size;                 /* region: bytes; label: 0 */
} floe_symbol;

typedef struct floe_program {
    uint64_t fingerprint;          /* floe_machine_fingerprint() of the machine it was compiled for */
    size_t ncores, cap_cores;
    floe_core_code *cores;
    size_t nimages, cap_images;
    floe_image *images;
    size_t nsymbols, cap_symbols;
    floe_symbol *symbols;
} floe_program;

floe_program *floe_program_new(uint64_t fingerprint);
void floe_program_free(floe_program *p);

/* The code of core (x, y), or NULL when it has none (create = 0) or on allocation failure. With
 * create, an empty stream is added in canonical position; earlier pointers stay valid only until
 * the next core is created. */
floe_core_code *floe_program_core(floe_program *p, unsigned x, unsigned y, int create);

/* Is (x, y) a core (0..255 each) or the frame buffer? */
int floe_place_valid(unsigned x, unsigned y);
/* Is `name` (len bytes) a valid symbol name? */
int floe_name_valid(const char *name, size_t len);

/* Adds an image (data copied). Refuses an empty image, one past the end of the address space, or
 * one overlapping another image of the same place. */
int floe_program_add_image(floe_program *p, unsigned x, unsigned y, uint32_t addr, const void *data,
                           size_t len, floe_err *err);
/* Adds a symbol. Refuses a bad name, a name already used in that place, a region past the end of
 * the address space, or a label in the frame buffer. */
int floe_program_add_symbol(floe_program *p, unsigned x, unsigned y, floe_sym_kind kind, const char *name,
                            uint32_t value, uint32_t size, floe_err *err);
/* The symbols of place (x, y) are symbols[*first .. *end) (they are sorted by place first). */
void floe_program_symbols_of(const floe_program *p, unsigned x, unsigned y, size_t *first, size_t *end);
/* The symbol `name` of place (x, y), or NULL. */
const floe_symbol *floe_program_symbol(const floe_program *p, unsigned x, unsigned y, const char *name,
                                       size_t len);

/* Checks what single instructions cannot: every loop body lies inside its stream, is made of the
 * loop's own thread and nests properly inside enclosing loops; labels point inside (or just past)
 * their stream; every instruction is valid. Returns 0 or -1 naming the core and instruction. */
int floe_program_validate(const floe_program *p, floe_err *err);

/* The same checks for one core's stream; on failure *bad (if non-NULL) gets the index of the
 * offending instruction. */
int floe_core_validate(const floe_core_code *cc, size_t *bad, floe_err *err);

/* Total instruction count over all cores. */
size_t floe_program_insn_count(const floe_program *p);

#ifdef __cplusplus
}
#endif

#endif
