#include "trainer/lr_schedule.h"

#include <math.h>

float floe_lr_cosine(int step, int warmup, int total, float max_lr, float min_lr)
{
    if (step < warmup)
        return (float)((double)max_lr * (step + 1) / warmup);
    if (step >= total)
        return min_lr;
    double ratio = (double)(step - warmup) / (double)(total - warmup);
    double coeff = 0.5 * (1.0 + cos(3.14159265358979323846 * ratio));
    return (float)(min_lr + coeff * ((double)max_lr - min_lr));
}
