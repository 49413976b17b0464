#include "models/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/atomic_file.h"
#include "models/half.h"

/* Tensor data is raw little-endian and is copied straight to and from memory. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors I/O assumes a little-endian host"
#endif

static const struct {
    const char *name;
    size_t size;
    int is_float;
} dtypes[FLOE_ST_DTYPE_COUNT] = {
    [FLOE_ST_F64] = {"F64", 8, 1}, [FLOE_ST_F32] = {"F32", 4, 1}, [FLOE_ST_F16] = {"F16", 2, 1},
    [FLOE_ST_BF16] = {"BF16", 2, 1}, [FLOE_ST_I64] = {"I64", 8, 0}, [FLOE_ST_I32] = {"I32", 4, 0},
    [FLOE_ST_I16] = {"I16", 2, 0}, [FLOE_ST_I8] = {"I8", 1, 0}, [FLOE_ST_U8] = {"U8", 1, 0},
};

const char *floe_st_dtype_name(floe_st_dtype d) { return (unsigned)d < FLOE_ST_DTYPE_COUNT ? dtypes[d].name : "?"; }
size_t floe_st_dtype_size(floe_st_dtype d) { return (unsigned)d < FLOE_ST_DTYPE_COUNT ? dtypes[d].size : 0; }
int floe_st_dtype_is_float(floe_st_dtype d) { return (unsigned)d < FLOE_ST_DTYPE_COUNT && dtypes[d].is_float; }

int floe_st_dtype_parse(const char *name, floe_st_dtype *d)
{
    for (int i = 0; i < FLOE_ST_DTYPE_COUNT; i++)
        if (strcmp(dtypes[i].name, name) == 0) {
            *d = (floe_st_dtype)i;
            return 0;
        }
    return -1;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

void floe_st_close(floe_st_file *f)
{
    if (f->fp)
        fclose(f->fp);
    for (size_t i = 0; i < f->n_tensors; i++)
        free(f->tensors[i].name);
    for (size_t i = 0; i < f->n_meta; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->tensors);
    free(f->meta);
    free(f->by_name);
    free(f->path);
    memset(f, 0, sizeof *f);
}

/* A JSON number that is a non-negative integer small enough to be exact in a double. */
static int json_u64(const cJSON *it, uint64_t *out)
{
    if (!cJSON_IsNumber(it))
        return -1;
    double v = it->valuedouble;
    if (!(v >= 0.0 && v <= 9007199254740992.0 && v == floor(v)))
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static int parse_tensor(const floe_st_file *f, const cJSON *item, floe_st_tensor *t, floe_err *err)
{
    const char *p = f->path, *nm = item->string;
    if (!cJSON_IsObject(item))
        return floe_err_set(err, "%s: tensor '%s': expected an object with dtype, shape and data_offsets", p, nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!dt)
        return floe_err_set(err, "%s: tensor '%s': missing 'dtype'", p, nm);
    if (!cJSON_IsString(dt))
        return floe_err_set(err, "%s: tensor '%s': 'dtype' must be a string", p, nm);
    if (floe_st_dtype_parse(dt->valuestring, &t->dtype))
        return floe_err_set(err, "%s: tensor '%s': unknown or unsupported dtype '%.32s' (Floe reads F64 F32 F16 BF16 I64 "
                                 "I32 I16 I8 U8)", p, nm, dt->valuestring);
    if (!sh)
        return floe_err_set(err, "%s: tensor '%s': missing 'shape'", p, nm);
    if (!cJSON_IsArray(sh))
        return floe_err_set(err, "%s: tensor '%s': 'shape' must be an array of integers", p, nm);
    int nd = cJSON_GetArraySize(sh);
    if (nd > FLOE_ST_MAX_DIMS)
        return floe_err_set(err, "%s: tensor '%s': %d dimensions, at most %d supported", p, nm, nd, FLOE_ST_MAX_DIMS);
    t->ndim = nd;
    t->numel = 1;
    int k = 0;
    int overflow = 0;
    for (const cJSON *d = sh->child; d; d = d->next, k++) {
        if (json_u64(d, &t->shape[k]))
            return floe_err_set(err, "%s: tensor '%s': shape[%d] is not a non-negative integer", p, nm, k);
        if (t->shape[k] != 0 && t->numel > UINT64_MAX / t->shape[k])
            overflow = 1;
        else
            t->numel *= t->shape[k];
    }
    uint64_t esz = dtypes[t->dtype].size;
    if (overflow || t->numel > UINT64_MAX / esz)
        return floe_err_set(err, "%s: tensor '%s': shape product overflows", p, nm);
    if (!off)
        return floe_err_set(err, "%s: tensor '%s': missing 'data_offsets'", p, nm);
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || json_u64(off->child, &t->begin) ||
        json_u64(off->child->next, &t->end))
        return floe_err_set(err, "%s: tensor '%s': 'data_offsets' must be [begin, end], two non-negative integers",
                            p, nm);
    if (t->end < t->begin)
        return floe_err_set(err, "%s: tensor '%s': data_offsets [%llu, %llu] end before they begin", p, nm,
                            (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end - t->begin != t->numel * esz)
        return floe_err_set(err,
                            "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes, but %s x %llu elements "
                            "need %llu",
                            p, nm, (unsigned long long)t->begin, (unsigned long long)t->end,
                            (unsigned long long)(t->end - t->begin), dtypes[t->dtype].name,
                            (unsigned long long)t->numel, (unsigned long long)(t->numel * esz));
    t->name = dup_str(nm);
    if (!t->name)
        return floe_err_set(err, "%s: out of memory", p);
    return 0;
}

static int parse_meta(floe_st_file *f, const cJSON *m, floe_err *err)
{
    if (!cJSON_IsObject(m))
        return floe_err_set(err, "%s: '__metadata__' must be an object of strings", f->path);
    size_t n = (size_t)cJSON_GetArraySize(m);
    f->meta = calloc(n ? n : 1, sizeof *f->meta);
    if (!f->meta)
        return floe_err_set(err, "%s: out of memory", f->path);
    for (const cJSON *it = m->child; it; it = it->next) {
        if (!cJSON_IsString(it))
            return floe_err_set(err, "%s: '__metadata__' key '%s': value must be a string", f->path, it->string);
        for (size_t j = 0; j < f->n_meta; j++)
            if (strcmp(f->meta[j].key, it->string) == 0)
                return floe_err_set(err, "%s: '__metadata__' key '%s' appears twice", f->path, it->string);
        floe_st_meta *e = &f->meta[f->n_meta++];
        e->key = dup_str(it->string);
        e->value = dup_str(it->valuestring);
        if (!e->key || !e->value)
            return floe_err_set(err, "%s: out of memory", f->path);
    }
    return 0;
}

static int by_begin(const void *a, const void *b)
{
    const floe_st_tensor *x = *(const floe_st_tensor *const *)a, *y = *(const floe_st_tensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int by_name(const void *a, const void *b)
{
    const floe_st_tensor *x = *(const floe_st_tensor *const *)a, *y = *(const floe_st_tensor *const *)b;
    return strcmp(x->name, y->name);
}

/* Unique names; offsets tile [0, data size) exactly, as the spec requires (no overlap, no hole). */
static int check_layout(floe_st_file *f, floe_err *err)
{
    size_t n = f->n_tensors;
    uint64_t data_size = f->file_size - f->data_start;
    if (n == 0) {
        if (data_size != 0)
            return floe_err_set(err, "%s: %llu bytes of data after the header but no tensors", f->path,
                                (unsigned long long)data_size);
        return 0;
    }
    const floe_st_tensor **ix = malloc(n * sizeof *ix);
    f->by_name = malloc(n * sizeof *f->by_name);
    if (!ix || !f->by_name) {
        free(ix);
        return floe_err_set(err, "%s: out of memory", f->path);
    }
    for (size_t i = 0; i < n; i++)
        ix[i] = &f->tensors[i];
    int rc = -1;
    qsort(ix, n, sizeof *ix, by_name);
    for (size_t i = 1; i < n; i++)
        if (strcmp(ix[i]->name, ix[i - 1]->name) == 0) {
            floe_err_set(err, "%s: tensor '%s' appears twice in the header", f->path, ix[i]->name);
            goto out;
        }
    for (size_t i = 0; i < n; i++)
        f->by_name[i] = (size_t)(ix[i] - f->tensors);
    qsort(ix, n, sizeof *ix, by_begin);
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const floe_st_tensor *t = ix[i];
        if (t->begin < pos) {
            floe_err_set(err, "%s: tensor '%s': data_offsets [%llu, %llu] overlap tensor '%s' (which ends at %llu)",
                         f->path, t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                         ix[i - 1]->name, (unsigned long long)pos);
            goto out;
        }
        if (t->begin > pos) {
            floe_err_set(err, "%s: tensor '%s': data_offsets begin at %llu, leaving a hole [%llu, %llu) no tensor uses",
                         f->path, t->name, (unsigned long long)t->begin, (unsigned long long)pos,
                         (unsigned long long)t->begin);
            goto out;
        }
        if (t->end > data_size) {
            floe_err_set(err,
                         "%s: truncated: tensor '%s' data_offsets [%llu, %llu] run past the end of the data "
                         "(%llu bytes after the header)",
                         f->path, t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                         (unsigned long long)data_size);
            goto out;
        }
        pos = t->end;
    }
    if (pos != data_size) {
        floe_err_set(err, "%s: %llu trailing bytes after the last tensor's data", f->path,
                     (unsigned long long)(data_size - pos));
        goto out;
    }
    rc = 0;
out:
    free(ix);
    return rc;
}

static int parse_header(floe_st_file *f, const char *hdr, size_t n, floe_err *err)
{
    /* The spec: the header starts with '{' and may be padded at the end with spaces. */
    if (n == 0 || hdr[0] != '{')
        return floe_err_set(err, "%s: header is not a JSON object (it must start with '{')", f->path);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, n, &end, 0);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long pos = at && at >= hdr && at <= hdr + n ? (long)(at - hdr) : -1;
        return floe_err_set(err, "%s: header is not valid JSON (near byte %ld of the header)", f->path, pos);
    }
    int rc = -1;
    for (const char *q = end; q && q < hdr + n; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
            floe_err_set(err, "%s: header has bytes after its JSON object (only space padding is allowed)", f->path);
            goto out;
        }
    if (!cJSON_IsObject(root)) {
        floe_err_set(err, "%s: header is not a JSON object", f->path);
        goto out;
    }
    size_t count = (size_t)cJSON_GetArraySize(root);
    f->tensors = calloc(count ? count : 1, sizeof *f->tensors);
    if (!f->tensors) {
        floe_err_set(err, "%s: out of memory", f->path);
        goto out;
    }
    int seen_meta = 0;
    for (const cJSON *it = root->child; it; it = it->next) {
        if (strcmp(it->string, "__metadata__") == 0) {
            if (seen_meta++) {
                floe_err_set(err, "%s: '__metadata__' appears twice", f->path);
                goto out;
            }
            if (parse_meta(f, it, err))
                goto out;
            continue;
        }
        if (parse_tensor(f, it, &f->tensors[f->n_tensors], err))
            goto out;
        f->n_tensors++;
    }
    rc = check_layout(f, err);
out:
    cJSON_Delete(root);
    return rc;
}

