/* Row L2 normalisation with torch F.normalize semantics: y = x / max(|x|, eps).
 * The norm is summed in double so long rows keep full fp32 accuracy. */
#include <math.h>

#include "backend/cpu/cpu_internal.h"

#define L2_EPS 1e-12f

atas_status atas_cpu_l2norm_fwd(float *y, float *norm, const float *x, int M, int C) {
    REQUIRE(M >= 0 && C > 0, "l2norm_fwd: bad shape M=%d C=%d", M, C);
    REQUIRE(y && x, "l2norm_fwd: NULL y or x");
#pragma omp parallel for schedule(static) if ((size_t)M * C > ATAS_CPU_PAR_MIN)
    for (int i = 0; i < M; i++) {
        const float *xr = x + (size_t)i * C;
        float *yr = y + (size_t)i * C;
        double s = 0.0;
        for (int c = 0; c < C; c++) s += (double)xr[c] * xr[c];
        const float n = (float)sqrt(s);
        const float inv = 1.0f / (n > L2_EPS ? n : L2_EPS);
        for (int c = 0; c < C; c++) yr[c] = xr[c] * inv;
        if (norm) norm[i] = n;
    }
    return ATAS_OK;
}

atas_status atas_cpu_l2norm_bwd(float *dx, const float *dy, const float *y, const float *norm,
                                int M, int C) {
    REQUIRE(M >= 0 && C > 0, "l2norm_bwd: bad shape M=%d C=%d", M, C);
    REQUIRE(dy && y && norm, "l2norm_bwd: needs dy, y and the norm saved by the forward");
    if (!dx) return ATAS_OK;
#pragma omp parallel for schedule(static) if ((size_t)M * C > ATAS_CPU_PAR_MIN)
    for (int i = 0; i < M; i++) {
        const float *yr = y + (size_t)i * C, *gr = dy + (size_t)i * C;
        float *dxr = dx + (size_t)i * C;
        const float n = norm[i];
        if (n > L2_EPS) {
            /* dx = (dy - y <y, dy>) / |x| */
            double d = 0.0;
            for (int c = 0; c < C; c++) d += (double)yr[c] * gr[c];
            const float yd = (float)d, inv = 1.0f / n;
            for (int c = 0; c < C; c++) dxr[c] += (gr[c] - yr[c] * yd) * inv;
        } else {
            /* clamped denominator is a constant: the gradient is dy / eps */
            for (int c = 0; c < C; c++) dxr[c] += gr[c] / L2_EPS;
        }
    }
    return ATAS_OK;
}
