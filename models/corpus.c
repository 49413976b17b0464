#include "models/corpus.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/file_read.h"
#include "common/path.h"
#include "common/rng.h"
#include "models/token_file.h"

#define FORTUNE_FILE_MAX (64u << 20)

uint64_t floe_fnv1a64(const void *data, size_t n)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

int floe_corpus_is_validation(const uint8_t *text, size_t n)
{
    /* FNV-1a's low bits are weak, so mix it with the splitmix64 finalizer before taking the modulus. */
    uint64_t z = floe_fnv1a64(text, n);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return z % FLOE_CORPUS_VAL_MODULUS == 0;
}

void floe_corpus_init(floe_corpus *c) { memset(c, 0, sizeof *c); }

void floe_corpus_free(floe_corpus *c)
{
    free(c->train);
    free(c->val);
    memset(c, 0, sizeof *c);
}

static int append(uint8_t **buf, size_t *len, size_t *cap, const uint8_t *p, size_t n, floe_err *err)
{
    if (n > SIZE_MAX / 2 - *len)
        return floe_err_set(err, "corpus: too large");
    if (*len + n > *cap) {
        size_t nc = *cap ? *cap : 1 << 16;
        while (nc < *len + n)
            nc *= 2;
        uint8_t *nb = realloc(*buf, nc);
        if (!nb)
            return floe_err_set(err, "corpus: out of memory (%zu bytes)", nc);
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    return 0;
}

int floe_corpus_add_doc(floe_corpus *c, const uint8_t *text, size_t n, floe_err *err)
{
    int val = floe_corpus_is_validation(text, n);
    uint8_t **buf = val ? &c->val : &c->train;
    size_t *len = val ? &c->n_val : &c->n_train, *cap = val ? &c->cap_val : &c->cap_train;
    if (append(buf, len, cap, text, n, err) || append(buf, len, cap, (const uint8_t *)"%\n", 2, err))
        return -1;
    if (val)
        c->docs_val++;
    else
        c->docs_train++;
    return 0;
}

/* --- fortunes --------------------------------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Adds one fortune (the bytes between separator lines), resolving overstrikes and skipping blank
 * ones. `tmp` has room for n bytes. */
static int add_fortune(floe_corpus *c, const uint8_t *p, size_t n, uint8_t *tmp, floe_err *err)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\b') { /* "x\by" prints y over x: keep y */
            if (m > 0 && tmp[m - 1] != '\n')
                m--;
            continue;
        }
        tmp[m++] = p[i];
    }
    int blank = 1; /* of what is left: a backspace may have erased every printing byte */
    for (size_t i = 0; i < m && blank; i++)
        blank = tmp[i] == ' ' || tmp[i] == '\t' || tmp[i] == '\n' || tmp[i] == '\r';
    if (blank)
        return 0;
    if (tmp[m - 1] != '\n')
        tmp[m++] = '\n'; /* tmp has n + 2 bytes of room */
    return floe_corpus_add_doc(c, tmp, m, err);
}

static int load_fortune_file(floe_corpus *c, const char *path, floe_err *err)
{
    char *data;
    size_t len;
    if (floe_read_file(path, FORTUNE_FILE_MAX, &data, &len, err))
        return -1;
    uint8_t *tmp = malloc(len + 2);
    if (!tmp) {
        free(data);
        return floe_err_set(err, "%s: out of memory", path);
    }
    const uint8_t *p = (const uint8_t *)data;
    size_t start = 0, i = 0;
    int rc = 0;
    while (i < len && rc == 0) {
        size_t eol = i;
        while (eol < len && p[eol] != '\n')
            eol++;
        size_t ll = eol - i;
        if (ll >= 1 && p[i] == '%' && (ll == 1 || (ll == 2 && p[i + 1] == '\r'))) {
            rc = add_fortune(c, p + start, i - start, tmp, err);
            start = eol < len ? eol + 1 : len;
        }
        i = eol < len ? eol + 1 : len;
    }
    if (rc == 0 && start < len)
        rc = add_fortune(c, p + start, len - start, tmp, err);
    free(tmp);
    free(data);
    if (rc)
        floe_err_prefix(err, "%s", path);
    return rc;
}

