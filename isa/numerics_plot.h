/* Pictures of the integer nonlinearities against the real functions they approximate, for
 * docs/numerics.md and for RTL designers: `floe numerics --plot DIR`. */
#ifndef FLOE_ISA_NUMERICS_PLOT_H
#define FLOE_ISA_NUMERICS_PLOT_H

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes DIR/numerics_{exp2,silu,recip}.{dat,png}. Returns 0 or -1 with err set. */
int floe_numerics_plot(const char *dir, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
