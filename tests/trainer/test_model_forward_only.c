/* The forward-only model (floe_model_init_forward, floe_model_load_forward): its logits, losses and
 * top-1 are the training model's bits on the same parameters and tokens with 1 and 2 threads (the
 * built-in tiny config with grouped-query attention, a Granite config, an odd number of layers, a
 * smaller batch than allocated); floe_model_forward_tapped's taps, read inside the callback, are
 * floe_model_get_taps' after a training model's whole forward, every layer; it holds less than the
 * training model by at least the gradients and all but one layer's activations; backward is refused;
 * the loader reads the same parameters and refuses what floe_model_load refuses. */
#include "tests/trainer/trainer_test.h"

#include <omp.h>

#include "models/half.h"
#include "models/param_names.h"
#include "models/safetensors.h"
#include "trainer/model.h"
#include "trainer/train.h"

static void random_params(floe_model *m, uint64_t seed)
{
    floe_rng r;
    floe_rng_seed(&r, seed);
    for (size_t i = 0; i < m->table.count; i++) {
        const floe_param *p = &m->table.params[i];
        float *x = m->params + p->offset;
        double sd = p->ndim == 1 ? 0.3 : p->kind == FLOE_P_EMBED ? 0.5 : 1.0 / sqrt((double)p->shape[1]);
        rand_fill(x, p->numel, &r, sd);
        if (p->ndim == 1)
            for (size_t j = 0; j < p->numel; j++)
                x[j] += 1.0f;
    }
}

static int32_t *random_ids(int n, int vocab, uint64_t seed)
{
    floe_rng r;
    floe_rng_seed(&r, seed);
    int32_t *t = malloc(sizeof(int32_t) * (size_t)n);
    assert_non_null(t);
    for (int i = 0; i < n; i++)
        t[i] = (int32_t)floe_rng_below(&r, (uint64_t)vocab);
    return t;
}

static floe_model_config granite_config(void)
{
    floe_model_config cfg = floe_test_small_config(0);
    cfg.family = FLOE_FAMILY_GRANITE;
    cfg.embedding_multiplier = 3.0;
    cfg.residual_multiplier = 0.5;
    cfg.attention_multiplier = 0.3;
    cfg.logits_scaling = 2.5;
    cfg.n_layers = 3; /* odd: the last residual sits in the other slot */
    return cfg;
}

static floe_model_config builtin_config(const char *name, int n_layers)
{
    floe_model_config cfg;
    floe_err err;
    assert_int_equal(floe_model_config_builtin(name, &cfg, &err), 0);
    if (n_layers > 0)
        cfg.n_layers = n_layers;
    return cfg;
}

/* Both kinds of model on the same parameters, allocated for maxB x maxT. */
static void pair_init(floe_model *full, floe_model *fo, const floe_model_config *cfg, int maxB, int maxT)
{
    floe_err err;
    assert_int_equal(floe_model_init(full, cfg, maxB, maxT, &err), 0);
    assert_int_equal(floe_model_init_forward(fo, cfg, maxB, maxT, &err), 0);
    random_params(full, 5);
    memcpy(fo->params, full->params, sizeof(float) * full->table.total);
}

/* A forward with targets on both models: loss, logits and losses the same bits. */
static void assert_same_forward(floe_model *full, floe_model *fo, const int32_t *tok, int B, int T)
{
    const size_t N = (size_t)B * T, V = (size_t)full->cfg.vocab_size;
    float lf = floe_model_forward(full, tok, tok + 1, B, T);
    float lo = floe_model_forward(fo, tok, tok + 1, B, T);
    assert_memory_equal(&lf, &lo, sizeof lf);
    assert_memory_equal(floe_model_logits(full), floe_model_logits(fo), sizeof(float) * N * V);
    assert_memory_equal(floe_model_losses(full), floe_model_losses(fo), sizeof(float) * N);
}

/* Forward with targets on both at B x T with 1 and 2 threads: logits, losses, loss the same bits;
 * the forward-only model's top-1 is the first argmax of its logits. */
static void check_same_bits(const floe_model_config *cfg, int maxB, int maxT, int B, int T)
{
    floe_model full, fo;
    pair_init(&full, &fo, cfg, maxB, maxT);
    const int N = B * T, V = cfg->vocab_size;
    int32_t *tok = random_ids(N + 1, V, 11);
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        assert_same_forward(&full, &fo, tok, B, T);
        assert_null(floe_model_probs(&fo));
        const float *z = floe_model_logits(&fo);
        const int *top1 = floe_model_top1(&fo);
        assert_non_null(top1);
        for (int i = 0; i < N; i++) {
            int best = 0;
            for (int v = 1; v < V; v++)
                if (z[(size_t)i * V + v] > z[(size_t)i * V + best])
                    best = v;
            assert_int_equal(top1[i], best);
        }
        /* without targets: the same logits, loss 0 */
        assert_true(floe_model_forward(&fo, tok, NULL, B, T) == 0.0f);
        assert_memory_equal(floe_model_logits(&full), floe_model_logits(&fo), sizeof(float) * (size_t)N * V);
    }
    omp_set_num_threads(2);
    free(tok);
    floe_model_free(&full);
    floe_model_free(&fo);
}

