#include "trainer/igemm.h"

#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_int enabled;
static int exact8, exact7; /* the kernels oneDNN runs here are exact for 8-bit / 7-bit B codes */

static int gemm(int32_t *acc, const int8_t *a, const int8_t *b, int M, int N, int K)
{
    const int32_t co = 0;
    return dnnl_gemm_s8s8s32('N', 'T', 'F', M, N, K, 1.0f, a, K, 0, b, K, 0, 0.0f, acc, N, &co) == dnnl_success
               ? 0
               : -1;
}

/* Worst cases for the pairwise int16 sums of a kernel without VNNI (activations 127, shifted to
 * 255 by oneDNN, times B = -2^(bits-1)), on a matrix and a vector shape: the kernels oneDNN picks
 * for this CPU and its ISA limit (ONEDNN_MAX_CPU_ISA) either saturate here or are exact. */
static int probe(int bits)
{
    enum { M = 24, N = 40, K = 64 };
    static int8_t a[M * K], b[N * K];
    static int32_t c[M * N];
    memset(a, 127, sizeof a);
    memset(b, (int8_t)-(1 << (bits - 1)), sizeof b);
    const int32_t want = 127 * -(1 << (bits - 1)) * K;
    for (int shape = 0; shape < 2; shape++) {
        int m = shape ? 1 : M;
        memset(c, 0, sizeof c);
        if (gemm(c, a, b, m, N, K) != 0)
            return 0;
        for (int i = 0; i < m * N; i++)
            if (c[i] != want)
                return 0;
    }
    return 1;
}

static void init(void)
{
    const char *e = getenv("FLOE_INT8_GEMM");
    exact8 = probe(8);
    exact7 = exact8 || probe(7);
    atomic_store(&enabled, !(e && strcmp(e, "0") == 0));
}

void floe_igemm_set_enabled(int on)
{
    pthread_once(&once, init);
    atomic_store(&enabled, on != 0);
}

int floe_igemm_enabled(void)
{
    pthread_once(&once, init);
    return atomic_load(&enabled);
}

int floe_igemm_usable(int bbits, int K)
{
    pthread_once(&once, init);
    if (!atomic_load(&enabled) || bbits < 1 || bbits > 8 || K < 1 || K >= (1 << 17))
        return 0;
    return bbits <= 7 ? exact7 : exact8;
}

int floe_igemm_s8(int32_t *acc, const int8_t *a, const int8_t *b, int M, int N, int K)
{
    if (gemm(acc, a, b, M, N, K) == 0)
        return 0;
    atomic_store(&enabled, 0); /* an engine that failed once is not asked again: the float path */
    return -1;
}
