/* Loading a Hugging Face tokenizer.json (and tokenizer_config.json beside it) into a
 * floe_hf_tokenizer. Everything outside what docs/tokenizers.md lists is refused with the file and
 * the JSON field, so a tokenizer either encodes exactly as the library does or does not load. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/file_read.h"
#include "models/hf_tokenizer.h"
#include "models/split_pattern.h"
#include "models/unicode_class.h"

enum { MAX_PIECES = 1 << 24, MAX_FILE = 1 << 30, MAX_STAGES = 16, MAX_FIELD = 160 };

typedef struct {
    const char *path;
    floe_err *err;
} loader;

static int fail(const loader *ld, const char *fmt, ...) FLOE_PRINTF(2, 3);
static int fail(const loader *ld, const char *fmt, ...)
{
    char msg[FLOE_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return floe_err_set(ld->err, "%s: %s", ld->path, msg);
}

static int oom(const loader *ld) { return fail(ld, "out of memory"); }

static const cJSON *member(const cJSON *o, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return it && !cJSON_IsNull(it) ? it : NULL;
}

/* A string member: *out NULL when absent or null (an error when required). */
static int get_str(const loader *ld, const cJSON *o, const char *where, const char *key, int required, const char **out)
{
    const cJSON *it = member(o, key);
    *out = NULL;
    if (!it)
        return required ? fail(ld, "%s.%s is missing", where, key) : 0;
    if (!cJSON_IsString(it))
        return fail(ld, "%s.%s: expected a string", where, key);
    *out = it->valuestring;
    return 0;
}

static int get_bool(const loader *ld, const cJSON *o, const char *where, const char *key, int def, int *out)
{
    const cJSON *it = member(o, key);
    *out = def;
    if (!it)
        return 0;
    if (!cJSON_IsBool(it))
        return fail(ld, "%s.%s: expected true or false", where, key);
    *out = cJSON_IsTrue(it);
    return 0;
}

static int as_int(const cJSON *it, long long lo, long long hi, long long *out)
{
    if (!cJSON_IsNumber(it))
        return -1;
    double v = it->valuedouble;
    if (!(v >= (double)lo && v <= (double)hi) || v != (double)(long long)v)
        return -1;
    *out = (long long)v;
    return 0;
}

static int get_int(const loader *ld, const cJSON *o, const char *where, const char *key, long long def, long long lo,
                   long long hi, long long *out)
{
    const cJSON *it = member(o, key);
    *out = def;
    if (!it)
        return 0;
    if (as_int(it, lo, hi, out))
        return fail(ld, "%s.%s: expected an integer in [%lld, %lld]", where, key, lo, hi);
    return 0;
}

static int dup_str(floe_hf_str *d, const char *s)
{
    d->n = strlen(s);
    d->s = malloc(d->n + 1);
    if (!d->s)
        return -1;
    memcpy(d->s, s, d->n + 1);
    return 0;
}

/* The "String" of a {"String": ...} pattern; Regex patterns are refused. */
static int string_pattern(const loader *ld, const cJSON *o, const char *where, const char **out)
{
    const cJSON *pat = member(o, "pattern");
    if (!pat || !cJSON_IsObject(pat))
        return fail(ld, "%s.pattern: expected an object {\"String\": ...}", where);
    if (member(pat, "Regex"))
        return fail(ld, "%s.pattern: a Regex pattern is not supported here (supported: String)", where);
    char w[MAX_FIELD];
    snprintf(w, sizeof w, "%s.pattern", where);
    if (get_str(ld, pat, w, "String", 1, out))
        return -1;
    if (!**out)
        return fail(ld, "%s.pattern.String is empty", where);
    return 0;
}

/* One Unicode character (the Metaspace replacement, the Strip content). */
static int one_char(const loader *ld, const char *s, const char *where, const char *key, uint32_t *cp)
{
    size_t n = strlen(s);
    if (n == 0 || (size_t)floe_utf8_decode((const uint8_t *)s, n, cp) != n)
        return fail(ld, "%s.%s: expected one character, got '%s'", where, key, s);
    return 0;
}

