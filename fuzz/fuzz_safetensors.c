/* libFuzzer target: the safetensors reader (models/safetensors.c) and, through it, the FP checkpoint
 * loader's checks. Any bytes must be refused with an error naming the file, or open into tensors
 * whose data can all be read (raw, and as float where the dtype is one); a file with a floe.config is
 * checked against that config's parameter table and, when it matches, loaded. Every opened file
 * round-trips: written back with its tensors and metadata, it opens into the same ones. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/fuzz_file.h"
#include "models/param_names.h"
#include "models/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Tensors and metadata of b equal a's (any tensor order; raw bytes compared). */
static void same_file(floe_st_file *a, uint8_t **raw, floe_st_file *b)
{
    floe_err err;
    fuzz_require(a->n_tensors == b->n_tensors && a->n_meta == b->n_meta, "tensor or metadata count changed", NULL);
    for (size_t i = 0; i < a->n_tensors; i++) {
        const floe_st_tensor *t = &a->tensors[i];
        int j = floe_st_find(b, t->name);
        fuzz_require(j >= 0, "tensor lost", t->name);
        const floe_st_tensor *u = &b->tensors[j];
        fuzz_require(u->dtype == t->dtype && u->ndim == t->ndim && memcmp(u->shape, t->shape, sizeof t->shape) == 0,
                     "dtype or shape changed", t->name);
        size_t n = (size_t)(t->end - t->begin);
        uint8_t *x = malloc(n ? n : 1);
        fuzz_require(x != NULL, "out of memory", NULL);
        fuzz_require(floe_st_read_raw(b, (size_t)j, x, n, &err) == 0, "read back", err.msg);
        fuzz_require(memcmp(x, raw[i], n) == 0, "data changed", t->name);
        free(x);
    }
    for (size_t i = 0; i < a->n_meta; i++) {
        const char *v = floe_st_meta_get(b, a->meta[i].key);
        fuzz_require(v && strcmp(v, a->meta[i].value) == 0, "metadata changed", a->meta[i].key);
    }
}

/* The FP checkpoint loader: the file against its own floe.config's parameter table. */
static void as_checkpoint(floe_st_file *f)
{
    const char *cj = floe_st_meta_get(f, "floe.config");
    floe_model_config mc;
    floe_param_table t;
    floe_err err;
    if (!cj || floe_model_config_parse_json(cj, strlen(cj), f->path, &mc, &err) != 0 ||
        floe_param_table_init(&t, &mc, &err) != 0)
        return;
    if (floe_st_check_params(f, &t, &err) == 0) {
        /* the check passed: the parameters are no larger than the file's data says */
        float *p = malloc(t.total * sizeof(float) + 1);
        fuzz_require(p != NULL || t.total > ((size_t)1 << 28), "out of memory for a checked checkpoint", NULL);
        if (p)
            fuzz_require(floe_st_load_params_file(f, &t, p, &err) == 0, "a checked checkpoint does not load", err.msg);
        free(p);
    }
    floe_param_table_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[128], out[128];
    floe_st_file f, g;
    floe_err err;
    fuzz_write(path, sizeof path, "in.safetensors", data, size);
    if (floe_st_open(&f, path, &err) != 0) {
        fuzz_require(strstr(err.msg, path) != NULL, "error does not name the file", err.msg);
        return 0;
    }
    uint8_t **raw = calloc(f.n_tensors + 1, sizeof *raw);
    floe_st_entry *e = calloc(f.n_tensors + 1, sizeof *e);
    const char **kv = calloc(2 * f.n_meta + 1, sizeof *kv);
    fuzz_require(raw && e && kv, "out of memory", NULL);
    for (size_t i = 0; i < f.n_tensors; i++) {
        const floe_st_tensor *t = &f.tensors[i];
        size_t n = (size_t)(t->end - t->begin); /* within the file: floe_st_open checked it */
        raw[i] = malloc(n ? n : 1);
        fuzz_require(raw[i] != NULL, "out of memory", NULL);
        fuzz_require(floe_st_read_raw(&f, i, raw[i], n, &err) == 0, "an opened tensor does not read", err.msg);
        if (floe_st_dtype_is_float(t->dtype)) {
            float *x = malloc((size_t)t->numel * sizeof(float) + 1);
            fuzz_require(x != NULL, "out of memory", NULL);
            fuzz_require(floe_st_read_f32(&f, i, x, (size_t)t->numel, &err) == 0, "a float tensor does not convert",
                         err.msg);
            free(x);
        }
        e[i] = (floe_st_entry){t->name, t->dtype, t->ndim, {0}, raw[i]};
        memcpy(e[i].shape, t->shape, sizeof t->shape);
    }
    for (size_t i = 0; i < f.n_meta; i++) {
        long long v;
        float x;
        (void)floe_st_meta_ll(&f, f.meta[i].key, &v, &err);
        (void)floe_st_meta_float(&f, f.meta[i].key, &x, &err);
        kv[2 * i] = f.meta[i].key;
        kv[2 * i + 1] = f.meta[i].value;
    }
    as_checkpoint(&f);
    fuzz_path(out, sizeof out, "out.safetensors");
    fuzz_require(floe_st_write(out, e, f.n_tensors, kv, f.n_meta, &err) == 0, "an opened file does not write back",
                 err.msg);
    fuzz_require(floe_st_open(&g, out, &err) == 0, "a written file does not open", err.msg);
    same_file(&f, raw, &g);
    floe_st_close(&g);
    for (size_t i = 0; i < f.n_tensors; i++)
        free(raw[i]);
    free(raw);
    free(e);
    free(kv);
    floe_st_close(&f);
    return 0;
}
