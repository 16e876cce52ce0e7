/* Row L2 normalisation, torch F.normalize: y = x / max(|x|, 1e-12). One warp
 * per row; the norm and the <y, dy> dot are accumulated in double, as on the CPU. */
#include <math.h>

#include "backend/cuda/cuda_common.cuh"

#define L2_EPS 1e-12f

__global__ void k_l2_fwd(float *y, float *norm, const float *x, int M, int C) {
    const int lane = threadIdx.x & 31;
    const long row = (long)blockIdx.x * ATAS_CU_ROWS_PER_BLOCK + (threadIdx.x >> 5);
    if (row >= M) return;
    const float *xr = x + row * C;
    float *yr = y + row * C;
    double s = 0.0;
    for (int c = lane; c < C; c += 32) s += (double)xr[c] * xr[c];
    const float n = (float)sqrt(atas_warp_sum_d(s));
    const float inv = 1.0f / (n > L2_EPS ? n : L2_EPS);
    for (int c = lane; c < C; c += 32) yr[c] = xr[c] * inv;
    if (norm && lane == 0) norm[row] = n;
}

__global__ void k_l2_bwd(float *dx, const float *dy, const float *y, const float *norm, int M,
                         int C) {
    const int lane = threadIdx.x & 31;
    const long row = (long)blockIdx.x * ATAS_CU_ROWS_PER_BLOCK + (threadIdx.x >> 5);
    if (row >= M) return;
    const float *yr = y + row * C, *gr = dy + row * C;
    float *dxr = dx + row * C;
    const float n = norm[row];
    if (n > L2_EPS) {
        /* dx = (dy - y <y, dy>) / |x| */
        double d = 0.0;
        for (int c = lane; c < C; c += 32) d += (double)yr[c] * gr[c];
        const float yd = (float)atas_warp_sum_d(d), inv = 1.0f / n;
        for (int c = lane; c < C; c += 32) dxr[c] += (gr[c] - yr[c] * yd) * inv;
    } else {
        /* the clamped denominator is a constant: the gradient is dy / eps */
        for (int c = lane; c < C; c += 32) dxr[c] += gr[c] / L2_EPS;
    }
}

extern "C" atas_status atas_cuda_l2norm_fwd(float *y, float *norm, const float *x, int M, int C) {
    REQUIRE(M >= 0 && C > 0, "l2norm_fwd: bad shape M=%d C=%d", M, C);
    REQUIRE(y && x, "l2norm_fwd: NULL y or x");
    if (M == 0) return ATAS_OK;
    k_l2_fwd<<<atas_cu_row_blocks(M), 32 * ATAS_CU_ROWS_PER_BLOCK>>>(y, norm, x, M, C);
    CU_LAUNCHED("l2norm_fwd");
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_l2norm_bwd(float *dx, const float *dy, const float *y,
                                            const float *norm, int M, int C) {
    REQUIRE(M >= 0 && C > 0, "l2norm_bwd: bad shape M=%d C=%d", M, C);
    REQUIRE(dy && y && norm, "l2norm_bwd: needs dy, y and the norm saved by the forward");
    if (!dx || M == 0) return ATAS_OK;
    k_l2_bwd<<<atas_cu_row_blocks(M), 32 * ATAS_CU_ROWS_PER_BLOCK>>>(dx, dy, y, norm, M, C);
    CU_LAUNCHED("l2norm_bwd");
    return ATAS_OK;
}
