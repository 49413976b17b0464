/* Helpers shared by the machine-description and energy-table tests: source configs as text, line
 * edits that keep line numbers, and temp files under floe_test_tmpdir(). Include after test_util.h. */
#ifndef FLOE_TESTS_ISA_MACHINE_TEST_UTIL_H
#define FLOE_TESTS_ISA_MACHINE_TEST_UTIL_H

#include "common/file_read.h"

/* Path of a file in the source tree (e.g. "configs/small.csv"); static buffer. */
static inline const char *src_path(const char *rel)
{
    static char path[4096];
    const char *base = getenv("FLOE_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/%s", base ? base : ".", rel);
    return path;
}

/* The whole text of a source-tree file (caller frees). */
static inline char *src_text(const char *rel)
{
    char *data;
    size_t len;
    floe_err err;
    if (floe_read_file(src_path(rel), 1 << 20, &data, &len, &err) != 0)
        fail_msg("%s", err.msg);
    return data;
}

/* Writes text to dir/name and returns the path (static buffer). */
static inline const char *write_tmp(const char *dir, const char *name, const char *text)
{
    static char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
    return path;
}

/* 1-based number of the first line starting with `prefix`, or 0. */
static inline int line_of(const char *text, const char *prefix)
{
    int line = 1;
    size_t n = strlen(prefix);
    for (const char *p = text; *p; line++) {
        if (strncmp(p, prefix, n) == 0)
            return line;
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return 0;
}

/* Number of lines (a last line without '\n' counts). */
static inline int count_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    size_t len = strlen(text);
    return n + (len && text[len - 1] != '\n');
}

/* A copy of text with the whole line starting with `prefix` replaced by `repl` (no newline in repl
 * keeps the line count). Caller frees. */
static inline char *replace_line(const char *text, const char *prefix, const char *repl)
{
    int target = line_of(text, prefix);
    if (!target)
        fail_msg("no line starts with '%s'", prefix);
    size_t cap = strlen(text) + strlen(repl) + 2, o = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    int line = 1;
    for (const char *p = text; *p; line++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        const char *src = line == target ? repl : p;
        size_t n = line == target ? strlen(repl) : len;
        memcpy(out + o, src, n);
        o += n;
        if (nl)
            out[o++] = '\n';
        p = nl ? nl + 1 : p + len;
    }
    out[o] = '\0';
    return out;
}

/* A copy of text with `extra` appended. Caller frees. */
static inline char *append_text(const char *text, const char *extra)
{
    char *out = malloc(strlen(text) + strlen(extra) + 1);
    assert_non_null(out);
    strcpy(out, text);
    strcat(out, extra);
    return out;
}

/* Asserts msg starts with "path:line: field 'field': " and contains `what`. */
static inline void assert_err_at(const char *msg, const char *path, int line, const char *field, const char *what)
{
    char want[5000];
    snprintf(want, sizeof want, "%s:%d: field '%s': ", path, line, field);
    if (strncmp(msg, want, strlen(want)) != 0)
        fail_msg("message '%s' does not start with '%s'", msg, want);
    if (what && !strstr(msg, what))
        fail_msg("message '%s' does not mention '%s'", msg, what);
}

#endif
