/* The trainer's batched integer forward (trainer/qforward.h) computes exactly the integers of the plain
 * reference forward (models/qref.c, written from docs/quantized-model.md alone): every traced tensor
 * of every sequence, on random models at every supported precision mix, on 1 and 2 threads. */
#include "tests/test_util.h"

#include <omp.h>

#include "common/rng.h"
#include "isa/token.h"
#include "models/qref.h"
#include "trainer/igemm.h"
#include "trainer/qforward.h"

typedef struct {
    int32_t *data[128];
    size_t n[128];
    char name[128][16];
    int layer[128];
    int count;
} trace_log;

static void record(void *ctx, const char *name, int layer, const int32_t *data, size_t rows, size_t width)
{
    trace_log *t = ctx;
    assert_true(t->count < 128);
    int i = t->count++;
    t->n[i] = rows * width;
    t->data[i] = malloc(sizeof(int32_t) * t->n[i]);
    memcpy(t->data[i], data, sizeof(int32_t) * t->n[i]);
    snprintf(t->name[i], sizeof t->name[i], "%s", name);
    t->layer[i] = layer;
}

static void log_free(trace_log *t)
{
    for (int i = 0; i < t->count; i++)
        free(t->data[i]);
    t->count = 0;
}

typedef struct {
    trace_log *ref;
    int next;
    int mismatches;
} compare_ctx;

static void compare(void *ctx, const char *name, int layer, const int32_t *data, size_t rows, size_t width)
{
    compare_ctx *c = ctx;
    int i = c->next++;
    assert_true(i < c->ref->count);
    assert_string_equal(name, c->ref->name[i]);
    assert_int_equal(layer, c->ref->layer[i]);
    assert_int_equal(rows * width, c->ref->n[i]);
    for (size_t j = 0; j < rows * width; j++)
        if (data[j] != c->ref->data[i][j]) {
            if (c->mismatches++ < 5)
                print_error("layer %d %s [%zu, %zu]: qforward %d, qref %d\n", layer, name, j / width, j % width,
                            data[j], c->ref->data[i][j]);
        }
}

static int k_hist[FLOE_TOKEN_K_MAX + 1]; /* per-token shifts seen by check_mix (the "_k" traces) */

static void check_mix(const char *model, floe_qconfig q, uint64_t seed, int B, int T, int threads)
{
    floe_model_config cfg;
    floe_err err;
    assert_int_equal(floe_model_config_builtin(model, &cfg, &err), 0);
    floe_qmodel m;
    if (floe_qmodel_random(&m, &cfg, &q, seed, &err) != 0)
        fail_msg("%s", err.msg);
    floe_qfwd f;
    assert_int_equal(floe_qfwd_init(&f, &cfg, B, T, &err), 0);
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)B * T);
    floe_rng r;
    floe_rng_seed(&r, seed ^ 0x5eed);
    for (int i = 0; i < B * T; i++)
        tok[i] = (int32_t)floe_rng_range(&r, 0, cfg.vocab_size - 1);
    omp_set_num_threads(threads);
    assert_int_equal(floe_qfwd_forward(&f, &m, tok, B, T, &err), 0);
    int16_t *logits = malloc(sizeof(int16_t) * (size_t)T * cfg.vocab_size);
    for (int b = 0; b < B; b++) {
        trace_log ref = {0};
        assert_int_equal(floe_qref_forward(&m, tok + (size_t)b * T, T, logits, record, &ref, &err), 0);
        compare_ctx c = {&ref, 0, 0};
        assert_int_equal(floe_qfwd_trace(&f, &m, b, compare, &c, &err), 0);
        assert_int_equal(c.next, ref.count);
        for (int i = 0; i < ref.count; i++) {
            size_t nl = strlen(ref.name[i]);
            for (size_t j = 0; nl > 2 && strcmp(ref.name[i] + nl - 2, "_k") == 0 && j < ref.n[i]; j++) {
                assert_in_range(ref.data[i][j], 0, q.act_kmax);
                k_hist[ref.data[i][j]]++;
            }
        }
        if (c.mismatches)
            fail_msg("W%dA%dKV%d seed %llu sequence %d: %d integers differ", q.wbits, q.abits, q.kvbits,
                     (unsigned long long)seed, b, c.mismatches);
        log_free(&ref);
    }
    free(logits);
    free(tok);
    floe_qfwd_free(&f);
    floe_qmodel_free(&m);
}

