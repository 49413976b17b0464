/* Exact integer matrix products for the integer forward (trainer/qforward.c).
 *
 *   acc[M, N] = A[M, K] x B[N, K]^T     A, B int8 codes; acc int32, exact
 *
 * oneDNN's dnnl_gemm_s8s8s32 (VNNI on this machine: about 4x the MACs per second of an fp32
 * sgemm). Integer sums do not depend on their order, so the result is the same bits on any thread
 * count and equals the float path of qforward.c bit for bit. oneDNN's kernels without VNNI form
 * pairwise sums in int16 with saturation (vpmaddubsw, A shifted to uint8): exact only while
 * 2 * 255 * max|B| < 2^15. At first use a probe runs the worst case through the kernels oneDNN
 * picks here (also under an ISA limit such as ONEDNN_MAX_CPU_ISA); floe_igemm_usable() then refuses
 * the widths that saturated and the caller takes its float path. An engine error switches the int8
 * path off for the process. Accumulators stay within int32 for K < 2^17.
 *
 * Threading: oneDNN's OpenMP runtime (libgomp, the gcc build's own pool). Called from inside an
 * OpenMP parallel region it runs on that thread alone.
 * FLOE_INT8_GEMM=0 in the environment (or floe_igemm_set_enabled(0)) turns the int8 path off, for
 * comparisons and for a CPU where it is slower.
 */
#ifndef FLOE_TRAINER_IGEMM_H
#define FLOE_TRAINER_IGEMM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when floe_igemm_s8 is exact for B codes of `bbits` bits (|B| <= 2^(bbits-1)), A int8 and depth K. */
int floe_igemm_usable(int bbits, int K);

/* acc = A x B^T (row-major, lda = ldb = K, ldc = N). Returns 0, or -1 if oneDNN reports an error
 * (the caller then takes its float path). */
int floe_igemm_s8(int32_t *acc, const int8_t *a, const int8_t *b, int M, int N, int K);

/* Process-wide switch (tests compare both paths); the default comes from FLOE_INT8_GEMM. */
void floe_igemm_set_enabled(int on);
int floe_igemm_enabled(void);

#ifdef __cplusplus
}
#endif

#endif