static int prepend_scheme(const loader *ld, const cJSON *o, const char *where, int *out)
{
    const char *s;
    if (get_str(ld, o, where, "prepend_scheme", 0, &s))
        return -1;
    if (!s) { /* older files: add_prefix_space */
        int aps;
        if (get_bool(ld, o, where, "add_prefix_space", 1, &aps))
            return -1;
        *out = aps ? FLOE_PREPEND_ALWAYS : FLOE_PREPEND_NEVER;
        return 0;
    }
    if (strcmp(s, "always") == 0)
        *out = FLOE_PREPEND_ALWAYS;
    else if (strcmp(s, "first") == 0)
        *out = FLOE_PREPEND_FIRST;
    else if (strcmp(s, "never") == 0)
        *out = FLOE_PREPEND_NEVER;
    else
        return fail(ld, "%s.prepend_scheme '%s' is not one of always, first, never", where, s);
    return 0;
}

static int parse_normalizer(const loader *ld, floe_hf_tokenizer *t, const cJSON *o, const char *where)
{
    const char *type;
    if (!cJSON_IsObject(o))
        return fail(ld, "%s: expected an object or null", where);
    if (get_str(ld, o, where, "type", 1, &type))
        return -1;
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = member(o, "normalizers"), *it;
        if (!cJSON_IsArray(list))
            return fail(ld, "%s.normalizers: expected an array", where);
        int i = 0;
        cJSON_ArrayForEach(it, list)
        {
            char w[MAX_FIELD];
            snprintf(w, sizeof w, "%s.normalizers[%d]", where, i++);
            if (parse_normalizer(ld, t, it, w))
                return -1;
        }
        return 0;
    }
    if (t->n_norm == MAX_STAGES)
        return fail(ld, "%s: more than %d normalizers", where, MAX_STAGES);
    floe_hf_norm *nm = &t->norm[t->n_norm++];
    const char *a, *b;
    if (strcmp(type, "Prepend") == 0) {
        nm->kind = FLOE_NORM_PREPEND;
        if (get_str(ld, o, where, "prepend", 1, &a))
            return -1;
        if (dup_str(&nm->a, a))
            return oom(ld);
    } else if (strcmp(type, "Replace") == 0) {
        nm->kind = FLOE_NORM_REPLACE;
        if (string_pattern(ld, o, where, &a) || get_str(ld, o, where, "content", 1, &b))
            return -1;
        if (dup_str(&nm->a, a) || dup_str(&nm->b, b))
            return oom(ld);
    } else if (strcmp(type, "NFC") == 0) {
        nm->kind = FLOE_NORM_NFC;
    } else {
        return fail(ld, "%s.type '%s' is not supported (supported: Sequence, Prepend, Replace, NFC)", where, type);
    }
    return 0;
}

static int parse_pre(const loader *ld, floe_hf_tokenizer *t, const cJSON *o, const char *where)
{
    const char *type, *s;
    if (!cJSON_IsObject(o))
        return fail(ld, "%s: expected an object or null", where);
    if (get_str(ld, o, where, "type", 1, &type))
        return -1;
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = member(o, "pretokenizers"), *it;
        if (!cJSON_IsArray(list))
            return fail(ld, "%s.pretokenizers: expected an array", where);
        int i = 0;
        cJSON_ArrayForEach(it, list)
        {
            char w[MAX_FIELD];
            snprintf(w, sizeof w, "%s.pretokenizers[%d]", where, i++);
            if (parse_pre(ld, t, it, w))
                return -1;
        }
        return 0;
    }
    if (t->n_pre == MAX_STAGES)
        return fail(ld, "%s: more than %d pre-tokenizers", where, MAX_STAGES);
    floe_hf_pre *p = &t->pre[t->n_pre++];
    if (strcmp(type, "ByteLevel") == 0) {
        p->kind = FLOE_PRE_BYTELEVEL;
        if (get_bool(ld, o, where, "add_prefix_space", 1, &p->add_prefix_space) ||
            get_bool(ld, o, where, "use_regex", 1, &p->use_regex))
            return -1;
    } else if (strcmp(type, "Split") == 0) {
        const cJSON *pat = member(o, "pattern");
        int invert;
        if (!pat || !cJSON_IsObject(pat))
            return fail(ld, "%s.pattern: expected an object {\"Regex\": ...} or {\"String\": ...}", where);
        if (get_str(ld, o, where, "behavior", 1, &s) || get_bool(ld, o, where, "invert", 0, &invert))
            return -1;
        if (strcmp(s, "Isolated") != 0)
            return fail(ld, "%s.behavior '%s' is not supported (supported: Isolated)", where, s);
        if (invert)
            return fail(ld, "%s.invert true is not supported", where);
        char w[MAX_FIELD];
        snprintf(w, sizeof w, "%s.pattern", where);
        if (member(pat, "Regex")) {
            if (get_str(ld, pat, w, "Regex", 1, &s))
                return -1;
            p->kind = FLOE_PRE_SPLIT;
            p->pattern = floe_split_pattern_find(s);
            if (p->pattern < 0)
                return fail(ld, "%s.Regex '%s' is not supported (supported: %s)", w, s, floe_split_pattern_list());
        } else {
            if (string_pattern(ld, o, where, &s))
                return -1;
            p->kind = FLOE_PRE_SPLIT_STRING;
            if (dup_str(&p->literal, s))
                return oom(ld);
        }
    } else if (strcmp(type, "Digits") == 0) {
        p->kind = FLOE_PRE_DIGITS;
        if (get_bool(ld, o, where, "individual_digits", 0, &p->individual_digits))
            return -1;
    } else if (strcmp(type, "Metaspace") == 0) {
        uint32_t cp;
        p->kind = FLOE_PRE_METASPACE;
        if (get_str(ld, o, where, "replacement", 1, &s) || one_char(ld, s, where, "replacement", &cp) ||
            prepend_scheme(ld, o, where, &p->prepend_scheme) || get_bool(ld, o, where, "split", 1, &p->split))
            return -1;
        p->repl_len = floe_utf8_encode(cp, p->repl);
    } else {
        return fail(ld, "%s.type '%s' is not supported (supported: Sequence, ByteLevel, Split, Digits, Metaspace)",
                    where, type);
    }
    return 0;
}

