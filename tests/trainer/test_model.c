/* The whole model: float forward against an independent double-precision forward written here from
 * the definition (design.md "Reference model"), and the float backward against central finite
 * differences of that double forward, for every tensor (24 samples each), on a small random model
 * with grouped-query attention (tied and untied LM head; Llama, and Granite with llama3 RoPE scaling). Also: accumulation (+=) over
 * micro-batches, forward on a smaller batch than allocated, and 1 vs 2 threads giving the same bits.
 *
 * Tolerance: FLOE_RTOL (1e-4) relative to the tensor's largest reference gradient, as the layer tests.
 * The float model chains ~30 layers, each rounding at ~6e-8 relative with reductions of <= 64 terms,
 * so errors compound to ~1e-6 relative; the double finite differences (h 1e-5)
 * are exact to ~1e-9. A wrong term (a missing residual share, a transposed weight) gives O(1e-1)
 * errors, so 1e-4 separates the two by orders of magnitude on both sides. */
#include "tests/trainer/trainer_test.h"

#include <omp.h>

#include "models/param_names.h"
#include "trainer/model.h"

typedef struct {
    const floe_model_config *cfg;
    const floe_param_table *t;
    double *p; /* parameters in double, table layout */
    const int32_t *tok, *tgt;
    int B, T;
} ref_ctx;

static const double *RP(const ref_ctx *c, floe_param_kind k, int l)
{
    return c->p + floe_param_get(c->t, k, l)->offset;
}

static void ref_rmsnorm(double *out, const double *x, const double *g, int N, int C, double eps)
{
    for (int i = 0; i < N; i++) {
        double ss = 0;
        for (int j = 0; j < C; j++)
            ss += x[i * C + j] * x[i * C + j];
        double r = 1.0 / sqrt(ss / C + eps);
        for (int j = 0; j < C; j++)
            out[i * C + j] = x[i * C + j] * r * g[j];
    }
}

/* out[N, OC] = x[N, C] W[OC, C]^T */
static void ref_linear(double *out, const double *x, const double *w, int N, int C, int OC)
{
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) {
            double s = 0;
            for (int j = 0; j < C; j++)
                s += x[i * C + j] * w[o * C + j];
            out[i * OC + o] = s;
        }
}

/* Frequency i, with Llama 3.1's rescaling when the config asks (transformers'
 * _compute_llama3_parameters, written out again here). */
static double ref_freq(const floe_model_config *m, int i)
{
    double f = pow(m->rope_theta, -2.0 * i / m->head_dim);
    if (m->rope_scaling != FLOE_ROPE_LLAMA3)
        return f;
    double wavelen = 2.0 * 3.14159265358979323846 / f, L = m->rope_original_context;
    if (wavelen > L / m->rope_low_freq_factor)
        return f / m->rope_factor;
    if (wavelen < L / m->rope_high_freq_factor)
        return f;
    double smooth = (L / wavelen - m->rope_low_freq_factor) / (m->rope_high_freq_factor - m->rope_low_freq_factor);
    return (1.0 - smooth) * f / m->rope_factor + smooth * f;
}

static void ref_rope(double *x, int B, int T, int NH, int hd, const floe_model_config *m)
{
    int h = hd / 2;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int n = 0; n < NH; n++) {
                double *v = x + (((size_t)b * T + t) * NH + n) * hd;
                for (int i = 0; i < h; i++) {
                    double a = t * ref_freq(m, i);
                    double u = v[i], w = v[i + h];
                    v[i] = u * cos(a) - w * sin(a);
                    v[i + h] = w * cos(a) + u * sin(a);
                }
            }
}

