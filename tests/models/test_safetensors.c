/* safetensors: round trips (F32, integer dtypes, metadata), hand-made F16/BF16/F64 files with known
 * bit patterns, checkpoints against a parameter table, and every hostile-input path: each must fail
 * cleanly (no crash under ASan/UBSan) with a message naming the file and, where there is one, the
 * tensor. */
#include "tests/test_util.h"

#include <math.h>

#include "common/atomic_file.h"
#include "common/file_read.h"
#include "common/rng.h"
#include "models/half.h"
#include "models/safetensors.h"

static char dir[4096];

static const char *tmp_path(const char *name)
{
    static char p[4300];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

/* tmp_path returns a static buffer: copy it when two paths are needed at once. */

/* Plain write without fsync: the mutation loops write thousands of files. */
static int write_plain(const char *path, const void *data, size_t n, floe_err *err)
{
    (void)err;
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return -1;
    size_t w = n ? fwrite(data, 1, n, fp) : 0;
    return (fclose(fp) == 0 && w == n) ? 0 : -1;
}

/* Writes 8-byte length + header + data exactly as given (for hand-made and hostile files). */
static void write_raw(const char *path, const char *header, size_t hlen, const void *data, size_t dlen)
{
    size_t n = 8 + hlen + dlen;
    unsigned char *buf = malloc(n);
    for (int k = 0; k < 8; k++)
        buf[k] = (unsigned char)((uint64_t)hlen >> (8 * k));
    memcpy(buf + 8, header, hlen);
    if (dlen)
        memcpy(buf + 8 + hlen, data, dlen);
    if (write_plain(path, buf, n, NULL))
        fail_msg("cannot write %s", path);
    free(buf);
}

static void write_hdr(const char *path, const char *header, const void *data, size_t dlen)
{
    write_raw(path, header, strlen(header), data, dlen);
}

static void test_f32_round_trip(void **state)
{
    (void)state;
    float a[6] = {1.5f, -2.25f, 0.0f, -0.0f, 3.4e38f, 1e-45f};
    float s = 42.0f;
    int8_t q[4] = {-128, -1, 0, 127};
    int32_t m[3] = {INT32_MIN, 7, INT32_MAX};
    uint8_t u[2] = {0, 255};
    int16_t w[2] = {-32768, 32767};
    floe_st_entry e[] = {
        {"a", FLOE_ST_F32, 2, {2, 3}, a}, {"scalar", FLOE_ST_F32, 0, {0}, &s},
        {"codes", FLOE_ST_I8, 3, {1, 2, 2}, q}, {"mult", FLOE_ST_I32, 1, {3}, m},
        {"bytes", FLOE_ST_U8, 1, {2}, u},      {"wide", FLOE_ST_I16, 1, {2}, w},
        {"empty", FLOE_ST_F32, 2, {0, 5}, NULL},
        {"wide_empty", FLOE_ST_F32, 2, {1000000000000000ull, 0}, NULL},
    };
    const char *meta[] = {"format", "pt", "floe.note", "quoted \"text\"\nwith newline"};
    const char *path = tmp_path("rt.safetensors");
    floe_err err;
    assert_int_equal(floe_st_write(path, e, 8, meta, 2, &err), 0);

    floe_st_file f;
    assert_int_equal(floe_st_open(&f, path, &err), 0);
    assert_int_equal(f.data_start % 8, 0); /* header padded to 8-byte alignment */
    assert_int_equal(f.n_tensors, 8);
    assert_int_equal(f.n_meta, 2);
    assert_string_equal(floe_st_meta_get(&f, "format"), "pt");
    assert_string_equal(floe_st_meta_get(&f, "floe.note"), "quoted \"text\"\nwith newline");
    assert_null(floe_st_meta_get(&f, "absent"));
    for (size_t i = 0; i < 8; i++)
        assert_string_equal(f.tensors[i].name, e[i].name); /* header order kept */
    assert_true(f.tensors[7].shape[0] == 1000000000000000ull);
    float got[6];
    int ia = floe_st_find(&f, "a");
    assert_int_equal(ia, 0);
    assert_int_equal(f.tensors[ia].ndim, 2);
    assert_int_equal(f.tensors[ia].shape[1], 3);
    assert_int_equal(floe_st_read_f32(&f, (size_t)ia, got, 6, &err), 0);
    assert_memory_equal(got, a, sizeof a);
    int is = floe_st_find(&f, "scalar");
    assert_int_equal(f.tensors[is].ndim, 0);
    assert_int_equal(f.tensors[is].numel, 1);
    assert_int_equal(floe_st_read_f32(&f, (size_t)is, got, 1, &err), 0);
    assert_true(got[0] == 42.0f);
    int8_t q2[4];
    int ic = floe_st_find(&f, "codes");
    assert_int_equal(f.tensors[ic].dtype, FLOE_ST_I8);
    assert_int_equal(floe_st_read_raw(&f, (size_t)ic, q2, 4, &err), 0);
    assert_memory_equal(q2, q, 4);
    int32_t m2[3];
    assert_int_equal(floe_st_read_raw(&f, (size_t)floe_st_find(&f, "mult"), m2, sizeof m2, &err), 0);
    assert_memory_equal(m2, m, sizeof m);
    uint8_t u2[2];
    assert_int_equal(floe_st_read_raw(&f, (size_t)floe_st_find(&f, "bytes"), u2, 2, &err), 0);
    assert_memory_equal(u2, u, 2);
    int16_t w2[2];
    assert_int_equal(floe_st_read_raw(&f, (size_t)floe_st_find(&f, "wide"), w2, 4, &err), 0);
    assert_memory_equal(w2, w, 4);
    assert_int_equal(f.tensors[floe_st_find(&f, "empty")].numel, 0);
    assert_int_equal(floe_st_read_f32(&f, (size_t)floe_st_find(&f, "empty"), got, 0, &err), 0);
    /* integer tensors are not silently turned into floats; sizes must match */
    assert_int_equal(floe_st_read_f32(&f, (size_t)ic, got, 4, &err), -1);
    assert_non_null(strstr(err.msg, "'codes'"));
    assert_int_equal(floe_st_read_f32(&f, (size_t)ia, got, 5, &err), -1);
    assert_non_null(strstr(err.msg, "'a'"));
    assert_int_equal(floe_st_read_raw(&f, (size_t)ic, q2, 3, &err), -1);
    floe_st_close(&f);

    /* The header padding is spaces, as the spec allows. */
    char *raw;
    size_t len;
    assert_int_equal(floe_read_file(path, 1 << 20, &raw, &len, &err), 0);
    uint64_t hn = 0;
    for (int k = 7; k >= 0; k--)
        hn = hn << 8 | (unsigned char)raw[k];
    assert_int_equal(raw[8], '{');
    assert_non_null(strstr(raw + 8, "[1000000000000000,0]")); /* integers in plain digits, never 1e+15 */
    size_t close = 8 + (size_t)hn - 1;
    while (raw[close] == ' ')
        close--;
    assert_int_equal(raw[close], '}');
    free(raw);

    /* writer refuses duplicates and reserved names */
    floe_st_entry dup[] = {{"x", FLOE_ST_F32, 1, {1}, a}, {"x", FLOE_ST_F32, 1, {1}, a}};
    assert_int_equal(floe_st_write(tmp_path("dup.safetensors"), dup, 2, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "'x'"));
    floe_st_entry res[] = {{"__metadata__", FLOE_ST_F32, 1, {1}, a}};
    assert_int_equal(floe_st_write(tmp_path("dup.safetensors"), res, 1, NULL, 0, &err), -1);
    const char *dmeta[] = {"k", "1", "k", "2"};
    assert_int_equal(floe_st_write(tmp_path("dup.safetensors"), e, 1, dmeta, 2, &err), -1);
    assert_non_null(strstr(err.msg, "'k'"));
}

static void test_f16_bf16_f64_read(void **state)
{
    (void)state;
    /* F16: 1, -2, 65504, smallest subnormal, largest subnormal, +inf, -0, NaN */
    const uint16_t h[8] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x7c00, 0x8000, 0x7e00};
    /* BF16: 1, -3.5 (0xc060), 1/3 rounded (0x3eab), smallest subnormal, -inf, NaN */
    const uint16_t b[6] = {0x3f80, 0xc060, 0x3eab, 0x0001, 0xff80, 0x7fc0};
    const double d[2] = {0.1, -1e300};
    unsigned char data[16 + 12 + 16];
    for (int i = 0; i < 8; i++) {
        data[2 * i] = (unsigned char)(h[i] & 0xff);
        data[2 * i + 1] = (unsigned char)(h[i] >> 8);
    }
    for (int i = 0; i < 6; i++) {
        data[16 + 2 * i] = (unsigned char)(b[i] & 0xff);
        data[16 + 2 * i + 1] = (unsigned char)(b[i] >> 8);
    }
    memcpy(data + 28, d, 16);
    const char *path = tmp_path("half.safetensors");
    write_hdr(path,
              "{\"__metadata__\":{\"k\":\"v\"},\"h\":{\"dtype\":\"F16\",\"shape\":[2,4],\"data_offsets\":[0,16]},"
              "\"b\":{\"dtype\":\"BF16\",\"shape\":[6],\"data_offsets\":[16,28]},"
              "\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[28,44]}}   ",
              data, sizeof data);
    floe_st_file f;
    floe_err err;
    assert_int_equal(floe_st_open(&f, path, &err), 0);
    float g[8];
    assert_int_equal(floe_st_read_f32(&f, (size_t)floe_st_find(&f, "h"), g, 8, &err), 0);
    assert_true(g[0] == 1.0f && g[1] == -2.0f && g[2] == 65504.0f);
    assert_true(g[3] == 0x1p-24f && g[4] == 1023 * 0x1p-24f);
    assert_true(isinf(g[5]) && g[5] > 0);
    assert_true(g[6] == 0.0f && signbit(g[6]));
    assert_true(isnan(g[7]));
    assert_int_equal(floe_st_read_f32(&f, (size_t)floe_st_find(&f, "b"), g, 6, &err), 0);
    assert_true(g[0] == 1.0f && g[1] == -3.5f);
    assert_true(g[2] == 0x1.56p-2f);
    assert_true(g[3] == 0x1p-133f);
    assert_true(isinf(g[4]) && g[4] < 0);
    assert_true(isnan(g[5]));
    assert_int_equal(floe_st_read_f32(&f, (size_t)floe_st_find(&f, "d"), g, 2, &err), 0);
    assert_true(g[0] == 0.1f && isinf(g[1]) && g[1] < 0);
    assert_string_equal(floe_st_meta_get(&f, "k"), "v");
    floe_st_close(&f);
}