static int parse_decoder(const loader *ld, floe_hf_tokenizer *t, const cJSON *o, const char *where)
{
    const char *type, *s;
    if (!cJSON_IsObject(o))
        return fail(ld, "%s: expected an object or null", where);
    if (get_str(ld, o, where, "type", 1, &type))
        return -1;
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = member(o, "decoders"), *it;
        if (!cJSON_IsArray(list))
            return fail(ld, "%s.decoders: expected an array", where);
        int i = 0;
        cJSON_ArrayForEach(it, list)
        {
            char w[MAX_FIELD];
            snprintf(w, sizeof w, "%s.decoders[%d]", where, i++);
            if (parse_decoder(ld, t, it, w))
                return -1;
        }
        return 0;
    }
    if (t->n_dec == MAX_STAGES)
        return fail(ld, "%s: more than %d decoders", where, MAX_STAGES);
    floe_hf_dec *d = &t->dec[t->n_dec++];
    if (strcmp(type, "ByteLevel") == 0) {
        d->kind = FLOE_DEC_BYTELEVEL;
    } else if (strcmp(type, "Metaspace") == 0) {
        d->kind = FLOE_DEC_METASPACE;
        if (get_str(ld, o, where, "replacement", 1, &s) || one_char(ld, s, where, "replacement", &d->ch) ||
            prepend_scheme(ld, o, where, &d->prepend_scheme))
            return -1;
    } else if (strcmp(type, "Replace") == 0) {
        const char *c;
        d->kind = FLOE_DEC_REPLACE;
        if (string_pattern(ld, o, where, &s) || get_str(ld, o, where, "content", 1, &c))
            return -1;
        if (dup_str(&d->a, s))
            return oom(ld);
        if (dup_str(&d->b, c))
            return oom(ld);
    } else if (strcmp(type, "ByteFallback") == 0) {
        d->kind = FLOE_DEC_BYTEFALLBACK;
    } else if (strcmp(type, "Fuse") == 0) {
        d->kind = FLOE_DEC_FUSE;
    } else if (strcmp(type, "Strip") == 0) {
        long long a, b;
        d->kind = FLOE_DEC_STRIP;
        if (get_str(ld, o, where, "content", 1, &s) || one_char(ld, s, where, "content", &d->ch) ||
            get_int(ld, o, where, "start", 0, 0, INT_MAX, &a) || get_int(ld, o, where, "stop", 0, 0, INT_MAX, &b))
            return -1;
        d->start = (int)a;
        d->stop = (int)b;
    } else {
        return fail(ld,
                    "%s.type '%s' is not supported (supported: Sequence, ByteLevel, Metaspace, Replace, ByteFallback, "
                    "Fuse, Strip)",
                    where, type);
    }
    return 0;
}

