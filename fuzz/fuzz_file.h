/* For fuzz targets whose loader reads a path: a private folder per process (removed at exit) and the
 * input written to a file in it. Aborts on a host error (a full disk is not a finding). */
#ifndef FLOE_FUZZ_FILE_H
#define FLOE_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir_path[64];

static inline void fuzz_dir_remove(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir_path);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", fuzz_dir_path);
}

/* The process's folder, created on first use. */
static inline const char *fuzz_dir(void)
{
    if (!fuzz_dir_path[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%.40s/floe-fuzz-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
        if (!mkdtemp(fuzz_dir_path)) {
            perror("mkdtemp");
            abort();
        }
        atexit(fuzz_dir_remove);
    }
    return fuzz_dir_path;
}

/* fuzz_dir()/name, in out (n bytes). */
static inline const char *fuzz_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", fuzz_dir(), name);
    return out;
}

/* Writes data to fuzz_dir()/name; returns the path (in out). */
static inline const char *fuzz_write(char *out, size_t n, const char *name, const uint8_t *data, size_t size)
{
    fuzz_path(out, n, name);
    FILE *f = fopen(out, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        perror(out);
        abort();
    }
    return out;
}

/* The bytes of a file (malloc'ed, *n set), or NULL. */
static inline uint8_t *fuzz_slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *b = NULL;
    size_t cap = 0;
    *n = 0;
    for (;;) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 4096;
            uint8_t *nb = realloc(b, cap);
            if (!nb)
                abort();
            b = nb;
        }
        size_t got = fread(b + *n, 1, cap - *n, f);
        *n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    return b;
}

static inline void fuzz_require(int ok, const char *what, const char *msg)
{
    if (!ok) {
        fprintf(stderr, "fuzz invariant violated: %s%s%s\n", what, msg ? ": " : "", msg ? msg : "");
        abort();
    }
}

#endif
