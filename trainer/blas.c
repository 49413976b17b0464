#include "trainer/blas.h"

#include <cblas.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_init(void)
{
    openblas_set_num_threads(1);
}

void floe_blas_single_thread(void)
{
    pthread_once(&blas_once, blas_init);
}

void floe_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc)
{
    /* oneDNN sizes its threads from this thread's OpenMP thread count (1 inside an active parallel
     * region, the whole count outside one): set to 1, a call never splits, whoever calls it. */
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    dnnl_status_t st = dnnl_sgemm(ta == CblasNoTrans ? 'N' : 'T', tb == CblasNoTrans ? 'N' : 'T', M, N, K, alpha, A,
                                  lda, B, ldb, beta, C, ldc);
    omp_set_num_threads(threads);
    if (st != dnnl_success) {
        floe_blas_single_thread();
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    }
}