static void test_every_mix(void **state)
{
    (void)state;
    static const floe_qconfig mixes[] = {{4, 8, 8, 8, 0, 0, {0}, {{0}}},
                                         {4, 4, 4, 8, 0, 0, {0}, {{0}}},
                                         {2, 8, 8, 8, 0, 0, {0}, {{0}}},
                                         {8, 8, 8, 8, 0, 0, {0}, {{0}}},
                                         {4, 8, 4, 4, 0, 0, {0}, {{0}}},
                                         {2, 8, 8, 8, 0, 0, {8}, {{0}}},
                                         {4, 4, 4, 8, 0, 0, {0, 8}, {{0}}}, /* mixed: layer 0 / 1 at 8 bits */
                                         {2, 8, 8, 8, 0, 0, {0}, {{8, 2, 4, 8, 2, 8, 4}}}}; /* per linear */
    /* both GEMM paths: the int8 engine (trainer/igemm.h) and the float one */
    const int was = floe_igemm_enabled();
    for (int path = 1; path >= 0; path--) {
        floe_igemm_set_enabled(path);
        for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++)
            for (uint64_t seed = 1; seed <= (path ? 3u : 1u); seed++)
                check_mix("tiny", mixes[i], seed * 7 + i, 3, 19, 1 + (int)(seed % 2));
    }
    floe_igemm_set_enabled(was);
}

/* The int8 engine on its own: exact int32 products at every weight width, against a plain loop,
 * on odd shapes (edges of its register tiles) and extreme codes. */
static void test_igemm(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 77);
    static const int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {33, 17, 64}, {64, 688, 256}, {19, 256, 1100}};
    const int was = floe_igemm_enabled();
    floe_igemm_set_enabled(1);
    for (int bits = 2; bits <= 8; bits++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            if (!floe_igemm_usable(bits, K))
                continue;
            int8_t *a = malloc((size_t)M * K), *b = malloc((size_t)N * K);
            int32_t *c = malloc(sizeof(int32_t) * (size_t)M * N);
            int hi = (1 << (bits - 1)) - 1;
            for (int i = 0; i < M * K; i++) /* a share of the extremes -128 and 127 */
                a[i] = (int8_t)(i % 5 == 0 ? (i % 2 ? 127 : -128) : floe_rng_range(&r, -128, 127));
            for (int i = 0; i < N * K; i++)
                b[i] = (int8_t)(i % 7 == 0 ? -hi - 1 : floe_rng_range(&r, -hi - 1, hi));
            assert_int_equal(floe_igemm_s8(c, a, b, M, N, K), 0);
            for (int m = 0; m < M; m++)
                for (int n = 0; n < N; n++) {
                    int64_t want = 0;
                    for (int k = 0; k < K; k++)
                        want += (int64_t)a[(size_t)m * K + k] * b[(size_t)n * K + k];
                    if (c[(size_t)m * N + n] != want)
                        fail_msg("W%d %dx%dx%d: [%d, %d] %d, want %lld", bits, M, N, K, m, n, c[(size_t)m * N + n],
                                 (long long)want);
                }
            free(a), free(b), free(c);
        }
    /* the switch turns it off */
    floe_igemm_set_enabled(0);
    assert_false(floe_igemm_usable(4, 64));
    floe_igemm_set_enabled(was);
}

/* Per-token scaling (docs/numerics.md §10) at W4A8KV8 and W4A4KV4: every integer tensor and every
 * row's shift agree; the random models' rows take a spread of shifts, so the shifted paths run. */
static void test_per_token(void **state)
{
    (void)state;
    static const floe_qconfig mixes[] = {{4, 8, 8, 8, FLOE_ACT_PER_TOKEN, 4, {0}, {{0}}},
                                         {4, 4, 4, 8, FLOE_ACT_PER_TOKEN, 4, {0}, {{0}}},
                                         {4, 8, 8, 8, FLOE_ACT_PER_TOKEN, 6, {0}, {{0}}},
                                         {8, 4, 8, 4, FLOE_ACT_PER_TOKEN, 2, {0}, {{0}}}};
    memset(k_hist, 0, sizeof k_hist);
    for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++)
        for (uint64_t seed = 1; seed <= 3; seed++)
            check_mix("tiny", mixes[i], seed * 11 + i, 3, 19, 1 + (int)(seed % 2));
    int kinds = 0;
    for (int k = 0; k <= FLOE_TOKEN_K_MAX; k++)
        kinds += k_hist[k] > 0;
    print_message("per-token shifts seen: k=0 %d, 1 %d, 2 %d, 3 %d, 4 %d, 5 %d, 6 %d\n", k_hist[0], k_hist[1],
                  k_hist[2], k_hist[3], k_hist[4], k_hist[5], k_hist[6]);
    assert_true(kinds >= 3);
    assert_true(k_hist[0] > 0);
}