static void test_logits_tiny(void **state)
{
    (void)state;
    floe_model_config cfg = builtin_config("tiny", 0);
    check_same_bits(&cfg, 2, 64, 2, 64); /* 128 positions: two chunks of the losses' 64 rows */
}

static void test_logits_granite_odd_layers(void **state)
{
    (void)state;
    floe_model_config cfg = granite_config();
    check_same_bits(&cfg, 2, 16, 2, 13);
}

/* Parameters held as bfloat16 (floe_model_hold_bf16) on bfloat16 values: the same logits, losses
 * and loss as the float training model with 1 and 2 threads; the head formed by the caller a slice
 * at a time equals them to float rounding, and in one slice bit for bit. A float value keeps the
 * float model; a training model is refused. */
static void check_bf16(const floe_model_config *cfg, int B, int T)
{
    floe_model full, fo;
    floe_err err;
    pair_init(&full, &fo, cfg, B, T);
    assert_int_equal(floe_model_hold_bf16(&fo, &err), 0); /* random floats: not bfloat16 values */
    assert_non_null(fo.params);
    assert_int_equal(floe_model_hold_bf16(&full, &err), -1);
    for (size_t i = 0; i < full.table.total; i++)
        full.params[i] = fo.params[i] = floe_bf16_to_f32(floe_f32_to_bf16(full.params[i]));
    assert_int_equal(floe_model_hold_bf16(&fo, &err), 1);
    assert_null(fo.params);
    assert_true(floe_model_floats(&fo) < full.table.total + fo.n_acts);
    const int N = B * T, V = cfg->vocab_size, C = cfg->d_model;
    int32_t *tok = random_ids(N + 1, V, 13);
    float *cols = malloc(sizeof(float) * (size_t)N * V), *wbuf = malloc(sizeof(float) * (size_t)V * C);
    assert_non_null(cols);
    assert_non_null(wbuf);
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        assert_same_forward(&full, &fo, tok, B, T);
        /* the caller's head: the forward stops at the final norm */
        floe_model_set_head_by_caller(&fo);
        float *kept = (float *)floe_model_logits(&fo);
        for (int i = 0; i < N * V; i++)
            kept[i] = -7.0f;
        assert_true(floe_model_forward(&fo, tok, NULL, B, T) == 0.0f);
        const float *z = floe_model_logits(&full);
        for (int i = 0; i < N * V; i++) /* untouched by the forward */
            assert_true(kept[i] == -7.0f);
        floe_model_head_cols(&fo, cols, wbuf, 0, V, N);
        assert_memory_equal(cols, z, sizeof(float) * (size_t)N * V);
        const int cn = 7;
        for (int v0 = 0; v0 < V; v0 += cn) {
            int vn = V - v0 < cn ? V - v0 : cn;
            floe_model_head_cols(&fo, cols, wbuf, v0, vn, N);
            for (int i = 0; i < N; i++)
                for (int j = 0; j < vn; j++) {
                    float w = z[(size_t)i * V + v0 + j];
                    assert_true(fabsf(cols[(size_t)i * vn + j] - w) <= 1e-5f * (1.0f + fabsf(w)));
                }
        }
        fo.head_by_caller = 0;
    }
    omp_set_num_threads(2);
    free(tok), free(cols), free(wbuf);
    floe_model_free(&full);
    floe_model_free(&fo);
}

static void test_hold_bf16(void **state)
{
    (void)state;
    floe_model_config tiny = builtin_config("tiny", 0), gr = granite_config();
    check_bf16(&tiny, 2, 32);
    check_bf16(&gr, 2, 13);
}

static void test_logits_smaller_batch(void **state)
{
    (void)state;
    floe_model_config cfg = builtin_config("tiny", 3);
    check_same_bits(&cfg, 3, 40, 2, 27);
}

typedef struct {
    const floe_model *full; /* after its whole forward */
    int B, T, next;
    size_t bytes; /* compared */
    int bad;      /* taps that differ */
} tap_check;

static void cmp_tap(tap_check *c, const char *what, int l, const float *got, const float *want, size_t n)
{
    if ((got == NULL) != (want == NULL)) {
        print_message("layer %d %s: %s\n", l, what, got ? "set, expected NULL" : "NULL");
        c->bad++;
        return;
    }
    if (!got)
        return;
    if (memcmp(got, want, n * sizeof(float)) != 0)
        c->bad++;
    c->bytes += n * sizeof(float);
}

