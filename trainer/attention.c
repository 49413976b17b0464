#include "trainer/attention.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stddef.h>

#include "trainer/blas.h"
#include "trainer/vec.h"

/* Causal blocking: rows are taken in blocks of TB and a row block only multiplies the keys up to its
 * last row, which skips the blocks above the diagonal (3/8 of the square at T = 128). Inside the
 * kept blocks the masked entries are computed and zeroed: sgemm on whole blocks beats a
 * triangular loop. */
#define TB 32 /* 30% faster than whole squares at T = 128; 16 and 64 are slower (bench, 1 thread) */

size_t floe_attention_stats_floats(int B, int T, int NH) { return 2 * (size_t)B * NH * T; }

size_t floe_attention_scratch_floats(int B, int T, int NH) { return (size_t)B * NH * (2 * TB + 1) * T; }

/* C[rows r0..r0+rn-1, cols c0..c0+cn-1] = alpha * A B^T, computed as one sgemm per 32 x 32 tile of the
 * T x T grid: every pass (forward rows, backward rows, backward columns) then makes the same call for a
 * given tile, so a recomputed score has the bits of the forward's (a BLAS may round differently with
 * the shape of the call). C's row i, column j is element (r0 + i, c0 + j); r0, c0 are multiples of TB. */
static void tiles_abt(float *C, int ldc, const float *A, int lda, const float *Bm, int ldb, int r0, int rn, int c0,
                      int cn, int hd, float alpha)
{
    for (int i = 0; i < rn; i += TB)
        for (int j = 0; j < cn; j += TB) {
            int m = rn - i < TB ? rn - i : TB, n = cn - j < TB ? cn - j : TB;
            floe_sgemm(CblasNoTrans, CblasTrans, m, n, hd, alpha, A + (size_t)(r0 + i) * lda, lda,
                       Bm + (size_t)(c0 + j) * ldb, ldb, 0.0f, C + (size_t)i * ldc + j, ldc);
        }
}

/* Row t's scores against keys 0..ce-1 for the row block r0..r0+rn-1 (ce = r0 + rn), turned into
 * probabilities with the row's saved max and 1/sum: the same sgemm call and the same float operations
 * as the forward, so the same bits. Entries above the diagonal are zero. */
static void prob_rows(float *restrict Pr, int ld, const float *restrict qh, const float *restrict kg,
                      const float *restrict st, int r0, int rn, int ldq, int ldk, int hd, float scale)
{
    int ce = r0 + rn;
    tiles_abt(Pr, ld, qh, ldq, kg, ldk, r0, rn, 0, ce, hd, scale);
    for (int t = r0; t < ce; t++) {
        float *restrict row = Pr + (size_t)(t - r0) * ld;
        float m = st[2 * t], inv = st[2 * t + 1];
        for (int s = 0; s <= t; s++)
            row[s] = floe_expf(row[s] - m) * inv;
        for (int s = t + 1; s < ce; s++)
            row[s] = 0.0f;
    }
}

/* Scratch slots: B * NH of (2 TB + 1) * T floats. A parallel region that takes one slot per thread runs
 * on at most that many threads; which thread runs a task never changes its bits. */
static int slot_threads(int B, int NH)
{
    int n = omp_get_max_threads(), slots = B * NH;
    return n < slots ? n : slots;
}

void floe_attention_forward(float *restrict out, float *restrict stats, float *restrict scratch,
                            const float *restrict q, const float *restrict k, const float *restrict v, int B, int T,
                            int NH, int NKV, int hd, float scale)
{
    const int G = NH / NKV, nrb = (T + TB - 1) / TB;
    const int ldq = NH * hd, ldk = NKV * hd;
    /* Tasks are (b, h, row block): every row block is independent, so all threads stay busy even
     * where B * NH is below the thread count (9 heads at batch 1 on 16 threads). */
#pragma omp parallel num_threads(slot_threads(B, NH))
    {
        float *Pr = scratch + (size_t)omp_get_thread_num() * (2 * TB + 1) * T; /* [TB, T] */
#pragma omp for schedule(dynamic)
        for (long task = 0; task < (long)B * NH * nrb; task++) {
            const int b = (int)(task / ((long)NH * nrb)), h = (int)(task / nrb % NH), r0 = (int)(task % nrb) * TB;
            const float *qh = q + (size_t)b * T * ldq + (size_t)h * hd;
            const float *kg = k + (size_t)b * T * ldk + (size_t)(h / G) * hd;
            const float *vg = v + (size_t)b * T * ldk + (size_t)(h / G) * hd;
            float *oh = out + (size_t)b * T * ldq + (size_t)h * hd;
            float *st = stats + ((size_t)b * NH + h) * 2 * T;
            int rn = T - r0 < TB ? T - r0 : TB, ce = r0 + rn; /* rows r0..ce-1 see keys 0..ce-1 */
            tiles_abt(Pr, T, qh, ldq, kg, ldk, r0, rn, 0, ce, hd, scale);
            for (int t = r0; t < ce; t++) {
                float *restrict row = Pr + (size_t)(t - r0) * T;
                int n = t + 1;
                float m = floe_max(row, n);
                for (int s = 0; s < n; s++)
                    row[s] = floe_expf(row[s] - m);
                float inv = 1.0f / floe_sum(row, n);
                for (int s = 0; s < n; s++)
                    row[s] *= inv;
                for (int s = n; s < ce; s++)
                    row[s] = 0.0f;
                st[2 * t] = m;
                st[2 * t + 1] = inv;
            }
            floe_sgemm(CblasNoTrans, CblasNoTrans, rn, hd, ce, 1.0f, Pr, T, vg, ldk, 0.0f, oh + (size_t)r0 * ldq, ldq);
        }
    }
}

