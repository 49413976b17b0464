#include "models/corpus_build.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/atomic_file.h"
#include "common/file_read.h"
#include "common/path.h"
#include "models/corpus.h"
#include "models/token_file.h"
#include "models/jsonl.h"

#define INPUT_FILE_MAX ((size_t)16 << 30)
#define PROGRESS_MIN ((uint64_t)16 << 20)

typedef struct paths {
    char **v;
    size_t n, cap;
} paths;

static int paths_push(paths *p, const char *s, floe_err *err)
{
    if (p->n == p->cap) {
        size_t nc = p->cap ? 2 * p->cap : 64;
        char **nv = realloc(p->v, nc * sizeof *nv);
        if (!nv)
            return floe_err_set(err, "corpus: out of memory");
        p->v = nv;
        p->cap = nc;
    }
    if (!(p->v[p->n] = strdup(s)))
        return floe_err_set(err, "corpus: out of memory");
    p->n++;
    return 0;
}

static void paths_free(paths *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every regular file below dir, recursively (order fixed later by sorting). */
static int walk(const char *dir, paths *out, floe_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return floe_err_set(err, "%s: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        struct stat st;
        if (floe_path_join(p, sizeof p, dir, e->d_name) != 0)
            rc = floe_err_set(err, "%s/%s: path too long", dir, e->d_name);
        else if (stat(p, &st) != 0)
            rc = floe_err_set(err, "%s: %s", p, strerror(errno));
        else if (S_ISDIR(st.st_mode))
            rc = walk(p, out, err);
        else if (S_ISREG(st.st_mode))
            rc = paths_push(out, p, err);
    }
    closedir(d);
    return rc;
}

static int collect(const char *const *inputs, size_t n, paths *out, uint64_t *bytes, floe_err *err)
{
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(inputs[i], &st) != 0)
            return floe_err_set(err, "%s: %s", inputs[i], strerror(errno));
        if (S_ISDIR(st.st_mode)) {
            size_t from = out->n;
            if (walk(inputs[i], out, err) != 0)
                return -1;
            qsort(out->v + from, out->n - from, sizeof *out->v, cmp_str);
        } else if (paths_push(out, inputs[i], err) != 0)
            return -1;
    }
    *bytes = 0;
    for (size_t i = 0; i < out->n; i++) {
        struct stat st;
        if (stat(out->v[i], &st) != 0)
            return floe_err_set(err, "%s: %s", out->v[i], strerror(errno));
        *bytes += (uint64_t)st.st_size;
    }
    return 0;
}

typedef struct builder {
    const floe_tokenizer *tok;
    floe_afile af;
    int width;
    uint64_t *off_train, *off_val; /* document starts within each split */
    size_t n_off_train, n_off_val, cap_off_train, cap_off_val;
    int32_t *val;
    size_t n_val, cap_val;
    uint64_t n_train;
    uint8_t *wbuf;
    size_t wcap;
    FILE *progress;
    uint64_t done, total;
    int shown; /* tenths of the input already reported */
} builder;

static int grow(void **p, size_t *cap, size_t need, size_t elem, floe_err *err)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (!np)
        return floe_err_set(err, "corpus: out of memory (%zu bytes)", nc * elem);
    *p = np;
    *cap = nc;
    return 0;
}

static int write_ids(builder *b, const int32_t *ids, size_t n, floe_err *err)
{
    if (grow((void **)&b->wbuf, &b->wcap, n * (size_t)b->width, 1, err) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < b->width; k++)
            b->wbuf[i * (size_t)b->width + (size_t)k] = (uint8_t)((uint32_t)ids[i] >> 8 * k);
    if (n && fwrite(b->wbuf, (size_t)b->width, n, b->af.fp) != n)
        return floe_err_set(err, "%s: write failed", b->af.path);
    return 0;
}

