/* The reference forward's dump (models/qref_dump.h, `floe forward`): every traced tensor and the
 * logits, as the forward produced them, under the documented names and shapes. */
#include "tests/test_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/path.h"
#include "models/qref.h"
#include "models/qref_dump.h"
#include "models/safetensors.h"

typedef struct last_out {
    int32_t *data; /* layer 1's "out", as traced */
    size_t n;
} last_out;

static void keep_out(void *ctx, const char *name, int layer, const int32_t *data, size_t rows, size_t width)
{
    last_out *o = ctx;
    if (layer == 1 && strcmp(name, "out") == 0) {
        o->n = rows * width;
        o->data = malloc(sizeof(int32_t) * o->n);
        memcpy(o->data, data, sizeof(int32_t) * o->n);
    }
}

static void read_tensor(floe_st_file *f, const char *name, void *out, size_t bytes)
{
    floe_err err;
    int i = floe_st_find(f, name);
    if (i < 0)
        fail_msg("tensor '%s' missing from the dump", name);
    assert_int_equal(floe_st_read_raw(f, (size_t)i, out, bytes, &err), 0);
}

static void test_dump_is_the_forward(void **state)
{
    (void)state;
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &c, &err), 0);
    floe_qconfig q = floe_qconfig_default();
    floe_qmodel m;
    assert_int_equal(floe_qmodel_random(&m, &c, &q, 5, &err), 0);
    enum { T = 7 };
    int32_t tok[T] = {3, 200, 17, 17, 0, 255, 64};
    char path[4300];
    floe_path_join(path, sizeof path, floe_test_tmpdir("qref_dump"), "f.safetensors");
    floe_qref_dump_summary sum;
    assert_int_equal(floe_qref_dump(&m, tok, T, path, &sum, &err), 0);
    /* tokens, 13 tensors per layer, the head's input, the logits */
    assert_int_equal(sum.tensors, 1 + 13 * (size_t)c.n_layers + 1 + 1);
    int16_t *want = malloc(sizeof(int16_t) * T * (size_t)c.vocab_size);
    last_out o = {0};
    assert_int_equal(floe_qref_forward(&m, tok, T, want, keep_out, &o, &err), 0);
    floe_st_file f;
    assert_int_equal(floe_st_open(&f, path, &err), 0);
    assert_string_equal(floe_st_meta_get(&f, "format"), "floe-qref-dump");
    assert_string_equal(floe_st_meta_get(&f, "floe.tokens"), "7");
    int32_t tk[T];
    read_tensor(&f, "tokens", tk, sizeof tk);
    assert_memory_equal(tk, tok, sizeof tk);
    int16_t *lg = malloc(sizeof(int16_t) * T * (size_t)c.vocab_size);
    read_tensor(&f, "logits", lg, sizeof(int16_t) * T * (size_t)c.vocab_size);
    assert_memory_equal(lg, want, sizeof(int16_t) * T * (size_t)c.vocab_size);
    const floe_st_tensor *t = &f.tensors[floe_st_find(&f, "model.layers.1.out")];
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], T);
    assert_int_equal(t->shape[1], c.d_model);
    int32_t *out = malloc(sizeof(int32_t) * o.n);
    read_tensor(&f, "model.layers.1.out", out, sizeof(int32_t) * o.n);
    assert_memory_equal(out, o.data, sizeof(int32_t) * o.n);
    int best = 0;
    for (int v = 1; v < c.vocab_size; v++)
        best = want[(T - 1) * c.vocab_size + v] > want[(T - 1) * c.vocab_size + best] ? v : best;
    assert_int_equal(sum.last_argmax, best);
    floe_st_close(&f);
    /* a token outside the vocabulary: the forward's error, no file */
    char bad[4300];
    floe_path_join(bad, sizeof bad, floe_test_tmpdir("qref_dump"), "bad.safetensors");
    tok[2] = c.vocab_size;
    assert_int_equal(floe_qref_dump(&m, tok, T, bad, &sum, &err), -1);
    assert_int_equal(access(bad, F_OK), -1);
    free(out), free(o.data), free(lg), free(want);
    floe_qmodel_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dump_is_the_forward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