void floe_attention_backward(float *restrict dq, float *restrict dk, float *restrict dv, float *restrict scratch,
                             const float *restrict dout, const float *restrict stats, const float *restrict q,
                             const float *restrict k, const float *restrict v, int B, int T, int NH, int NKV, int hd,
                             float scale)
{
    const int G = NH / NKV, ncb = (T + TB - 1) / TB;
    const int ldq = NH * hd, ldk = NKV * hd;
    const size_t slot = (size_t)(2 * TB + 1) * T;
    /* Row blocks, a task per (b, h): P recomputed, dP = dout v^T, dS, dq += dS k; rowsum(P * dP) kept
     * in the head's slot (its last T floats) for the columns. */
#pragma omp parallel for schedule(dynamic)
    for (int bh = 0; bh < B * NH; bh++) {
        const int b = bh / NH, h = bh % NH;
        const float *kg = k + (size_t)b * T * ldk + (size_t)(h / G) * hd;
        const float *vg = v + (size_t)b * T * ldk + (size_t)(h / G) * hd;
        const float *qh = q + (size_t)b * T * ldq + (size_t)h * hd;
        const float *doh = dout + (size_t)b * T * ldq + (size_t)h * hd;
        float *dqh = dq + (size_t)b * T * ldq + (size_t)h * hd;
        const float *st = stats + (size_t)bh * 2 * T;
        float *Pb = scratch + (size_t)bh * slot, *dS = Pb + (size_t)TB * T, *pd = dS + (size_t)TB * T;
        for (int r0 = 0; r0 < T; r0 += TB) {
            int rn = T - r0 < TB ? T - r0 : TB, ce = r0 + rn;
            prob_rows(Pb, T, qh, kg, st, r0, rn, ldq, ldk, hd, scale);
            tiles_abt(dS, T, doh, ldq, vg, ldk, r0, rn, 0, ce, hd, 1.0f);
            for (int t = r0; t < ce; t++) {
                const float *restrict p = Pb + (size_t)(t - r0) * T;
                float *restrict d = dS + (size_t)(t - r0) * T;
                int n = t + 1;
                float pdt = pd[t] = floe_dot(p, d, n);
                for (int s = 0; s < n; s++)
                    d[s] = p[s] * (d[s] - pdt);
                for (int s = n; s < ce; s++)
                    d[s] = 0.0f;
            }
            floe_sgemm(CblasNoTrans, CblasNoTrans, rn, hd, ce, scale, dS, T, kg, ldk, 1.0f, dqh + (size_t)r0 * ldq,
                       ldq);
        }
    }
    /* Column strips, a task per (b, KV head, key block): keys c0..c0+cn-1 are seen by rows c0..T-1
     * only; P and dS of the strip are recomputed tile by tile (the rows' bits) for each query head of
     * the group in ascending order, one sgemm per head into dk, dv: each element gets its heads'
     * contributions in one fixed order, and no two tasks write the same rows. The strips use the first
     * 2 TB T floats of the running thread's slot; the heads' rowsums in their slots stay untouched. */
#pragma omp parallel num_threads(slot_threads(B, NH))
    {
        float *Pb = scratch + (size_t)omp_get_thread_num() * slot, *dS = Pb + (size_t)TB * T;
#pragma omp for schedule(dynamic)
        for (long task = 0; task < (long)B * NKV * ncb; task++) {
            const int b = (int)(task / ((long)NKV * ncb)), g = (int)(task / ncb % NKV), c0 = (int)(task % ncb) * TB;
            const float *kg = k + (size_t)b * T * ldk + (size_t)g * hd;
            const float *vg = v + (size_t)b * T * ldk + (size_t)g * hd;
            float *dkg = dk + (size_t)b * T * ldk + (size_t)g * hd;
            float *dvg = dv + (size_t)b * T * ldk + (size_t)g * hd;
            int cn = T - c0 < TB ? T - c0 : TB, rr = T - c0;
            for (int h = g * G; h < (g + 1) * G; h++) {
                const float *qh = q + (size_t)b * T * ldq + (size_t)h * hd;
                const float *doh = dout + (size_t)b * T * ldq + (size_t)h * hd;
                const float *st = stats + ((size_t)b * NH + h) * 2 * T;
                const float *pd = scratch + ((size_t)b * NH + h) * slot + (size_t)2 * TB * T;
                tiles_abt(Pb, cn, qh, ldq, kg, ldk, c0, rr, c0, cn, hd, scale);
                tiles_abt(dS, cn, doh, ldq, vg, ldk, c0, rr, c0, cn, hd, 1.0f);
                for (int t = c0; t < T; t++) {
                    float *restrict p = Pb + (size_t)(t - c0) * cn, *restrict d = dS + (size_t)(t - c0) * cn;
                    float m = st[2 * t], inv = st[2 * t + 1], pdt = pd[t];
                    for (int j = 0; j < cn; j++) {
                        if (c0 + j <= t) {
                            p[j] = floe_expf(p[j] - m) * inv;
                            d[j] = p[j] * (d[j] - pdt);
                        } else {
                            p[j] = 0.0f;
                            d[j] = 0.0f;
                        }
                    }
                }
                floe_sgemm(CblasTrans, CblasNoTrans, cn, hd, rr, 1.0f, Pb, cn, doh + (size_t)c0 * ldq, ldq, 1.0f,
                           dvg + (size_t)c0 * ldk, ldk);
                floe_sgemm(CblasTrans, CblasNoTrans, cn, hd, rr, scale, dS, cn, qh + (size_t)c0 * ldq, ldq, 1.0f,
                           dkg + (size_t)c0 * ldk, ldk);
            }
        }
    }
}