/* Opening must fail, naming the file and containing `needle`. */
static void expect_open_fails(const char *path, const char *needle)
{
    floe_st_file f;
    floe_err err;
    err.msg[0] = '\0';
    if (floe_st_open(&f, path, &err) == 0) {
        floe_st_close(&f);
        fail_msg("%s: accepted (expected '%s')", path, needle ? needle : "an error");
    }
    if (!strstr(err.msg, path) || (needle && !strstr(err.msg, needle)))
        fail_msg("message '%s' lacks the path or '%s'", err.msg, needle ? needle : "");
    assert_null(f.fp);
}

static void bad_header(const char *header, size_t dlen, const char *needle)
{
    static unsigned char zeros[4096];
    const char *path = tmp_path("bad.safetensors");
    write_hdr(path, header, zeros, dlen);
    expect_open_fails(path, needle);
}

static void test_hostile_headers(void **state)
{
    (void)state;
    const char *path = tmp_path("len.safetensors");
    /* header length: larger than the file, absurd, too short a file */
    unsigned char b[16] = {0x10, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    floe_err err;
    write_plain(path, b, 16, &err);
    expect_open_fails(path, "larger than");
    b[0] = 0;
    b[5] = 1; /* 2^40 */
    write_plain(path, b, 16, &err);
    expect_open_fails(path, "exceeds the limit");
    memset(b, 0xff, 8);
    write_plain(path, b, 16, &err);
    expect_open_fails(path, "exceeds the limit");
    write_plain(path, b, 5, &err);
    expect_open_fails(path, "truncated");
    write_plain(path, b, 0, &err);
    expect_open_fails(path, "truncated");
    expect_open_fails(tmp_path("does-not-exist"), "cannot open");

    /* JSON */
    bad_header("", 0, "not a JSON object");
    bad_header("[1,2]", 0, "not a JSON object");
    bad_header("  {}", 0, "not a JSON object");
    bad_header("{\"a\":", 0, "not valid JSON");
    bad_header("{\"a\":{\"dtype\":\"F32\"}} x", 0, "after its JSON object");
    bad_header("\"str\"", 0, "not a JSON object");
    /* fields */
    bad_header("{\"t\":5}", 0, "tensor 't': expected an object");
    bad_header("{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 't': missing 'dtype'");
    bad_header("{\"t\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 't': 'dtype' must be");
    bad_header("{\"t\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "tensor 't': unknown");
    bad_header("{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor 't': missing 'shape'");
    bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", 4, "tensor 't': 'shape'");
    bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "tensor 't': shape[0]");
    bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "tensor 't': shape[0]");
    bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[1,2,3,4,5,6,7,8,9],\"data_offsets\":[0,4]}}", 4,
               "tensor 't': 9 dimensions");
    bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,4]}}", 4,
               "tensor 't': shape product overflows");
    bad_header("{\"t\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967295],\"data_offsets\":[0,4]}}", 4,
               "tensor 't': shape product overflows");
    bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "tensor 't': missing 'data_offsets'");
    bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "tensor 't': 'data_offsets'");
    bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",4]}}", 4, "tensor 't': 'data_offsets'");
    bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4, "tensor 't': 'data_offsets'");
    bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "tensor 't'");
    bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "tensor 't': data_offsets [0, 4] hold 4 bytes");
    bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,1e300]}}", 4, "tensor 't'");
    /* layout */
    bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"u\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}",
               6, "overlap");
    bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "tensor 't': data_offsets begin at 4, leaving a hole");
    bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 2, "tensor 't'");
    bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 9, "trailing bytes");
    bad_header("{}", 3, "no tensors");
    bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
               8, "tensor 't' appears twice");
    bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"u\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
               4, "overlap");
    /* metadata */
    bad_header("{\"__metadata__\":[1]}", 0, "'__metadata__' must be an object");
    bad_header("{\"__metadata__\":{\"k\":1}}", 0, "'__metadata__' key 'k'");
    bad_header("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0, "'k' appears twice");
    bad_header("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "'__metadata__' appears twice");
    /* deep nesting is refused by the JSON parser, not the stack */
    char deep[4200];
    size_t k = 0;
    deep[k++] = '{';
    memcpy(deep + k, "\"t\":", 4);
    k += 4;
    for (int i = 0; i < 2000; i++)
        deep[k++] = '[';
    deep[k] = '\0';
    bad_header(deep, 0, NULL);

    /* a valid empty file is fine */
    write_hdr(tmp_path("empty.safetensors"), "{}      ", NULL, 0);
    floe_st_file f;
    assert_int_equal(floe_st_open(&f, tmp_path("empty.safetensors"), &err), 0);
    assert_int_equal(f.n_tensors, 0);
    floe_st_close(&f);
}

/* A real file cut at every length must be refused, and the message name the file. */
static void test_truncated_everywhere(void **state)
{
    (void)state;
    float a[5] = {1, 2, 3, 4, 5};
    int8_t q[3] = {1, 2, 3};
    floe_st_entry e[] = {{"first", FLOE_ST_F32, 1, {5}, a}, {"second", FLOE_ST_I8, 1, {3}, q}};
    const char *meta[] = {"format", "pt"};
    char full[4300], cut[4300];
    snprintf(full, sizeof full, "%s", tmp_path("full.safetensors"));
    floe_err err;
    assert_int_equal(floe_st_write(full, e, 2, meta, 1, &err), 0);
    char *raw;
    size_t len;
    assert_int_equal(floe_read_file(full, 1 << 20, &raw, &len, &err), 0);
    uint64_t data_start = 0;
    for (int k = 7; k >= 0; k--)
        data_start = data_start << 8 | (unsigned char)raw[k];
    data_start += 8;
    snprintf(cut, sizeof cut, "%s", tmp_path("cut.safetensors"));
    for (size_t n = 0; n < len; n++) {
        assert_int_equal(write_plain(cut, raw, n, &err), 0);
        expect_open_fails(cut, NULL);
        floe_st_file f;
        floe_st_open(&f, cut, &err);
        if (n > data_start) /* cut inside the data: the message names the tensor whose data is cut */
            assert_true(strstr(err.msg, "'first'") || strstr(err.msg, "'second'"));
    }
    /* one byte too many is refused as well */
    char *more = malloc(len + 1);
    memcpy(more, raw, len);
    more[len] = 0;
    assert_int_equal(write_plain(cut, more, len + 1, &err), 0);
    expect_open_fails(cut, "trailing");
    /* every single-byte corruption of the header: never a crash, either accepted or a clean error */
    for (size_t i = 0; i < data_start; i++) {
        memcpy(more, raw, len);
        more[i] = (char)(more[i] ^ 0x5a);
        assert_int_equal(write_plain(cut, more, len, &err), 0);
        floe_st_file f;
        if (floe_st_open(&f, cut, &err) == 0)
            floe_st_close(&f);
        else
            assert_non_null(strstr(err.msg, cut));
    }
    /* random multi-byte corruptions anywhere (length field, header, data) */
    floe_rng r;
    floe_rng_seed(&r, 99);
    for (int it = 0; it < 2000; it++) {
        memcpy(more, raw, len);
        int flips = (int)floe_rng_range(&r, 1, 4);
        for (int k = 0; k < flips; k++) {
            size_t at = (size_t)floe_rng_below(&r, it % 2 ? data_start : len);
            more[at] = (char)floe_rng_below(&r, 256);
        }
        size_t n = it % 5 == 0 ? (size_t)floe_rng_below(&r, len + 1) : len;
        assert_int_equal(write_plain(cut, more, n, &err), 0);
        floe_st_file f;
        if (floe_st_open(&f, cut, &err) == 0) {
            /* whatever was accepted must be readable within its proven bounds */
            for (size_t i = 0; i < f.n_tensors; i++) {
                size_t nb = (size_t)(f.tensors[i].end - f.tensors[i].begin);
                void *buf = malloc(nb ? nb : 1);
                assert_int_equal(floe_st_read_raw(&f, i, buf, nb, &err), 0);
                free(buf);
            }
            floe_st_close(&f);
        } else {
            assert_non_null(strstr(err.msg, cut));
        }
    }
    free(more);
    free(raw);
    /* a folder is not a file */
    expect_open_fails(dir, "not a regular file");
}

static void test_checkpoint(void **state)
{
    (void)state;
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &c, &err), 0);
    floe_param_table t;
    assert_int_equal(floe_param_table_init(&t, &c, &err), 0);
    float *p = malloc(t.total * sizeof *p), *q = calloc(t.total, sizeof *q);
    floe_rng r;
    floe_rng_seed(&r, 7);
    for (size_t i = 0; i < t.total; i++)
        p[i] = (float)floe_rng_normal(&r);
    char path[4300], wrong[4300];
    snprintf(path, sizeof path, "%s", tmp_path("tiny.safetensors"));
    snprintf(wrong, sizeof wrong, "%s", tmp_path("wrong.safetensors"));
    const char *meta[] = {"floe.step", "12"};
    assert_int_equal(floe_st_save_params(path, &c, &t, p, meta, 1, &err), 0);
    assert_int_equal(floe_st_load_params(path, &t, q, &err), 0);
    assert_memory_equal(p, q, t.total * sizeof *p);

    floe_st_file f;
    assert_int_equal(floe_st_open(&f, path, &err), 0);
    assert_string_equal(floe_st_meta_get(&f, "format"), "pt");
    assert_string_equal(floe_st_meta_get(&f, "floe.step"), "12");
    const char *cj = floe_st_meta_get(&f, "floe.config");
    assert_non_null(cj);
    floe_model_config back;
    assert_int_equal(floe_model_config_parse_json(cj, strlen(cj), "meta", &back, &err), 0);
    assert_int_equal(back.n_kv_heads, 2);
    assert_int_equal(back.ffn_dim, 172);
    const floe_st_tensor *k = &f.tensors[floe_st_find(&f, "model.layers.1.self_attn.k_proj.weight")];
    assert_int_equal(k->ndim, 2);
    assert_int_equal(k->shape[0], 32);
    assert_int_equal(k->shape[1], 64);
    assert_int_equal(f.tensors[floe_st_find(&f, "model.norm.weight")].ndim, 1);
    floe_st_close(&f);

    /* wrong shape: same names, different FFN width */
    floe_model_config c2 = c;
    c2.ffn_dim = 160;
    floe_param_table t2;
    assert_int_equal(floe_param_table_init(&t2, &c2, &err), 0);
    assert_int_equal(floe_st_save_params(wrong, &c2, &t2, p, NULL, 0, &err), 0);
    assert_int_equal(floe_st_load_params(wrong, &t, q, &err), -1);
    assert_non_null(strstr(err.msg, wrong));
    assert_non_null(strstr(err.msg, "'model.layers.0.mlp.gate_proj.weight': wrong shape: expected [172, 64], got [160, 64]"));
    floe_param_table_free(&t2);

    /* unexpected tensor: an untied checkpoint into a tied model */
    c2 = c;
    c2.tied_embeddings = 0;
    assert_int_equal(floe_param_table_init(&t2, &c2, &err), 0);
    float *p2 = calloc(t2.total, sizeof *p2);
    assert_int_equal(floe_st_save_params(wrong, &c2, &t2, p2, NULL, 0, &err), 0);
    assert_int_equal(floe_st_load_params(wrong, &t, q, &err), -1);
    assert_non_null(strstr(err.msg, "unexpected tensor 'lm_head.weight'"));
    /* missing tensor: a tied checkpoint into an untied model */
    assert_int_equal(floe_st_load_params(path, &t2, p2, &err), -1);
    assert_non_null(strstr(err.msg, "missing tensor 'lm_head.weight'"));
    free(p2);
    floe_param_table_free(&t2);

    /* wrong rank: the final norm stored as a [1, 64] matrix, everything else right */
    floe_st_entry *e = calloc(t.count, sizeof *e);
    for (size_t i = 0; i < t.count; i++) {
        const floe_param *pp = &t.params[i];
        e[i] = (floe_st_entry){pp->name, FLOE_ST_F32, pp->ndim, {pp->shape[0], pp->shape[1]}, p + pp->offset};
    }
    e[t.count - 1].ndim = 2;
    e[t.count - 1].shape[0] = 1;
    e[t.count - 1].shape[1] = 64;
    floe_st_file g;
    assert_int_equal(floe_st_write(wrong, e, t.count, NULL, 0, &err), 0);
    assert_int_equal(floe_st_open(&g, wrong, &err), 0);
    assert_int_equal(floe_st_load_params_file(&g, &t, q, &err), -1);
    assert_non_null(strstr(err.msg, "'model.norm.weight': wrong shape: expected [64], got [1, 64]"));
    floe_st_close(&g);
    /* a BF16 checkpoint loads too, converted */
    uint16_t *h = malloc(t.total * sizeof *h);
    for (size_t i = 0; i < t.total; i++)
        h[i] = floe_f32_to_bf16(p[i]);
    for (size_t i = 0; i < t.count; i++) {
        e[i].dtype = FLOE_ST_BF16;
        e[i].data = h + t.params[i].offset;
    }
    e[t.count - 1].ndim = 1;
    e[t.count - 1].shape[1] = 0;
    e[t.count - 1].shape[0] = 64;
    assert_int_equal(floe_st_write(wrong, e, t.count, NULL, 0, &err), 0);
    assert_int_equal(floe_st_load_params(wrong, &t, q, &err), 0);
    for (size_t i = 0; i < t.total; i++)
        assert_true(q[i] == floe_bf16_to_f32(h[i]));
    free(h);
    free(e);

    free(p);
    free(q);
    floe_param_table_free(&t);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s", floe_test_tmpdir("safetensors"));
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f32_round_trip),
        cmocka_unit_test(test_f16_bf16_f64_read),
        cmocka_unit_test(test_hostile_headers),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_checkpoint),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
