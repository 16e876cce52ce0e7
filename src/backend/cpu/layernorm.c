/* LayerNorm over the last dimension, torch semantics: biased variance, eps
 * inside the square root. One row is in L1, so the two-pass mean/variance costs
 * nothing extra and avoids the cancellation of a sum-of-squares pass. */
#include <math.h>

#include "backend/cpu/cpu_internal.h"

atas_status atas_cpu_layernorm_fwd(float *y, float *mean, float *rstd, const float *x,
                                   const float *w, const float *b, int M, int C, float eps) {
#pragma omp parallel for schedule(static) if ((size_t)M * C > ATAS_CPU_PAR_MIN)
    for (int i = 0; i < M; i++) {
        const float *xr = x + (size_t)i * C;
        float *yr = y + (size_t)i * C;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int c = 0; c < C; c++) s += xr[c];
        const float mu = s / (float)C;
        float v = 0.0f;
#pragma omp simd reduction(+ : v)
        for (int c = 0; c < C; c++) {
            float d = xr[c] - mu;
            v += d * d;
        }
        const float rs = 1.0f / sqrtf(v / (float)C + eps);
        if (w && b)
            for (int c = 0; c < C; c++) yr[c] = (xr[c] - mu) * rs * w[c] + b[c];
        else if (w)
            for (int c = 0; c < C; c++) yr[c] = (xr[c] - mu) * rs * w[c];
        else
            for (int c = 0; c < C; c++) yr[c] = (xr[c] - mu) * rs + (b ? b[c] : 0.0f);
        if (mean) mean[i] = mu;
        if (rstd) rstd[i] = rs;
    }
    return ATAS_OK;
}

atas_status atas_cpu_layernorm_bwd(float *dx, float *dw, float *db, const float *dy,
                                   const float *x, const float *w, const float *mean,
                                   const float *rstd, int M, int C) {
    const int par = (size_t)M * C > ATAS_CPU_PAR_MIN;
    if (dx) {
        /* dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dy * w */
#pragma omp parallel for schedule(static) if (par)
        for (int i = 0; i < M; i++) {
            const float *xr = x + (size_t)i * C, *gr = dy + (size_t)i * C;
            float *dxr = dx + (size_t)i * C;
            const float mu = mean[i], rs = rstd[i];
            float sg = 0.0f, sgx = 0.0f;
#pragma omp simd reduction(+ : sg, sgx)
            for (int c = 0; c < C; c++) {
                float g = gr[c] * (w ? w[c] : 1.0f);
                sg += g;
                sgx += g * (xr[c] - mu) * rs;
            }
            const float mg = sg / (float)C, mgx = sgx / (float)C;
            for (int c = 0; c < C; c++) {
                float g = gr[c] * (w ? w[c] : 1.0f);
                dxr[c] += rs * (g - mg - (xr[c] - mu) * rs * mgx);
            }
        }
    }
    if (dw || db) {
        /* column reductions: a thread owns a block of columns (fixed sum order) */
        const int CB = 64;
        const int nblk = (C + CB - 1) / CB;
#pragma omp parallel for schedule(static) if (par)
        for (int blk = 0; blk < nblk; blk++) {
            int c0 = blk * CB, c1 = ATAS_MIN(C, c0 + CB);
            float aw[64], ab[64];
            for (int c = 0; c < CB; c++) aw[c] = ab[c] = 0.0f;
            for (int i = 0; i < M; i++) {
                const float *xr = x + (size_t)i * C, *gr = dy + (size_t)i * C;
                const float mu = mean[i], rs = rstd[i];
                for (int c = c0; c < c1; c++) {
                    aw[c - c0] += gr[c] * (xr[c] - mu) * rs;
                    ab[c - c0] += gr[c];
                }
            }
            for (int c = c0; c < c1; c++) {
                if (dw) dw[c] += aw[c - c0];
                if (db) db[c] += ab[c - c0];
            }
        }
    }
    return ATAS_OK;
}
