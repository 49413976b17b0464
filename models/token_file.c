#include "models/token_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file_read.h"
#include "common/path.h"

#define TOKENIZER_JSON_MAX (512u << 20)

struct floe_tokfile_map {
    void *base;
    size_t size;
    int refs;
};

static uint32_t rd32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> 8 * i);
}
static void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

int floe_tokfile_parse_header(const uint8_t *h, size_t len, uint64_t file_size, const char *name, floe_tokfile_info *in,
                              floe_err *err)
{
    memset(in, 0, sizeof *in);
    if (len < FLOE_TOKFILE_HEADER)
        return floe_err_set(err, "%s: %zu bytes, shorter than the %u-byte token-file header", name, len,
                            FLOE_TOKFILE_HEADER);
    if (memcmp(h, FLOE_TOKFILE_MAGIC, 8) != 0)
        return floe_err_set(err, "%s: field 'magic': not a token file (expected \"%s\")", name, FLOE_TOKFILE_MAGIC);
    in->version = rd32(h + 8);
    in->width = rd32(h + 12);
    in->vocab_size = rd32(h + 16);
    in->tokenizer_digest = rd64(h + 24);
    in->n_docs = rd64(h + 32);
    in->n_train_docs = rd64(h + 40);
    in->n_train = rd64(h + 48);
    in->n_val = rd64(h + 56);
    if (in->version != FLOE_TOKFILE_VERSION)
        return floe_err_set(err, "%s: field 'version': %u, this build reads version %u", name, in->version,
                            FLOE_TOKFILE_VERSION);
    if (in->width != 2 && in->width != 4)
        return floe_err_set(err, "%s: field 'width': %u, expected 2 or 4", name, in->width);
    if (in->vocab_size < 1 || in->vocab_size > (uint32_t)INT32_MAX)
        return floe_err_set(err, "%s: field 'vocab_size': %u outside 1 .. %d", name, in->vocab_size, INT32_MAX);
    if (in->width != (in->vocab_size <= 65536u ? 2u : 4u))
        return floe_err_set(err, "%s: field 'width': %u does not match vocab_size %u (2 up to 65536, else 4)", name,
                            in->width, in->vocab_size);
    if (rd32(h + 20) != 0)
        return floe_err_set(err, "%s: field 'reserved': %u, expected 0", name, rd32(h + 20));
    if (in->n_train_docs > in->n_docs)
        return floe_err_set(err, "%s: field 'n_train_docs': %llu exceeds n_docs %llu", name,
                            (unsigned long long)in->n_train_docs, (unsigned long long)in->n_docs);
    /* Every count is bounded by the file size before any product is formed, so nothing overflows. */
    if (in->n_docs > file_size / 8)
        return floe_err_set(err, "%s: field 'n_docs': %llu offsets cannot fit a file of %llu bytes", name,
                            (unsigned long long)in->n_docs, (unsigned long long)file_size);
    if (in->n_train > file_size / in->width)
        return floe_err_set(err, "%s: field 'n_train': %llu tokens cannot fit a file of %llu bytes", name,
                            (unsigned long long)in->n_train, (unsigned long long)file_size);
    if (in->n_val > file_size / in->width)
        return floe_err_set(err, "%s: field 'n_val': %llu tokens cannot fit a file of %llu bytes", name,
                            (unsigned long long)in->n_val, (unsigned long long)file_size);
    uint64_t tok_bytes = (in->n_train + in->n_val) * in->width;
    in->offsets_at = (FLOE_TOKFILE_HEADER + tok_bytes + 7) / 8 * 8;
    in->file_size = in->offsets_at + (in->n_docs + 1) * 8;
    if (in->file_size != file_size)
        return floe_err_set(err,
                            "%s: the header (n_docs %llu, n_train %llu, n_val %llu, width %u) implies %llu bytes, "
                            "the file has %llu",
                            name, (unsigned long long)in->n_docs, (unsigned long long)in->n_train,
                            (unsigned long long)in->n_val, in->width, (unsigned long long)in->file_size,
                            (unsigned long long)file_size);
    return 0;
}

void floe_tokfile_write_header(const floe_tokfile_info *in, uint8_t h[FLOE_TOKFILE_HEADER])
{
    memset(h, 0, FLOE_TOKFILE_HEADER);
    memcpy(h, FLOE_TOKFILE_MAGIC, 8);
    wr32(h + 8, in->version);
    wr32(h + 12, in->width);
    wr32(h + 16, in->vocab_size);
    wr64(h + 24, in->tokenizer_digest);
    wr64(h + 32, in->n_docs);
    wr64(h + 40, in->n_train_docs);
    wr64(h + 48, in->n_train);
    wr64(h + 56, in->n_val);
}