int floe_st_open(floe_st_file *f, const char *path, floe_err *err)
{
    memset(f, 0, sizeof *f);
    f->path = dup_str(path);
    if (!f->path)
        return floe_err_set(err, "%s: out of memory", path);
    f->fp = fopen(path, "rb");
    if (!f->fp) {
        floe_err_set(err, "%s: cannot open: %s", path, strerror(errno));
        floe_st_close(f);
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f->fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        floe_err_set(err, "%s: not a regular file", path);
        floe_st_close(f);
        return -1;
    }
    f->file_size = (uint64_t)st.st_size;
    unsigned char lenb[8];
    if (f->file_size < 8 || fread(lenb, 1, 8, f->fp) != 8) {
        floe_err_set(err, "%s: truncated: %llu bytes, too short for the 8-byte header length", path,
                     (unsigned long long)f->file_size);
        floe_st_close(f);
        return -1;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | lenb[i];
    if (n > FLOE_ST_MAX_HEADER) {
        floe_err_set(err, "%s: header length %llu exceeds the limit of %u bytes (not a safetensors file?)", path,
                     (unsigned long long)n, FLOE_ST_MAX_HEADER);
        floe_st_close(f);
        return -1;
    }
    if (n > f->file_size - 8) {
        floe_err_set(err, "%s: truncated: header length %llu is larger than the %llu bytes after it", path,
                     (unsigned long long)n, (unsigned long long)(f->file_size - 8));
        floe_st_close(f);
        return -1;
    }
    f->data_start = 8 + n;
    char *hdr = malloc((size_t)n + 1);
    if (!hdr) {
        floe_err_set(err, "%s: out of memory for a %llu-byte header", path, (unsigned long long)n);
        floe_st_close(f);
        return -1;
    }
    if (fread(hdr, 1, (size_t)n, f->fp) != (size_t)n) {
        free(hdr);
        floe_err_set(err, "%s: truncated while reading the header", path);
        floe_st_close(f);
        return -1;
    }
    hdr[n] = '\0';
    int rc = parse_header(f, hdr, (size_t)n, err);
    free(hdr);
    if (rc) {
        floe_st_close(f);
        return -1;
    }
    return 0;
}

int floe_st_find(const floe_st_file *f, const char *name)
{
    size_t lo = 0, hi = f->by_name ? f->n_tensors : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, i = f->by_name[mid];
        int c = strcmp(f->tensors[i].name, name);
        if (c == 0)
            return (int)i;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

const char *floe_st_meta_get(const floe_st_file *f, const char *key)
{
    for (size_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[i].key, key) == 0)
            return f->meta[i].value;
    return NULL;
}

int floe_st_meta_ll(const floe_st_file *f, const char *key, long long *v, floe_err *err)
{
    const char *s = floe_st_meta_get(f, key);
    char *end;
    if (!s)
        return floe_err_set(err, "%s: metadata '%s' missing", f->path, key);
    errno = 0;
    *v = strtoll(s, &end, 10);
    if (end == s || *end || errno)
        return floe_err_set(err, "%s: metadata '%s' = \"%s\" is not an integer", f->path, key, s);
    return 0;
}

int floe_st_meta_float(const floe_st_file *f, const char *key, float *v, floe_err *err)
{
    const char *s = floe_st_meta_get(f, key);
    char *end;
    if (!s)
        return floe_err_set(err, "%s: metadata '%s' missing", f->path, key);
    *v = strtof(s, &end);
    if (end == s || *end)
        return floe_err_set(err, "%s: metadata '%s' = \"%s\" is not a number", f->path, key, s);
    if (!isfinite(*v)) /* nan, inf, or beyond float's range (1e300) */
        return floe_err_set(err, "%s: metadata '%s' = \"%s\" is not a finite float", f->path, key, s);
    return 0;
}

int floe_st_meta_int(const floe_st_file *f, const char *key, long long lo, long long hi, int *v, floe_err *err)
{
    long long x;
    if (lo < INT_MIN)
        lo = INT_MIN;
    if (hi > INT_MAX)
        hi = INT_MAX;
    if (floe_st_meta_ll(f, key, &x, err) != 0)
        return -1;
    if (x < lo || x > hi)
        return floe_err_set(err, "%s: metadata '%s' = %lld is outside [%lld, %lld]", f->path, key, x, lo, hi);
    *v = (int)x;
    return 0;
}

static int read_at(floe_st_file *f, const floe_st_tensor *t, uint64_t off, void *out, size_t n, floe_err *err)
{
    if (fseeko(f->fp, (off_t)(f->data_start + t->begin + off), SEEK_SET) != 0 || fread(out, 1, n, f->fp) != n)
        return floe_err_set(err, "%s: tensor '%s': cannot read its data (file truncated or changed?)", f->path,
                            t->name);
    return 0;
}

int floe_st_read_raw(floe_st_file *f, size_t i, void *out, size_t out_bytes, floe_err *err)
{
    if (i >= f->n_tensors)
        return floe_err_set(err, "%s: no tensor #%zu", f->path, i);
    const floe_st_tensor *t = &f->tensors[i];
    if (out_bytes != t->end - t->begin)
        return floe_err_set(err, "%s: tensor '%s': has %llu bytes, caller expected %zu", f->path, t->name,
                            (unsigned long long)(t->end - t->begin), out_bytes);
    return read_at(f, t, 0, out, out_bytes, err);
}

int floe_st_read_f32(floe_st_file *f, size_t i, float *out, size_t n, floe_err *err)
{
    if (i >= f->n_tensors)
        return floe_err_set(err, "%s: no tensor #%zu", f->path, i);
    const floe_st_tensor *t = &f->tensors[i];
    if (n != t->numel)
        return floe_err_set(err, "%s: tensor '%s': has %llu elements, caller expected %zu", f->path, t->name,
                            (unsigned long long)t->numel, n);
    if (!dtypes[t->dtype].is_float)
        return floe_err_set(err, "%s: tensor '%s': dtype %s is not a float type (read its raw bytes)", f->path,
                            t->name, dtypes[t->dtype].name);
    if (t->dtype == FLOE_ST_F32)
        return read_at(f, t, 0, out, n * sizeof(float), err);
    /* Convert through a bounded buffer so huge tensors need no second full-size copy. */
    enum { CHUNK = 1 << 12 };
    double buf[CHUNK];
    size_t esz = dtypes[t->dtype].size;
    for (size_t done = 0; done < n;) {
        size_t m = n - done < CHUNK ? n - done : CHUNK;
        if (read_at(f, t, (uint64_t)done * esz, buf, m * esz, err))
            return -1;
        if (t->dtype == FLOE_ST_F64) {
            for (size_t k = 0; k < m; k++)
                out[done + k] = (float)buf[k];
        } else {
            const unsigned char *b = (const unsigned char *)buf;
            for (size_t k = 0; k < m; k++) {
                uint16_t h = (uint16_t)(b[2 * k] | b[2 * k + 1] << 8);
                out[done + k] = t->dtype == FLOE_ST_F16 ? floe_f16_to_f32(h) : floe_bf16_to_f32(h);
            }
        }
        done += m;
    }
    return 0;
}

/* --- writing ---------------------------------------------------------------------------------- */

/* An integer as plain decimal digits: cJSON prints large doubles as "1e+15", which strict readers
 * (the reference Rust implementation parses u64) refuse. */
static cJSON *json_uint(uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return cJSON_CreateRaw(buf);
}

int floe_st_write(const char *path, const floe_st_entry *e, size_t n, const char *const *meta_kv, size_t n_meta,
                  floe_err *err)
{
    cJSON *root = cJSON_CreateObject();
    uint64_t *bytes = calloc(n ? n : 1, sizeof *bytes);
    char *json = NULL, *hdr = NULL;
    int rc = -1;
    if (!root || !bytes) {
        floe_err_set(err, "%s: out of memory", path);
        goto out;
    }
    if (n_meta) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        for (size_t i = 0; m && i < n_meta; i++) {
            const char *k = meta_kv[2 * i], *v = meta_kv[2 * i + 1];
            if (!k || !v || cJSON_GetObjectItemCaseSensitive(m, k)) {
                floe_err_set(err, "%s: metadata key '%s' is missing a value or appears twice", path, k ? k : "(null)");
                goto out;
            }
            cJSON_AddStringToObject(m, k, v);
        }
    }
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const char *nm = e[i].name;
        if (!nm || strcmp(nm, "__metadata__") == 0 || cJSON_GetObjectItemCaseSensitive(root, nm)) {
            floe_err_set(err, "%s: tensor name '%s' is reserved or appears twice", path, nm ? nm : "(null)");
            goto out;
        }
        if ((unsigned)e[i].dtype >= FLOE_ST_DTYPE_COUNT || e[i].ndim < 0 || e[i].ndim > FLOE_ST_MAX_DIMS) {
            floe_err_set(err, "%s: tensor '%s': bad dtype or number of dimensions", path, nm);
            goto out;
        }
        uint64_t numel = 1;
        cJSON *t = cJSON_AddObjectToObject(root, nm);
        cJSON *sh = t ? cJSON_AddArrayToObject(t, "shape") : NULL;
        cJSON *off = t ? cJSON_AddArrayToObject(t, "data_offsets") : NULL;
        if (!t || !sh || !off || !cJSON_AddStringToObject(t, "dtype", dtypes[e[i].dtype].name)) {
            floe_err_set(err, "%s: out of memory", path);
            goto out;
        }
        for (int k = 0; k < e[i].ndim; k++) {
            uint64_t d = e[i].shape[k];
            if (d > ((uint64_t)1 << 53) || (d && numel > ((uint64_t)1 << 53) / d)) {
                floe_err_set(err, "%s: tensor '%s': shape too large", path, nm);
                goto out;
            }
            numel *= d;
            cJSON_AddItemToArray(sh, json_uint(d));
        }
        bytes[i] = numel * dtypes[e[i].dtype].size;
        if (bytes[i] > ((uint64_t)1 << 53) - pos) {
            floe_err_set(err, "%s: tensor '%s': file too large", path, nm);
            goto out;
        }
        /* Move data_offsets after dtype and shape, the order other writers use. */
        cJSON_DetachItemViaPointer(t, off);
        cJSON_AddItemToObject(t, "data_offsets", off);
        cJSON_AddItemToArray(off, json_uint(pos));
        cJSON_AddItemToArray(off, json_uint(pos + bytes[i]));
        pos += bytes[i];
    }
    json = cJSON_PrintUnformatted(root);
    if (!json) {
        floe_err_set(err, "%s: out of memory", path);
        goto out;
    }
    size_t jn = strlen(json), hn = (jn + 8 + 7) / 8 * 8 - 8; /* data starts 8-byte aligned */
    hdr = malloc(8 + hn);
    if (!hdr) {
        floe_err_set(err, "%s: out of memory", path);
        goto out;
    }
    for (int k = 0; k < 8; k++)
        hdr[k] = (char)((uint64_t)hn >> (8 * k) & 0xff);
    memcpy(hdr + 8, json, jn);
    memset(hdr + 8 + jn, ' ', hn - jn);
    floe_afile af;
    if (floe_afile_open(&af, path, err))
        goto out;
    int ok = fwrite(hdr, 1, 8 + hn, af.fp) == 8 + hn;
    for (size_t i = 0; ok && i < n; i++)
        ok = bytes[i] == 0 || fwrite(e[i].data, 1, (size_t)bytes[i], af.fp) == bytes[i];
    if (!ok) {
        floe_afile_abort(&af);
        floe_err_set(err, "%s: write error: %s", path, strerror(errno));
        goto out;
    }
    rc = floe_afile_commit(&af, err);