static int add_tmpl(const loader *ld, floe_hf_tokenizer *t, int32_t id)
{
    int32_t *p = realloc(t->tmpl, (t->n_tmpl + 1) * sizeof *p);
    if (!p)
        return oom(ld);
    t->tmpl = p;
    t->tmpl[t->n_tmpl++] = id;
    return 0;
}

static int parse_template(const loader *ld, floe_hf_tokenizer *t, const cJSON *o, const char *where)
{
    const cJSON *single = member(o, "single"), *specials = member(o, "special_tokens"), *it;
    if (!cJSON_IsArray(single))
        return fail(ld, "%s.single: expected an array", where);
    if (t->tmpl)
        return fail(ld, "%s: a second TemplateProcessing is not supported", where);
    int i = 0, have_a = 0;
    cJSON_ArrayForEach(it, single)
    {
        char w[MAX_FIELD];
        snprintf(w, sizeof w, "%s.single[%d]", where, i++);
        const cJSON *sp = member(it, "SpecialToken"), *seq = member(it, "Sequence");
        const char *id;
        if (seq) {
            snprintf(w + strlen(w), sizeof w - strlen(w), ".Sequence");
            if (get_str(ld, seq, w, "id", 1, &id))
                return -1;
            if (strcmp(id, "A") != 0 || have_a)
                return fail(ld, "%s.id: only one sequence, A, is supported in single", w);
            have_a = 1;
            t->n_before = t->n_tmpl;
            continue;
        }
        if (!sp)
            return fail(ld, "%s: expected {\"SpecialToken\": ...} or {\"Sequence\": ...}", w);
        snprintf(w + strlen(w), sizeof w - strlen(w), ".SpecialToken");
        if (get_str(ld, sp, w, "id", 1, &id))
            return -1;
        const cJSON *entry = specials ? cJSON_GetObjectItemCaseSensitive(specials, id) : NULL;
        const cJSON *ids = entry ? member(entry, "ids") : NULL, *x;
        if (!cJSON_IsArray(ids))
            return fail(ld, "%s.special_tokens['%s'].ids: missing (named by %s.id)", where, id, w);
        int k = 0;
        cJSON_ArrayForEach(x, ids)
        {
            long long v;
            if (as_int(x, 0, t->bpe.n_ids - 1, &v))
                return fail(ld, "%s.special_tokens['%s'].ids[%d]: expected an id in [0, %d]", where, id, k,
                            (int)t->bpe.n_ids - 1);
            if (!t->bpe.piece[v] && t->added_of_id[v] < 0)
                return fail(ld,
                            "%s.special_tokens['%s'].ids[%d]: id %lld is neither in model.vocab nor in added_tokens",
                            where, id, k, v);
            if (add_tmpl(ld, t, (int32_t)v))
                return -1;
            k++;
        }
    }
    if (!have_a)
        return fail(ld, "%s.single: no {\"Sequence\": {\"id\": \"A\"}}", where);
    return 0;
}

static int parse_post(const loader *ld, floe_hf_tokenizer *t, const cJSON *o, const char *where)
{
    const char *type;
    if (!cJSON_IsObject(o))
        return fail(ld, "%s: expected an object or null", where);
    if (get_str(ld, o, where, "type", 1, &type))
        return -1;
    if (strcmp(type, "ByteLevel") == 0)
        return 0; /* offsets only; the ids are unchanged */
    if (strcmp(type, "TemplateProcessing") == 0)
        return parse_template(ld, t, o, where);
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = member(o, "processors"), *it;
        if (!cJSON_IsArray(list))
            return fail(ld, "%s.processors: expected an array", where);
        int i = 0;
        cJSON_ArrayForEach(it, list)
        {
            char w[MAX_FIELD];
            snprintf(w, sizeof w, "%s.processors[%d]", where, i++);
            if (parse_post(ld, t, it, w))
                return -1;
        }
        return 0;
    }
    return fail(ld, "%s.type '%s' is not supported (supported: TemplateProcessing, ByteLevel, Sequence)", where, type);
}

/* The id of a token text: an added token first, then the vocabulary; -1 when neither. */
static int32_t token_id(const floe_hf_tokenizer *t, const char *s)
{
    for (int i = 0; i < t->n_added; i++)
        if (strcmp(t->added[i].content.s, s) == 0)
            return t->added[i].id;
    return floe_bpe_find(&t->bpe, s, strlen(s));
}

/* Sort key of an added token in a matcher: first byte, then longest first, then file order. */
typedef struct {
    uint8_t first;
    size_t len;
    int32_t index;
} added_key;

