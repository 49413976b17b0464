/* The k-th smallest of n floats (what a sort would put at index k), for percentiles of calibration
 * samples: Hoare's selection with a median-of-three pivot, linear expected time where a sort takes
 * n log n. The value does not depend on the algorithm, so results equal a sort's exactly.
 * Reorders a. Needs 0 <= k < n; the values must not be NaN. */
#ifndef FLOE_COMMON_SELECT_KTH_H
#define FLOE_COMMON_SELECT_KTH_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

float floe_select_kth(float *a, size_t n, size_t k);

#ifdef __cplusplus
}
#endif

#endif
