/* Whole-core checks of the numeric core, used by `floe numerics` and the tests:
 *  - a digest: a 64-bit hash of every operation's outputs over a fixed, seeded input set. Two builds
 *    (compilers, optimisation levels, machines) that print the same digest compute the same bits.
 *  - an accuracy report: each integer nonlinearity against double precision, in output LSBs.
 */
#ifndef FLOE_ISA_NUMERICS_CHECK_H
#define FLOE_ISA_NUMERICS_CHECK_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

uint64_t floe_numerics_digest(void);

typedef struct floe_accuracy_row {
    const char *op;        /* "exp2", "recip", ... */
    const char *domain;    /* what was covered */
    uint64_t points;       /* inputs evaluated */
    double max_err_lsb;    /* max |integer - exact| in output LSBs */
    double mean_err_lsb;   /* mean |integer - exact| in output LSBs */
    double bound_lsb;      /* documented bound the test holds the op to */
} floe_accuracy_row;

#define FLOE_ACCURACY_ROWS 10

/* Fills rows (FLOE_ACCURACY_ROWS entries). Deterministic; about a second of work. */
void floe_numerics_accuracy(floe_accuracy_row *rows);

#ifdef __cplusplus
}
#endif

#endif