int floe_tokfile_is(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char m[8];
    struct stat st;
    int ok = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && fread(m, 1, 8, f) == 8 &&
             memcmp(m, FLOE_TOKFILE_MAGIC, 8) == 0;
    fclose(f);
    return ok;
}

void floe_tokfile_map_release(struct floe_tokfile_map *m)
{
    if (--m->refs > 0)
        return;
    munmap(m->base, m->size);
    free(m);
}

/* Offsets in order and on the split boundaries; every token below vocab_size. */
static int check_body(const uint8_t *base, const floe_tokfile_info *in, const char *path, floe_err *err)
{
    const uint8_t *off = base + in->offsets_at;
    uint64_t total = in->n_train + in->n_val, prev = 0;
    for (uint64_t i = 0; i <= in->n_docs; i++) {
        uint64_t o = rd64(off + 8 * i);
        if (o < prev || o > total)
            return floe_err_set(err, "%s: offsets[%llu] = %llu outside %llu .. %llu", path, (unsigned long long)i,
                                (unsigned long long)o, (unsigned long long)prev, (unsigned long long)total);
        if ((i == 0 && o != 0) || (i == in->n_train_docs && o != in->n_train) || (i == in->n_docs && o != total))
            return floe_err_set(err,
                                "%s: offsets[%llu] = %llu, expected %llu (0 first, n_train at n_train_docs, "
                                "n_train + n_val last)",
                                path, (unsigned long long)i, (unsigned long long)o,
                                (unsigned long long)(i == 0                  ? 0
                                                     : i == in->n_train_docs ? in->n_train
                                                                             : total));
        prev = o;
    }
    const uint8_t *t = base + FLOE_TOKFILE_HEADER;
    for (uint64_t i = 0; i < total; i++) {
        uint32_t id = in->width == 2 ? (uint32_t)(t[2 * i] | t[2 * i + 1] << 8) : rd32(t + 4 * i);
        if (id >= in->vocab_size)
            return floe_err_set(err, "%s: token %llu is %u, outside the vocabulary of %u", path, (unsigned long long)i,
                                id, in->vocab_size);
    }
    return 0;
}

int floe_tokfile_check(const uint8_t *data, size_t size, const char *name, floe_tokfile_info *in, floe_err *err)
{
    if (floe_tokfile_parse_header(data, size, (uint64_t)size, name, in, err) != 0)
        return -1;
    return check_body(data, in, name, err);
}

int floe_tokfile_open(const char *path, floe_tokfile_info *info, floe_tokens *train, floe_tokens *val, floe_err *err)
{
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return floe_err_set(err, "%s: %s", path, strerror(errno));
    struct stat st;
    uint8_t h[FLOE_TOKFILE_HEADER];
    floe_tokfile_info in;
    ssize_t got = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return floe_err_set(err, "%s: not a regular file", path);
    }
    got = pread(fd, h, sizeof h, 0);
    if (floe_tokfile_parse_header(h, got < 0 ? 0 : (size_t)got, (uint64_t)st.st_size, path, &in, err) != 0) {
        close(fd);
        return -1;
    }
    void *base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (base == MAP_FAILED)
        return floe_err_set(err, "%s: mmap: %s", path, strerror(errno));
    struct floe_tokfile_map *m = malloc(sizeof *m);
    if (!m || check_body(base, &in, path, err) != 0) {
        if (!m)
            floe_err_set(err, "%s: out of memory", path);
        free(m);
        munmap(base, (size_t)st.st_size);
        return -1;
    }
    m->base = base;
    m->size = (size_t)st.st_size;
    m->refs = 2;
    const uint8_t *tok = (const uint8_t *)base + FLOE_TOKFILE_HEADER;
    *train = (floe_tokens){NULL, (size_t)in.n_train, tok, (int)in.width, (int)in.vocab_size, in.tokenizer_digest, m};
    *val = (floe_tokens){
        NULL, (size_t)in.n_val, tok + in.n_train * in.width, (int)in.width, (int)in.vocab_size, in.tokenizer_digest, m};
    if (info)
        *info = in;
    return 0;
}

int floe_tokenizer_digest(const char *spec, uint64_t *digest, floe_err *err)
{
    if (strcmp(spec, "byte") == 0) {
        *digest = floe_fnv1a64("byte", 4);
        return 0;
    }
    char file[4096];
    struct stat st;
    if (stat(spec, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (floe_path_join(file, sizeof file, spec, "tokenizer.json") != 0)
            return floe_err_set(err, "%s: path too long", spec);
    } else if (snprintf(file, sizeof file, "%s", spec) >= (int)sizeof file)
        return floe_err_set(err, "%s: path too long", spec);
    char *data;
    size_t len;
    if (floe_read_file(file, TOKENIZER_JSON_MAX, &data, &len, err) != 0)
        return -1;
    *digest = floe_fnv1a64(data, len);
    free(data);
    return 0;
}
