/* The binary program container, ".flp" (docs/isa.md, "Container").
 *
 * Little-endian. A 32-byte header (magic "FLOEPRG\0", version, section count, machine fingerprint,
 * CRC-32 of the section table, CRC-32 of the header), a table of 32-byte section entries (kind,
 * place, offset, length, image address, CRC-32 of the payload), then the payloads, each padded with
 * zeros to a multiple of 8 bytes. Sections: one CODE per core with code, one IMAGE per memory image,
 * at most one SYMBOLS.
 *
 * The reader trusts nothing: every count, length and offset is checked against the bytes actually
 * there before use, so a truncated, corrupted or hostile file gives an error, never a crash or an
 * out-of-bounds read.
 */
#ifndef FLOE_ISA_CONTAINER_H
#define FLOE_ISA_CONTAINER_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "isa/program.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_CONTAINER_MAGIC "FLOEPRG"   /* 8 bytes with the terminating NUL */
#define FLOE_CONTAINER_VERSION 1
#define FLOE_CONTAINER_MAX_BYTES ((size_t)1 << 30)

enum { FLOE_SECTION_CODE = 1, FLOE_SECTION_IMAGE = 2, FLOE_SECTION_SYMBOLS = 3 };

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32). */
uint32_t floe_crc32(const void *data, size_t n);

/* Serialises p (validated first) into a malloc'ed buffer the caller frees. */
int floe_program_write(const floe_program *p, uint8_t **buf, size_t *len, floe_err *err);
/* Writes p to path atomically. */
int floe_program_save(const floe_program *p, const char *path, floe_err *err);

/* Parses a container. With expect_fingerprint non-NULL, a program built for another machine is
 * refused. On success *out is a new program (caller frees). */
int floe_program_read(const uint8_t *buf, size_t len, const uint64_t *expect_fingerprint, floe_program **out,
                      floe_err *err);
/* Reads a container file; error messages start with the path. */
int floe_program_load(const char *path, const uint64_t *expect_fingerprint, floe_program **out, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