/* The mean cross-entropy of the model in double. */
static double ref_loss(void *vctx)
{
    const ref_ctx *c = vctx;
    const floe_model_config *m = c->cfg;
    const int B = c->B, T = c->T, N = B * T, C = m->d_model, NH = m->n_heads, NKV = m->n_kv_heads;
    const int hd = m->head_dim, Q = NH * hd, KV = NKV * hd, F = m->ffn_dim, V = m->vocab_size;
    double *x = dalloc((size_t)N * C), *n1 = dalloc((size_t)N * C), *q = dalloc((size_t)N * Q);
    double *k = dalloc((size_t)N * KV), *v = dalloc((size_t)N * KV), *y = dalloc((size_t)N * Q);
    double *o = dalloc((size_t)N * C), *g = dalloc((size_t)N * F), *u = dalloc((size_t)N * F);
    double *logits = dalloc((size_t)N * V), *s = dalloc((size_t)T);
    /* Granite's multipliers (docs/hf-models.md); a Llama's are 1, 1/sqrt(hd), 1, 1 */
    const int gr = m->family == FLOE_FAMILY_GRANITE;
    const double em = gr ? m->embedding_multiplier : 1.0, rm = gr ? m->residual_multiplier : 1.0;
    const double am = gr ? m->attention_multiplier : 1.0 / sqrt((double)hd), ls = gr ? m->logits_scaling : 1.0;
    const double eps = m->rms_eps;
    const double *wte = RP(c, FLOE_P_EMBED, 0);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < C; j++)
            x[i * C + j] = wte[(size_t)c->tok[i] * C + j] * em;
    for (int l = 0; l < m->n_layers; l++) {
        ref_rmsnorm(n1, x, RP(c, FLOE_P_ATTN_NORM, l), N, C, eps);
        ref_linear(q, n1, RP(c, FLOE_P_Q, l), N, C, Q);
        ref_linear(k, n1, RP(c, FLOE_P_K, l), N, C, KV);
        ref_linear(v, n1, RP(c, FLOE_P_V, l), N, C, KV);
        ref_rope(q, B, T, NH, hd, m);
        ref_rope(k, B, T, NKV, hd, m);
        for (int b = 0; b < B; b++)
            for (int h = 0; h < NH; h++) {
                int kh = h / (NH / NKV);
                for (int t = 0; t < T; t++) {
                    const double *qv = q + ((size_t)(b * T + t) * NH + h) * hd;
                    double mx = -1e300, sum = 0;
                    for (int j = 0; j <= t; j++) {
                        const double *kv = k + ((size_t)(b * T + j) * NKV + kh) * hd;
                        double d = 0;
                        for (int e = 0; e < hd; e++)
                            d += qv[e] * kv[e];
                        s[j] = d * am;
                        mx = fmax(mx, s[j]);
                    }
                    for (int j = 0; j <= t; j++)
                        sum += (s[j] = exp(s[j] - mx));
                    double *yv = y + ((size_t)(b * T + t) * NH + h) * hd;
                    for (int e = 0; e < hd; e++) {
                        double acc = 0;
                        for (int j = 0; j <= t; j++)
                            acc += s[j] / sum * v[((size_t)(b * T + j) * NKV + kh) * hd + e];
                        yv[e] = acc;
                    }
                }
            }
        ref_linear(o, y, RP(c, FLOE_P_O, l), N, Q, C);
        for (size_t i = 0; i < (size_t)N * C; i++)
            x[i] += rm * o[i];
        ref_rmsnorm(n1, x, RP(c, FLOE_P_MLP_NORM, l), N, C, eps);
        ref_linear(g, n1, RP(c, FLOE_P_GATE, l), N, C, F);
        ref_linear(u, n1, RP(c, FLOE_P_UP, l), N, C, F);
        for (size_t i = 0; i < (size_t)N * F; i++)
            g[i] = g[i] / (1.0 + exp(-g[i])) * u[i];
        ref_linear(o, g, RP(c, FLOE_P_DOWN, l), N, F, C);
        for (size_t i = 0; i < (size_t)N * C; i++)
            x[i] += rm * o[i];
    }
    ref_rmsnorm(n1, x, RP(c, FLOE_P_FINAL_NORM, 0), N, C, eps);
    ref_linear(logits, n1, RP(c, m->tied_embeddings ? FLOE_P_EMBED : FLOE_P_LM_HEAD, 0), N, C, V);
    for (size_t i = 0; i < (size_t)N * V; i++)
        logits[i] /= ls;
    double loss = 0;
    for (int i = 0; i < N; i++) {
        const double *z = logits + (size_t)i * V;
        double mx = z[0], sum = 0;
        for (int j = 1; j < V; j++)
            mx = fmax(mx, z[j]);
        for (int j = 0; j < V; j++)
            sum += exp(z[j] - mx);
        loss += log(sum) - (z[c->tgt[i]] - mx);
    }
    free(x), free(n1), free(q), free(k), free(v), free(y), free(o), free(g), free(u), free(logits), free(s);
    return loss / N;
}

