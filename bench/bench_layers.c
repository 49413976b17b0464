/* Micro-benchmark of the trainer's float layers at config S shapes (d 256, 4 heads, 4 KV heads,
 * head_dim 64, FFN 688, vocab 256, batch 8 x context 128): forward and backward time per layer, the
 * sgemm GFLOP/s they reach, and the sum over one training step of a 4-layer model (an estimate of
 * the layers' share of a step: no data loading, no zeroing, no copies).
 * Usage: bench_layers [reps]      threads: OMP_NUM_THREADS (default: all cores)
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/rng.h"
#include "trainer/adamw.h"
#include "trainer/attention.h"
#include "trainer/blas.h"
#include "trainer/crossentropy.h"
#include "trainer/embedding.h"
#include "trainer/grad_clip.h"
#include "trainer/matmul.h"
#include "trainer/residual.h"
#include "trainer/rmsnorm.h"
#include "trainer/rope.h"
#include "trainer/swiglu.h"

enum { B = 8, T = 128, C = 256, NH = 4, NKV = 4, HD = 64, F = 688, V = 256, L = 4, N = B * T };

static int reps = 30;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *buf(size_t n, floe_rng *r)
{
    float *p = malloc(n * sizeof(float));
    if (!p) {
        fprintf(stderr, "bench_layers: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(floe_rng_normal(r) * 0.5);
    return p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds of one call (after two warm-up calls). */
#define TIME(var, stmt)                                                                                            \
    do {                                                                                                           \
        double ts_[256];                                                                                           \
        stmt;                                                                                                      \
        stmt;                                                                                                      \
        for (int i_ = 0; i_ < reps; i_++) {                                                                        \
            double t0_ = now();                                                                                    \
            stmt;                                                                                                  \
            ts_[i_] = now() - t0_;                                                                                 \
        }                                                                                                          \
        qsort(ts_, (size_t)reps, sizeof(double), cmp_double);                                                      \
        var = ts_[reps / 2];                                                                                       \
    } while (0)

