/* LayerNorm over the last dimension, torch semantics: biased variance, eps
 * inside the square root. One row is in L1, so the two-pass mean/variance costs
 * nothing extra and avoids the cancellation of a sum-of-squares pass. */
#include <math.h>

#include "backend/cpu/cpu_internal.h"

ATAS_CPU_HOT static void ln_fwd_row(float *yr, float *mean, float *rstd, const float *xr,
                                    const float *w, const float *b, int C, float eps) {
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
    if (mean) *mean = mu;
    if (rstd) *rstd = rs;
}

atas_status atas_cpu_layernorm_fwd(const atas_backend *be, float *y, float *mean, float *rstd, const float *x,
                                   const float *w, const float *b, int M, int C, float eps) {
#pragma omp parallel for schedule(static) if ((size_t)M * C > ATAS_CPU_PAR_MIN)
    for (int i = 0; i < M; i++)
        ln_fwd_row(y + (size_t)i * C, mean ? mean + i : NULL, rstd ? rstd + i : NULL,
                   x + (size_t)i * C, w, b, C, eps);
    return ATAS_OK;
}

/* s = a + r, then the same row LayerNorm: bit for bit add followed by layernorm_fwd,
 * with the row still in L1 for the statistics */
atas_status atas_cpu_add_layernorm_fwd(const atas_backend *be, float *s, float *y, float *mean, float *rstd,
                                       const float *a, const float *r, const float *w, const float *b, int M,
                                       int C, float eps) {
#pragma omp parallel for schedule(static) if ((size_t)M * C > ATAS_CPU_PAR_MIN)
    for (int i = 0; i < M; i++) {
        float *sr = s + (size_t)i * C;
        const float *ar = a + (size_t)i * C, *rr = r + (size_t)i * C;
#pragma omp simd
        for (int c = 0; c < C; c++) sr[c] = ar[c] + rr[c];
        ln_fwd_row(y + (size_t)i * C, mean ? mean + i : NULL, rstd ? rstd + i : NULL, sr, w, b, C, eps);
    }
    return ATAS_OK;
}

/* dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dy * w */
ATAS_CPU_HOT static void ln_bwd_row(float *dxr, const float *gr, const float *xr, const float *w,
                                    float mu, float rs, int C) {
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

/* dw, db over columns [c0, c1) (at most 64): a fixed sum order over the rows */
ATAS_CPU_HOT static void ln_bwd_cols(float *dw, float *db, const float *dy, const float *x,
                                     const float *mean, const float *rstd, int M, int C, int c0,
                                     int c1) {
    float aw[64], ab[64];
    for (int c = 0; c < 64; c++) aw[c] = ab[c] = 0.0f;
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

atas_status atas_cpu_layernorm_bwd(const atas_backend *be, float *dx, float *dw, float *db, const float *dy,
                                   const float *x, const float *w, const float *mean,
                                   const float *rstd, int M, int C) {
    const int par = (size_t)M * C > ATAS_CPU_PAR_MIN;
    if (dx) {
#pragma omp parallel for schedule(static) if (par)
        for (int i = 0; i < M; i++)
            ln_bwd_row(dx + (size_t)i * C, dy + (size_t)i * C, x + (size_t)i * C, w, mean[i],
                       rstd[i], C);
    }
    if (dw || db) {
        /* column reductions: a thread owns a block of columns (fixed sum order) */
        const int CB = 64;
        const int nblk = (C + CB - 1) / CB;
#pragma omp parallel for schedule(static) if (par)
        for (int blk = 0; blk < nblk; blk++)
            ln_bwd_cols(dw, db, dy, x, mean, rstd, M, C, blk * CB, ATAS_MIN(C, blk * CB + CB));
    }
    return ATAS_OK;
}