static int add_doc(builder *b, const uint8_t *text, size_t n, floe_err *err)
{
    int32_t *ids = NULL;
    size_t n_ids = 0;
    if (floe_tokenizer_encode(b->tok, text, n, 0, &ids, &n_ids, err) != 0)
        return -1;
    int32_t bos = b->tok->add_bos && b->tok->bos_id >= 0 ? b->tok->bos_id : -1, eos = b->tok->eos_id;
    int val = floe_corpus_is_validation(text, n), rc = 0;
    size_t len = n_ids + (bos >= 0) + (eos >= 0);
    if (val) {
        if (grow((void **)&b->off_val, &b->cap_off_val, b->n_off_val + 1, 8, err) != 0 ||
            grow((void **)&b->val, &b->cap_val, b->n_val + len, 4, err) != 0)
            rc = -1;
        else {
            b->off_val[b->n_off_val++] = b->n_val;
            if (bos >= 0)
                b->val[b->n_val++] = bos;
            if (n_ids)
                memcpy(b->val + b->n_val, ids, n_ids * sizeof *ids);
            b->n_val += n_ids;
            if (eos >= 0)
                b->val[b->n_val++] = eos;
        }
    } else if (grow((void **)&b->off_train, &b->cap_off_train, b->n_off_train + 1, 8, err) != 0)
        rc = -1;
    else {
        b->off_train[b->n_off_train++] = b->n_train;
        if ((bos >= 0 && write_ids(b, &bos, 1, err) != 0) || write_ids(b, ids, n_ids, err) != 0 ||
            (eos >= 0 && write_ids(b, &eos, 1, err) != 0))
            rc = -1;
        b->n_train += len;
    }
    free(ids);
    return rc;
}

