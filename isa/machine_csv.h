/* The key,value[,comment] CSV format shared by machine descriptions (isa/machine.h) and energy
 * tables (isa/energy_table.h); docs/machine.md describes it.
 *
 * One record per line: `key,value` or `key,value,comment`. Lines whose first non-blank character is
 * '#' and blank lines are ignored; an optional first record `key,value,comment` (or `key,value`) is a
 * header. Quoting follows RFC 4180 (libcsv, strict mode), so a comment may contain commas or even
 * newlines when quoted. Every key of the schema must appear exactly once.
 *
 * A schema is a table of floe_kv_key: each names a field of a C struct (by offset) holding a uint64_t
 * (FLOE_KV_INT) or a double (FLOE_KV_REAL) and its accepted range. Errors read
 * "FILE:LINE: field 'KEY': ...", LINE being the line on which the record starts.
 */
#ifndef FLOE_ISA_MACHINE_CSV_H
#define FLOE_ISA_MACHINE_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { FLOE_KV_INT, FLOE_KV_REAL } floe_kv_type;

typedef struct floe_kv_key {
    const char *name;  /* the key as written in the file */
    floe_kv_type type; /* INT: uint64_t field, decimal digits only; REAL: double field, finite */
    size_t offset;     /* offsetof the field in the target struct */
    double min, max;   /* accepted range, inclusive (integers compared exactly up to 2^53) */
    const char *unit;  /* "bytes/cycle", "pJ", ... */
    const char *help;  /* one line: what the figure means */
} floe_kv_key;

/* Largest accepted file: description files are a few kilobytes. */
#define FLOE_KV_MAX_FILE_BYTES (1u << 20)

/* Reads `path` into the struct at `out` according to keys[0..n). On failure returns -1 with err set;
 * *out is then unspecified. */
int floe_kv_load(const char *path, const floe_kv_key *keys, size_t n, void *out, floe_err *err);

/* Same, from a buffer in memory; `name` stands for the file name in messages. */
int floe_kv_parse(const char *name, const char *data, size_t len, const floe_kv_key *keys, size_t n, void *out,
                  floe_err *err);

/* Writes every key as `key,value,"unit; help"` under a header, atomically (temp file + rename), after
 * `comment` (each of its lines prefixed with "# "; may be NULL). Reading the file back gives the same
 * values; the struct is range-checked first so a file that would not load is never written. */
int floe_kv_write(const char *path, const char *comment, const floe_kv_key *keys, size_t n, const void *obj,
                  floe_err *err);

/* Range-checks every key of a struct filled by code rather than a file; messages start "WHAT: ". */
int floe_kv_check(const char *what, const floe_kv_key *keys, size_t n, const void *obj, floe_err *err);

/* The value of one key in `obj`, as a double (exact for integers up to 2^53). */
double floe_kv_get(const void *obj, const floe_kv_key *key);

/* Formats the value of one key canonically (integers in decimal, reals in the shortest
 * %g form that reads back to the same double) into buf. */
void floe_kv_format(char *buf, size_t n, const void *obj, const floe_kv_key *key);

/* FNV-1a 64 over `domain`, then for every key in table order: its name, a NUL byte and its value as 8
 * little-endian bytes (the uint64_t, or the IEEE-754 bits of the double with -0 folded to +0). */
uint64_t floe_kv_fingerprint(const char *domain, const floe_kv_key *keys, size_t n, const void *obj);

#ifdef __cplusplus
}
#endif

#endif
