#include "common/file_read.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int floe_read_file(const char *path, size_t max_bytes, char **data, size_t *len, floe_err *err)
{
    *data = NULL;
    *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return floe_err_set(err, "%s: cannot open: %s", path, strerror(errno));
    /* Capacity up to max_bytes + 1: reading that extra byte is how an oversized file is noticed. */
    size_t limit = max_bytes + 1, cap = limit < (1u << 16) ? limit : (1u << 16), n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(fp);
        return floe_err_set(err, "%s: out of memory", path);
    }
    for (;;) {
        if (n == cap) {
            if (cap > max_bytes) {
                free(buf);
                fclose(fp);
                return floe_err_set(err, "%s: larger than the limit of %zu bytes", path, max_bytes);
            }
            cap = cap * 2 > limit ? limit : cap * 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                fclose(fp);
                return floe_err_set(err, "%s: out of memory", path);
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0) {
            if (ferror(fp)) {
                int e = errno;
                free(buf);
                fclose(fp);
                return floe_err_set(err, "%s: read error: %s", path, strerror(e));
            }
            break;
        }
    }
    fclose(fp);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}
