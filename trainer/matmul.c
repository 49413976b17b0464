#include "trainer/matmul.h"

#include <cblas.h>
#include <omp.h>
#include <stddef.h>

#include "trainer/blas.h"
#include "trainer/vec.h"

/* Rows go to sgemm in blocks of a fixed size, whatever the thread count: a BLAS may sum an
 * output element in an order that depends on the call's shape (OpenBLAS's Haswell and Zen kernels do, for
 * the same element, with M = 128 and M = 256), so a split by thread count would change the bits.
 * With fixed blocks every element comes from the same call in any run; 128 rows keep each call
 * large enough that repacking the other operand per call costs little. */
#define ROW_BLOCK 128
/* Below this many multiply-adds a fork costs more than it saves. */
#define PAR_MIN_WORK (1LL << 18)

static int blocks_of(int n) { return (n + ROW_BLOCK - 1) / ROW_BLOCK; }

void floe_matmul_forward(float *out, const float *inp, const float *w, int N, int C, int OC)
{
    long long work = (long long)N * C * OC;
#pragma omp parallel for schedule(static) if (work >= PAR_MIN_WORK)
    for (int b = 0; b < blocks_of(N); b++) {
        int lo = b * ROW_BLOCK, hi = lo + ROW_BLOCK < N ? lo + ROW_BLOCK : N;
        floe_sgemm(CblasNoTrans, CblasTrans, hi - lo, OC, C, 1.0f, inp + (size_t)lo * C, C, w, C, 0.0f,
                   out + (size_t)lo * OC, OC);
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
    floe_matmul_backward_ld(dinp, dinp_add, dw, dw_add, dout, OC, inp, w, N, C, OC);
}

void floe_matmul_backward_ld(float *dinp, int dinp_add, float *dw, int dw_add, const float *dout, int ldo,
                             const float *inp, const float *w, int N, int C, int OC)
{
    long long work = (long long)N * C * OC;
    const int nb_in = dinp ? blocks_of(N) : 0, nb_w = dw ? blocks_of(OC) : 0;
    /* Blocks of dinp's rows, then of dw's rows; each dw row sums over all N in sgemm's own order: no
     * reduction across threads. */
#pragma omp parallel for schedule(static) if (work >= PAR_MIN_WORK)
    for (int b = 0; b < nb_in + nb_w; b++) {
        if (b < nb_in) {
            int lo = b * ROW_BLOCK, hi = lo + ROW_BLOCK < N ? lo + ROW_BLOCK : N;
            floe_sgemm(CblasNoTrans, CblasNoTrans, hi - lo, C, OC, 1.0f, dout + (size_t)lo * ldo, ldo, w, C,
                       dinp_add ? 1.0f : 0.0f, dinp + (size_t)lo * C, C);
        } else {
            int lo = (b - nb_in) * ROW_BLOCK, hi = lo + ROW_BLOCK < OC ? lo + ROW_BLOCK : OC;
            floe_sgemm(CblasTrans, CblasNoTrans, hi - lo, C, N, 1.0f, dout + lo, ldo, inp, C, dw_add ? 1.0f : 0.0f,
                       dw + (size_t)lo * C, C);
        }
    }
}