static int cmp_added(const void *pa, const void *pb)
{
    const added_key *a = pa, *b = pb;
    if (a->first != b->first)
        return a->first < b->first ? -1 : 1;
    if (a->len != b->len)
        return a->len > b->len ? -1 : 1;
    return a->index < b->index ? -1 : 1;
}

static int build_matcher(floe_hf_tokenizer *t, floe_hf_matcher *m, int normalized)
{
    int n = 0;
    added_key *keys = malloc(((size_t)t->n_added + 1) * sizeof *keys);
    m->order = malloc(((size_t)t->n_added + 1) * sizeof *m->order);
    if (!keys || !m->order) {
        free(keys);
        return -1;
    }
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].normalized == normalized && t->added[i].match.n)
            keys[n++] = (added_key){(uint8_t)t->added[i].match.s[0], t->added[i].match.n, i};
    qsort(keys, (size_t)n, sizeof *keys, cmp_added);
    int k = 0;
    for (int b = 0; b <= 256; b++) {
        while (k < n && keys[k].first < b)
            k++;
        m->first[b] = k;
    }
    m->first[256] = n;
    for (int i = 0; i < n; i++)
        m->order[i] = keys[i].index;
    free(keys);
    return 0;
}

static int parse_added(const loader *ld, floe_hf_tokenizer *t, const cJSON *list)
{
    const cJSON *it;
    int i = 0;
    cJSON_ArrayForEach(it, list)
    {
        char w[MAX_FIELD];
        snprintf(w, sizeof w, "added_tokens[%d]", i);
        floe_hf_added *a = &t->added[i];
        const char *content;
        long long id;
        if (!cJSON_IsObject(it))
            return fail(ld, "%s: expected an object", w);
        if (!member(it, "id"))
            return fail(ld, "%s.id is missing", w);
        if (get_int(ld, it, w, "id", 0, 0, t->bpe.n_ids - 1, &id) || get_str(ld, it, w, "content", 1, &content) ||
            get_bool(ld, it, w, "special", 0, &a->special) || get_bool(ld, it, w, "lstrip", 0, &a->lstrip) ||
            get_bool(ld, it, w, "rstrip", 0, &a->rstrip) || get_bool(ld, it, w, "single_word", 0, &a->single_word) ||
            get_bool(ld, it, w, "normalized", !a->special, &a->normalized))
            return -1;
        if (!*content)
            return fail(ld, "%s.content is empty", w);
        if (t->added_of_id[id] >= 0)
            return fail(ld, "%s.id %lld is also the id of added_tokens[%d]", w, id, (int)t->added_of_id[id]);
        a->id = (int32_t)id;
        t->added_of_id[id] = i;
        if (dup_str(&a->content, content))
            return oom(ld);
        t->n_added = ++i;
        if (a->normalized && t->n_norm) {
            a->match.s = floe_hf_normalize(t, content, a->content.n, &a->match.n);
            if (!a->match.s)
                return oom(ld);
        } else if (dup_str(&a->match, content)) {
            return oom(ld);
        }
    }
    return 0;
}

static int parse_vocab(const loader *ld, floe_hf_tokenizer *t, const cJSON *vocab, const cJSON *added, size_t n_merges)
{
    int n = cJSON_GetArraySize(vocab), n_added = added ? cJSON_GetArraySize(added) : 0;
    if (n < 1 || n > MAX_PIECES)
        return fail(ld, "model.vocab has %d entries (expected 1 to %d)", n, MAX_PIECES);
    /* ids are dense up to holes no more numerous than the added tokens: a hostile id cannot make
     * the id table huge */
    long long limit = (long long)n + n_added, max_id = 0, id;
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab)
    {
        if (as_int(it, 0, limit - 1, &id))
            return fail(ld,
                        "model.vocab['%s']: id out of range (expected an integer in [0, %lld]: the ids of %d "
                        "tokens and %d added tokens)",
                        it->string, limit - 1, n, n_added);
        if (id > max_id)
            max_id = id;
    }
    cJSON_ArrayForEach(it, added)
    {
        if (!as_int(member(it, "id"), 0, limit - 1, &id) && id > max_id)
            max_id = id;
    }
    if (floe_bpe_init(&t->bpe, (int32_t)(max_id + 1), (size_t)n, n_merges))
        return oom(ld);
    cJSON_ArrayForEach(it, vocab)
    {
        int32_t id = (int32_t)it->valuedouble, other = -1;
        size_t len = strlen(it->string);
        int rc = floe_bpe_add_piece(&t->bpe, it->string, len, id, &other);
        if (rc == 1)
            return fail(ld, "model.vocab['%s']: id %d is also the id of '%s'", it->string, (int)id, t->bpe.piece[id]);
        if (rc == 2)
            return fail(ld, "model.vocab: token '%s' appears twice (ids %d and %d)", it->string, (int)other, (int)id);
        if (rc)
            return oom(ld);
    }
    return 0;
}

