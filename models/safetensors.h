/* safetensors: the checkpoint format (https://github.com/huggingface/safetensors).
 *
 * Layout: an 8-byte little-endian header length N; N bytes of JSON, an object mapping each tensor
 * name to {"dtype", "shape", "data_offsets": [begin, end]} plus an optional "__metadata__" object of
 * string -> string; then the data, raw little-endian, offsets relative to the byte after the header.
 *
 * The reader trusts nothing: header length against the file size and a 100 MiB cap, JSON shape and
 * field types, dtype names, shape products (no overflow), data_offsets (in range, size = dtype size x
 * element count, no overlap, no hole, the data region exactly covered as the spec requires). Every
 * error names the file and, where there is one, the tensor. Tensor data is read on demand, so the
 * file may be larger than memory.
 *
 * The writer emits tensors in the order given, contiguously, with the header padded with spaces so
 * the data starts at a multiple of 8 bytes; the file is written atomically.
 */
#ifndef FLOE_MODELS_SAFETENSORS_H
#define FLOE_MODELS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "models/model_config.h"
#include "models/param_names.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_ST_MAX_HEADER (100u << 20) /* bytes of JSON header accepted */
#define FLOE_ST_MAX_DIMS 8

typedef enum floe_st_dtype {
    FLOE_ST_F64,
    FLOE_ST_F32,
    FLOE_ST_F16,
    FLOE_ST_BF16,
    FLOE_ST_I64,
    FLOE_ST_I32,
    FLOE_ST_I16,
    FLOE_ST_I8,
    FLOE_ST_U8,
    FLOE_ST_DTYPE_COUNT
} floe_st_dtype;

const char *floe_st_dtype_name(floe_st_dtype d); /* "F32" ... */
size_t floe_st_dtype_size(floe_st_dtype d);      /* bytes per element */
int floe_st_dtype_is_float(floe_st_dtype d);
/* Returns 0 and sets *d, or -1 for a name Floe does not read. */
int floe_st_dtype_parse(const char *name, floe_st_dtype *d);

typedef struct floe_st_tensor {
    char *name;
    floe_st_dtype dtype;
    int ndim; /* 0 .. FLOE_ST_MAX_DIMS (0: a scalar) */
    uint64_t shape[FLOE_ST_MAX_DIMS];
    uint64_t numel;
    uint64_t begin, end; /* byte offsets into the data region */
} floe_st_tensor;

typedef struct floe_st_meta {
    char *key;
    char *value;
} floe_st_meta;

typedef struct floe_st_file {
    char *path;
    FILE *fp;
    uint64_t file_size;
    uint64_t data_start;     /* 8 + header length */
    floe_st_tensor *tensors; /* in header order */
    size_t n_tensors;
    floe_st_meta *meta; /* "__metadata__", in header order */
    size_t n_meta;
    size_t *by_name; /* indices of tensors sorted by name (floe_st_find is a binary search) */
} floe_st_file;

/* Opens and validates `path` (header only; data is read by the calls below). On error nothing is
 * left open. Close with floe_st_close. */
int floe_st_open(floe_st_file *f, const char *path, floe_err *err);
void floe_st_close(floe_st_file *f);

/* Index of tensor `name`, or -1 (O(log n_tensors)). */
int floe_st_find(const floe_st_file *f, const char *name);
/* Value of metadata `key`, or NULL. */
const char *floe_st_meta_get(const floe_st_file *f, const char *key);
/* Metadata `key` as a whole integer / a finite number (a float: what overflows float, nan and inf are
 * refused); -1 with err naming the file and key when it is missing or not one. */
int floe_st_meta_ll(const floe_st_file *f, const char *key, long long *v, floe_err *err);
int floe_st_meta_float(const floe_st_file *f, const char *key, float *v, floe_err *err);
/* Metadata `key` as a whole integer in [lo, hi] (so a value such as 4294967300 is refused, never
 * truncated to int); -1 with err naming the file, key, value and range. */
int floe_st_meta_int(const floe_st_file *f, const char *key, long long lo, long long hi, int *v, floe_err *err);

/* Raw little-endian bytes of tensor i; out_bytes must equal end - begin. */
int floe_st_read_raw(floe_st_file *f, size_t i, void *out, size_t out_bytes, floe_err *err);
/* Tensor i converted to float (F32, F16, BF16, F64); n must equal numel. Integer dtypes are refused
 * (their meaning depends on quantization metadata): use floe_st_read_raw. */
int floe_st_read_f32(floe_st_file *f, size_t i, float *out, size_t n, floe_err *err);

/* One tensor to write: data is numel x dtype size raw little-endian bytes. */
typedef struct floe_st_entry {
    const char *name;
    floe_st_dtype dtype;
    int ndim;
    uint64_t shape[FLOE_ST_MAX_DIMS];
    const void *data;
} floe_st_entry;

/* Writes a safetensors file atomically. meta_kv holds n_meta (key, value) pairs flattened:
 * {k0, v0, k1, v1, ...}; may be NULL when n_meta is 0. Names and keys must be unique. */
int floe_st_write(const char *path, const floe_st_entry *entries, size_t n, const char *const *meta_kv,
                  size_t n_meta, floe_err *err);

/* Checkpoints: every tensor of the parameter table as F32, with metadata "format" = "pt" (what
 * PyTorch tools expect), "floe.config" = the config as config.json text, plus the caller's pairs. */
/* The same with the tensors stored as dtype: FLOE_ST_F32, or FLOE_ST_BF16 (each float rounded to the
 * nearest bfloat16, ties to even: the dtype Hugging Face ships most models in). -1 with err on
 * another dtype or out of memory. */
int floe_st_save_params_as(const char *path, const floe_model_config *cfg, const floe_param_table *t,
                           const float *params, floe_st_dtype dtype, const char *const *meta_kv, size_t n_meta,
                           floe_err *err);
int floe_st_save_params(const char *path, const floe_model_config *cfg, const floe_param_table *t,
                        const float *params, const char *const *meta_kv, size_t n_meta, floe_err *err);

/* Checks an opened file against a parameter table without reading any data: every table tensor
 * present with the same shape and a float dtype, no other tensor; the error names the tensor. Call
 * it before allocating anything sized by the table: the file's tensors are already known to fit in
 * the file (floe_st_open), so after this check the parameters are no larger than the file says. */
int floe_st_check_params(const floe_st_file *f, const floe_param_table *t, floe_err *err);

/* Checks an opened file against the n tensors a loader expects (entries' data is not used), reading
 * no data: every entry present with its shape, and its dtype (an F32 entry accepts any float dtype,
 * as floe_st_read_f32 converts; another dtype must match exactly); when `exact`, no other tensor.
 * Errors name the file and the tensor, with the shape or dtype found and expected. As with
 * floe_st_check_params, call it before allocating anything sized by what the entries describe. */
int floe_st_check_entries(const floe_st_file *f, const floe_st_entry *e, size_t n, int exact, floe_err *err);

/* Loads an opened file into params (t->total floats): floe_st_check_params, then every tensor read
 * (any float dtype, converted). */
int floe_st_load_params_file(floe_st_file *f, const floe_param_table *t, float *params, floe_err *err);
/* The same from a path. */
int floe_st_load_params(const char *path, const floe_param_table *t, float *params, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