static void check_taps(void *ctx, int l, const floe_model_taps *tp)
{
    tap_check *c = ctx;
    const floe_model_config *m = &c->full->cfg;
    assert_int_equal(l, c->next); /* every layer once, in order, then the final norm */
    c->next++;
    const size_t N = (size_t)c->B * c->T, C = (size_t)m->d_model, Q = (size_t)m->n_heads * m->head_dim;
    const size_t KV = (size_t)m->n_kv_heads * m->head_dim, F = (size_t)m->ffn_dim;
    floe_model_taps w = floe_model_get_taps(c->full, l);
    cmp_tap(c, "x", l, tp->x, w.x, N * C);
    cmp_tap(c, "rstd1", l, tp->rstd1, w.rstd1, N);
    cmp_tap(c, "q", l, tp->q, w.q, N * Q);
    cmp_tap(c, "k", l, tp->k, w.k, N * KV);
    cmp_tap(c, "v", l, tp->v, w.v, N * KV);
    cmp_tap(c, "atty", l, tp->atty, w.atty, N * Q);
    cmp_tap(c, "xmid", l, tp->xmid, w.xmid, N * C);
    cmp_tap(c, "rstd2", l, tp->rstd2, w.rstd2, N);
    cmp_tap(c, "gate", l, tp->gate, w.gate, N * F);
    cmp_tap(c, "up", l, tp->up, w.up, N * F);
    cmp_tap(c, "swi", l, tp->swi, w.swi, N * F);
}

/* The callback's taps on both kinds of model equal the training model's floe_model_get_taps after a
 * whole forward, every layer and the final norm. */
static void test_tapped_forward(void **state)
{
    (void)state;
    floe_model_config cfg = builtin_config("tiny", 5);
    const int B = 2, T = 24;
    floe_model full, fo, full2;
    floe_err err;
    pair_init(&full, &fo, &cfg, B, T);
    assert_int_equal(floe_model_init(&full2, &cfg, B, T, &err), 0);
    memcpy(full2.params, full.params, sizeof(float) * full.table.total);
    int32_t *tok = random_ids(B * T, cfg.vocab_size, 3);
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        floe_model_forward(&full, tok, NULL, B, T);
        floe_model *models[2] = {&fo, &full2};
        for (int k = 0; k < 2; k++) {
            tap_check c = {&full, B, T, 0, 0, 0};
            floe_model_forward_tapped(models[k], tok, NULL, B, T, check_taps, &c);
            assert_int_equal(c.bad, 0);
            assert_int_equal(c.next, cfg.n_layers + 1);
            assert_true(c.bytes > 0);
            assert_memory_equal(floe_model_logits(models[k]), floe_model_logits(&full),
                                sizeof(float) * (size_t)B * T * cfg.vocab_size);
        }
    }
    omp_set_num_threads(2);
    free(tok);
    floe_model_free(&full);
    floe_model_free(&full2);
    floe_model_free(&fo);
}

/* The checker can fail: a forward on other tokens gives other taps. */
static void test_tapped_forward_detects(void **state)
{
    (void)state;
    floe_model_config cfg = builtin_config("tiny", 0);
    const int B = 1, T = 8;
    floe_model full, fo;
    pair_init(&full, &fo, &cfg, B, T);
    int32_t *tok = random_ids(B * T, cfg.vocab_size, 3);
    floe_model_forward(&full, tok, NULL, B, T);
    tok[0] = (tok[0] + 1) % cfg.vocab_size;
    tap_check c = {&full, B, T, 0, 0, 0};
    floe_model_forward_tapped(&fo, tok, NULL, B, T, check_taps, &c);
    assert_int_equal(c.next, cfg.n_layers + 1);
    assert_true(c.bad > 0);
    free(tok);
    floe_model_free(&full);
    floe_model_free(&fo);
}

/* Six layers: the forward-only model saves at least the gradients and five layers' activations with
 * their residual slots (a layer's share measured as n_acts of L layers less that of L - 1). */
static void test_memory(void **state)
{
    (void)state;
    floe_model_config cfg = builtin_config("tiny", 6), less = cfg;
    less.n_layers = 5;
    const int B = 2, T = 64;
    floe_model full, fo, full5;
    floe_err err;
    pair_init(&full, &fo, &cfg, B, T);
    assert_int_equal(floe_model_init(&full5, &less, B, T, &err), 0);
    assert_null(fo.grads);
    assert_null(fo.dacts);
    assert_int_equal(fo.forward_only, 1);
    size_t layer = full.n_acts - full5.n_acts; /* one layer's activations and one residual slot */
    size_t saved = floe_model_floats(&full) - floe_model_floats(&fo);
    print_message("training model %zu floats, forward-only %zu: %zu saved (gradients %zu, a layer %zu)\n",
                  floe_model_floats(&full), floe_model_floats(&fo), saved, full.table.total, layer);
    assert_int_equal(floe_model_floats(&fo), fo.table.total + fo.n_acts);
    assert_true(saved >= full.table.total + (size_t)(cfg.n_layers - 1) * layer);
    floe_model_free(&full);
    floe_model_free(&full5);
    floe_model_free(&fo);
}

