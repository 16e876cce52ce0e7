/* AdamW (torch.optim.AdamW arithmetic, step by step), the EMA teacher update
 * and the sum of squares the trainer uses for gradient norms and NaN guards. */
#include <math.h>

#include "backend/cpu/cpu_internal.h"

atas_status atas_cpu_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr,
                           float beta1, float beta2, float eps, float wd, int t) {
    /* torch: p *= 1 - lr wd; denom = sqrt(v) / sqrt(bc2) + eps; p -= lr/bc1 * m / denom */
    const float bc1 = 1.0f - powf(beta1, (float)t);
    const float bc2s = sqrtf(1.0f - powf(beta2, (float)t));
    const float step = lr / bc1, decay = 1.0f - lr * wd;
    const long nn = (long)n;
#pragma omp parallel for simd schedule(static) if (n > ATAS_CPU_PAR_MIN)
    for (long i = 0; i < nn; i++) {
        const float gi = g[i];
        const float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        const float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - step * mi / (sqrtf(vi) / bc2s + eps);
    }
    return ATAS_OK;
}

atas_status atas_cpu_ema(float *teacher, const float *student, size_t n, float mom) {
    const long nn = (long)n;
    const float a = 1.0f - mom;
#pragma omp parallel for simd schedule(static) if (n > ATAS_CPU_PAR_MIN)
    for (long i = 0; i < nn; i++) teacher[i] = mom * teacher[i] + a * student[i];
    return ATAS_OK;
}

atas_status atas_cpu_sumsq(double *host_out, const float *x, size_t n) {
    const long nn = (long)n;
    double s = 0.0;
#pragma omp parallel for simd schedule(static) reduction(+ : s) if (n > ATAS_CPU_PAR_MIN)
    for (long i = 0; i < nn; i++) s += (double)x[i] * x[i];
    *host_out = s;
    return ATAS_OK;
}