/* assert_grad with 24 evenly spaced samples per tensor (first and last included): each sample costs
 * two double forwards of the whole model, and 96 per tensor made the ASan build take 90 s. */
enum { MODEL_FD_POINTS = 24 };
static void assert_grad_sampled(const char *what, const float *grad, const float *grad0, double *x, size_t n,
                                ref_loss_fn f, void *ctx)
{
    const double h = 1e-5;
    size_t m = n < MODEL_FD_POINTS ? n : MODEL_FD_POINTS;
    double *fd = dalloc(m);
    float *g = falloc(m);
    for (size_t k = 0; k < m; k++) {
        size_t i = m == n ? k : k * (n - 1) / (m - 1);
        double save = x[i];
        x[i] = save + h;
        double lp = f(ctx);
        x[i] = save - h;
        double lm = f(ctx);
        x[i] = save;
        fd[k] = (lp - lm) / (2 * h);
        g[k] = (float)((double)grad[i] - grad0[i]);
    }
    assert_close(what, g, fd, m, FLOE_RTOL);
    free(g);
    free(fd);
}

/* Random parameters of O(1) effect: matrices std 1/sqrt(fan_in) (so attention is far from uniform
 * and SiLU far from linear), gains 1 +- 0.3, embedding std 0.3 (also the tied head: logits of O(1)). */
static void random_params(const floe_model *m, floe_rng *r)
{
    for (size_t i = 0; i < m->table.count; i++) {
        const floe_param *p = &m->table.params[i];
        float *x = m->params + p->offset;
        if (p->ndim == 1) {
            for (size_t j = 0; j < p->numel; j++)
                x[j] = (float)(1.0 + 0.3 * floe_rng_normal(r));
        } else {
            double sd = p->kind == FLOE_P_EMBED ? 0.3 : 1.0 / sqrt((double)p->shape[1]);
            rand_fill(x, p->numel, r, sd);
        }
    }
}

/* tied 0/1; granite: the Granite family with llama3 RoPE scaling and rms_eps 1e-6 (every band of the
 * rescaling is used: head_dim 8, theta 1e4, original context 16 give wavelengths 6.3 (smoothed), 63
 * and more (divided by factor)). */
static floe_model_config check_config(int tied, int granite)
{
    floe_model_config cfg = floe_test_small_config(tied);
    if (granite) {
        cfg.family = FLOE_FAMILY_GRANITE;
        cfg.embedding_multiplier = 3.0;
        cfg.residual_multiplier = 0.5;
        cfg.attention_multiplier = 0.3;
        cfg.logits_scaling = 2.5;
        cfg.rms_eps = 1e-6;
        cfg.rope_scaling = FLOE_ROPE_LLAMA3;
        cfg.rope_factor = 8.0;
        cfg.rope_low_freq_factor = 1.0;
        cfg.rope_high_freq_factor = 4.0;
        cfg.rope_original_context = 16;
    }
    return cfg;
}

