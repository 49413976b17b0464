#include "trainer/matmul.h"

#include <cblas.h>
#include <omp.h>
#include <stddef.h>

#include "trainer/blas.h"
#include "trainer/vec.h"

/* Rows are handed out in blocks of 32 so every thread's sgemm sees whole register tiles. */
#define ROW_ALIGN 32
/* Below this many multiply-adds a fork costs more than it saves. */
#define PAR_MIN_WORK (1LL << 18)

void floe_matmul_forward(float *out, const float *inp, const float *w, int N, int C, int OC)
{
    floe_blas_single_thread();
    long long work = (long long)N * C * OC;
#pragma omp parallel if (work >= PAR_MIN_WORK)
    {
        int lo, hi;
        floe_split(N, omp_get_num_threads(), omp_get_thread_num(), ROW_ALIGN, &lo, &hi);
        if (hi > lo)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, hi - lo, OC, C, 1.0f, inp + (size_t)lo * C, C, w,
                        C, 0.0f, out + (size_t)lo * OC, OC);
    }
}

void floe_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w, int N,
                          int C, int OC)
{
    floe_matmul_backward_into(dinp, 1, dw, 1, dout, inp, w, N, C, OC);
}

void floe_matmul_backward_into(float *dinp, int dinp_add, float *dw, int dw_add, const float *dout,
                               const float *inp, const float *w, int N, int C, int OC)
{
    floe_blas_single_thread();
    long long work = (long long)N * C * OC;
#pragma omp parallel if (work >= PAR_MIN_WORK)
    {
        int nt = omp_get_num_threads(), tid = omp_get_thread_num(), lo, hi;
        if (dinp) {
            floe_split(N, nt, tid, ROW_ALIGN, &lo, &hi);
            if (hi > lo)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, hi - lo, C, OC, 1.0f,
                            dout + (size_t)lo * OC, OC, w, C, dinp_add ? 1.0f : 0.0f, dinp + (size_t)lo * C, C);
        }
        if (dw) {
            /* Each thread owns whole rows of dw and sums over all N in sgemm's own order: no
             * reduction across threads. */
            floe_split(OC, nt, tid, ROW_ALIGN, &lo, &hi);
            if (hi > lo)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, hi - lo, C, N, 1.0f, dout + lo, OC, inp, C,
                            dw_add ? 1.0f : 0.0f, dw + (size_t)lo * C, C);
        }
    }
}
