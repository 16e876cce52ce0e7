/* AdamW (torch.optim.AdamW arithmetic, step by step), the EMA teacher update
 * and the sum of squares the trainer uses for gradient norms and NaN guards. */
#include <math.h>

#include "backend/adamw_math.h"
#include "backend/cpu/cpu_internal.h"

atas_status atas_cpu_adamw(const atas_backend *be, float *p, const float *g, float *m, float *v, size_t n, float lr,
                           float beta1, float beta2, float eps, float wd, int t) {
    const atas_adamw_consts k = atas_adamw_prepare(lr, beta1, beta2, eps, wd, t);
    const long nn = (long)n;
#pragma omp parallel for simd schedule(static) if (n > ATAS_CPU_PAR_MIN)
    for (long i = 0; i < nn; i++) atas_adamw_update(p + i, m + i, v + i, g[i], k);
    return ATAS_OK;
}

atas_status atas_cpu_ema(const atas_backend *be, float *teacher, const float *student, size_t n, float mom) {
    const long nn = (long)n;
    const float a = 1.0f - mom;
#pragma omp parallel for simd schedule(static) if (n > ATAS_CPU_PAR_MIN)
    for (long i = 0; i < nn; i++) teacher[i] = mom * teacher[i] + a * student[i];
    return ATAS_OK;
}

atas_status atas_cpu_sumsq(const atas_backend *be, double *host_out, const float *x, size_t n) {
    const long nn = (long)n;
    double s = 0.0;
#pragma omp parallel for simd schedule(static) reduction(+ : s) if (n > ATAS_CPU_PAR_MIN)
    for (long i = 0; i < nn; i++) s += (double)x[i] * x[i];
    *host_out = s;
    return ATAS_OK;
}
