/* Shared helpers for Floe's cmocka tests. Include after <cmocka.h>'s prerequisites. */
#ifndef FLOE_TESTS_TEST_UTIL_H
#define FLOE_TESTS_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
