#include "trainer/blas.h"

#include <cblas.h>
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