int floe_corpus_load_fortunes(floe_corpus *c, const char *dir, floe_err *err)
{
    floe_corpus_init(c);
    if (!dir)
        dir = FLOE_FORTUNES_DIR;
    DIR *d = opendir(dir);
    if (!d)
        return floe_err_set(err,
                            "%s: cannot open the fortunes corpus (%s): install Debian's 'fortunes' package "
                            "(scripts/setup.sh does)",
                            dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = -1;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        struct stat st;
        if (e->d_name[0] == '.' || ends_with(e->d_name, ".dat") || ends_with(e->d_name, ".u8"))
            continue;
        if (floe_path_join(path, sizeof path, dir, e->d_name) || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue; /* sub-folders (off/) and dangling links */
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                floe_err_set(err, "%s: out of memory", dir);
                goto out;
            }
            names = nn;
        }
        size_t len = strlen(e->d_name) + 1;
        if (!(names[n] = malloc(len))) {
            floe_err_set(err, "%s: out of memory", dir);
            goto out;
        }
        memcpy(names[n++], e->d_name, len);
    }
    if (n == 0) {
        floe_err_set(err, "%s: no fortune files found: install Debian's 'fortunes' package (scripts/setup.sh does)",
                     dir);
        goto out;
    }
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        floe_path_join(path, sizeof path, dir, names[i]);
        if (load_fortune_file(c, path, err))
            goto out;
    }
    c->n_files = n;
    rc = 0;
out:
    closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc)
        floe_corpus_free(c);
    return rc;
}

/* --- generated corpus ------------------------------------------------------------------------- */

static const char *const adjectives[] = {"quiet", "bright", "old",    "clever", "lazy",    "strange",
                                         "small", "honest", "golden", "hungry", "patient", "wise"};
static const char *const nouns[] = {"cat",    "river", "machine", "teacher", "garden", "program",
                                    "friend", "star",  "question", "kingdom", "lamp",  "compiler"};
static const char *const verbs[] = {"finds", "loves", "builds", "forgets", "watches", "follows",
                                    "answers", "breaks", "keeps", "remembers"};
static const char *const adverbs[] = {"slowly", "never", "always", "gladly", "rarely", "quietly"};
static const char *const names_[] = {"Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances"};

#define PICK(r, arr) (arr[floe_rng_below(r, sizeof arr / sizeof arr[0])])

/* Words are drawn into locals one statement at a time: the order in which a function's arguments are
 * evaluated is unspecified in C (gcc and clang differ), and the draws must happen in a fixed order. */
static int gen_sentence(floe_rng *r, char *out, size_t cap)
{
    int form = (int)floe_rng_below(r, 4);
    const char *w1 = PICK(r, adjectives);
    const char *w2 = PICK(r, nouns);
    const char *w3 = PICK(r, verbs);
    const char *w4 = PICK(r, nouns);
    const char *w5 = PICK(r, adverbs);
    const char *w6 = PICK(r, adjectives);
    switch (form) {
    case 0:
        return snprintf(out, cap, "The %s %s %s the %s.", w1, w2, w3, w4);
    case 1:
        return snprintf(out, cap, "A %s %s %s only a %s %s.", w2, w5, w3, w6, w4);
    case 2:
        return snprintf(out, cap, "Why does the %s %s the %s?", w2, w3, w4);
    default:
        return snprintf(out, cap, "Every %s %s is %s.", w1, w2, w6);
    }
}

int floe_corpus_generate(floe_corpus *c, uint64_t seed, size_t n_docs, floe_err *err)
{
    floe_corpus_init(c);
    char doc[2048];
    for (size_t i = 0; i < n_docs; i++) {
        floe_rng r;
        floe_rng_split(&r, seed, i); /* document i does not depend on how many came before */
        size_t m = 0;
        int sentences = (int)floe_rng_range(&r, 1, 4);
        for (int s = 0; s < sentences; s++) {
            if (s)
                doc[m++] = floe_rng_below(&r, 3) == 0 ? '\n' : ' ';
            m += (size_t)gen_sentence(&r, doc + m, sizeof doc - m);
        }
        doc[m++] = '\n';
        if (floe_rng_below(&r, 4) == 0)
            m += (size_t)snprintf(doc + m, sizeof doc - m, "\t\t-- %s\n", PICK(&r, names_));
        if (floe_corpus_add_doc(c, (const uint8_t *)doc, m, err)) {
            floe_corpus_free(c);
            return -1;
        }
    }
    return 0;
}