out:
    cJSON_Delete(root);
    free(bytes);
    free(json);
    free(hdr);
    return rc;
}

/* --- checkpoints ------------------------------------------------------------------------------ */

int floe_st_save_params(const char *path, const floe_model_config *cfg, const floe_param_table *t,
                        const float *params, const char *const *meta_kv, size_t n_meta, floe_err *err)
{
    return floe_st_save_params_as(path, cfg, t, params, FLOE_ST_F32, meta_kv, n_meta, err);
}

int floe_st_save_params_as(const char *path, const floe_model_config *cfg, const floe_param_table *t,
                           const float *params, floe_st_dtype dtype, const char *const *meta_kv, size_t n_meta,
                           floe_err *err)
{
    if (dtype != FLOE_ST_F32 && dtype != FLOE_ST_BF16)
        return floe_err_set(err, "%s: parameters as %s: only F32 and BF16 are written", path,
                            floe_st_dtype_name(dtype));
    floe_st_entry *e = calloc(t->count ? t->count : 1, sizeof *e);
    const char **kv = calloc(2 * (n_meta + 2), sizeof *kv);
    char *cj = floe_model_config_to_json(cfg);
    uint16_t *h = dtype == FLOE_ST_BF16 ? malloc(sizeof *h * (t->total ? t->total : 1)) : NULL;
    int rc = -1;
    if (!e || !kv || !cj || (dtype == FLOE_ST_BF16 && !h)) {
        floe_err_set(err, "%s: out of memory", path);
        goto out;
    }
    for (size_t i = 0; h && i < t->total; i++)
        h[i] = floe_f32_to_bf16(params[i]);
    for (size_t i = 0; i < t->count; i++) {
        const floe_param *p = &t->params[i];
        e[i].name = p->name;
        e[i].dtype = dtype;
        e[i].ndim = p->ndim;
        e[i].shape[0] = p->shape[0];
        e[i].shape[1] = p->shape[1];
        e[i].data = h ? (const void *)(h + p->offset) : (const void *)(params + p->offset);
    }
    cJSON_Minify(cj); /* one line: metadata values are usually shown one per line */
    kv[0] = "format";
    kv[1] = "pt";
    kv[2] = "floe.config";
    kv[3] = cj;
    for (size_t i = 0; i < 2 * n_meta; i++)
        kv[4 + i] = meta_kv[i];
    rc = floe_st_write(path, e, t->count, kv, n_meta + 2, err);
out:
    free(h);
    free(e);
    free(kv);
    free(cj);
    return rc;
}