/* backward and block_backward return -1 and write nothing; zero_grad is safe; the training model's
 * backward returns 0 (the refusal is the kind's, not the call's). */
static void test_backward_refused(void **state)
{
    (void)state;
    floe_model_config cfg = builtin_config("tiny", 0);
    const int B = 1, T = 8;
    floe_model full, fo;
    pair_init(&full, &fo, &cfg, B, T);
    int32_t *tok = random_ids(B * T + 1, cfg.vocab_size, 4);
    floe_model_forward(&fo, tok, tok + 1, B, T);
    floe_model_zero_grad(&fo);
    size_t nacts = fo.n_acts;
    float *acts = falloc(nacts), *dres = falloc((size_t)B * T * cfg.d_model), *d0 = falloc((size_t)B * T * cfg.d_model);
    memcpy(acts, fo.acts, sizeof(float) * nacts);
    for (int i = 0; i < B * T * cfg.d_model; i++)
        dres[i] = d0[i] = (float)i;
    assert_int_equal(floe_model_backward(&fo, 1.0f), -1);
    assert_int_equal(floe_model_block_backward(&fo, 0, dres), -1);
    assert_memory_equal(dres, d0, sizeof(float) * (size_t)B * T * cfg.d_model);
    assert_memory_equal(acts, fo.acts, sizeof(float) * nacts);
    floe_model_forward(&full, tok, tok + 1, B, T);
    floe_model_zero_grad(&full);
    assert_int_equal(floe_model_backward(&full, 1.0f), 0);
    free(acts);
    free(dres);
    free(d0);
    free(tok);
    floe_model_free(&full);
    floe_model_free(&fo);
}

/* floe_model_load_forward reads a checkpoint's parameters (the same logits as floe_model_load's model)
 * and refuses a missing file and a bad size with floe_model_load's errors. */
static void test_load_forward(void **state)
{
    (void)state;
    floe_model_config cfg = builtin_config("tiny", 0);
    floe_model full, fo;
    floe_err err, err2;
    assert_int_equal(floe_model_init(&full, &cfg, 1, 8, &err), 0);
    random_params(&full, 8);
    char path[4200];
    snprintf(path, sizeof path, "%s/t.safetensors", floe_test_tmpdir("model_forward_only"));
    assert_int_equal(floe_st_save_params(path, &cfg, &full.table, full.params, NULL, 0, &err), 0);
    floe_model_free(&full);
    assert_int_equal(floe_model_load(&full, path, 2, 16, &err), 0);
    assert_int_equal(floe_model_load_forward(&fo, path, 2, 16, &err), 0);
    assert_int_equal(fo.forward_only, 1);
    assert_int_equal(fo.maxB, 2);
    assert_int_equal(fo.maxT, 16);
    assert_memory_equal(full.params, fo.params, sizeof(float) * full.table.total);
    int32_t *tok = random_ids(32, cfg.vocab_size, 9);
    floe_model_forward(&full, tok, NULL, 2, 16);
    floe_model_forward(&fo, tok, NULL, 2, 16);
    assert_memory_equal(floe_model_logits(&full), floe_model_logits(&fo), sizeof(float) * 32 * cfg.vocab_size);
    free(tok);
    floe_model_free(&full);
    floe_model_free(&fo);
    char missing[4300];
    snprintf(missing, sizeof missing, "%s.missing", path);
    assert_int_equal(floe_model_load(&full, missing, 1, 8, &err), -1);
    assert_int_equal(floe_model_load_forward(&fo, missing, 1, 8, &err2), -1);
    assert_string_equal(err.msg, err2.msg);
    assert_non_null(strstr(err2.msg, missing));
    assert_int_equal(floe_model_load_forward(&fo, path, 1, cfg.context + 1, &err2), -1);
    assert_non_null(strstr(err2.msg, "context"));
    assert_int_equal(floe_model_init_forward(&fo, &cfg, 0, 8, &err2), -1);
    assert_non_null(strstr(err2.msg, "batch"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logits_tiny),
        cmocka_unit_test(test_logits_granite_odd_layers),
        cmocka_unit_test(test_logits_smaller_batch),
        cmocka_unit_test(test_hold_bf16),
        cmocka_unit_test(test_tapped_forward),
        cmocka_unit_test(test_tapped_forward_detects),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_backward_refused),
        cmocka_unit_test(test_load_forward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
