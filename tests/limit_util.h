/* Tests' address-space limit: runs a loader in a child process whose address space (RLIMIT_AS) is
 * limited, so a loader that allocates what a hostile file declares fails the test with "out of
 * memory" (or dies) instead of passing slowly. The child's error message comes back to the parent.
 *
 * Under AddressSanitizer, whose shadow memory alone needs terabytes of address space, the child runs
 * without the limit: the error message is still checked, the allocation bound is the gcc build's. */
#ifndef FLOE_TESTS_LIMIT_UTIL_H
#define FLOE_TESTS_LIMIT_UTIL_H

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "tests/test_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define FLOE_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FLOE_TEST_ASAN 1
#endif
#endif
#ifndef FLOE_TEST_ASAN
#define FLOE_TEST_ASAN 0
#endif

/* Address space a limited child may map beyond what it has at the fork: a loader that allocated by a
 * hostile file's word (gigabytes) does not fit. */
#define FLOE_TEST_AS_LIMIT (512ull << 20)

typedef int (*floe_test_limited_fn)(void *arg, floe_err *err);

/* Bytes of address space this process maps now (/proc/self/statm), 0 if unknown. What the test
 * binary's libraries and threads already hold varies with the host (OpenBLAS starts a thread per
 * core), so the limit is set above it. */
static inline unsigned long long floe_test_mapped_bytes(void)
{
    unsigned long long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%llu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return pages * (unsigned long long)sysconf(_SC_PAGESIZE);
}

/* Runs fn(arg, err) in a child that may map at most `bytes` more address space than it holds at the
 * fork. Returns fn's result (0 or -1) with its error message in msg, or fails the test when the
 * child dies or cannot report. */
static inline int floe_test_run_limited(unsigned long long bytes, floe_test_limited_fn fn, void *arg, char *msg,
                                        size_t n)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        if (!FLOE_TEST_ASAN) {
            const unsigned long long lim = floe_test_mapped_bytes() + bytes;
            struct rlimit rl = {lim, lim};
            if (setrlimit(RLIMIT_AS, &rl) != 0)
                _exit(3);
        }
        floe_err err;
        memset(&err, 0, sizeof err);
        int rc = fn(arg, &err);
        size_t len = strlen(err.msg);
        if (write(fd[1], err.msg, len) != (ssize_t)len)
            _exit(4);
        _exit(rc == 0 ? 0 : 1);
    }
    close(fd[1]);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < n && (r = read(fd[0], msg + got, n - 1 - got)) > 0)
        got += (size_t)r;
    msg[got] = '\0';
    close(fd[0]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st))
        fail_msg("the limited child died (signal %d); its message: %s", WIFSIGNALED(st) ? WTERMSIG(st) : 0, msg);
    if (WEXITSTATUS(st) > 1)
        fail_msg("the limited child could not run (status %d)", WEXITSTATUS(st));
    return WEXITSTATUS(st) == 0 ? 0 : -1;
}

#endif