static void shape_str(char *out, size_t n, int ndim, const uint64_t *shape)
{
    size_t k = (size_t)snprintf(out, n, "[");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(out + k, n - k, "%s%llu", i ? ", " : "", (unsigned long long)shape[i]);
    if (k < n)
        snprintf(out + k, n - k, "]");
}

int floe_st_check_params(const floe_st_file *f, const floe_param_table *t, floe_err *err)
{
    /* the file's tensors that are parameters, marked by binary searches: linear in both sizes */
    unsigned char *known = calloc(f->n_tensors ? f->n_tensors : 1, 1);
    if (!known)
        return floe_err_set(err, "%s: out of memory", f->path);
    for (size_t i = 0; i < t->count; i++) {
        int j = floe_st_find(f, t->params[i].name);
        if (j >= 0)
            known[j] = 1;
    }
    for (size_t i = 0; i < f->n_tensors; i++)
        if (!known[i]) {
            free(known);
            const char *why = strcmp(f->tensors[i].name, "lm_head.weight") == 0
                                  ? " (this model ties lm_head to model.embed_tokens.weight)"
                                  : "";
            return floe_err_set(err, "%s: unexpected tensor '%s': the model has no such parameter%s", f->path,
                                f->tensors[i].name, why);
        }
    free(known);
    for (size_t i = 0; i < t->count; i++) {
        const floe_param *p = &t->params[i];
        int j = floe_st_find(f, p->name);
        if (j < 0)
            return floe_err_set(err, "%s: missing tensor '%s'", f->path, p->name);
        const floe_st_tensor *s = &f->tensors[j];
        uint64_t want[2] = {p->shape[0], p->shape[1]};
        if (s->ndim != p->ndim || s->shape[0] != want[0] || (p->ndim == 2 && s->shape[1] != want[1])) {
            char got[160], exp[64];
            shape_str(got, sizeof got, s->ndim, s->shape);
            shape_str(exp, sizeof exp, p->ndim, want);
            return floe_err_set(err, "%s: tensor '%s': wrong shape: expected %s, got %s", f->path, p->name, exp, got);
        }
        if (!dtypes[s->dtype].is_float)
            return floe_err_set(err, "%s: tensor '%s': dtype %s is not a float type", f->path, p->name,
                                dtypes[s->dtype].name);
    }
    return 0;
}