static int parse_merges(const loader *ld, floe_hf_tokenizer *t, const cJSON *merges)
{
    const cJSON *it;
    int r = 0;
    char *buf = NULL;
    size_t cap = 0;
    cJSON_ArrayForEach(it, merges)
    {
        const char *a, *b;
        size_t na, nb;
        if (cJSON_IsString(it)) {
            a = it->valuestring;
            const char *sp = strchr(a, ' ');
            if (!sp || sp == a || !sp[1]) {
                free(buf);
                return fail(ld, "model.merges[%d]: expected 'left right', got '%s'", r, a);
            }
            na = (size_t)(sp - a);
            b = sp + 1;
        } else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 && cJSON_IsString(it->child) &&
                   cJSON_IsString(it->child->next)) {
            a = it->child->valuestring;
            b = it->child->next->valuestring;
            na = strlen(a);
        } else {
            free(buf);
            return fail(ld, "model.merges[%d]: expected \"left right\" or [\"left\", \"right\"]", r);
        }
        nb = strlen(b);
        if (na + nb + 1 > cap) {
            cap = 2 * (na + nb + 1);
            char *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                return oom(ld);
            }
            buf = p;
        }
        memcpy(buf, a, na);
        memcpy(buf + na, b, nb);
        buf[na + nb] = 0;
        int32_t ia = floe_bpe_find(&t->bpe, a, na), ib = floe_bpe_find(&t->bpe, b, nb);
        int32_t im = floe_bpe_find(&t->bpe, buf, na + nb);
        if (ia < 0 || ib < 0 || im < 0) {
            int side = ia < 0 ? 0 : ib < 0 ? 1 : 2;
            int rc = fail(ld, "model.merges[%d]: %s '%.*s' is not in model.vocab", r,
                          side == 0   ? "token"
                          : side == 1 ? "token"
                                      : "merged token",
                          side == 0   ? (int)na
                          : side == 1 ? (int)nb
                                      : (int)(na + nb),
                          side == 0   ? a
                          : side == 1 ? b
                                      : buf);
            free(buf);
            return rc;
        }
        floe_bpe_add_merge(&t->bpe, ia, ib, r, im);
        r++;
    }
    free(buf);
    return 0;
}

static int parse_model(const loader *ld, floe_hf_tokenizer *t, const cJSON *model, const cJSON *added)
{
    const char *type, *s;
    if (!model || !cJSON_IsObject(model))
        return fail(ld, "model: expected an object");
    if (get_str(ld, model, "model", "type", 1, &type))
        return -1;
    if (strcmp(type, "BPE") != 0)
        return fail(ld, "model.type '%s' is not supported (supported: BPE)", type);
    if (member(model, "dropout"))
        return fail(ld, "model.dropout is not supported (must be null)");
    const char *affix[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        if (get_str(ld, model, "model", affix[i], 0, &s))
            return -1;
        if (s && *s)
            return fail(ld, "model.%s '%s' is not supported (must be null)", affix[i], s);
    }
    const cJSON *vocab = member(model, "vocab"), *merges = member(model, "merges");
    if (!vocab || !cJSON_IsObject(vocab))
        return fail(ld, "model.vocab: expected an object (token -> id)");
    if (merges && !cJSON_IsArray(merges))
        return fail(ld, "model.merges: expected an array");
    if (parse_vocab(ld, t, vocab, added, merges ? (size_t)cJSON_GetArraySize(merges) : 0))
        return -1;
    if (get_bool(ld, model, "model", "fuse_unk", 0, &t->bpe.fuse_unk) ||
        get_bool(ld, model, "model", "byte_fallback", 0, &t->bpe.byte_fallback) ||
        get_bool(ld, model, "model", "ignore_merges", 0, &t->bpe.ignore_merges) ||
        get_str(ld, model, "model", "unk_token", 0, &s))
        return -1;
    if (s && (t->bpe.unk_id = floe_bpe_find(&t->bpe, s, strlen(s))) < 0)
        return fail(ld, "model.unk_token '%s' is not in model.vocab", s);
    floe_bpe_find_bytes(&t->bpe);
    return merges ? parse_merges(ld, t, merges) : 0;
}

