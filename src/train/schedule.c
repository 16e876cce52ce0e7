/* Learning-rate and teacher-momentum schedules. */
#include <math.h>

#include "atas/train.h"

double atas_lr_at(long long step, long long total, int warmup, double peak, double min_lr) {
    if (warmup > 0 && step < warmup) return peak * (double)(step + 1) / (double)warmup;
    long long span = total - (warmup > 0 ? warmup : 0);
    if (span <= 0) return peak;
    double t = (double)(step - (warmup > 0 ? warmup : 0)) / (double)span;
    if (t > 1) t = 1;
    return min_lr + 0.5 * (peak - min_lr) * (1.0 + cos(M_PI * t));
}

double atas_momentum_at(long long step, long long total, double start, double end, int cosine) {
    if (!cosine || total <= 1) return start;
    double t = (double)step / (double)(total - 1);
    if (t > 1) t = 1;
    return end - 0.5 * (end - start) * (1.0 + cos(M_PI * t));
}