static void row(const char *name, const char *shape, double f, double b, double flops_f, double flops_b, int per_step)
{
    printf("%-14s %-26s %9.3f %9.3f", name, shape, f * 1e3, b * 1e3);
    if (flops_f > 0)
        printf(" %8.1f %8.1f", flops_f / f * 1e-9, flops_b / b * 1e-9);
    else
        printf(" %8s %8s", "-", "-");
    printf(" %6d\n", per_step);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        reps = atoi(argv[1]);
    if (reps < 1 || reps > 256) {
        fprintf(stderr, "bench_layers: reps must be in [1, 256]\n");
        return 2;
    }
    floe_blas_single_thread();
    floe_rng r;
    floe_rng_seed(&r, 1);
    float *x = buf((size_t)N * C, &r), *y = buf((size_t)N * C, &r), *dx = buf((size_t)N * C, &r);
    float *dy = buf((size_t)N * C, &r), *g = buf(C, &r), *dg = buf(C, &r), *rs = buf(N, &r);
    float *wqq = buf((size_t)C * C, &r), *dwqq = buf((size_t)C * C, &r);
    float *wf = buf((size_t)F * C, &r), *dwf = buf((size_t)F * C, &r);
    float *hf = buf((size_t)N * F, &r), *dhf = buf((size_t)N * F, &r), *uf = buf((size_t)N * F, &r);
    float *duf = buf((size_t)N * F, &r), *of = buf((size_t)N * F, &r);
    float *q = buf((size_t)N * C, &r), *k = buf((size_t)N * C, &r), *v = buf((size_t)N * C, &r);
    float *dq = buf((size_t)N * C, &r), *dk = buf((size_t)N * C, &r), *dv = buf((size_t)N * C, &r);
    float *att = buf(floe_attention_stats_floats(B, T, NH), &r),
          *scr = buf(floe_attention_scratch_floats(B, T, NH), &r);
    float *cs = buf((size_t)T * HD / 2, &r), *sn = buf((size_t)T * HD / 2, &r);
    float *logits = buf((size_t)N * V, &r), *probs = buf((size_t)N * V, &r), *dl = buf((size_t)N * V, &r);
    float *losses = buf(N, &r), *wte = buf((size_t)V * C, &r), *dwte = buf((size_t)V * C, &r);
    int *tok = malloc(N * sizeof *tok);
    for (int i = 0; i < N; i++)
        tok[i] = (int)floe_rng_below(&r, V);
    floe_rope_tables(cs, sn, T, HD, FLOE_ROPE_THETA);
    /* one flat parameter set of the 4-layer model for AdamW and clipping */
    const size_t nparam = (size_t)V * C + (size_t)L * (4 * C * C + 3 * (size_t)F * C + 2 * C) + C;
    float *p = buf(nparam, &r), *gp = buf(nparam, &r), *m = calloc(nparam, sizeof(float));
    float *vv = calloc(nparam, sizeof(float));

    printf("config S: B %d, T %d, d %d, heads %d/%d, head_dim %d, FFN %d, vocab %d, %d layers; "
           "%d OpenMP threads, median of %d\n",
           B, T, C, NH, NKV, HD, F, V, L, omp_get_max_threads(), reps);
    printf("%-14s %-26s %9s %9s %8s %8s %6s\n", "layer", "shape", "fwd ms", "bwd ms", "fwd GF/s", "bwd GF/s",
           "x/step");
    double f, b, step = 0;
    const double fl_cc = 2.0 * N * C * C, fl_cf = 2.0 * N * C * F;

    TIME(f, floe_matmul_forward(y, x, wqq, N, C, C));
    TIME(b, floe_matmul_backward(dx, dwqq, dy, x, wqq, N, C, C));
    row("matmul d->d", "1024x256 @ 256x256^T", f, b, fl_cc, 2 * fl_cc, 4 * L + 1);
    step += (f + b) * (4 * L + 1); /* q, k, v, o per layer + LM head (tied) */
    TIME(f, floe_matmul_forward(hf, x, wf, N, C, F));
    TIME(b, floe_matmul_backward(dx, dwf, dhf, x, wf, N, C, F));
    row("matmul d->ffn", "1024x256 @ 688x256^T", f, b, fl_cf, 2 * fl_cf, 2 * L);
    step += (f + b) * 2 * L;
    TIME(f, floe_matmul_forward(y, hf, wf, N, F, C));
    TIME(b, floe_matmul_backward(dhf, dwf, dy, hf, wf, N, F, C));
    row("matmul ffn->d", "1024x688 @ 256x688^T", f, b, fl_cf, 2 * fl_cf, L);
    step += (f + b) * L;
    /* attention: flops of the sgemms it runs, two per 32-row block in forward (QK^T, PV), each
     * rows x keys-up-to-the-block's-end x HD multiply-adds (trainer/attention.c's causal blocking) */
    double blk = 0;
    for (int r0 = 0; r0 < T; r0 += 32)
        blk += (double)(T - r0 < 32 ? T - r0 : 32) * (r0 + (T - r0 < 32 ? T - r0 : 32));
    const double fl_att = 2.0 * 2 * B * NH * blk * HD;
    TIME(f, floe_attention_forward(y, att, scr, q, k, v, B, T, NH, NKV, HD, 1.0f / sqrtf((float)HD)));
    TIME(b, floe_attention_backward(dq, dk, dv, scr, dy, att, q, k, v, B, T, NH, NKV, HD, 1.0f / sqrtf((float)HD)));
    row("attention", "8x128x4x64 causal", f, b, fl_att, 2 * fl_att, L);
    step += (f + b) * L;
    TIME(f, floe_rmsnorm_forward(y, rs, x, g, N, C));
    TIME(b, floe_rmsnorm_backward(dx, dg, dy, x, g, rs, N, C));
    row("rmsnorm", "1024x256", f, b, 0, 0, 2 * L + 1);
    step += (f + b) * (2 * L + 1);
    TIME(f, floe_rope_forward(q, cs, sn, B, T, NH, HD));
    TIME(b, floe_rope_backward(dq, cs, sn, B, T, NH, HD));
    row("rope", "8x128x4x64", f, b, 0, 0, 2 * L);
    step += (f + b) * 2 * L;
    TIME(f, floe_swiglu_forward(of, hf, uf, (size_t)N * F));
    TIME(b, floe_swiglu_backward(dhf, duf, of, hf, uf, (size_t)N * F));
    row("swiglu", "1024x688", f, b, 0, 0, L);
    step += (f + b) * L;
    TIME(f, floe_residual_forward(y, x, dy, (size_t)N * C));
    TIME(b, floe_residual_backward(dx, y, dy, (size_t)N * C));
    row("residual", "1024x256", f, b, 0, 0, 2 * L);
    step += (f + b) * 2 * L;
    TIME(f, floe_embedding_forward(y, tok, wte, N, C));
    TIME(b, floe_embedding_backward(dwte, dy, tok, N, C));
    row("embedding", "1024 of 256x256", f, b, 0, 0, 1);
    step += f + b;
    TIME(f, floe_crossentropy_forward(losses, probs, logits, tok, N, V));
    TIME(b, floe_crossentropy_backward(dl, probs, tok, N, V, 1.0f));
    row("crossentropy", "1024x256", f, b, 0, 0, 1);
    step += f + b;
    char shape[64];
    snprintf(shape, sizeof shape, "%zu params", nparam);
    TIME(f, floe_grad_clip(gp, nparam, 1e30f));
    TIME(b, floe_adamw_update(p, gp, m, vv, nparam, 1, 1e-9f, 0.9f, 0.95f, 1e-8f, 0.1f));
    printf("%-14s %-26s %9.3f %9s %8s %8s %6d\n", "grad norm", shape, f * 1e3, "-", "-", "-", 1);
    printf("%-14s %-26s %9s %9.3f %8s %8s %6d\n", "adamw", shape, "-", b * 1e3, "-", "-", 1);
    step += f + b;

    printf("sum over one step (layers only): %.2f ms = %.0f tokens/s\n", step * 1e3, N / step);

    /* Reference point: the same d->ffn sgemm as one call, single-threaded and with OpenBLAS's own
     * threads (all cores) instead of the OpenMP row split. */
    TIME(f, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, F, C, 1.0f, x, C, wf, C, 0.0f, hf, F));
    openblas_set_num_threads(omp_get_num_procs());
    TIME(b, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, F, C, 1.0f, x, C, wf, C, 0.0f, hf, F));
    openblas_set_num_threads(1);
    printf("sgemm 1024x256 @ 688x256^T as one call: 1 OpenBLAS thread %.1f GFLOP/s, %d OpenBLAS threads %.1f "
           "GFLOP/s\n",
           fl_cf / f * 1e-9, omp_get_num_procs(), fl_cf / b * 1e-9);

    free(x), free(y), free(dx), free(dy), free(g), free(dg), free(rs), free(wqq), free(dwqq), free(wf), free(dwf);
    free(hf), free(dhf), free(uf), free(duf), free(of), free(q), free(k), free(v), free(dq), free(dk), free(dv);
    free(att), free(scr), free(cs), free(sn), free(logits), free(probs), free(dl), free(losses), free(wte);
    free(dwte), free(tok), free(p), free(gp), free(m), free(vv);
    return 0;
}