/* bos_token / eos_token / add_bos_token from tokenizer_config.json, when the file exists. */
static int read_config(floe_hf_tokenizer *t, const char *dir, floe_err *err)
{
    char path[4096];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/tokenizer_config.json", dir) >= (int)sizeof path)
        return floe_err_set(err, "%s: path too long", dir);
    if (stat(path, &st) != 0)
        return 0;
    char *data;
    size_t len;
    if (floe_read_file(path, 64u << 20, &data, &len, err))
        return -1;
    loader ld = {path, err};
    cJSON *root = cJSON_ParseWithLength(data, len);
    free(data);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return fail(&ld, "not a JSON object");
    }
    const char *keys[] = {"bos_token", "eos_token"};
    int32_t *dest[] = {&t->base.bos_id, &t->base.eos_id};
    int rc = 0;
    for (int i = 0; i < 2 && !rc; i++) {
        const cJSON *it = member(root, keys[i]);
        if (it && cJSON_IsObject(it))
            it = member(it, "content");
        if (!it)
            continue;
        if (!cJSON_IsString(it)) {
            rc = fail(&ld, "%s: expected a string or {\"content\": ...}", keys[i]);
            break;
        }
        *dest[i] = token_id(t, it->valuestring);
        if (*dest[i] < 0)
            rc = fail(&ld, "%s '%s' is not a token of the tokenizer", keys[i], it->valuestring);
    }
    if (!rc)
        rc = get_bool(&ld, root, "tokenizer_config", "add_bos_token", 0, &t->base.add_bos);
    cJSON_Delete(root);
    return rc;
}

static void hf_destroy(floe_tokenizer *tok)
{
    floe_hf_tokenizer *t = (floe_hf_tokenizer *)tok;
    floe_bpe_free(&t->bpe);
    for (int i = 0; i < t->n_norm; i++) {
        free(t->norm[i].a.s);
        free(t->norm[i].b.s);
    }
    for (int i = 0; i < t->n_pre; i++)
        free(t->pre[i].literal.s);
    for (int i = 0; i < t->n_dec; i++) {
        free(t->dec[i].a.s);
        free(t->dec[i].b.s);
    }
    for (int i = 0; i < t->n_added; i++) {
        free(t->added[i].content.s);
        free(t->added[i].match.s);
    }
    free(t->norm);
    free(t->pre);
    free(t->dec);
    free(t->added);
    free(t->added_of_id);
    free(t->raw.order);
    free(t->normed.order);
    free(t->tmpl);
    free(t->path);
    free(t);
}

static size_t hf_encode_table(const floe_tokenizer *tok, const uint8_t *text, size_t n, int32_t *out, size_t cap)
{
    int32_t *ids;
    size_t m;
    if (floe_hf_encode(tok, text, n, 0, &ids, &m, NULL))
        return 0;
    memcpy(out, ids, (m < cap ? m : cap) * sizeof *ids);
    free(ids);
    return m;
}

static int hf_decode_table(const floe_tokenizer *tok, const int32_t *ids, size_t n, uint8_t *out, size_t cap,
                           size_t *len, floe_err *err)
{
    uint8_t *text;
    if (floe_hf_decode(tok, ids, n, 0, &text, len, err))
        return -1;
    if (cap)
        memcpy(out, text, *len < cap ? *len : cap);
    free(text);
    return 0;
}

