/* Decoding with a Hugging Face tokenizer.json: ids -> token strings (added tokens first, then the
 * model's vocabulary; special ones left out on request) -> the decoder chain -> the concatenation
 * (docs/tokenizers.md). Each decoder maps a list of strings to a list of strings, as in the library. */
#include <stdlib.h>
#include <string.h>

#include "models/hf_tokenizer.h"
#include "models/unicode_class.h"

/* A list of strings: item i is buf[off[i]..off[i + 1]). */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
    size_t *off;
    size_t n, ncap;
    int oom;
} strlist;

static void put(strlist *l, const void *p, size_t n)
{
    if (l->oom)
        return;
    if (l->len + n + 1 > l->cap) {
        size_t cap = l->cap ? l->cap : 256;
        while (cap < l->len + n + 1)
            cap *= 2;
        uint8_t *b = realloc(l->buf, cap);
        if (!b) {
            l->oom = 1;
            return;
        }
        l->buf = b;
        l->cap = cap;
    }
    if (n)
        memcpy(l->buf + l->len, p, n);
    l->len += n;
}

static void put_cp(strlist *l, uint32_t cp)
{
    uint8_t u[4];
    put(l, u, (size_t)floe_utf8_encode(cp, u));
}

/* Ends the current item. */
static void cut(strlist *l)
{
    if (l->oom)
        return;
    if (l->n + 2 > l->ncap) {
        size_t cap = l->ncap ? 2 * l->ncap : 64;
        size_t *o = realloc(l->off, cap * sizeof *o);
        if (!o) {
            l->oom = 1;
            return;
        }
        l->off = o;
        l->ncap = cap;
    }
    if (l->n == 0)
        l->off[0] = 0;
    l->off[++l->n] = l->len;
}

static void reset(strlist *l)
{
    l->len = 0;
    l->n = 0;
}

static const uint8_t *item(const strlist *l, size_t i, size_t *n)
{
    *n = l->off[i + 1] - l->off[i];
    return l->buf + l->off[i];
}

static uint32_t next_cp(const uint8_t *s, size_t n, size_t *i)
{
    uint32_t cp;
    *i += (size_t)floe_utf8_decode(s + *i, n - *i, &cp);
    return cp;
}

static void dec_bytelevel(const strlist *in, strlist *out)
{
    strlist raw = {0};
    for (size_t t = 0; t < in->n; t++) {
        size_t n, i = 0, mapped = raw.len;
        const uint8_t *s = item(in, t, &n);
        int all = 1;
        while (i < n && all) {
            int b = floe_hf_char_byte(next_cp(s, n, &i));
            uint8_t c = (uint8_t)b;
            if (b < 0)
                all = 0;
            else
                put(&raw, &c, 1);
        }
        if (!all) { /* a character outside the map: the token's own bytes */
            raw.len = mapped;
            put(&raw, s, n);
        }
    }
    size_t m = 0;
    uint8_t *fixed = raw.oom ? NULL : floe_utf8_lossy(raw.buf ? raw.buf : (const uint8_t *)"", raw.len, &m);
    if (!fixed)
        out->oom = 1;
    else
        put(out, fixed, m);
    cut(out);
    free(fixed);
    free(raw.buf);
    free(raw.off);
}

static void dec_metaspace(const floe_hf_dec *d, const strlist *in, strlist *out)
{
    for (size_t t = 0; t < in->n; t++) {
        size_t n, i = 0;
        const uint8_t *s = item(in, t, &n);
        while (i < n) {
            uint32_t c = next_cp(s, n, &i);
            if (c != d->ch)
                put_cp(out, c);
            else if (t != 0 || d->prepend_scheme == FLOE_PREPEND_NEVER)
                put(out, " ", 1);
        }
        cut(out);
    }
}

static void dec_replace(const floe_hf_dec *d, const strlist *in, strlist *out)
{
    for (size_t t = 0; t < in->n; t++) {
        size_t n, i = 0;
        const uint8_t *s = item(in, t, &n);
        while (i < n)
            if (d->a.n && i + d->a.n <= n && memcmp(s + i, d->a.s, d->a.n) == 0) {
                put(out, d->b.s, d->b.n);
                i += d->a.n;
            } else {
                put(out, s + i++, 1);
            }
        cut(out);
    }
}

