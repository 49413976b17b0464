#include "trainer/igemm.h"

#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int enabled, vnni;

static void init(void)
{
    const char *e = getenv("FLOE_INT8_GEMM");
    enabled = !(e && strcmp(e, "0") == 0);
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    vnni = __builtin_cpu_supports("avx512vnni");
#endif
}

void floe_igemm_set_enabled(int on)
{
    pthread_once(&once, init);
    enabled = on != 0;
}

int floe_igemm_enabled(void)
{
    pthread_once(&once, init);
    return enabled;
}

int floe_igemm_usable(int bbits, int K)
{
    pthread_once(&once, init);
    if (!enabled || bbits < 1 || bbits > 8 || K < 1 || K >= (1 << 17))
        return 0;
    /* without VNNI: 2 * 255 * 2^(bbits-1) must stay below 2^15 */
    return vnni || bbits <= 7;
}

int floe_igemm_s8(int32_t *acc, const int8_t *a, const int8_t *b, int M, int N, int K)
{
    const int32_t co = 0;
    return dnnl_gemm_s8s8s32('N', 'T', 'F', M, N, K, 1.0f, a, K, 0, b, K, 0, 0.0f, acc, N, &co) == dnnl_success
               ? 0
               : -1;
}
