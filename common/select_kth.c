#include "common/select_kth.h"

float floe_select_kth(float *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        float x = a[lo], y = a[mid], z = a[hi];
        float p = x < y ? (y < z ? y : x < z ? z : x) : (x < z ? x : y < z ? z : y);
        /* Hoare's partition of [lo, hi] around p: afterwards a[lo..j] <= p <= a[i..hi] and every
         * element strictly between j and i equals p */
        size_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < p)
                i++;
            while (a[j] > p)
                j--;
            if (i <= j) {
                float t = a[i];
                a[i] = a[j], a[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return a[k];
    }
    return a[k];
}
