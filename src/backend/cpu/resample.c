/* Separable bicubic / bilinear resampling of a channels-last grid, torch
 * interpolate semantics (align_corners=False). The forward applies the 2-D
 * tensor product of the 1-D weights directly (at most 4x4 taps per output), so
 * no intermediate grid is needed; the backward scatters the same weights,
 * parallel over channel blocks so that no two threads touch one value. */
#include "backend/cpu/cpu_internal.h"

/* tap tables live on the stack; this bounds them to 128 KiB */
#define RS_MAX_SIDE 4096

atas_status atas_cpu_resample_fwd(const atas_backend *be, float *out, const float *in, int ih, int iw, int oh, int ow,
                                  int C, atas_resample kind) {
    int ty[4 * oh], tx[4 * ow];
    float wy[4 * oh], wx[4 * ow];
    atas_resample_weights(ih, oh, kind, ty, wy);
    atas_resample_weights(iw, ow, kind, tx, wx);
    const int ntap = kind == ATAS_RESAMPLE_BICUBIC ? 4 : 2;
#pragma omp parallel for schedule(static) if ((size_t)oh * ow * C * ntap * ntap > ATAS_CPU_PAR_MIN)
    for (int oy = 0; oy < oh; oy++) {
        for (int ox = 0; ox < ow; ox++) {
            float *o = out + ((size_t)oy * ow + ox) * C;
            for (int c = 0; c < C; c++) o[c] = 0.0f;
            for (int ky = 0; ky < ntap; ky++) {
                const float *row = in + (size_t)ty[4 * oy + ky] * iw * C;
                for (int kx = 0; kx < ntap; kx++) {
                    const float w = wy[4 * oy + ky] * wx[4 * ox + kx];
                    const float *src = row + (size_t)tx[4 * ox + kx] * C;
                    for (int c = 0; c < C; c++) o[c] += w * src[c];
                }
            }
        }
    }
    return ATAS_OK;
}

atas_status atas_cpu_resample_bwd(const atas_backend *be, float *din, const float *dout, int ih, int iw, int oh, int ow,
                                  int C, atas_resample kind) {
    int ty[4 * oh], tx[4 * ow];
    float wy[4 * oh], wx[4 * ow];
    atas_resample_weights(ih, oh, kind, ty, wy);
    atas_resample_weights(iw, ow, kind, tx, wx);
    const int ntap = kind == ATAS_RESAMPLE_BICUBIC ? 4 : 2;
    const int CB = 32;
    const int nblk = (C + CB - 1) / CB;
#pragma omp parallel for schedule(static) if (nblk > 1 && (size_t)oh * ow * C * ntap * ntap > ATAS_CPU_PAR_MIN)
    for (int blk = 0; blk < nblk; blk++) {
        const int c0 = blk * CB, c1 = ATAS_MIN(C, c0 + CB);
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                const float *g = dout + ((size_t)oy * ow + ox) * C;
                for (int ky = 0; ky < ntap; ky++) {
                    float *row = din + (size_t)ty[4 * oy + ky] * iw * C;
                    for (int kx = 0; kx < ntap; kx++) {
                        const float w = wy[4 * oy + ky] * wx[4 * ox + kx];
                        float *dst = row + (size_t)tx[4 * ox + kx] * C;
                        for (int c = c0; c < c1; c++) dst[c] += w * g[c];
                    }
                }
            }
        }
    }
    return ATAS_OK;
}
