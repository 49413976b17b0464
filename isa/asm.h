/* The text assembly format (docs/isa.md, "Assembly"): assembler and disassembler.
 *
 *   ; comment (also '#')            .fingerprint 0x0123456789abcdef
 *   .core 0, 0                      .framebuffer
 *   .region x, 0x0000, 256          .data x+16
 *   .bytes 00ff7f80                 label:
 *       vmm.t1 0, x+r1, w, 256, 64, i8, i4, set
 *
 * floe_disasm's output assembles back to the same program, byte for byte.
 */
#ifndef FLOE_ISA_ASM_H
#define FLOE_ISA_ASM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "isa/program.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Assembles `len` bytes of text (need not be NUL-terminated). `name` prefixes error messages, which
 * read "name:line:column: what was expected". The fingerprint comes from a .fingerprint directive or
 * from `fingerprint` (non-NULL); when both are given they must agree, and one is required. */
int floe_asm(const char *text, size_t len, const char *name, const uint64_t *fingerprint, floe_program **out,
             floe_err *err);

/* Writes p as assembly text. */
int floe_disasm(const floe_program *p, FILE *out, floe_err *err);

/* One instruction as text ("vmm.t1 0, 0x100+r1, ..."), for traces and messages. Addresses are
 * shown through p's regions of core (x, y) when p is non-NULL; a loop's body is shown as a number. */
void floe_insn_format(const floe_insn *in, const floe_program *p, unsigned x, unsigned y, char *buf, size_t n);

#ifdef __cplusplus
}
#endif

#endif
