/* OpenBLAS threading policy of the trainer.
 *
 * The trainer parallelises with OpenMP only: every sgemm runs single-threaded inside an OpenMP
 * thread, on a slice of the output that thread owns. One thread pool, no oversubscription of
 * OpenBLAS's own pthreads against OpenMP's, and the partition is under our control (docs/trainer.md).
 * floe_blas_single_thread() sets OpenBLAS to one thread, once per process; every trainer function
 * that calls sgemm calls it first. It is process-wide: other callers of OpenBLAS see it too.
 */
#ifndef FLOE_TRAINER_BLAS_H
#define FLOE_TRAINER_BLAS_H

#ifdef __cplusplus
extern "C" {
#endif

void floe_blas_single_thread(void);

#ifdef __cplusplus
}
#endif

#endif
