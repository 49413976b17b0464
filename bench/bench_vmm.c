/* bench_vmm: int4 x int8 multiply-accumulates per host second in the simulator's vmm unit, on one
 * host core, for each implementation, for int4 weights expanded to int8 and used packed (as the
 * simulator does), and for decode-like (M = 1) and prefill-like (M = 16, 128) shapes of one
 * NorthPole-sized core tile (K x N weights resident in a core's memory, hot in the host's L2).
 * Then the same at M = 1 over 256 different weight matrices in turn, as bench_sim (a) runs 256
 * cores: the weights come from DRAM every time, so this measures what the simulator can reach.
 * Usage: bench_vmm [seconds-per-case]   Prints one line per case; median of 5 runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/rng.h"
#include "isa/saturate.h"
#include "sim/vmm.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    double budget = argc > 1 ? atof(argv[1]) : 0.2;
    const size_t K = 1024, N = 512; /* 256 KiB of int4 weights: a third of a 768 KiB core */
    const size_t Ms[] = {1, 16, 128};
    floe_rng r;
    floe_rng_seed(&r, 1);
    int8_t *w = malloc(K * N);
    uint8_t *wp = malloc(N * K / 2);
    int8_t *x = malloc(128 * K);
    int32_t *acc = calloc(128 * N, sizeof(int32_t));
    for (size_t i = 0; i < K * N; i++)
        w[i] = (int8_t)floe_rng_range(&r, -8, 7);
    for (size_t i = 0; i < 128 * K; i++)
        x[i] = (int8_t)floe_rng_range(&r, -128, 127);
    for (size_t n = 0; n < N; n++)
        floe_pack_i4_array(wp + n * K / 2, w + n * K, K);
    floe_vmm_weights views[2];
    if (floe_vmm_weights_from_i4(&views[0], wp, K, N, NULL) != 0 ||
        floe_vmm_weights_view_i4(&views[1], wp, K, N, NULL) != 0)
        return 1;
    const char *view_names[2] = {"expanded", "packed"};
    const floe_vmm_impl impls[] = {FLOE_VMM_PORTABLE, FLOE_VMM_AVX512VNNI};
    printf("bench_vmm: K=%zu N=%zu int4 weights x int8 inputs, one host thread\n", K, N);
    for (size_t c = 0; c < 4; c++) { /* (expanded, packed) x (portable, vnni) */
        size_t v = c / 2, i = c % 2;
        floe_vmm_impl got = floe_vmm_select(impls[i]);
        if (got != impls[i]) {
            printf("%-12s not supported on this CPU\n", floe_vmm_impl_name(impls[i]));
            continue;
        }
        for (size_t a = 0; a < 3; a++) {
            size_t M = Ms[a];
            double rates[5];
            for (int rep = 0; rep < 5; rep++) {
                long iters = 0;
                double t0 = now(), t;
                do {
                    floe_vmm_i8(acc, x, M, &views[v]);
                    iters++;
                } while ((t = now() - t0) < budget / 5);
                rates[rep] = (double)iters * M * K * N / t;
            }
            qsort(rates, 5, sizeof rates[0], cmp_double);
            printf("%-12s %-8s M=%-4zu %8.2f GMAC/s\n", floe_vmm_impl_name(got), view_names[v], M, rates[2] * 1e-9);
        }
    }
    floe_vmm_weights_free(&views[0]);
    floe_vmm_weights_free(&views[1]);

    enum { COLD = 256 };
    uint8_t *many = malloc((size_t)COLD * N * K / 2);
    floe_vmm_weights *cold = calloc(2 * COLD, sizeof *cold);
    if (!many || !cold)
        return 1;
    for (size_t c = 0; c < COLD; c++) {
        memcpy(many + c * N * K / 2, wp, N * K / 2);
        if (floe_vmm_weights_from_i4(&cold[c], many + c * N * K / 2, K, N, NULL) != 0 ||
            floe_vmm_weights_view_i4(&cold[COLD + c], many + c * N * K / 2, K, N, NULL) != 0)
            return 1;
    }
    for (size_t v = 0; v < 2; v++) {
        if (floe_vmm_select(FLOE_VMM_AVX512VNNI) != FLOE_VMM_AVX512VNNI)
            break;
        double rates[5];
        for (int rep = 0; rep < 5; rep++) {
            double t0 = now();
            for (size_t c = 0; c < COLD; c++)
                floe_vmm_i8(acc, x, 1, &cold[v * COLD + c]);
            rates[rep] = (double)COLD * K * N / (now() - t0);
        }
        qsort(rates, 5, sizeof rates[0], cmp_double);
        printf("%-12s %-8s M=1    %8.2f GMAC/s  (%d matrices in turn, from DRAM)\n",
               floe_vmm_impl_name(FLOE_VMM_AVX512VNNI), view_names[v], rates[2] * 1e-9, COLD);
    }
    for (size_t c = 0; c < 2 * COLD; c++)
        floe_vmm_weights_free(&cold[c]);
    free(cold);
    free(many);
    free(w);
    free(wp);
    free(x);
    free(acc);
    return 0;
}
