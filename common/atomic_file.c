#define _DEFAULT_SOURCE /* flock */
#include "common/atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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

/* The folder holding `path` ("." for a bare name), malloc'ed; NULL when out of memory. */
static char *parent_dir(const char *path)
{
    char *dir = dup_str(path);
    if (!dir)
        return NULL;
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else {
        free(dir);
        dir = dup_str(".");
    }
    return dir;
}

/* A writer holds an exclusive flock on its temporary until the temporary has its final name, and the
 * lock dies with the process: a temporary that can be locked was left by a writer that was killed
 * (or is another process's, not yet locked: see lock_temporary). Every such temporary in the folder
 * goes, not only this name's: a resumed run need not write the name a killed one was writing. The
 * marker FLOE_TMP_MARK keeps this to the atomic writer's own files. */
static void remove_stale_temporaries(const char *path)
{
    char *dir = parent_dir(path);
    DIR *d = dir ? opendir(dir) : NULL;
    free(dir);
    if (!d)
        return;
    const size_t mark = strlen(FLOE_TMP_MARK);
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *name = e->d_name;
        size_t len = strlen(name);
        if (len < mark + 7 || strncmp(name + len - 6 - mark, FLOE_TMP_MARK, mark) != 0)
            continue;
        int fd = openat(dirfd(d), name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && flock(fd, LOCK_EX | LOCK_NB) == 0)
            unlinkat(dirfd(d), name, 0); /* unlinked while locked: a writer that locks it later sees it gone */
        if (fd >= 0)
            close(fd);
    }
    closedir(d);
}

/* Locks a fresh temporary; 1 when it is still linked (a sweep by another process may have removed it
 * between mkstemp and flock), 0 when it was removed and another must be made, -1 on error. */
static int lock_temporary(int fd)
{
    struct stat st;
    if (flock(fd, LOCK_EX) != 0 || fstat(fd, &st) != 0)
        return -1;
    return st.st_nlink > 0;
}

int floe_afile_open(floe_afile *af, const char *path, floe_err *err)
{
    memset(af, 0, sizeof *af);
    size_t n = strlen(path);
    af->path = dup_str(path);
    size_t tmp_n = n + strlen(FLOE_TMP_MARK) + 7;
    af->tmp_path = malloc(tmp_n);
    if (!af->path || !af->tmp_path) {
        release(af);
        return floe_err_set(err, "%s: out of memory", path);
    }
    remove_stale_temporaries(path);
    int fd = -1;
    for (int attempt = 0; fd < 0; attempt++) {
        snprintf(af->tmp_path, tmp_n, "%s" FLOE_TMP_MARK "XXXXXX", path);
        fd = mkstemp(af->tmp_path);
        int linked = fd >= 0 ? lock_temporary(fd) : -1;
        if (linked != 1) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            fd = -1;
            if (linked == 0 && attempt < 8)
                continue;
            release(af);
            return floe_err_set(err, "%s: cannot create: %s", path, strerror(linked == 0 ? EAGAIN : e));
        }
    }
    /* Not inherited by children (gnuplot): they would hold the lock past this process. */
    fcntl(fd, F_SETFD, FD_CLOEXEC);
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
    char *dir = parent_dir(path);
    int fd = dir ? open(dir, O_RDONLY) : -1;
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
    /* Renamed while still open, so the lock covers the temporary for as long as it has that name. */
    if (!failed && rename(af->tmp_path, af->path) != 0) {
        failed = 1;
        e = errno;
    }
    if (failed)
        unlink(af->tmp_path);
    if (fclose(af->fp) != 0 && !failed) {
        failed = 1;
        e = errno;
    }
    af->fp = NULL;
    if (failed) {
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
    if (af->tmp_path && af->fp)
        unlink(af->tmp_path); /* before the lock goes with the close */
    if (af->fp)
        fclose(af->fp);
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
