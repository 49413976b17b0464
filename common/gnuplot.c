#include "common/gnuplot.h"

#include "common/atomic_file.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

int floe_gnuplot_quote(char *out, size_t n, const char *path)
{
    size_t j = 0;
    if (n < 3)
        return -1;
    out[j++] = '\'';
    for (const char *p = path; *p; p++) {
        if (j + 3 >= n)
            return -1;
        if (*p == '\'')
            out[j++] = '\'';
        out[j++] = *p;
    }
    out[j++] = '\'';
    out[j] = '\0';
    return 0;
}

void floe_gnuplot_range(char *out, size_t n, const char *axis, double lo, double hi)
{
    if (n == 0)
        return;
    out[0] = '\0';
    if (lo != hi)
        return;
    double w = lo == 0.0 ? 1.0 : fabs(lo) / 10.0;
    snprintf(out, n, "set %srange [%.9g:%.9g]\n", axis, lo - w, lo + w);
}

int floe_gnuplot_png(const char *png_path, int width, int height, const char *script, floe_err *err)
{
    /* gnuplot writes the atomic writer's temporary by name; this process keeps it locked (so a later
     * writer of png_path removes it only once this process is gone) and renames it into place. */
    char qtmp[8300];
    floe_afile af;
    if (floe_afile_open(&af, png_path, err) != 0)
        return -1;
    if (floe_gnuplot_quote(qtmp, sizeof qtmp, af.tmp_path) != 0) {
        floe_afile_abort(&af);
        return floe_err_set(err, "%s: path too long", png_path);
    }
    FILE *gp = popen("gnuplot", "w"); /* its own messages go to our stderr */
    if (!gp) {
        floe_afile_abort(&af);
        return floe_err_set(err, "%s: cannot start gnuplot: %s", png_path, strerror(errno));
    }
    /* A shell that found no gnuplot exits at once; writing to it then raises SIGPIPE, which would kill
     * this process (a race that a long script always loses). Blocked here, the write fails with EPIPE
     * instead and pclose reports the shell's status; a SIGPIPE left pending for this thread is taken. */
    sigset_t pipe_set, old_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    fprintf(gp, "set terminal pngcairo size %d,%d font 'sans,10' noenhanced\nset output %s\n%s\nunset output\n",
            width, height, qtmp, script);
    int st = pclose(gp);
    sigset_t pending;
    if (!sigismember(&old_set, SIGPIPE) && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
        const struct timespec now = {0, 0};
        sigtimedwait(&pipe_set, NULL, &now);
    }
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        floe_afile_abort(&af);
        if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 127) {
            floe_err_set(err, "%s: gnuplot not found (install gnuplot-nox: scripts/setup.sh)", png_path);
            return FLOE_GNUPLOT_MISSING;
        }
        return floe_err_set(err, "%s: gnuplot failed (exit status %d)", png_path,
                            st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    return floe_afile_commit(&af, err);
}

int floe_gnuplot_optional(int rc, const floe_err *err)
{
    if (rc != FLOE_GNUPLOT_MISSING)
        return rc;
    fprintf(stderr, "warning: %s; the plot was skipped\n", err->msg);
    return 0;
}
