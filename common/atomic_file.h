/* Atomic output files: nothing half-written is ever left behind.
 *
 * A file is written to a temporary sibling ("<path>.floe-tmp.XXXXXX"), flushed and fsync'ed, then
 * renamed over <path> and the directory fsync'ed. A reader sees either the old file or the whole new
 * one; an error leaves the old file (or no file) and no temporary. A process killed mid-write leaves
 * its temporary; the next atomic write into the same folder removes it. The writer holds an
 * exclusive flock(2) on its temporary until it is renamed, so a temporary that can be locked has no
 * live writer, and one being written by another process is left alone.
 *
 * Ownership: floe_afile owns its FILE* and both path strings until commit or abort, which release
 * them. Exactly one of the two must be called for every successful open.
 */
#ifndef FLOE_COMMON_ATOMIC_FILE_H
#define FLOE_COMMON_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What marks the atomic writer's temporaries: "<path>" FLOE_TMP_MARK "XXXXXX". */
#define FLOE_TMP_MARK ".floe-tmp."

typedef struct floe_afile {
    FILE *fp;        /* write through this */
    char *path;      /* final name */
    char *tmp_path;  /* temporary name in the same directory */
} floe_afile;

/* Opens a temporary file next to `path`. Returns 0, or -1 with err set. */
int floe_afile_open(floe_afile *af, const char *path, floe_err *err);

/* Flushes, fsyncs and renames into place. On failure the temporary is removed and -1 returned. */
int floe_afile_commit(floe_afile *af, floe_err *err);

/* Discards the temporary. Safe to call on a zeroed or already finished floe_afile. */
void floe_afile_abort(floe_afile *af);

/* mkstemp creates files readable only by their owner; outputs should get the usual 0666 & ~umask.
 * Applies that mode to an open temporary file. */
void floe_afile_set_default_mode(int fd);

/* Writes `n` bytes atomically to `path`. */
int floe_write_file_atomic(const char *path, const void *data, size_t n, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