int floe_corpus_open(floe_corpus *c, const char *spec, floe_err *err)
{
    floe_corpus_init(c);
    if (!spec || !spec[0] || strcmp(spec, "fortunes") == 0)
        return floe_corpus_load_fortunes(c, NULL, err);
    if (strncmp(spec, "generated", 9) == 0 && (spec[9] == '\0' || spec[9] == ':')) {
        unsigned long long n = 2000, seed = 1;
        const char *p = spec + 9;
        char *end;
        if (*p == ':') {
            errno = 0;
            n = strtoull(p + 1, &end, 10);
            if (end == p + 1 || errno || n == 0 || n > 100000000ull || (*end != '\0' && *end != ':'))
                return floe_err_set(err, "corpus '%s': expected generated[:N[:SEED]] with N in [1, 1e8]", spec);
            p = end;
        }
        if (*p == ':') {
            errno = 0;
            seed = strtoull(p + 1, &end, 10);
            if (end == p + 1 || errno || *end != '\0')
                return floe_err_set(err, "corpus '%s': expected generated[:N[:SEED]] with an integer SEED", spec);
        }
        return floe_corpus_generate(c, (uint64_t)seed, (size_t)n, err);
    }
    return floe_corpus_load_fortunes(c, spec, err);
}

/* --- tokens and batches ----------------------------------------------------------------------- */

int floe_tokens_encode(floe_tokens *s, const floe_tokenizer *tok, const uint8_t *text, size_t n, floe_err *err)
{
    memset(s, 0, sizeof *s);
    return floe_tokenizer_encode_alloc(tok, text, n, &s->ids, &s->n, err);
}

void floe_tokens_free(floe_tokens *s)
{
    if (s->map)
        floe_tokfile_map_release(s->map);
    free(s->ids);
    memset(s, 0, sizeof *s);
}

void floe_tokens_tokenizer_label(const floe_tokens *s, char *out, size_t n)
{
    if (s->tokenizer_digest && s->tokenizer_digest != floe_fnv1a64("byte", 4))
        snprintf(out, n, "fnv1a64:%016llx", (unsigned long long)s->tokenizer_digest);
    else
        snprintf(out, n, "byte");
}

void floe_tokens_copy(const floe_tokens *s, size_t at, size_t count, int32_t *out)
{
    if (s->ids) {
        memcpy(out, s->ids + at, count * sizeof *out);
        return;
    }
    const uint8_t *p = s->view + at * (size_t)s->width;
    if (s->width == 2)
        for (size_t i = 0; i < count; i++, p += 2)
            out[i] = (int32_t)(p[0] | (uint32_t)p[1] << 8);
    else
        for (size_t i = 0; i < count; i++, p += 4)
            out[i] = (int32_t)(p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

int floe_tokens_check_vocab(const floe_tokens *s, int vocab_size, floe_err *err)
{
    if (s->vocab > vocab_size)
        return floe_err_set(err, "the corpus' vocabulary of %d tokens exceeds the model's vocab_size %d", s->vocab,
                            vocab_size);
    return 0;
}

int floe_batch_sample(const floe_tokens *s, uint64_t seed, uint64_t step, int B, int T, int32_t *out, floe_err *err)
{
    if (B < 1 || T < 1)
        return floe_err_set(err, "batch: B = %d and T = %d must be positive", B, T);
    if (s->n < (size_t)T + 1)
        return floe_err_set(err, "batch: the token stream has %zu tokens, fewer than T+1 = %d", s->n, T + 1);
    floe_rng r;
    floe_rng_split(&r, seed, step); /* step k's batch needs no replay of steps 0..k-1 */
    uint64_t starts = (uint64_t)(s->n - (size_t)T); /* valid starts: 0 .. n-T-1 */
    for (int b = 0; b < B; b++) {
        size_t at = (size_t)floe_rng_below(&r, starts);
        floe_tokens_copy(s, at, (size_t)T + 1, out + (size_t)b * ((size_t)T + 1));
    }
    return 0;
}

int floe_val_iter_init(floe_val_iter *it, const floe_tokens *s, int B, int T, floe_err *err)
{
    memset(it, 0, sizeof *it);
    if (B < 1 || T < 1)
        return floe_err_set(err, "validation: B = %d and T = %d must be positive", B, T);
    if (s->n < (size_t)T + 1)
        return floe_err_set(err, "validation: the token stream has %zu tokens, fewer than T+1 = %d", s->n, T + 1);
    it->s = s;
    it->B = B;
    it->T = T;
    it->n_windows = (s->n - 1) / (size_t)T;
    return 0;
}

int floe_val_iter_next(floe_val_iter *it, int32_t *out)
{
    int rows = 0;
    size_t w = (size_t)it->T + 1;
    while (rows < it->B && it->next < it->n_windows) {
        floe_tokens_copy(it->s, it->next * (size_t)it->T, w, out + (size_t)rows * w);
        it->next++;
        rows++;
    }
    return rows;
}

void floe_val_iter_reset(floe_val_iter *it) { it->next = 0; }
