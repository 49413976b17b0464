#include "common/path.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int floe_mkdir_p(const char *path, floe_err *err)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return floe_err_set(err, "invalid directory name '%s'", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return floe_err_set(err, "%s: cannot create directory: %s", buf, strerror(errno));
        struct stat st;
        if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
            return floe_err_set(err, "%s: exists and is not a directory", buf);
        buf[i] = c;
    }
    return 0;
}

int floe_path_join(char *out, size_t n, const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    int w = snprintf(out, n, "%s%s%s", dir, (dl && dir[dl - 1] == '/') ? "" : "/", name);
    return (w < 0 || (size_t)w >= n) ? -1 : 0;
}
