/* Pictures of the integer nonlinearities against the real functions they approximate, for
 * docs/numerics.md and for RTL designers: `floe numerics --plot DIR` and `floe run`. They live beside
 * the commands that draw them, so the contract library (isa/) needs no plotting code. */
#ifndef FLOE_CLI_NUMERICS_PLOT_H
#define FLOE_CLI_NUMERICS_PLOT_H

#include "common/error.h"

/* Writes DIR/numerics_{exp2,silu,recip}.{dat,png}. Returns 0 or -1 with err set. */
int floe_numerics_plot(const char *dir, floe_err *err);

#endif