static void check_model(int tied, int granite)
{
    floe_model_config cfg = check_config(tied, granite);
    floe_model m;
    floe_err err;
    const int B = 2, T = 13;
    assert_int_equal(floe_model_init(&m, &cfg, B, 16, &err), 0);
    floe_rng r;
    floe_rng_seed(&r, 77 + (uint64_t)tied + 2 * (uint64_t)granite);
    random_params(&m, &r);
    int32_t tok[2 * 13], tgt[2 * 13];
    for (int i = 0; i < B * T; i++) {
        tok[i] = (int32_t)floe_rng_below(&r, (uint64_t)cfg.vocab_size);
        tgt[i] = (int32_t)floe_rng_below(&r, (uint64_t)cfg.vocab_size);
    }
    tok[3] = tok[7] = tok[20]; /* repeated tokens: embedding gradient sums */
    /* gradients start random: backward must add, not overwrite */
    float *g0 = falloc(m.table.total);
    rand_fill(g0, m.table.total, &r, 0.01);
    memcpy(m.grads, g0, m.table.total * sizeof(float));
    float loss = floe_model_forward(&m, tok, tgt, B, T);
    floe_model_backward(&m, 1.0f);

    ref_ctx c = {&cfg, &m.table, to_double(m.params, m.table.total), tok, tgt, B, T};
    double want = ref_loss(&c);
    print_message("tied %d granite %d: loss %.7f (double %.7f)\n", tied, granite, (double)loss, want);
    assert_true(fabs(loss - want) <= 1e-5 * want);
    for (size_t i = 0; i < m.table.count; i++) {
        const floe_param *p = &m.table.params[i];
        assert_grad_sampled(p->name, m.grads + p->offset, g0 + p->offset, c.p + p->offset, p->numel, ref_loss, &c);
    }
    free(c.p);
    free(g0);
    floe_model_free(&m);
}

static void test_grad_tied(void **state)
{
    (void)state;
    check_model(1, 0);
}

static void test_grad_untied(void **state)
{
    (void)state;
    check_model(0, 0);
}

/* Granite (its four multipliers in forward and backward) with llama3 RoPE and another rms_eps, both
 * head layouts. */
static void test_grad_granite(void **state)
{
    (void)state;
    check_model(1, 1);
    check_model(0, 1);
}

/* Two micro-batches with dloss 1/2 give the gradient of the mean of their two losses, which is the
 * gradient of one forward over both (each holds the same number of positions); and a forward on a
 * smaller shape than allocated works. Compared at float tolerance (different reduction order). */
static void test_accumulation(void **state)
{
    (void)state;
    floe_model_config cfg = floe_test_small_config(1);
    floe_model m;
    floe_err err;
    assert_int_equal(floe_model_init(&m, &cfg, 2, 16, &err), 0);
    floe_rng r;
    floe_rng_seed(&r, 5);
    random_params(&m, &r);
    int32_t tok[2 * 11], tgt[2 * 11];
    for (int i = 0; i < 22; i++) {
        tok[i] = (int32_t)floe_rng_below(&r, 48);
        tgt[i] = (int32_t)floe_rng_below(&r, 48);
    }
    floe_model_zero_grad(&m);
    float both = floe_model_forward(&m, tok, tgt, 2, 11);
    floe_model_backward(&m, 1.0f);
    double *want = to_double(m.grads, m.table.total);
    floe_model_zero_grad(&m);
    float l0 = floe_model_forward(&m, tok, tgt, 1, 11);
    floe_model_backward(&m, 0.5f);
    float l1 = floe_model_forward(&m, tok + 11, tgt + 11, 1, 11);
    floe_model_backward(&m, 0.5f);
    assert_true(fabs((l0 + l1) / 2 - both) < 1e-5);
    assert_close("accumulated", m.grads, want, m.table.total, 1e-5);
    free(want);
    floe_model_free(&m);
}

