/* Encoding with a Hugging Face tokenizer.json, in the library's order: added tokens are cut out of
 * the raw text, the rest is normalized, added tokens marked `normalized` are cut out of that, the
 * pieces go through the pre-tokenizers, and each pre-token through the BPE model; the post-processor
 * template adds its special tokens around the whole (docs/tokenizers.md). */
#include <stdlib.h>
#include <string.h>

#include "models/hf_tokenizer.h"
#include "models/split_pattern.h"
#include "models/unicode_class.h"
#include "models/unicode_nfc.h"

enum { MAX_STAGES = 16 };

typedef struct {
    uint8_t *p;
    size_t cap;
} buffer;

typedef struct {
    const floe_hf_tokenizer *t;
    floe_bpe_work *work;
    floe_ids ids;
    buffer stage[MAX_STAGES][2];
} encoder;

uint32_t floe_hf_byte_char(uint8_t b)
{
    if (b <= 32)
        return 256u + b;
    if (b >= 127 && b <= 160)
        return b + 162u;
    if (b == 173)
        return 323;
    return b;
}

int floe_hf_char_byte(uint32_t cp)
{
    if (cp < 256)
        return (cp <= 32 || (cp >= 127 && cp <= 160) || cp == 173) ? -1 : (int)cp;
    if (cp <= 288)
        return (int)cp - 256;
    if (cp <= 322)
        return (int)cp - 162;
    return cp == 323 ? 173 : -1;
}

