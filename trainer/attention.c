#include "trainer/attention.h"

#include <cblas.h>
#include <math.h>
#include <stddef.h>

#include "trainer/blas.h"
#include "trainer/vec.h"

/* Whole T x T blocks go through sgemm (the masked half is zeroed afterwards): at T = 128 a
 * full-square sgemm is faster than a triangular loop written by hand. */
void floe_attention_forward(float *restrict out, float *restrict att, const float *restrict q,
                            const float *restrict k, const float *restrict v, int B, int T, int NH, int NKV, int hd)
{
    floe_blas_single_thread();
    const int G = NH / NKV;
    const float scale = 1.0f / sqrtf((float)hd);
    const int ldq = NH * hd, ldk = NKV * hd;
#pragma omp parallel for schedule(static) collapse(2)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *qh = q + (size_t)b * T * ldq + (size_t)h * hd;
            const float *kg = k + (size_t)b * T * ldk + (size_t)(h / G) * hd;
            const float *vg = v + (size_t)b * T * ldk + (size_t)(h / G) * hd;
            float *P = att + ((size_t)b * NH + h) * T * T;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, scale, qh, ldq, kg, ldk, 0.0f, P, T);
            for (int t = 0; t < T; t++) {
                float *restrict row = P + (size_t)t * T;
                int n = t + 1;
                float m = floe_max(row, n);
                for (int s = 0; s < n; s++)
                    row[s] = floe_expf(row[s] - m);
                float inv = 1.0f / floe_sum(row, n);
                for (int s = 0; s < n; s++)
                    row[s] *= inv;
                for (int s = n; s < T; s++)
                    row[s] = 0.0f;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, 1.0f, P, T, vg, ldk, 0.0f,
                        out + (size_t)b * T * ldq + (size_t)h * hd, ldq);
        }
}

void floe_attention_backward(float *restrict dq, float *restrict dk, float *restrict dv, float *restrict dscratch,
                             const float *restrict dout, const float *restrict att, const float *restrict q,
                             const float *restrict k, const float *restrict v, int B, int T, int NH, int NKV,
                             int hd)
{
    floe_blas_single_thread();
    const int G = NH / NKV;
    const float scale = 1.0f / sqrtf((float)hd);
    const int ldq = NH * hd, ldk = NKV * hd;
#pragma omp parallel for schedule(static) collapse(2)
    for (int b = 0; b < B; b++)
        for (int g = 0; g < NKV; g++) {
            const float *kg = k + (size_t)b * T * ldk + (size_t)g * hd;
            const float *vg = v + (size_t)b * T * ldk + (size_t)g * hd;
            float *dkg = dk + (size_t)b * T * ldk + (size_t)g * hd;
            float *dvg = dv + (size_t)b * T * ldk + (size_t)g * hd;
            for (int h = g * G; h < (g + 1) * G; h++) {
                const float *qh = q + (size_t)b * T * ldq + (size_t)h * hd;
                const float *doh = dout + (size_t)b * T * ldq + (size_t)h * hd;
                float *dqh = dq + (size_t)b * T * ldq + (size_t)h * hd;
                const float *P = att + ((size_t)b * NH + h) * T * T;
                float *dS = dscratch + ((size_t)b * NH + h) * T * T;
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, 1.0f, P, T, doh, ldq, 1.0f, dvg,
                            ldk);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hd, 1.0f, doh, ldq, vg, ldk, 0.0f, dS,
                            T);
                for (int t = 0; t < T; t++) {
                    const float *restrict p = P + (size_t)t * T;
                    float *restrict d = dS + (size_t)t * T;
                    int n = t + 1;
                    float pd = floe_dot(p, d, n);
                    for (int s = 0; s < n; s++)
                        d[s] = p[s] * (d[s] - pd);
                    for (int s = n; s < T; s++)
                        d[s] = 0.0f;
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hd, T, scale, dS, T, kg, ldk, 1.0f, dqh,
                            ldq);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, T, scale, dS, T, qh, ldq, 1.0f, dkg,
                            ldk);
            }
        }
}