static void progress(builder *b, uint64_t done)
{
    if (!b->progress || b->total < PROGRESS_MIN)
        return;
    int tenth = (int)(done * 10 / b->total);
    if (tenth <= b->shown)
        return;
    b->shown = tenth;
    fprintf(b->progress, "corpus: %.1f / %.1f MB read (%d%%)\n", (double)done / 1e6, (double)b->total / 1e6,
            tenth * 10);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int add_jsonl(builder *b, const char *path, const char *data, size_t len, floe_err *err)
{
    size_t i = 0, line = 0;
    while (i < len) {
        size_t eol = i;
        while (eol < len && data[eol] != '\n')
            eol++;
        line++;
        size_t k = i;
        while (k < eol && (data[k] == ' ' || data[k] == '\t' || data[k] == '\r'))
            k++;
        if (k < eol) {
            cJSON *o = floe_jsonl_parse_line(data + i, eol - i);
            const cJSON *t = o ? cJSON_GetObjectItemCaseSensitive(o, "text") : NULL;
            int rc = 0;
            if (!o || !cJSON_IsObject(o))
                rc = floe_err_set(err, "%s:%zu: not a JSON object", path, line);
            else if (!cJSON_IsString(t))
                rc = floe_err_set(err, "%s:%zu: field 'text': missing or not a string", path, line);
            else if (add_doc(b, (const uint8_t *)t->valuestring, strlen(t->valuestring), err) != 0)
                rc = floe_err_prefix(err, "%s:%zu", path, line);
            cJSON_Delete(o);
            if (rc)
                return -1;
        }
        i = eol + 1;
        progress(b, b->done + (i < len ? i : len));
    }
    return 0;
}

static int finish(builder *b, const floe_tokfile_info *in, floe_err *err)
{
    static const uint8_t zero[8];
    uint64_t tok_bytes = (in->n_train + in->n_val) * in->width;
    size_t pad = (size_t)(in->offsets_at - FLOE_TOKFILE_HEADER - tok_bytes);
    if (write_ids(b, b->val, b->n_val, err) != 0)
        return -1;
    if (pad && fwrite(zero, 1, pad, b->af.fp) != pad)
        return floe_err_set(err, "%s: write failed", b->af.path);
    uint8_t o[8];
    for (uint64_t i = 0; i <= in->n_docs; i++) {
        uint64_t v = i < b->n_off_train ? b->off_train[i]
                     : i < in->n_docs   ? b->n_train + b->off_val[i - b->n_off_train]
                                        : in->n_train + in->n_val;
        for (int k = 0; k < 8; k++)
            o[k] = (uint8_t)(v >> 8 * k);
        if (fwrite(o, 1, 8, b->af.fp) != 8)
            return floe_err_set(err, "%s: write failed", b->af.path);
    }
    uint8_t h[FLOE_TOKFILE_HEADER];
    floe_tokfile_write_header(in, h);
    if (fseek(b->af.fp, 0, SEEK_SET) != 0 || fwrite(h, 1, sizeof h, b->af.fp) != sizeof h)
        return floe_err_set(err, "%s: write failed", b->af.path);
    return floe_afile_commit(&b->af, err);
}

int floe_corpus_build(const char *tokenizer, const char *const *inputs, size_t n_inputs, const char *output, FILE *prog,
                      floe_corpus_build_stats *st, floe_err *err)
{
    builder b;
    memset(&b, 0, sizeof b);
    paths files = {0};
    floe_tokfile_info in;
    memset(&in, 0, sizeof in);
    int rc = -1;
    uint64_t skipped = 0;
    if (n_inputs == 0)
        return floe_err_set(err, "corpus: no input given");
    if (floe_tokenizer_digest(tokenizer, &in.tokenizer_digest, err) != 0 ||
        !(b.tok = floe_tokenizer_load(tokenizer, err)))
        return -1;
    b.width = b.tok->vocab_size <= 65536 ? 2 : 4;
    b.progress = prog;
    if (collect(inputs, n_inputs, &files, &b.total, err) != 0 || floe_afile_open(&b.af, output, err) != 0)
        goto out;
    uint8_t h[FLOE_TOKFILE_HEADER] = {0};
    if (fwrite(h, 1, sizeof h, b.af.fp) != sizeof h) {
        floe_err_set(err, "%s: write failed", output);
        goto out;
    }
    for (size_t i = 0; i < files.n; i++) {
        char *data;
        size_t len;
        if (floe_read_file(files.v[i], INPUT_FILE_MAX, &data, &len, err) != 0)
            goto out;
        if (!ends_with(files.v[i], ".jsonl") && memchr(data, 0, len)) { /* not text: an index, an image */
            free(data);
            skipped++;
            b.done += len;
            continue;
        }
        int r = ends_with(files.v[i], ".jsonl") ? add_jsonl(&b, files.v[i], data, len, err)
                                                : add_doc(&b, (const uint8_t *)data, len, err);
        free(data);
        if (r != 0) {
            if (!ends_with(files.v[i], ".jsonl"))
                floe_err_prefix(err, "%s", files.v[i]);
            goto out;
        }
        b.done += len;
        progress(&b, b.done);
    }
    in.version = FLOE_TOKFILE_VERSION;
    in.width = (uint32_t)b.width;
    in.vocab_size = (uint32_t)b.tok->vocab_size;
    in.n_train_docs = b.n_off_train;
    in.n_docs = b.n_off_train + b.n_off_val;
    in.n_train = b.n_train;
    in.n_val = b.n_val;
    in.offsets_at = (FLOE_TOKFILE_HEADER + (in.n_train + in.n_val) * in.width + 7) / 8 * 8;
    if (finish(&b, &in, err) != 0)
        goto out;
    if (st) {
        *st = (floe_corpus_build_stats){.files = files.n - skipped,
                                        .bytes = b.total,
                                        .skipped_binary = skipped,
                                        .docs_train = in.n_train_docs,
                                        .docs_val = b.n_off_val,
                                        .n_train = in.n_train,
                                        .n_val = in.n_val,
                                        .tokenizer_digest = in.tokenizer_digest,
                                        .vocab_size = (int)in.vocab_size,
                                        .width = (int)in.width};
    }
    rc = 0;
out:
    if (rc != 0)
        floe_afile_abort(&b.af);
    paths_free(&files);
    floe_tokenizer_free(b.tok);
    free(b.off_train), free(b.off_val), free(b.val), free(b.wbuf);
    return rc;
}