static int hex(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

/* Pending <0xNN> bytes: one string when they form UTF-8, else one U+FFFD per byte. */
static void flush_bytes(strlist *out, uint8_t *bytes, size_t *nb)
{
    if (!*nb)
        return;
    if (floe_utf8_valid(bytes, *nb)) {
        put(out, bytes, *nb);
        cut(out);
    } else {
        for (size_t k = 0; k < *nb; k++) {
            put_cp(out, 0xFFFD);
            cut(out);
        }
    }
    *nb = 0;
}

static void dec_bytefallback(const strlist *in, strlist *out)
{
    uint8_t *bytes = malloc(in->n + 1);
    size_t nb = 0;
    if (!bytes) {
        out->oom = 1;
        return;
    }
    for (size_t t = 0; t < in->n; t++) {
        size_t n;
        const uint8_t *s = item(in, t, &n);
        if (n == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>' && hex(s[3]) >= 0 && hex(s[4]) >= 0) {
            bytes[nb++] = (uint8_t)(hex(s[3]) * 16 + hex(s[4]));
            continue;
        }
        flush_bytes(out, bytes, &nb);
        put(out, s, n);
        cut(out);
    }
    flush_bytes(out, bytes, &nb);
    free(bytes);
}

static void dec_strip(const floe_hf_dec *d, const strlist *in, strlist *out)
{
    for (size_t t = 0; t < in->n; t++) {
        size_t n, i = 0, a, b;
        const uint8_t *s = item(in, t, &n);
        for (int k = 0; k < d->start && i < n; k++) {
            size_t j = i;
            if (next_cp(s, n, &j) != d->ch)
                break;
            i = j;
        }
        a = i;
        b = n;
        for (int k = 0; k < d->stop && b > a; k++) {
            size_t j = b - 1;
            while (j > a && (s[j] & 0xC0) == 0x80)
                j--;
            size_t e = j;
            if (next_cp(s, b, &e) != d->ch)
                break;
            b = j;
        }
        put(out, s + a, b - a);
        cut(out);
    }
}

static void dec_fuse(const strlist *in, strlist *out)
{
    put(out, in->buf, in->len);
    cut(out);
}

int floe_hf_decode(const floe_tokenizer *tok, const int32_t *ids, size_t n, int skip_special, uint8_t **text,
                   size_t *len, floe_err *err)
{
    const floe_hf_tokenizer *t = (const floe_hf_tokenizer *)tok;
    *text = NULL;
    *len = 0;
    strlist a = {0}, b = {0};
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        int32_t ai = id >= 0 && id < t->bpe.n_ids ? t->added_of_id[id] : -1;
        if (ai >= 0) {
            if (skip_special && t->added[ai].special)
                continue;
            put(&a, t->added[ai].content.s, t->added[ai].content.n);
        } else if (id >= 0 && id < t->bpe.n_ids && t->bpe.piece[id]) {
            put(&a, t->bpe.piece[id], t->bpe.piece_len[id]);
        } else {
            free(a.buf);
            free(a.off);
            return floe_err_set(err, "%s: token %zu is id %d, not in the vocabulary (ids 0 to %d)", t->path, i, (int)id,
                                (int)t->bpe.n_ids - 1);
        }
        cut(&a);
    }
    strlist *in = &a, *out = &b;
    if (!t->has_decoder) {
        for (size_t i = 0; i < in->n; i++) {
            size_t m;
            const uint8_t *s = item(in, i, &m);
            if (i)
                put(out, " ", 1);
            put(out, s, m);
        }
        cut(out);
        in = &b;
        out = &a;
    }
    for (int k = 0; t->has_decoder && k < t->n_dec; k++) {
        const floe_hf_dec *d = &t->dec[k];
        reset(out);
        switch (d->kind) {
        case FLOE_DEC_BYTELEVEL: dec_bytelevel(in, out); break;
        case FLOE_DEC_METASPACE: dec_metaspace(d, in, out); break;
        case FLOE_DEC_REPLACE: dec_replace(d, in, out); break;
        case FLOE_DEC_BYTEFALLBACK: dec_bytefallback(in, out); break;
        case FLOE_DEC_FUSE: dec_fuse(in, out); break;
        case FLOE_DEC_STRIP: dec_strip(d, in, out); break;
        }
        strlist *x = in;
        in = out;
        out = x;
    }
    int oom = a.oom || b.oom;
    uint8_t *res = NULL;
    if (!oom) {
        res = malloc(in->len + 1);
        oom = !res;
    }
    if (res) {
        if (in->len)
            memcpy(res, in->buf, in->len);
        res[in->len] = 0;
        *len = in->len;
    }
    free(a.buf);
    free(a.off);
    free(b.buf);
    free(b.off);
    if (oom)
        return floe_err_set(err, "%s: out of memory decoding %zu ids", t->path, n);
    *text = res;
    return 0;
}
