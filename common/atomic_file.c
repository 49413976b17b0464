#include "common/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void floe_afile_set_default_mode(int fd)
{
    /* umask can only be read by setting it; the process is single-threaded wherever files are
     * created (commands write outputs from the main thread). */
    mode_t mask = umask(022);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
}

static void release(floe_afile *af)
{
    free(af->path);
    free(af->tmp_path);
    af->path = af->tmp_path = NULL;
    af->fp = NULL;
}

int floe_afile_open(floe_afile *af, const char *path, floe_err *err)
{
    memset(af, 0, sizeof *af);
    size_t n = strlen(path);
    af->path = dup_str(path);
    af->tmp_path = malloc(n + 16);
    if (!af->path || !af->tmp_path) {
        release(af);
        return floe_err_set(err, "%s: out of memory", path);
    }
    snprintf(af->tmp_path, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        int e = errno;
        release(af);
        return floe_err_set(err, "%s: cannot create: %s", path, strerror(e));
    }
    floe_afile_set_default_mode(fd);
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        int e = errno;
        close(fd);
        unlink(af->tmp_path);
        release(af);
        return floe_err_set(err, "%s: cannot open: %s", path, strerror(e));
    }
    return 0;
}

/* fsync the directory holding `path` so the rename itself is durable. */
static void sync_parent_dir(const char *path)
{
    char *dir = dup_str(path);
    if (!dir)
        return;
    char *slash = strrchr(dir, '/');
    const char *d = ".";
    if (slash == dir)
        d = "/";
    else if (slash) {
        *slash = '\0';
        d = dir;
    }
    int fd = open(d, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

int floe_afile_commit(floe_afile *af, floe_err *err)
{
    if (!af->fp)
        return floe_err_set(err, "internal error: commit of a file that is not open");
    int failed = 0;
    int e = 0;
    if (fflush(af->fp) != 0 || ferror(af->fp) || fsync(fileno(af->fp)) != 0) {
        failed = 1;
        e = errno;
    }
    if (fclose(af->fp) != 0 && !failed) {
        failed = 1;
        e = errno;
    }
    af->fp = NULL;
    if (!failed && rename(af->tmp_path, af->path) != 0) {
        failed = 1;
        e = errno;
    }
    if (failed) {
        unlink(af->tmp_path);
        floe_err_set(err, "%s: write failed: %s", af->path, strerror(e));
        release(af);
        return -1;
    }
    sync_parent_dir(af->path);
    release(af);
    return 0;
}

void floe_afile_abort(floe_afile *af)
{
    if (af->fp)
        fclose(af->fp);
    if (af->tmp_path)
        unlink(af->tmp_path);
    release(af);
}

int floe_write_file_atomic(const char *path, const void *data, size_t n, floe_err *err)
{
    floe_afile af;
    if (floe_afile_open(&af, path, err) != 0)
        return -1;
    if (n && fwrite(data, 1, n, af.fp) != n) {
        int e = errno;
        floe_afile_abort(&af);
        return floe_err_set(err, "%s: write failed: %s", path, strerror(e));
    }
    return floe_afile_commit(&af, err);
}
