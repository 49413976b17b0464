#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int floe_err_set(floe_err *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int floe_err_prefix(floe_err *err, const char *fmt, ...)
{
    if (err) {
        char prefix[FLOE_ERR_MSG_MAX];
        char old[FLOE_ERR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof prefix, fmt, ap);
        va_end(ap);
        memcpy(old, err->msg, sizeof old);
        size_t n = strlen(prefix);
        if (n > sizeof err->msg - 3)
            n = sizeof err->msg - 3;
        memcpy(err->msg, prefix, n);
        memcpy(err->msg + n, ": ", 2);
        size_t room = sizeof err->msg - n - 2;
        size_t m = strlen(old);
        if (m >= room)
            m = room - 1;
        memcpy(err->msg + n + 2, old, m);
        err->msg[n + 2 + m] = '\0';
    }
    return -1;
}

void floe_err_clear(floe_err *err)
{
    if (err)
        err->msg[0] = '\0';
}
