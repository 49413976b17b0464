/* Spearman's rank correlation: how well a cheap sensitivity estimate orders the choices as the
 * measured one does (docs/design-choice.md). */
#ifndef FLOE_DESIGN_SPEARMAN_H
#define FLOE_DESIGN_SPEARMAN_H

#ifdef __cplusplus
extern "C" {
#endif

/* The Pearson correlation of the ranks of x[n] and y[n] (ties get their average rank), in [-1, 1];
 * 0 when n < 2 or either series is constant. Allocates nothing beyond two n-sized scratch arrays
 * (returns 0 if they cannot be had). */
double floe_spearman(const double *x, const double *y, int n);

#ifdef __cplusplus
}
#endif

#endif