static int load_json(floe_hf_tokenizer *t, const char *path, const char *data, size_t len, floe_err *err)
{
    loader ld = {path, err};
    cJSON *root = cJSON_ParseWithLength(data, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= data && at <= data + len ? (long)(at - data) : -1;
        return fail(&ld, "not valid JSON (near byte %ld)", off);
    }
    int rc = -1;
    const cJSON *added = member(root, "added_tokens"), *x;
    if (!cJSON_IsObject(root)) {
        fail(&ld, "expected a JSON object");
        goto done;
    }
    if (added && !cJSON_IsArray(added)) {
        fail(&ld, "added_tokens: expected an array");
        goto done;
    }
    const char *off_fields[] = {"truncation", "padding"};
    for (int i = 0; i < 2; i++)
        if (member(root, off_fields[i])) {
            fail(&ld, "%s is not supported (must be null)", off_fields[i]);
            goto done;
        }
    int n_added = added ? cJSON_GetArraySize(added) : 0;
    if (n_added > MAX_PIECES) {
        fail(&ld, "added_tokens has %d entries (at most %d)", n_added, MAX_PIECES);
        goto done;
    }
    t->norm = calloc(MAX_STAGES, sizeof *t->norm);
    t->pre = calloc(MAX_STAGES, sizeof *t->pre);
    t->dec = calloc(MAX_STAGES, sizeof *t->dec);
    t->added = calloc((size_t)n_added + 1, sizeof *t->added);
    if (!t->norm || !t->pre || !t->dec || !t->added) {
        oom(&ld);
        goto done;
    }
    if (parse_model(&ld, t, member(root, "model"), added))
        goto done;
    t->added_of_id = malloc((size_t)t->bpe.n_ids * sizeof *t->added_of_id);
    if (!t->added_of_id) {
        oom(&ld);
        goto done;
    }
    for (int32_t i = 0; i < t->bpe.n_ids; i++)
        t->added_of_id[i] = -1;
    if ((x = member(root, "normalizer")) && parse_normalizer(&ld, t, x, "normalizer"))
        goto done;
    if (added && parse_added(&ld, t, added))
        goto done;
    if ((x = member(root, "pre_tokenizer")) && parse_pre(&ld, t, x, "pre_tokenizer"))
        goto done;
    if ((x = member(root, "post_processor")) && parse_post(&ld, t, x, "post_processor"))
        goto done;
    t->has_decoder = member(root, "decoder") != NULL;
    if ((x = member(root, "decoder")) && parse_decoder(&ld, t, x, "decoder"))
        goto done;
    if (build_matcher(t, &t->raw, 0) || build_matcher(t, &t->normed, 1)) {
        oom(&ld);
        goto done;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

static const floe_tokenizer *load_hf(const char *arg, floe_err *err)
{
    struct stat st;
    char path[4096], dir[4096];
    if (stat(arg, &st) != 0) {
        floe_err_set(err,
                     "tokenizer '%s': no such file or folder (expected 'byte', a tokenizer.json or a folder "
                     "holding one)",
                     arg);
        return NULL;
    }
    if (strlen(arg) + 32 > sizeof path) {
        floe_err_set(err, "tokenizer '%s': path too long", arg);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(path, sizeof path, "%s/tokenizer.json", arg);
        snprintf(dir, sizeof dir, "%s", arg);
    } else {
        snprintf(path, sizeof path, "%s", arg);
        snprintf(dir, sizeof dir, "%s", arg);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(dir, sizeof dir, ".");
    }
    char *data;
    size_t len;
    if (floe_read_file(path, MAX_FILE, &data, &len, err))
        return NULL;
    const floe_tokenizer *tok = floe_tokenizer_from_json(path, data, len, err);
    free(data);
    if (tok && read_config((floe_hf_tokenizer *)tok->state, dir, err)) {
        floe_tokenizer_free(tok);
        return NULL;
    }
    return tok;
}

const floe_tokenizer *floe_tokenizer_from_json(const char *name, const char *json, size_t len, floe_err *err)
{
    floe_hf_tokenizer *t = calloc(1, sizeof *t);
    if (!t || !(t->path = malloc(strlen(name) + 1))) {
        free(t);
        floe_err_set(err, "%s: out of memory", name);
        return NULL;
    }
    memcpy(t->path, name, strlen(name) + 1);
    t->base.name = t->path;
    t->base.encode = hf_encode_table;
    t->base.decode = hf_decode_table;
    t->base.state = t;
    t->base.bos_id = t->base.eos_id = -1;
    t->base.encode_ex = floe_hf_encode;
    t->base.decode_ex = floe_hf_decode;
    t->base.destroy = hf_destroy;
    if (load_json(t, name, json, len, err)) {
        hf_destroy(&t->base);
        return NULL;
    }
    t->base.vocab_size = t->bpe.n_ids;
    return &t->base;
}

const floe_tokenizer *floe_tokenizer_load(const char *path_or_name, floe_err *err)
{
    if (strcmp(path_or_name, "byte") == 0)
        return floe_tokenizer_byte();
    return load_hf(path_or_name, err);
}
