/* Activations and elementwise arithmetic: flat loops that vectorise (the
 * exp/erf helpers are inline polynomials), parallel above ATAS_CPU_PAR_MIN. */
#include "backend/cpu/cpu_internal.h"

#define QG_ALPHA 1.702f
#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT2PI 0.39894228040143268f

ATAS_CPU_HOT static void act_fwd_span(float *y, const float *x, long n, atas_act kind) {
    if (kind == ATAS_ACT_QUICKGELU) {
#pragma omp simd
        for (long i = 0; i < n; i++) {
            float v = x[i];
            y[i] = v / (1.0f + atas_fast_expf(-QG_ALPHA * v));
        }
    } else {
#pragma omp simd
        for (long i = 0; i < n; i++) {
            float v = x[i];
            y[i] = 0.5f * v * (1.0f + atas_fast_erff(v * INV_SQRT2));
        }
    }
}

ATAS_CPU_HOT static void act_bwd_span(float *dx, const float *dy, const float *x, long n,
                                      atas_act kind) {
    if (kind == ATAS_ACT_QUICKGELU) {
        /* d/dx x s(ax) = s + a x s (1 - s) */
#pragma omp simd
        for (long i = 0; i < n; i++) {
            float v = x[i];
            float s = 1.0f / (1.0f + atas_fast_expf(-QG_ALPHA * v));
            dx[i] += dy[i] * (s + QG_ALPHA * v * s * (1.0f - s));
        }
    } else {
        /* d/dx 0.5 x (1 + erf(x/sqrt2)) = Phi(x) + x phi(x) */
#pragma omp simd
        for (long i = 0; i < n; i++) {
            float v = x[i];
            float cdf = 0.5f * (1.0f + atas_fast_erff(v * INV_SQRT2));
            float pdf = INV_SQRT2PI * atas_fast_expf(-0.5f * v * v);
            dx[i] += dy[i] * (cdf + v * pdf);
        }
    }
}

/* the registry has checked kind (QuickGELU or GELU) and the pointers */
atas_status atas_cpu_act_fwd(const atas_backend *be, float *y, const float *x, size_t n, atas_act kind) {
    const long nn = (long)n, nspan = (nn + ATAS_CPU_SPAN - 1) / ATAS_CPU_SPAN;
#pragma omp parallel for schedule(static) if (n > ATAS_CPU_PAR_MIN)
    for (long k = 0; k < nspan; k++) {
        const long i0 = k * ATAS_CPU_SPAN;
        act_fwd_span(y + i0, x + i0, ATAS_MIN(ATAS_CPU_SPAN, nn - i0), kind);
    }
    return ATAS_OK;
}

atas_status atas_cpu_act_bwd(const atas_backend *be, float *dx, const float *dy, const float *x, size_t n, atas_act kind) {
    const long nn = (long)n, nspan = (nn + ATAS_CPU_SPAN - 1) / ATAS_CPU_SPAN;
#pragma omp parallel for schedule(static) if (n > ATAS_CPU_PAR_MIN)
    for (long k = 0; k < nspan; k++) {
        const long i0 = k * ATAS_CPU_SPAN;
        act_bwd_span(dx + i0, dy + i0, x + i0, ATAS_MIN(ATAS_CPU_SPAN, nn - i0), kind);
    }
    return ATAS_OK;
}

atas_status atas_cpu_add(const atas_backend *be, float *y, const float *a, const float *b, size_t n) {
    const long nn = (long)n;
#pragma omp parallel for simd schedule(static) if (n > ATAS_CPU_PAR_MIN)
    for (long i = 0; i < nn; i++) y[i] = a[i] + b[i];
    return ATAS_OK;
}

atas_status atas_cpu_axpy(const atas_backend *be, float *y, float alpha, const float *x, size_t n) {
    const long nn = (long)n;
#pragma omp parallel for simd schedule(static) if (n > ATAS_CPU_PAR_MIN)
    for (long i = 0; i < nn; i++) y[i] += alpha * x[i];
    return ATAS_OK;
}

atas_status atas_cpu_scale(const atas_backend *be, float *y, float alpha, size_t n) {
    const long nn = (long)n;
#pragma omp parallel for simd schedule(static) if (n > ATAS_CPU_PAR_MIN)
    for (long i = 0; i < nn; i++) y[i] *= alpha;
    return ATAS_OK;
}
