#include "isa/machine_csv.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/atomic_file.h"
#include "common/file_read.h"

/* Longest key or value kept; longer ones cannot be valid and are shown truncated in messages. */
#define KV_TEXT_MAX 128

/* Keys renamed since their first release (docs/machine.md, "Renamed keys"). A file may still give the
 * old name: it is read as the new one, with a note on stderr. The fingerprint keeps hashing the old
 * name, so programs compiled before the rename still load on the same machine. */
static const struct {
    const char *old_name, *name;
} renamed[] = {
    {"lut_ops_per_cycle", "afu_ops_per_cycle"}, /* 2026-12-06: one name per unit (afu) */
    {"lut_latency_cycles", "afu_latency_cycles"},
    {"lut_op_pj", "afu_op_pj"},
};
#define N_RENAMED (sizeof renamed / sizeof renamed[0])

/* The new name of a renamed key (len bytes), or NULL. */
static const char *renamed_to(const char *key, size_t len)
{
    for (size_t i = 0; i < N_RENAMED; i++)
        if (strlen(renamed[i].old_name) == len && memcmp(renamed[i].old_name, key, len) == 0)
            return renamed[i].name;
    return NULL;
}

/* The name a key is fingerprinted under: its first name. */
static const char *fingerprint_name(const char *name)
{
    for (size_t i = 0; i < N_RENAMED; i++)
        if (strcmp(renamed[i].name, name) == 0)
            return renamed[i].old_name;
    return name;
}

typedef struct kv_state {
    const char *name;
    const floe_kv_key *keys;
    size_t n;
    void *out;
    floe_err *err;
    int failed;
    long line;      /* physical line being fed to the parser */
    long rec_line;  /* line the current record started on */
    int pending;    /* part of a record has been fed and its end not yet seen */
    int records;    /* records completed so far (for the optional header) */
    size_t nfields; /* fields of the current record so far */
    char key[KV_TEXT_MAX + 1];
    size_t key_len; /* length in the file, may exceed KV_TEXT_MAX */
    char value[KV_TEXT_MAX + 1];
    size_t value_len;
    long *seen; /* per key: the line it was given on, 0 if not yet */
} kv_state;

