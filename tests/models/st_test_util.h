/* Tests' safetensors surgery: a copy of a file with one metadata value replaced, for the loaders'
 * refusal of hostile metadata. */
#ifndef FLOE_TESTS_MODELS_ST_TEST_UTIL_H
#define FLOE_TESTS_MODELS_ST_TEST_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "models/safetensors.h"
#include "tests/test_util.h"

/* Copies src to dst, with metadata `key` set to `value` (key NULL: none; else the key must exist)
 * and, when `extra` is not NULL, one more F32 tensor of that name holding one value. */
static inline void st_copy_edit(const char *src, const char *dst, const char *key, const char *value, const char *extra)
{
    floe_err err;
    floe_st_file f;
    if (floe_st_open(&f, src, &err) != 0)
        fail_msg("%s", err.msg);
    floe_st_entry *e = calloc(f.n_tensors + 1, sizeof *e);
    void **bufs = calloc(f.n_tensors + 1, sizeof *bufs);
    const char **kv = calloc(2 * f.n_meta + 1, sizeof *kv);
    assert_non_null(e);
    assert_non_null(bufs);
    assert_non_null(kv);
    for (size_t i = 0; i < f.n_tensors; i++) {
        const floe_st_tensor *t = &f.tensors[i];
        bufs[i] = malloc(t->end - t->begin + 1);
        assert_int_equal(floe_st_read_raw(&f, i, bufs[i], t->end - t->begin, &err), 0);
        e[i] = (floe_st_entry){t->name, t->dtype, t->ndim, {0}, bufs[i]};
        memcpy(e[i].shape, t->shape, sizeof t->shape);
    }
    static const float one = 1.0f;
    size_t n = f.n_tensors;
    if (extra)
        e[n++] = (floe_st_entry){extra, FLOE_ST_F32, 1, {1}, &one};
    int found = 0;
    for (size_t i = 0; i < f.n_meta; i++) {
        int here = key && strcmp(f.meta[i].key, key) == 0;
        found |= here;
        kv[2 * i] = f.meta[i].key;
        kv[2 * i + 1] = here ? value : f.meta[i].value;
    }
    assert_true(!key || found);
    if (floe_st_write(dst, e, n, kv, f.n_meta, &err) != 0)
        fail_msg("%s", err.msg);
    for (size_t i = 0; i < f.n_tensors; i++)
        free(bufs[i]);
    free(bufs);
    free(e);
    free(kv);
    floe_st_close(&f);
}

/* Copies src to dst with metadata `key` set to `value` (the key must exist). */
static inline void st_copy_with_meta(const char *src, const char *dst, const char *key, const char *value)
{
    st_copy_edit(src, dst, key, value, NULL);
}

#endif
