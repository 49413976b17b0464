#include "common/gnuplot.h"

#include "common/atomic_file.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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
    char tmp[4096], qtmp[8300];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", png_path) >= (int)sizeof tmp)
        return floe_err_set(err, "%s: path too long", png_path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return floe_err_set(err, "%s: cannot create: %s", png_path, strerror(errno));
    floe_afile_set_default_mode(fd);
    close(fd);
    if (floe_gnuplot_quote(qtmp, sizeof qtmp, tmp) != 0) {
        unlink(tmp);
        return floe_err_set(err, "%s: path too long", png_path);
    }
    FILE *gp = popen("gnuplot", "w"); /* its own messages go to our stderr */
    if (!gp) {
        unlink(tmp);
        return floe_err_set(err, "%s: cannot run gnuplot (install gnuplot-nox: scripts/setup.sh)", png_path);
    }
    fprintf(gp, "set terminal pngcairo size %d,%d font 'sans,10' noenhanced\nset output %s\n%s\nunset output\n",
            width, height, qtmp, script);
    int st = pclose(gp);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        unlink(tmp);
        if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 127)
            return floe_err_set(err, "%s: gnuplot not found (install gnuplot-nox: scripts/setup.sh)", png_path);
        return floe_err_set(err, "%s: gnuplot failed (exit status %d)", png_path,
                            st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    if (rename(tmp, png_path) != 0) {
        int e = errno;
        unlink(tmp);
        return floe_err_set(err, "%s: cannot rename into place: %s", png_path, strerror(e));
    }
    return 0;
}