/* The built-in tiny config at a full batch: same loss and gradient bits with 1 and 2 threads. */
static void test_threads(void **state)
{
    (void)state;
    floe_model_config cfg;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &cfg, &err), 0);
    floe_model m;
    const int B = 4, T = 64;
    assert_int_equal(floe_model_init(&m, &cfg, B, T, &err), 0);
    floe_param_init(&m.table, m.params, 3);
    floe_rng r;
    floe_rng_seed(&r, 9);
    int32_t *tok = malloc(sizeof(int32_t) * B * (T + 1));
    for (int i = 0; i < B * (T + 1); i++)
        tok[i] = (int32_t)floe_rng_below(&r, 256);
    float *g1 = falloc(m.table.total);
    float loss[2];
    for (int run = 0; run < 2; run++) {
        omp_set_num_threads(run == 0 ? 1 : 2);
        floe_model_zero_grad(&m);
        loss[run] = floe_model_forward(&m, tok, tok + 1, B, T);
        floe_model_backward(&m, 1.0f);
        if (run == 0)
            memcpy(g1, m.grads, m.table.total * sizeof(float));
    }
    assert_memory_equal(&loss[0], &loss[1], sizeof(float));
    assert_memory_equal(g1, m.grads, m.table.total * sizeof(float));
    omp_set_num_threads(2);
    free(g1);
    free(tok);
    floe_model_free(&m);
}

/* sum(residual[L] * w) in double after running blocks 0..L-1 from residual 0 = x0. */
static double blocks_objective(floe_model *m, const float *x0, const float *w, int B, int T)
{
    const size_t NC = (size_t)B * T * m->cfg.d_model;
    memcpy(floe_model_residual(m, 0), x0, NC * sizeof(float));
    for (int l = 0; l < m->cfg.n_layers; l++)
        floe_model_block_forward(m, l, B, T);
    const float *y = floe_model_residual(m, m->cfg.n_layers);
    double s = 0;
    for (size_t i = 0; i < NC; i++)
        s += (double)y[i] * w[i];
    return s;
}

/* Block-wise forward from the embedded residual reproduces the whole forward's residuals bit for bit;
 * block-wise backward (dres = w under loss sum(res[L] * w)) matches central differences along random
 * directions for every parameter tensor of the blocks and for the input residual. */
static void test_blocks(void **state)
{
    (void)state;
    floe_model_config cfg = floe_test_small_config(0);
    floe_model m;
    floe_err err;
    const int B = 2, T = 11, L = cfg.n_layers;
    assert_int_equal(floe_model_init(&m, &cfg, B, 16, &err), 0);
    floe_rng r;
    floe_rng_seed(&r, 31);
    random_params(&m, &r);
    int32_t tok[2 * 11];
    for (int i = 0; i < B * T; i++)
        tok[i] = (int32_t)floe_rng_below(&r, (uint64_t)cfg.vocab_size);
    const size_t NC = (size_t)B * T * cfg.d_model;
    floe_model_forward(&m, tok, NULL, B, T);
    float *x0 = falloc(NC), *yL = falloc(NC), *w = falloc(NC), *dres = falloc(NC);
    memcpy(x0, floe_model_residual(&m, 0), NC * sizeof(float));
    memcpy(yL, floe_model_residual(&m, L), NC * sizeof(float));
    rand_fill(w, NC, &r, 1.0);
    blocks_objective(&m, x0, w, B, T);
    assert_memory_equal(floe_model_residual(&m, L), yL, NC * sizeof(float));

    floe_model_zero_grad(&m);
    memcpy(dres, w, NC * sizeof(float));
    for (int l = L - 1; l >= 0; l--)
        floe_model_block_backward(&m, l, dres);
    float *grads = falloc(m.table.total);
    memcpy(grads, m.grads, m.table.total * sizeof(float));
    const double eps = 1e-2;
    float *dir = falloc(m.table.total > NC ? m.table.total : NC);
    for (size_t i = 0; i < m.table.count; i++) {
        const floe_param *p = &m.table.params[i];
        if (p->layer < 0)
            continue;
        float *x = m.params + p->offset;
        float *save = falloc(p->numel);
        memcpy(save, x, p->numel * sizeof(float));
        rand_fill(dir, p->numel, &r, 1.0);
        double an = 0, scale = 0;
        for (size_t j = 0; j < p->numel; j++) {
            an += (double)grads[p->offset + j] * dir[j];
            scale += fabs((double)grads[p->offset + j] * dir[j]);
        }
        double f[2];
        for (int sgn = 0; sgn < 2; sgn++) {
            for (size_t j = 0; j < p->numel; j++)
                x[j] = (float)(save[j] + (sgn ? -eps : eps) * dir[j]);
            f[sgn] = blocks_objective(&m, x0, w, B, T);
        }
        memcpy(x, save, p->numel * sizeof(float));
        double fd = (f[0] - f[1]) / (2 * eps);
        if (!(fabs(fd - an) <= 2e-2 * scale))
            fail_msg("%s: directional derivative %.6g, finite difference %.6g (scale %.3g)", p->name, an, fd, scale);
        free(save);
    }
    /* the input residual */
    rand_fill(dir, NC, &r, 1.0);
    double an = 0, scale = 0, f[2];
    for (size_t j = 0; j < NC; j++) {
        an += (double)dres[j] * dir[j];
        scale += fabs((double)dres[j] * dir[j]);
    }
    float *xp = falloc(NC);
    for (int sgn = 0; sgn < 2; sgn++) {
        for (size_t j = 0; j < NC; j++)
            xp[j] = (float)(x0[j] + (sgn ? -eps : eps) * dir[j]);
        f[sgn] = blocks_objective(&m, xp, w, B, T);
    }
    double fd = (f[0] - f[1]) / (2 * eps);
    if (!(fabs(fd - an) <= 2e-2 * scale))
        fail_msg("d residual 0: directional derivative %.6g, finite difference %.6g", an, fd);

    /* the whole forward/backward (built on the block functions) repeats its bits */
    int32_t tgt[2 * 11];
    for (int i = 0; i < B * T; i++)
        tgt[i] = (int32_t)floe_rng_below(&r, (uint64_t)cfg.vocab_size);
    floe_model_zero_grad(&m);
    float l1 = floe_model_forward(&m, tok, tgt, B, T);
    floe_model_backward(&m, 1.0f);
    memcpy(grads, m.grads, m.table.total * sizeof(float));
    floe_model_zero_grad(&m);
    float l2 = floe_model_forward(&m, tok, tgt, B, T);
    floe_model_backward(&m, 1.0f);
    assert_memory_equal(&l1, &l2, sizeof l1);
    assert_memory_equal(grads, m.grads, m.table.total * sizeof(float));
    free(xp);
    free(dir);
    free(grads);
    free(x0);
    free(yL);
    free(w);
    free(dres);
    floe_model_free(&m);
}