void floe_attention_backward_given(float *restrict dq, float *restrict dk, float *restrict dv, float *restrict scratch,
                                   const float *restrict dout, floe_attention_prob_fn prob, void *ctx,
                                   const float *restrict q, const float *restrict k, const float *restrict v, int B,
                                   int T, int NH, int NKV, int hd, float scale)
{
    const int G = NH / NKV, nb = (T + TB - 1) / TB;
    const int ldq = NH * hd, ldk = NKV * hd;
    float *P = scratch, *dS = scratch + (size_t)T * T;
    for (int bh = 0; bh < B * NH; bh++) {
        const int b = bh / NH, h = bh % NH;
        const float *kg = k + (size_t)b * T * ldk + (size_t)(h / G) * hd;
        const float *vg = v + (size_t)b * T * ldk + (size_t)(h / G) * hd;
        const float *qh = q + (size_t)b * T * ldq + (size_t)h * hd;
        const float *doh = dout + (size_t)b * T * ldq + (size_t)h * hd;
        float *dqh = dq + (size_t)b * T * ldq + (size_t)h * hd;
        float *dkg = dk + (size_t)b * T * ldk + (size_t)(h / G) * hd;
        float *dvg = dv + (size_t)b * T * ldk + (size_t)(h / G) * hd;
        /* row blocks: P's rows (dS's rows are their scratch until dP overwrites them), dP = dout v^T,
         * dS (zero above the diagonal), dq += dS k */
#pragma omp parallel for schedule(dynamic)
        for (int rb = 0; rb < nb; rb++) {
            const int r0 = rb * TB, rn = T - r0 < TB ? T - r0 : TB, ce = r0 + rn;
            for (int t = r0; t < ce; t++) {
                float *p = P + (size_t)t * T;
                prob(ctx, b, h, t, p, dS + (size_t)t * T);
                for (int s = t + 1; s < T; s++)
                    p[s] = 0.0f;
            }
            floe_sgemm(CblasNoTrans, CblasTrans, rn, ce, hd, 1.0f, doh + (size_t)r0 * ldq, ldq, vg, ldk, 0.0f,
                       dS + (size_t)r0 * T, T);
            for (int t = r0; t < ce; t++) {
                const float *restrict p = P + (size_t)t * T;
                float *restrict d = dS + (size_t)t * T;
                int n = t + 1;
                float pd = floe_dot(p, d, n);
                for (int s = 0; s < n; s++)
                    d[s] = p[s] * (d[s] - pd);
                for (int s = n; s < T; s++)
                    d[s] = 0.0f;
            }
            floe_sgemm(CblasNoTrans, CblasNoTrans, rn, hd, ce, scale, dS + (size_t)r0 * T, T, kg, ldk, 1.0f,
                       dqh + (size_t)r0 * ldq, ldq);
        }
        /* key blocks: keys c0..c0+cn-1 are seen by rows c0..T-1 only; heads in ascending order (the
         * outer loop), so each dk, dv element sums its group's heads in one fixed order */
#pragma omp parallel for schedule(dynamic)
        for (int cb = 0; cb < nb; cb++) {
            const int c0 = cb * TB, cn = T - c0 < TB ? T - c0 : TB, rr = T - c0;
            floe_sgemm(CblasTrans, CblasNoTrans, cn, hd, rr, 1.0f, P + (size_t)c0 * T + c0, T, doh + (size_t)c0 * ldq,
                       ldq, 1.0f, dvg + (size_t)c0 * ldk, ldk);
            floe_sgemm(CblasTrans, CblasNoTrans, cn, hd, rr, scale, dS + (size_t)c0 * T + c0, T, qh + (size_t)c0 * ldq,
                       ldq, 1.0f, dkg + (size_t)c0 * ldk, ldk);
        }
    }
}