static int reserve(buffer *b, size_t n)
{
    if (n <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < n)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static size_t char_len(const uint8_t *s, size_t n)
{
    uint32_t cp;
    return (size_t)floe_utf8_decode(s, n, &cp);
}

static int pretokenize(encoder *e, int k, const uint8_t *s, size_t n, int at_origin);

/* The length of the match of pre-tokenizer p's pattern at s[i] (0: none). */
static size_t pre_match(const floe_hf_pre *p, const uint8_t *s, size_t n, size_t i)
{
    switch (p->kind) {
    case FLOE_PRE_BYTELEVEL: return floe_split_pattern_match(FLOE_PAT_GPT2, s, n, i);
    case FLOE_PRE_SPLIT: return floe_split_pattern_match((floe_split_pattern)p->pattern, s, n, i);
    case FLOE_PRE_SPLIT_STRING:
        return p->literal.n <= n - i && memcmp(s + i, p->literal.s, p->literal.n) == 0 ? p->literal.n : 0;
    case FLOE_PRE_DIGITS: {
        size_t j = i;
        while (j < n) {
            uint32_t cp;
            size_t l = (size_t)floe_utf8_decode(s + j, n - j, &cp);
            if (!floe_ucp_is_number(cp))
                break;
            j += l;
            if (p->individual_digits)
                break;
        }
        return j - i;
    }
    case FLOE_PRE_METASPACE: break;
    }
    return 0;
}

/* Isolated: every match and every stretch between matches is a piece of its own. */
static int split_isolated(encoder *e, int k, const uint8_t *s, size_t n, int at_origin,
                          int (*next)(encoder *, int, const uint8_t *, size_t, int))
{
    const floe_hf_pre *p = &e->t->pre[k];
    size_t i = 0, gap = 0;
    while (i < n) {
        size_t m = pre_match(p, s, n, i);
        if (!m) {
            i += char_len(s + i, n - i);
            continue;
        }
        if (gap < i && next(e, k, s + gap, i - gap, at_origin && gap == 0))
            return -1;
        if (next(e, k, s + i, m, at_origin && i == 0))
            return -1;
        i += m;
        gap = i;
    }
    if (gap < n && next(e, k, s + gap, n - gap, at_origin && gap == 0))
        return -1;
    return 0;
}

static int to_next_stage(encoder *e, int k, const uint8_t *s, size_t n, int at_origin)
{
    return pretokenize(e, k + 1, s, n, at_origin);
}

/* ByteLevel: each byte becomes its printable stand-in character. */
static int bytelevel_piece(encoder *e, int k, const uint8_t *s, size_t n, int at_origin)
{
    buffer *b = &e->stage[k][1];
    if (n > SIZE_MAX / 2 || reserve(b, 2 * n))
        return -1;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += (size_t)floe_utf8_encode(floe_hf_byte_char(s[i]), b->p + m);
    return pretokenize(e, k + 1, b->p, m, at_origin);
}

static int pretokenize(encoder *e, int k, const uint8_t *s, size_t n, int at_origin)
{
    if (n == 0)
        return 0;
    if (k == e->t->n_pre)
        return floe_bpe_word(&e->t->bpe, e->work, s, n, &e->ids);
    const floe_hf_pre *p = &e->t->pre[k];
    buffer *b = &e->stage[k][0];
    switch (p->kind) {
    case FLOE_PRE_BYTELEVEL:
        if (p->add_prefix_space && s[0] != ' ') {
            if (reserve(b, n + 1))
                return -1;
            b->p[0] = ' ';
            memcpy(b->p + 1, s, n);
            s = b->p;
            n++;
        }
        if (p->use_regex)
            return split_isolated(e, k, s, n, at_origin, bytelevel_piece);
        return bytelevel_piece(e, k, s, n, at_origin);
    case FLOE_PRE_SPLIT:
    case FLOE_PRE_SPLIT_STRING:
    case FLOE_PRE_DIGITS: return split_isolated(e, k, s, n, at_origin, to_next_stage);
    case FLOE_PRE_METASPACE: {
        size_t rl = (size_t)p->repl_len, m = 0;
        if (n > SIZE_MAX / 4 - 4 || reserve(b, n * rl + rl))
            return -1;
        int prepend =
            p->prepend_scheme == FLOE_PREPEND_ALWAYS || (p->prepend_scheme == FLOE_PREPEND_FIRST && at_origin);
        /* the library tests for a leading replacement after spaces became replacements */
        if (prepend && s[0] != ' ' && !(n >= rl && memcmp(s, p->repl, rl) == 0)) {
            memcpy(b->p, p->repl, rl);
            m = rl;
        }
        for (size_t i = 0; i < n; i++)
            if (s[i] == ' ') {
                memcpy(b->p + m, p->repl, rl);
                m += rl;
            } else {
                b->p[m++] = s[i];
            }
        if (!p->split)
            return pretokenize(e, k + 1, b->p, m, at_origin);
        /* MergedWithNext: a cut before every replacement character but a leading one */
        size_t start = 0;
        for (size_t i = 1; i + rl <= m; i++)
            if (memcmp(b->p + i, p->repl, rl) == 0) {
                if (i > start && pretokenize(e, k + 1, b->p + start, i - start, at_origin && start == 0))
                    return -1;
                start = i;
            }
        return pretokenize(e, k + 1, b->p + start, m - start, at_origin && start == 0);
    }
    }
    return 0;
}

static int is_word_char(uint32_t c) { return c == '_' || floe_ucp_is_letter(c) || floe_ucp_is_number(c); }

/* The code point ending at s[end] (end > 0), and where it starts. */
static uint32_t cp_before(const uint8_t *s, size_t end, size_t *start)
{
    size_t i = end - 1;
    while (i > 0 && end - i < 4 && (s[i] & 0xC0) == 0x80)
        i--;
    uint32_t cp;
    floe_utf8_decode(s + i, end - i, &cp);
    *start = i;
    return cp;
}

/* Cuts the added tokens of matcher mt out of s; pieces between go to `rest`. */
static int split_added(encoder *e, const floe_hf_matcher *mt, const uint8_t *s, size_t n, int at_origin,
                       int (*rest)(encoder *, const uint8_t *, size_t, int))
{
    const floe_hf_tokenizer *t = e->t;
    size_t done = 0, i = 0;
    while (i < n) {
        const floe_hf_added *hit = NULL;
        for (int32_t k = mt->first[s[i]]; k < mt->first[s[i] + 1]; k++) {
            const floe_hf_added *a = &t->added[mt->order[k]];
            if (a->match.n <= n - i && memcmp(s + i, a->match.s, a->match.n) == 0) {
                hit = a;
                break;
            }
        }
        if (!hit) {
            i++;
            continue;
        }
        size_t start = i, stop = i + hit->match.n, l;
        i = stop;
        if (hit->single_word) {
            size_t st;
            uint32_t after = 0;
            if (stop < n)
                floe_utf8_decode(s + stop, n - stop, &after);
            if ((start > 0 && is_word_char(cp_before(s, start, &st))) || (stop < n && is_word_char(after)))
                continue;
        }
        if (hit->lstrip) {
            size_t st;
            while (start > done && floe_ucp_is_space(cp_before(s, start, &st)))
                start = st;
        }
        if (hit->rstrip) {
            uint32_t c;
            while (stop < n && (l = (size_t)floe_utf8_decode(s + stop, n - stop, &c)) && floe_ucp_is_space(c))
                stop += l;
            i = stop;
        }
        if (start > done && rest(e, s + done, start - done, at_origin && done == 0))
            return -1;
        if (floe_ids_push(&e->ids, hit->id))
            return -1;
        done = stop;
    }
    if (done < n && rest(e, s + done, n - done, at_origin && done == 0))
        return -1;
    return 0;
}

static int normalized_piece(encoder *e, const uint8_t *s, size_t n, int at_origin)
{
    return pretokenize(e, 0, s, n, at_origin);
}

static int raw_piece(encoder *e, const uint8_t *s, size_t n, int at_origin)
{
    const floe_hf_tokenizer *t = e->t;
    if (t->n_norm == 0)
        return split_added(e, &t->normed, s, n, at_origin, normalized_piece);
    size_t m;
    char *norm = floe_hf_normalize(t, (const char *)s, n, &m);
    if (!norm)
        return -1;
    int rc = split_added(e, &t->normed, (const uint8_t *)norm, m, at_origin, normalized_piece);
    free(norm);
    return rc;
}

char *floe_hf_normalize(const floe_hf_tokenizer *t, const char *s, size_t n, size_t *out_n)
{
    char *cur = malloc(n + 1);
    if (!cur)
        return NULL;
    memcpy(cur, s, n);
    cur[n] = 0;
    for (int k = 0; k < t->n_norm; k++) {
        const floe_hf_norm *nm = &t->norm[k];
        if (nm->kind == FLOE_NORM_NFC) {
            size_t m;
            char *p = (char *)floe_nfc((const uint8_t *)cur, n, &m);
            if (!p) {
                free(cur);
                return NULL;
            }
            free(cur);
            cur = p;
            n = m;
        } else if (nm->kind == FLOE_NORM_PREPEND) {
            if (n == 0)
                continue;
            char *p = malloc(n + nm->a.n + 1);
            if (!p) {
                free(cur);
                return NULL;
            }
            memcpy(p, nm->a.s, nm->a.n);
            memcpy(p + nm->a.n, cur, n + 1);
            free(cur);
            cur = p;
            n += nm->a.n;
        } else {
            size_t hits = 0;
            for (size_t i = 0; i + nm->a.n <= n;)
                if (memcmp(cur + i, nm->a.s, nm->a.n) == 0) {
                    hits++;
                    i += nm->a.n;
                } else {
                    i++;
                }
            if (!hits)
                continue;
            size_t m = n - hits * nm->a.n + hits * nm->b.n, j = 0;
            char *p = malloc(m + 1);
            if (!p) {
                free(cur);
                return NULL;
            }
            for (size_t i = 0; i < n;)
                if (i + nm->a.n <= n && memcmp(cur + i, nm->a.s, nm->a.n) == 0) {
                    memcpy(p + j, nm->b.s, nm->b.n);
                    j += nm->b.n;
                    i += nm->a.n;
                } else {
                    p[j++] = cur[i++];
                }
            p[m] = 0;
            free(cur);
            cur = p;
            n = m;
        }
    }
    *out_n = n;
    return cur;
}

int floe_hf_encode(const floe_tokenizer *tok, const uint8_t *text, size_t n, int add_special, int32_t **ids,
                   size_t *n_ids, floe_err *err)
{
    const floe_hf_tokenizer *t = (const floe_hf_tokenizer *)tok;
    *ids = NULL;
    *n_ids = 0;
    uint8_t *fixed = NULL;
    if (!floe_utf8_valid(text, n)) {
        fixed = floe_utf8_lossy(text, n, &n);
        if (!fixed)
            return floe_err_set(err, "%s: out of memory encoding %zu bytes", t->path, n);
        text = fixed;
    }
    encoder e;
    memset(&e, 0, sizeof e);
    e.t = t;
    e.work = floe_bpe_work_new();
    int rc = e.work ? 0 : -1;
    for (size_t i = 0; !rc && add_special && i < t->n_before; i++)
        rc = floe_ids_push(&e.ids, t->tmpl[i]);
    if (!rc)
        rc = split_added(&e, &t->raw, text, n, 1, raw_piece);
    for (size_t i = t->n_before; !rc && add_special && i < t->n_tmpl; i++)
        rc = floe_ids_push(&e.ids, t->tmpl[i]);
    floe_bpe_work_free(e.work);
    for (int k = 0; k < MAX_STAGES; k++) {
        free(e.stage[k][0].p);
        free(e.stage[k][1].p);
    }
    free(fixed);
    if (rc) {
        free(e.ids.v);
        return floe_err_set(err, "%s: out of memory encoding %zu bytes", t->path, n);
    }
    if (!e.ids.v && !(e.ids.v = malloc(sizeof(int32_t)))) /* never NULL on success */
        return floe_err_set(err, "%s: out of memory", t->path);
    *ids = e.ids.v;
    *n_ids = e.ids.n;
    return 0;
}