/* Folding the block norms' gains into q, k, v, gate, up leaves the logits unchanged (float
 * tolerance), sets those gains to 1 and leaves the final norm alone. */
static void test_fold_norms(void **state)
{
    (void)state;
    for (int tied = 0; tied < 2; tied++) {
        floe_model_config cfg = floe_test_small_config(tied);
        floe_model m;
        floe_err err;
        const int B = 2, T = 9;
        assert_int_equal(floe_model_init(&m, &cfg, B, 16, &err), 0);
        floe_rng r;
        floe_rng_seed(&r, 41 + (uint64_t)tied);
        random_params(&m, &r);
        int32_t tok[2 * 9];
        for (int i = 0; i < B * T; i++)
            tok[i] = (int32_t)floe_rng_below(&r, (uint64_t)cfg.vocab_size);
        const size_t NV = (size_t)B * T * cfg.vocab_size;
        floe_model_forward(&m, tok, NULL, B, T);
        double *want = to_double(floe_model_logits(&m), NV);
        const float *gf = m.params + floe_param_get(&m.table, FLOE_P_FINAL_NORM, 0)->offset;
        float gf0 = gf[3];
        const float *gq = m.params + floe_param_get(&m.table, FLOE_P_Q, 1)->offset;
        const float *g1 = m.params + floe_param_get(&m.table, FLOE_P_ATTN_NORM, 1)->offset;
        float expect = gq[2 * cfg.d_model + 5] * g1[5];
        floe_model_fold_block_norms(&m);
        assert_true(gq[2 * cfg.d_model + 5] == expect);
        for (int l = 0; l < cfg.n_layers; l++)
            for (int i = 0; i < cfg.d_model; i++) {
                assert_true(m.params[floe_param_get(&m.table, FLOE_P_ATTN_NORM, l)->offset + (size_t)i] == 1.0f);
                assert_true(m.params[floe_param_get(&m.table, FLOE_P_MLP_NORM, l)->offset + (size_t)i] == 1.0f);
            }
        assert_true(gf[3] == gf0 && gf0 != 1.0f);
        floe_model_forward(&m, tok, NULL, B, T);
        assert_close("folded logits", floe_model_logits(&m), want, NV, 1e-5);
        free(want);
        floe_model_free(&m);
    }
}