/* Copies user text for a message: at most 64 characters, non-printables as '?'. */
static void show(char *dst, size_t cap, const char *s, size_t len)
{
    size_t lim = len > 64 ? 64 : len, j = 0;
    for (size_t i = 0; i < lim && j + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        dst[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (len > lim && j + 4 < cap) {
        memcpy(dst + j, "...", 3);
        j += 3;
    }
    dst[j] = '\0';
}

static void fail_at(kv_state *st, long line, const char *field, const char *fmt, ...) FLOE_PRINTF(4, 5);
static void fail_at(kv_state *st, long line, const char *field, const char *fmt, ...)
{
    char what[FLOE_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    floe_err_set(st->err, "%s:%ld: field '%s': %s", st->name, line, field, what);
    st->failed = 1;
}

/* The current record's key as shown in messages, or a stand-in when it is not known yet. */
static const char *current_field(const kv_state *st, char *buf, size_t cap)
{
    if (st->nfields == 0)
        return "(key column)";
    show(buf, cap, st->key, st->key_len > KV_TEXT_MAX ? KV_TEXT_MAX : st->key_len);
    return buf;
}

static void on_field(void *data, size_t len, void *ctx)
{
    kv_state *st = ctx;
    if (st->failed)
        return;
    if (!st->pending) { /* a record after a lone CR on the same physical line */
        st->pending = 1;
        st->rec_line = st->line;
    }
    const char *s = data ? data : "";
    if (st->nfields == 0) {
        st->key_len = len;
        memcpy(st->key, s, len > KV_TEXT_MAX ? KV_TEXT_MAX : len);
        st->key[len > KV_TEXT_MAX ? KV_TEXT_MAX : len] = '\0';
    } else if (st->nfields == 1) {
        st->value_len = len;
        memcpy(st->value, s, len > KV_TEXT_MAX ? KV_TEXT_MAX : len);
        st->value[len > KV_TEXT_MAX ? KV_TEXT_MAX : len] = '\0';
    } else if (st->nfields == 3) {
        char k[80];
        fail_at(st, st->rec_line, current_field(st, k, sizeof k),
                "too many columns (expected key,value[,comment]; quote a comment that contains commas)");
        return;
    }
    st->nfields++;
}

static int parse_int(const char *s, size_t len, uint64_t *v)
{
    if (len == 0 || len > 20)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return -1;
    errno = 0;
    char *end;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || (size_t)(end - s) != len)
        return -1;
    *v = (uint64_t)x;
    return 0;
}

static int parse_real(const char *s, size_t len, double *v)
{
    if (len == 0 || len > KV_TEXT_MAX)
        return -1;
    /* Plain decimal notation only: strtod would also take "inf", "nan" and hex floats. */
    for (size_t i = 0; i < len; i++)
        if (!strchr("0123456789+-.eE", s[i]) || s[i] == '\0')
            return -1;
    errno = 0;
    char *end;
    double x = strtod(s, &end);
    if (errno || (size_t)(end - s) != len || !isfinite(x))
        return -1;
    *v = x == 0.0 ? 0.0 : x; /* fold -0 so the fingerprint sees one zero */
    return 0;
}

/* "[lo, hi] unit" for messages. */
static const char *range_text(const floe_kv_key *k, char *buf, size_t cap)
{
    const char *sp = k->unit[0] ? " " : "";
    if (k->type == FLOE_KV_INT)
        snprintf(buf, cap, "[%.0f, %.0f]%s%s", k->min, k->max, sp, k->unit);
    else
        snprintf(buf, cap, "[%g, %g]%s%s", k->min, k->max, sp, k->unit);
    return buf;
}

/* Checks one value against its key's range; returns NULL or a description of the problem. */
static const char *range_problem(const floe_kv_key *k, double x, char *buf, size_t cap)
{
    if (x >= k->min && x <= k->max)
        return NULL;
    char r[160];
    if (k->type == FLOE_KV_INT)
        snprintf(buf, cap, "value %.0f is outside the accepted range %s", x, range_text(k, r, sizeof r));
    else
        snprintf(buf, cap, "value %.17g is outside the accepted range %s", x, range_text(k, r, sizeof r));
    return buf;
}

static void on_record(int c, void *ctx)
{
    (void)c;
    kv_state *st = ctx;
    if (st->failed)
        return;
    size_t nf = st->nfields;
    long line = st->rec_line;
    st->pending = 0;
    st->nfields = 0;
    if (nf == 0)
        return;
    int first = st->records++ == 0;
    if (first && strcmp(st->key, "key") == 0 && nf >= 2 && strcmp(st->value, "value") == 0)
        return; /* header row */
    char k[80], v[80], why[256];
    show(k, sizeof k, st->key, st->key_len > KV_TEXT_MAX ? KV_TEXT_MAX : st->key_len);
    if (st->key_len == 0) {
        fail_at(st, line, "", "empty key");
        return;
    }
    size_t idx = st->n;
    const char *key_name = st->key;
    if (st->key_len <= KV_TEXT_MAX && strlen(st->key) == st->key_len) {
        const char *now = renamed_to(st->key, st->key_len);
        key_name = now ? now : st->key;
        for (size_t i = 0; i < st->n; i++)
            if (strcmp(st->keys[i].name, key_name) == 0)
                idx = i;
        if (now && idx < st->n)
            fprintf(stderr, "floe: note: %s:%ld: key '%s' is deprecated: read as '%s' (renamed 2026-12-06)\n", st->name,
                    line, st->key, now);
    }
    if (idx == st->n) {
        fail_at(st, line, k, "unknown key (docs/machine.md lists the keys)");
        return;
    }
    if (st->seen[idx]) {
        fail_at(st, line, k, "duplicate key (first given on line %ld)", st->seen[idx]);
        return;
    }
    if (nf < 2) {
        fail_at(st, line, k, "missing value (expected key,value[,comment])");
        return;
    }
    st->seen[idx] = line;
    const floe_kv_key *key = &st->keys[idx];
    show(v, sizeof v, st->value, st->value_len);
    int bad_text = st->value_len > KV_TEXT_MAX || strlen(st->value) != st->value_len;
    if (key->type == FLOE_KV_INT) {
        uint64_t x;
        if (bad_text || parse_int(st->value, st->value_len, &x) != 0) {
            fail_at(st, line, k, "expected a non-negative decimal integer in %s, got '%s'",
                    range_text(key, why, sizeof why), v);
            return;
        }
        if (x > (uint64_t)key->max || (double)x < key->min) {
            fail_at(st, line, k, "%s", range_problem(key, (double)x, why, sizeof why));
            return;
        }
        memcpy((char *)st->out + key->offset, &x, sizeof x);
    } else {
        double x;
        if (bad_text || parse_real(st->value, st->value_len, &x) != 0) {
            fail_at(st, line, k, "expected a decimal number in %s, got '%s'", range_text(key, why, sizeof why), v);
            return;
        }
        if (range_problem(key, x, why, sizeof why)) {
            fail_at(st, line, k, "%s", why);
            return;
        }
        memcpy((char *)st->out + key->offset, &x, sizeof x);
    }
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

int floe_kv_parse(const char *name, const char *data, size_t len, const floe_kv_key *keys, size_t n, void *out,
                  floe_err *err)
{
    kv_state st;
    memset(&st, 0, sizeof st);
    st.name = name;
    st.keys = keys;
    st.n = n;
    st.out = out;
    st.err = err;
    st.seen = calloc(n ? n : 1, sizeof *st.seen);
    if (!st.seen)
        return floe_err_set(err, "%s: out of memory", name);
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        free(st.seen);
        return floe_err_set(err, "%s: out of memory", name);
    }
    /* Fed one physical line at a time so every callback knows its line; comment and blank lines
     * between records are skipped here because libcsv has no notion of comments. */
    size_t pos = 0;
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        pos = 3; /* UTF-8 byte-order mark, as spreadsheets write it */
    while (pos < len && !st.failed) {
        size_t end = pos;
        while (end < len && data[end] != '\n')
            end++;
        size_t stop = end < len ? end + 1 : end;
        st.line++;
        if (!st.pending) {
            size_t i = pos;
            while (i < end && is_blank(data[i]))
                i++;
            if (i == end || data[i] == '#') {
                pos = stop;
                continue;
            }
            st.pending = 1;
            st.rec_line = st.line;
        }
        size_t got = csv_parse(&p, data + pos, stop - pos, on_field, on_record, &st);
        if (!st.failed && got != stop - pos) {
            char k[80];
            if (st.line == st.rec_line)
                fail_at(&st, st.line, current_field(&st, k, sizeof k),
                        "malformed CSV: %s (a quote must open and close the whole field; \"\" inside quotes)",
                        csv_strerror(csv_error(&p)));
            else /* the record runs over several lines: most likely a quote opened here is not closed */
                fail_at(&st, st.rec_line, current_field(&st, k, sizeof k),
                        "malformed CSV: the record starting on this line fails to parse on line %ld (is a quote "
                        "opened on this line left unclosed?)",
                        st.line);
        }
        pos = stop;
    }
    if (!st.failed && csv_fini(&p, on_field, on_record, &st) != 0 && !st.failed) {
        char k[80];
        fail_at(&st, st.rec_line, current_field(&st, k, sizeof k), "malformed CSV: quoted field not closed");
    }
    csv_free(&p);
    if (!st.failed) {
        long last = st.line > 0 ? st.line : 1;
        for (size_t i = 0; i < n; i++)
            if (!st.seen[i]) {
                fail_at(&st, last, keys[i].name, "missing: every key must be given (%s%s)",
                        len == 0 ? "the file is empty" : "reached the end of the file",
                        len == 0 ? "" : " without it");
                break;
            }
    }
    free(st.seen);
    return st.failed ? -1 : 0;
}

int floe_kv_load(const char *path, const floe_kv_key *keys, size_t n, void *out, floe_err *err)
{
    char *data;
    size_t len;
    if (floe_read_file(path, FLOE_KV_MAX_FILE_BYTES, &data, &len, err) != 0)
        return -1;
    int rc = floe_kv_parse(path, data, len, keys, n, out, err);
    free(data);
    return rc;
}

int floe_kv_check(const char *what, const floe_kv_key *keys, size_t n, const void *obj, floe_err *err)
{
    char why[256];
    for (size_t i = 0; i < n; i++) {
        double x = floe_kv_get(obj, &keys[i]);
        if (range_problem(&keys[i], x, why, sizeof why))
            return floe_err_set(err, "%s: field '%s': %s", what, keys[i].name, why);
    }
    return 0;
}

int floe_kv_write(const char *path, const char *comment, const floe_kv_key *keys, size_t n, const void *obj,
                  floe_err *err)
{
    if (floe_kv_check(path, keys, n, obj, err) != 0)
        return -1;
    floe_afile af;
    if (floe_afile_open(&af, path, err) != 0)
        return -1;
    for (const char *c = comment; c && *c;) {
        const char *nl = strchr(c, '\n');
        int len = nl ? (int)(nl - c) : (int)strlen(c);
        fprintf(af.fp, "# %.*s\n", len, c);
        c = nl ? nl + 1 : c + len;
    }
    fprintf(af.fp, "key,value,comment\n");
    for (size_t i = 0; i < n; i++) {
        char v[64];
        floe_kv_format(v, sizeof v, obj, &keys[i]);
        fprintf(af.fp, "%s,%s,\"%s%s", keys[i].name, v, keys[i].unit, keys[i].unit[0] ? "; " : "");
        for (const char *h = keys[i].help; *h; h++) {
            if (*h == '"') /* RFC 4180: a quote inside quotes is doubled */
                fputc('"', af.fp);
            fputc(*h, af.fp);
        }
        fputs("\"\n", af.fp);
    }
    return floe_afile_commit(&af, err);
}

double floe_kv_get(const void *obj, const floe_kv_key *key)
{
    const char *p = (const char *)obj + key->offset;
    if (key->type == FLOE_KV_INT) {
        uint64_t v;
        memcpy(&v, p, sizeof v);
        return (double)v;
    }
    double d;
    memcpy(&d, p, sizeof d);
    return d;
}

void floe_kv_format(char *buf, size_t n, const void *obj, const floe_kv_key *key)
{
    const char *p = (const char *)obj + key->offset;
    if (key->type == FLOE_KV_INT) {
        uint64_t v;
        memcpy(&v, p, sizeof v);
        snprintf(buf, n, "%llu", (unsigned long long)v);
    } else {
        double d;
        memcpy(&d, p, sizeof d);
        /* Shortest precision that reads back to the same double: 0.8, not 0.80000000000000004. */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, n, "%.*g", prec, d);
            if (strtod(buf, NULL) == d)
                break;
        }
    }
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *b = data;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t floe_kv_fingerprint(const char *domain, const floe_kv_key *keys, size_t n, const void *obj)
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv1a(h, domain, strlen(domain) + 1);
    for (size_t i = 0; i < n; i++) {
        const char *name = fingerprint_name(keys[i].name);
        h = fnv1a(h, name, strlen(name) + 1);
        uint64_t bits;
        const char *p = (const char *)obj + keys[i].offset;
        if (keys[i].type == FLOE_KV_INT) {
            memcpy(&bits, p, sizeof bits);
        } else {
            double d;
            memcpy(&d, p, sizeof d);
            if (d == 0.0)
                d = 0.0;
            memcpy(&bits, &d, sizeof bits);
        }
        unsigned char le[8];
        for (int j = 0; j < 8; j++)
            le[j] = (unsigned char)(bits >> (8 * j));
        h = fnv1a(h, le, sizeof le);
    }
    return h;
}