int floe_st_check_entries(const floe_st_file *f, const floe_st_entry *e, size_t n, int exact, floe_err *err)
{
    for (size_t i = 0; i < n; i++) {
        int j = floe_st_find(f, e[i].name);
        if (j < 0)
            return floe_err_set(err, "%s: missing tensor '%s'", f->path, e[i].name);
        const floe_st_tensor *s = &f->tensors[j];
        int same = s->ndim == e[i].ndim;
        for (int d = 0; same && d < e[i].ndim; d++)
            same = s->shape[d] == e[i].shape[d];
        if (!same) {
            char got[160], exp[160];
            shape_str(got, sizeof got, s->ndim, s->shape);
            shape_str(exp, sizeof exp, e[i].ndim, e[i].shape);
            return floe_err_set(err, "%s: tensor '%s': wrong shape: expected %s, got %s", f->path, e[i].name, exp, got);
        }
        int dtype_ok = e[i].dtype == FLOE_ST_F32 ? dtypes[s->dtype].is_float : s->dtype == e[i].dtype;
        if (!dtype_ok)
            return floe_err_set(err, "%s: tensor '%s': dtype %s, expected %s", f->path, e[i].name,
                                dtypes[s->dtype].name,
                                e[i].dtype == FLOE_ST_F32 ? "a float type" : dtypes[e[i].dtype].name);
    }
    if (exact && f->n_tensors != n) { /* every entry is present: the file holds another tensor */
        unsigned char *known = calloc(f->n_tensors, 1);
        if (!known)
            return floe_err_set(err, "%s: out of memory", f->path);
        for (size_t i = 0; i < n; i++)
            known[floe_st_find(f, e[i].name)] = 1;
        size_t j = 0;
        while (j < f->n_tensors && known[j])
            j++;
        free(known);
        if (j < f->n_tensors)
            return floe_err_set(err, "%s: unexpected tensor '%s' (%zu tensors, expected %zu)", f->path,
                                f->tensors[j].name, f->n_tensors, n);
    }
    return 0;
}

int floe_st_load_params_file(floe_st_file *f, const floe_param_table *t, float *params, floe_err *err)
{
    if (floe_st_check_params(f, t, err) != 0)
        return -1;
    for (size_t i = 0; i < t->count; i++) {
        const floe_param *p = &t->params[i];
        if (floe_st_read_f32(f, (size_t)floe_st_find(f, p->name), params + p->offset, p->numel, err))
            return -1;
    }
    return 0;
}

int floe_st_load_params(const char *path, const floe_param_table *t, float *params, floe_err *err)
{
    floe_st_file f;
    if (floe_st_open(&f, path, err))
        return -1;
    int rc = floe_st_load_params_file(&f, t, params, err);
    floe_st_close(&f);
    return rc;
}