/* One forward and backward of the same model, parameters and starting gradients with the whole head
 * and a chunked one of head_rows rows; the chunked loss, losses, top-1 ids (against a scan of the
 * whole head's logits) and every gradient against the whole head's. bits: loss, losses and top-1
 * must be the same bits (head_rows a multiple of the sgemm row block), else within 1e-6. */
static void compare_heads(const floe_model_config *cfg, int B, int T, int head_rows, int bits)
{
    floe_model whole, ch;
    floe_err err;
    assert_int_equal(floe_model_init(&whole, cfg, B, T, &err), 0);
    assert_int_equal(floe_model_init_chunked(&ch, cfg, B, T, head_rows, &err), 0);
    assert_int_equal(ch.head_rows, head_rows);
    assert_true(ch.n_acts < whole.n_acts && ch.n_dacts < whole.n_dacts);
    floe_rng r;
    floe_rng_seed(&r, 31 + (uint64_t)head_rows);
    random_params(&whole, &r);
    memcpy(ch.params, whole.params, whole.table.total * sizeof(float));
    const int N = B * T, V = cfg->vocab_size;
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)N), *tgt = malloc(sizeof(int32_t) * (size_t)N);
    for (int i = 0; i < N; i++) {
        tok[i] = (int32_t)floe_rng_below(&r, (uint64_t)V);
        tgt[i] = (int32_t)floe_rng_below(&r, (uint64_t)V);
    }
    rand_fill(whole.grads, whole.table.total, &r, 0.01); /* both backwards must add */
    memcpy(ch.grads, whole.grads, whole.table.total * sizeof(float));
    float lw = floe_model_forward(&whole, tok, tgt, B, T);
    floe_model_backward(&whole, 0.5f);
    float lc = floe_model_forward(&ch, tok, tgt, B, T);
    floe_model_backward(&ch, 0.5f);
    print_message("head_rows %d of %d: loss %.9g whole %.9g\n", head_rows, N, (double)lc, (double)lw);
    assert_null(floe_model_logits(&ch));
    assert_null(floe_model_probs(&ch));
    assert_null(floe_model_top1(&whole));
    const int *top1 = floe_model_top1(&ch);
    const float *logits = floe_model_logits(&whole);
    for (int i = 0; i < N; i++) {
        int best = 0;
        for (int j = 1; j < V; j++)
            if (logits[(size_t)i * V + j] > logits[(size_t)i * V + best])
                best = j;
        assert_int_equal(top1[i], best);
    }
    if (bits) {
        assert_memory_equal(&lc, &lw, sizeof lc);
        assert_memory_equal(floe_model_losses(&ch), floe_model_losses(&whole), sizeof(float) * (size_t)N);
    } else {
        assert_true(fabs((double)lc - lw) <= 1e-6 * fabs((double)lw));
        double *want = to_double(floe_model_losses(&whole), (size_t)N);
        assert_close("losses", floe_model_losses(&ch), want, (size_t)N, 1e-6);
        free(want);
    }
    for (size_t i = 0; i < whole.table.count; i++) {
        const floe_param *p = &whole.table.params[i];
        double *want = to_double(whole.grads + p->offset, p->numel);
        assert_close(p->name, ch.grads + p->offset, want, p->numel, 1e-5);
        free(want);
    }
    free(tok);
    free(tgt);
    floe_model_free(&whole);
    floe_model_free(&ch);
}

/* The chunked head against the whole head: tied and untied, Llama and Granite (logits_scaling in
 * both passes), 26 positions in chunks of 5 (the last of 1) and of 26 (one chunk); and the tiny
 * config at 5 x 64 positions in chunks of 128 rows (two whole chunks and a partial one), where loss
 * and losses must be the same bits. */
