/* ViT plumbing: image to patch rows, token embedding (cls + positions) and
 * row slices of token sequences. Pure data movement, parallel over rows. */
#include "backend/cpu/cpu_internal.h"

atas_status atas_cpu_patchify(const atas_backend *be, float *patches, const float *img, int B, int H, int W, int P) {
    const int gh = H / P, gw = W / P, np = gh * gw, pd = 3 * P * P;
    const long nrows = (long)B * np;
#pragma omp parallel for schedule(static) if ((size_t)nrows * pd > ATAS_CPU_PAR_MIN)
    for (long r = 0; r < nrows; r++) {
        const int b = (int)(r / np), p = (int)(r % np), gy = p / gw, gx = p % gw;
        float *dst = patches + (size_t)r * pd;
        for (int c = 0; c < 3; c++)
            for (int ky = 0; ky < P; ky++)
                memcpy(dst + (size_t)(c * P + ky) * P,
                       img + (((size_t)b * 3 + c) * H + (size_t)gy * P + ky) * W + (size_t)gx * P,
                       sizeof(float) * P);
    }
    return ATAS_OK;
}

atas_status atas_cpu_embed_fwd(const atas_backend *be, float *x, const float *pe, const float *cls, const float *pos,
                               int B, int Np, int D) {
    const int T = Np + 1;
    const long nrows = (long)B * T;
#pragma omp parallel for schedule(static) if ((size_t)nrows * D > ATAS_CPU_PAR_MIN)
    for (long r = 0; r < nrows; r++) {
        const int b = (int)(r / T), t = (int)(r % T);
        float *dst = x + (size_t)r * D;
        const float *src = t == 0 ? cls : pe + ((size_t)b * Np + t - 1) * D;
        const float *ps = pos + (size_t)t * D;
        for (int c = 0; c < D; c++) dst[c] = src[c] + ps[c];
    }
    return ATAS_OK;
}

atas_status atas_cpu_embed_bwd(const atas_backend *be, float *dpe, float *dcls, float *dpos, const float *dx, int B,
                               int Np, int D) {
    const int T = Np + 1;
    const int par = (size_t)B * T * D > ATAS_CPU_PAR_MIN;
    if (dpe) {
        const long nrows = (long)B * Np;
#pragma omp parallel for schedule(static) if (par)
        for (long r = 0; r < nrows; r++) {
            const int b = (int)(r / Np), p = (int)(r % Np);
            const float *src = dx + ((size_t)b * T + 1 + p) * D;
            float *dst = dpe + (size_t)r * D;
            for (int c = 0; c < D; c++) dst[c] += src[c];
        }
    }
    /* position t (and cls for t = 0) sums over the batch: a thread owns rows t */
    if (dpos || dcls) {
#pragma omp parallel for schedule(static) if (par)
        for (int t = 0; t < T; t++) {
            for (int b = 0; b < B; b++) {
                const float *src = dx + ((size_t)b * T + t) * D;
                if (dpos)
                    for (int c = 0; c < D; c++) dpos[(size_t)t * D + c] += src[c];
                if (t == 0 && dcls)
                    for (int c = 0; c < D; c++) dcls[c] += src[c];
            }
        }
    }
    return ATAS_OK;
}

atas_status atas_cpu_rows_gather(const atas_backend *be, float *out, const float *in, int B, int T, int C, int t0, int nt) {
#pragma omp parallel for schedule(static) if ((size_t)B * nt * C > ATAS_CPU_PAR_MIN)
    for (int b = 0; b < B; b++)
        memcpy(out + (size_t)b * nt * C, in + ((size_t)b * T + t0) * C, sizeof(float) * nt * C);
    return ATAS_OK;
}

atas_status atas_cpu_rows_scatter_add(const atas_backend *be, float *din, const float *dout, int B, int T, int C, int t0,
                                      int nt) {
    if (!din) return ATAS_OK;
    const size_t n = (size_t)nt * C;
#pragma omp parallel for schedule(static) if ((size_t)B * n > ATAS_CPU_PAR_MIN)
    for (int b = 0; b < B; b++) {
        float *dst = din + ((size_t)b * T + t0) * C;
        const float *src = dout + (size_t)b * n;
        for (size_t i = 0; i < n; i++) dst[i] += src[i];
    }
    return ATAS_OK;
}
