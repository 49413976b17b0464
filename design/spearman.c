#include "design/spearman.h"

#include <math.h>
#include <stdlib.h>

/* ranks (1-based, ties averaged) of x[n] into r[n]; O(n^2), n is a few dozen choices */
static void ranks(const double *x, int n, double *r)
{
    for (int i = 0; i < n; i++) {
        int below = 0, equal = 0;
        for (int j = 0; j < n; j++) {
            below += x[j] < x[i];
            equal += x[j] == x[i];
        }
        r[i] = below + (equal + 1) / 2.0;
    }
}

double floe_spearman(const double *x, const double *y, int n)
{
    if (n < 2)
        return 0;
    double *rx = malloc(sizeof(double) * (size_t)n), *ry = malloc(sizeof(double) * (size_t)n);
    double out = 0;
    if (rx && ry) {
        ranks(x, n, rx);
        ranks(y, n, ry);
        double mx = 0, my = 0;
        for (int i = 0; i < n; i++)
            mx += rx[i], my += ry[i];
        mx /= n, my /= n;
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < n; i++) {
            sxy += (rx[i] - mx) * (ry[i] - my);
            sxx += (rx[i] - mx) * (rx[i] - mx);
            syy += (ry[i] - my) * (ry[i] - my);
        }
        if (sxx > 0 && syy > 0)
            out = sxy / sqrt(sxx * syy);
    }
    free(rx), free(ry);
    return out;
}