/* The full context and a partial last sequence length (T < maxT is the eval case). */
static void test_full_context(void **state)
{
    (void)state;
    check_mix("tiny", floe_qconfig_default(), 99, 2, 64, 2);
}

/* W8A8 with a wide FFN: in * 128 * 128 >= 2^24 takes the exact double path when the int8 engine is
 * off; the int8 engine gives the same integers. */
static void test_double_path(void **state)
{
    (void)state;
    floe_model_config cfg;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &cfg, &err), 0);
    cfg.ffn_dim = 1100; /* 1100 * 128 * 128 > 2^24 */
    floe_qconfig q = {8, 8, 8, 8, 0, 0, {0}, {{0}}};
    floe_qmodel m;
    assert_int_equal(floe_qmodel_random(&m, &cfg, &q, 5, &err), 0);
    const int was = floe_igemm_enabled();
    for (int path = 0; path <= 1; path++) {
        floe_igemm_set_enabled(path);
        floe_qfwd f;
        assert_int_equal(floe_qfwd_init(&f, &cfg, 2, 9, &err), 0);
        int32_t tok[18];
        for (int i = 0; i < 18; i++)
            tok[i] = (i * 37) % cfg.vocab_size;
        assert_int_equal(floe_qfwd_forward(&f, &m, tok, 2, 9, &err), 0);
        if (path == 0)
            assert_non_null(f.dacc);
        int16_t logits[9 * 256];
        for (int b = 0; b < 2; b++) {
            trace_log ref = {0};
            assert_int_equal(floe_qref_forward(&m, tok + b * 9, 9, logits, record, &ref, &err), 0);
            compare_ctx c = {&ref, 0, 0};
            assert_int_equal(floe_qfwd_trace(&f, &m, b, compare, &c, &err), 0);
            assert_int_equal(c.mismatches, 0);
            log_free(&ref);
        }
        floe_qfwd_free(&f);
    }
    floe_igemm_set_enabled(was);
    floe_qmodel_free(&m);
}

static void test_refuses(void **state)
{
    (void)state;
    floe_model_config cfg;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &cfg, &err), 0);
    floe_qfwd f;
    assert_int_not_equal(floe_qfwd_init(&f, &cfg, 1, cfg.context + 1, &err), 0);
    assert_non_null(strstr(err.msg, "context"));
    assert_int_equal(floe_qfwd_init(&f, &cfg, 1, 8, &err), 0);
    floe_qmodel m;
    floe_qconfig q = floe_qconfig_default();
    assert_int_equal(floe_qmodel_alloc(&m, &cfg, &q, &err), 0);
    int32_t tok[8] = {0};
    assert_int_not_equal(floe_qfwd_forward(&f, &m, tok, 1, 8, &err), 0); /* not derived */
    assert_int_equal(floe_qmodel_derive(&m, &err), 0);
    assert_int_not_equal(floe_qfwd_forward(&f, &m, tok, 2, 8, &err), 0); /* batch too large */
    floe_qmodel_free(&m);
    floe_qfwd_free(&f);
}

/* Deep models: 40 layers of 20 buffers each (a fixed list of 512 once refused smollm2-135m's 30). */
static void test_many_layers(void **state)
{
    (void)state;
    floe_model_config cfg;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &cfg, &err), 0);
    cfg.n_layers = 40;
    floe_qfwd f;
    if (floe_qfwd_init(&f, &cfg, 1, 8, &err) != 0)
        fail_msg("%s", err.msg);
    floe_qfwd_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_mix),   cmocka_unit_test(test_per_token), cmocka_unit_test(test_full_context),
        cmocka_unit_test(test_double_path), cmocka_unit_test(test_igemm),     cmocka_unit_test(test_refuses),
        cmocka_unit_test(test_many_layers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
