/* Shared helpers for Floe's cmocka tests. Include after <cmocka.h>'s prerequisites. */
#ifndef FLOE_TESTS_TEST_UTIL_H
#define FLOE_TESTS_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A fresh empty directory under the build tree (or /tmp) for this test's files; returns a static
 * buffer valid until the next call. */
static inline const char *floe_test_tmpdir(const char *name)
{
    static char path[4096];
    const char *base = getenv("FLOE_BINARY_DIR");
    snprintf(path, sizeof path, "%s/test-tmp/%s", base ? base : "/tmp", name);
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", path, path);
    if (system(cmd) != 0)
        fail_msg("cannot create %s", path);
    return path;
}

/* Path of the `floe` executable of this build. */
static inline const char *floe_test_exe(void)
{
    static char path[4096];
    const char *base = getenv("FLOE_BINARY_DIR");
    snprintf(path, sizeof path, "%s/floe", base ? base : ".");
    return path;
}

/* Runs a shell command, capturing stdout+stderr into out (NUL-terminated, truncated to n). Returns
 * the exit status (or -1). */
static inline int floe_test_run(char *out, size_t n, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    strncat(cmd, " 2>&1", sizeof cmd - strlen(cmd) - 1);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t got = 0;
    if (out && n) {
        got = fread(out, 1, n - 1, p);
        out[got] = '\0';
    }
    char sink[4096];
    while (fread(sink, 1, sizeof sink, p) > 0) {
    }
    int st = pclose(p);
    return (st >= 0 && (st & 0x7f) == 0) ? (st >> 8) & 0xff : -1;
}

/* Sends this process's stderr (and that of the programs it starts, e.g. gnuplot) to `path` until
 * floe_test_stderr_end; returns the saved descriptor to hand to floe_test_stderr_end. */
static inline int floe_test_stderr_begin(const char *path)
{
    fflush(stderr);
    int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (saved < 0 || fd < 0 || dup2(fd, 2) < 0)
        fail_msg("cannot send stderr to %s", path);
    close(fd);
    return saved;
}

/* Restores stderr and returns the size of what was written to `path` meanwhile (-1 on error); the
 * text goes to text (NUL-terminated, truncated to n) when text is not NULL. */
static inline long floe_test_stderr_end(int saved, const char *path, char *text, size_t n)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char buf[4096];
    size_t got, total = 0;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        if (text && total < n)
            memcpy(text + total, buf, got < n - total ? got : n - total);
        total += got;
    }
    fclose(f);
    if (text && n)
        text[total < n ? total : n - 1] = '\0';
    return (long)total;
}

/* The teacher of the quantization CLI tests: `floe train` of config tiny for 20 steps on the
 * generated corpus into DIR/t; its checkpoint's path goes to ckpt. */
static inline void floe_test_tiny_teacher(char *ckpt, size_t n, const char *dir)
{
    static char log[1 << 14];
    if (floe_test_run(log, sizeof log,
                      "%s train --model tiny --corpus generated:200 --batch 2 --context 32 --steps 20 --threads 1 "
                      "--out %s/t",
                      floe_test_exe(), dir) != 0)
        fail_msg("training the tiny teacher: %s", log);
    snprintf(ckpt, n, "%s/t/ckpt-000020.safetensors", dir);
}

#endif