static void test_chunked_head(void **state)
{
    (void)state;
    for (int granite = 0; granite < 2; granite++)
        for (int tied = 0; tied < 2; tied++) {
            floe_model_config cfg = check_config(tied, granite);
            compare_heads(&cfg, 2, 13, 5, 0);
            compare_heads(&cfg, 2, 13, 26, 1);
        }
    floe_model_config cfg;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &cfg, &err), 0);
    compare_heads(&cfg, 5, 64, 128, 1);
    /* the default rule: whole 128-row blocks, capped at the positions */
    assert_int_equal(floe_model_head_rows(&cfg, 5 * 64), 320);
    cfg.vocab_size = 128256;
    assert_int_equal(floe_model_head_rows(&cfg, 2048), 128);
    cfg.vocab_size = 49152;
    assert_int_equal(floe_model_head_rows(&cfg, 2048), 512);
}

/* The chunked head at a full batch: same loss and gradient bits with 1 and 2 threads. */
static void test_chunked_threads(void **state)
{
    (void)state;
    floe_model_config cfg;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &cfg, &err), 0);
    floe_model m;
    const int B = 4, T = 64;
    assert_int_equal(floe_model_init_chunked(&m, &cfg, B, T, 100, &err), 0);
    floe_param_init(&m.table, m.params, 3);
    floe_rng r;
    floe_rng_seed(&r, 9);
    int32_t *tok = malloc(sizeof(int32_t) * B * (T + 1));
    for (int i = 0; i < B * (T + 1); i++)
        tok[i] = (int32_t)floe_rng_below(&r, 256);
    float *g1 = falloc(m.table.total);
    float loss[2];
    for (int run = 0; run < 2; run++) {
        omp_set_num_threads(run == 0 ? 1 : 2);
        floe_model_zero_grad(&m);
        loss[run] = floe_model_forward(&m, tok, tok + 1, B, T);
        floe_model_backward(&m, 1.0f);
        if (run == 0)
            memcpy(g1, m.grads, m.table.total * sizeof(float));
    }
    assert_memory_equal(&loss[0], &loss[1], sizeof(float));
    assert_memory_equal(g1, m.grads, m.table.total * sizeof(float));
    omp_set_num_threads(2);
    free(g1);
    free(tok);
    floe_model_free(&m);
}

static void test_init_errors(void **state)
{
    (void)state;
    floe_model_config cfg = floe_test_small_config(1);
    floe_model m;
    floe_err err;
    assert_int_equal(floe_model_init(&m, &cfg, 1, 17, &err), -1);
    assert_non_null(strstr(err.msg, "context"));
    assert_int_equal(floe_model_init(&m, &cfg, 1, 8, &err), 0);
    int32_t ids[3] = {1, 48, 2};
    assert_int_equal(floe_model_check_ids(&m, ids, 3, &err), -1);
    assert_non_null(strstr(err.msg, "token 1"));
    floe_model_free(&m);
    assert_int_equal(floe_model_init_chunked(&m, &cfg, 1, 8, -1, &err), -1);
    assert_non_null(strstr(err.msg, "head chunk"));
    assert_int_equal(floe_model_init_chunked(&m, &cfg, 1, 17, 4, &err), -1);
    assert_non_null(strstr(err.msg, "context"));
    assert_int_equal(floe_model_init_chunked(&m, &cfg, 2, 8, 100, &err), 0);
    assert_int_equal(m.head_rows, 16); /* clipped to the positions */
    floe_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_tied),       cmocka_unit_test(test_grad_untied), cmocka_unit_test(test_grad_granite),
        cmocka_unit_test(test_accumulation),    cmocka_unit_test(test_threads),     cmocka_unit_test(test_init_errors),
        cmocka_unit_test(test_blocks),          cmocka_unit_test(test_fold_norms),  cmocka_unit_test(test_chunked_head),
        cmocka_unit_test(test_chunked_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
