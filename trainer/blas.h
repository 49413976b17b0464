/* The trainer's float matrix products and its OpenBLAS threading policy.
 *
 * floe_sgemm: C = alpha * op(A) op(B) + beta * C, row-major, on the calling thread only (oneDNN's
 * dnnl_sgemm with its thread count set to 1 for the call). oneDNN picks its kernels from the CPU's
 * instruction sets (AVX-512 where there is AVX-512); OpenBLAS picks them from the CPU's model or
 * OPENBLAS_CORETYPE, which the hosts these figures come from set to Haswell (AVX2): oneDNN's are 1.4
 * to 2.4 times as fast on the trainer's shapes there (docs/trainer.md, "Matrix products"). One call's
 * bits depend on its shape and the CPU only, not on alignment or on the thread that runs it, so the
 * callers' fixed blocking keeps every result independent of the thread count. Should oneDNN refuse
 * a call (it does not for valid shapes) OpenBLAS computes it.
 *
 * The trainer parallelises with OpenMP only: every sgemm runs single-threaded inside an OpenMP
 * thread, on a slice of the output that thread owns. One thread pool, no oversubscription of
 * OpenBLAS's own pthreads against OpenMP's, and the partition is under our control (docs/trainer.md).
 * floe_blas_single_thread() sets OpenBLAS to one thread, once per process; every trainer function
 * that calls OpenBLAS (GPTQ's and the integer forward's double products, LAPACK) calls it first.
 * It is process-wide: other callers of OpenBLAS see it too.
 */
#ifndef FLOE_TRAINER_BLAS_H
#define FLOE_TRAINER_BLAS_H

#include <cblas.h>

#ifdef __cplusplus
extern "C" {
#endif

void floe_blas_single_thread(void);

void floe_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc);

#ifdef __cplusplus
}
#endif

#endif
