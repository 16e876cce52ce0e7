/* LayerNorm on the GPU, torch semantics (biased variance, eps inside the root).
 * One warp per row: a two-pass mean / variance in fp32 (the row is re-read
 * from L1/L2, which avoids the cancellation of a sum-of-squares pass). The
 * weight and bias gradients are column reductions with a fixed order. */
#include <cuda_bf16.h>

#include "backend/cuda/cuda_common.cuh"

/* y's element type: fp32, or bf16 for the bf16 storage ops (rounded to nearest even) */
__device__ __forceinline__ void ln_store(float *p, float v) { *p = v; }
__device__ __forceinline__ void ln_store(__nv_bfloat16 *p, float v) { *p = __float2bfloat16_rn(v); }

/* the rest of a warp's row once its lanes hold the partial sums t of x: mean, two-pass
 * variance (each lane re-reads only its own elements: x may be what the warp just wrote),
 * y, and the saved statistics */
template <class T>
__device__ __forceinline__ void ln_row_finish(T *yr, float *mean, float *rstd, const float *xr, const float *w,
                                              const float *b, long row, int C, float eps, float t, int lane) {
    const float mu = atas_warp_sum(t) / (float)C;
    float v = 0.0f;
    for (int c = lane; c < C; c += 32) {
        const float d = xr[c] - mu;
        v += d * d;
    }
    const float rs = 1.0f / sqrtf(atas_warp_sum(v) / (float)C + eps);
    for (int c = lane; c < C; c += 32) {
        float o = (xr[c] - mu) * rs;
        if (w) o *= w[c];
        if (b) o += b[c];
        ln_store(yr + c, o);
    }
    if (lane == 0) {
        if (mean) mean[row] = mu;
        if (rstd) rstd[row] = rs;
    }
}

template <class T>
__global__ void k_ln_fwd(T *y, float *mean, float *rstd, const float *x, const float *w,
                         const float *b, int M, int C, float eps) {
    const int lane = threadIdx.x & 31;
    const long row = (long)blockIdx.x * ATAS_CU_ROWS_PER_BLOCK + (threadIdx.x >> 5);
    if (row >= M) return;
    const float *xr = x + row * C;
    float t = 0.0f;
    for (int c = lane; c < C; c += 32) t += xr[c];
    ln_row_finish(y + row * C, mean, rstd, xr, w, b, row, C, eps, t, lane);
}

/* s = a + r and y = LayerNorm(s) in one pass: the warp writes its row of s while
 * summing it, then finishes the row on its own writes (L1) */
template <class T>
__global__ void k_add_ln_fwd(float *s, T *y, float *mean, float *rstd, const float *a, const float *r,
                             const float *w, const float *b, int M, int C, float eps) {
    const int lane = threadIdx.x & 31;
    const long row = (long)blockIdx.x * ATAS_CU_ROWS_PER_BLOCK + (threadIdx.x >> 5);
    if (row >= M) return;
    const float *ar = a + row * C, *rr = r + row * C;
    float *sr = s + row * C;
    float t = 0.0f;
    for (int c = lane; c < C; c += 32) {
        const float v = ar[c] + rr[c];
        sr[c] = v;
        t += v;
    }
    ln_row_finish(y + row * C, mean, rstd, sr, w, b, row, C, eps, t, lane);
}

/* dx += rstd * (g - mean(g) - xhat * mean(g xhat)),  g = dy * w */
__global__ void k_ln_bwd_dx(float *dx, const float *dy, const float *x, const float *w,
                            const float *mean, const float *rstd, int M, int C) {
    const int lane = threadIdx.x & 31;
    const long row = (long)blockIdx.x * ATAS_CU_ROWS_PER_BLOCK + (threadIdx.x >> 5);
    if (row >= M) return;
    const float *xr = x + row * C, *gr = dy + row * C;
    float *dxr = dx + row * C;
    const float mu = mean[row], rs = rstd[row];
    float sg = 0.0f, sgx = 0.0f;
    for (int c = lane; c < C; c += 32) {
        const float g = gr[c] * (w ? w[c] : 1.0f);
        sg += g;
        sgx += g * (xr[c] - mu) * rs;
    }
    const float mg = atas_warp_sum(sg) / (float)C, mgx = atas_warp_sum(sgx) / (float)C;
    for (int c = lane; c < C; c += 32) {
        const float g = gr[c] * (w ? w[c] : 1.0f);
        dxr[c] += rs * (g - mg - (xr[c] - mu) * rs * mgx);
    }
}

/* dw[c] += sum_i dy * xhat, db[c] += sum_i dy over the rows of slab blockIdx.y (as
 * k_colsum_add, linear.cu): 32 columns per block, 32 row lanes, a fixed-order tree; one
 * slab adds to dw/db, more write pw[y][c], pb[y][c] */
__global__ void k_ln_bwd_wb(float *dw, float *db, float *pw, float *pb, const float *dy, const float *x,
                            const float *mean, const float *rstd, int M, int C, int R) {
    __shared__ float sw[32][33], sb[32][33];
    const int c = blockIdx.x * 32 + threadIdx.x;
    const int r0 = blockIdx.y * R, r1 = min(M, r0 + R);
    float aw = 0.0f, ab = 0.0f;
    if (c < C)
        for (int i = r0 + threadIdx.y; i < r1; i += 32) {
            const float g = dy[(size_t)i * C + c];
            aw += g * (x[(size_t)i * C + c] - mean[i]) * rstd[i];
            ab += g;
        }
    sw[threadIdx.y][threadIdx.x] = aw;
    sb[threadIdx.y][threadIdx.x] = ab;
    __syncthreads();
    for (int s = 16; s > 0; s >>= 1) {
        if (threadIdx.y < s) {
            sw[threadIdx.y][threadIdx.x] += sw[threadIdx.y + s][threadIdx.x];
            sb[threadIdx.y][threadIdx.x] += sb[threadIdx.y + s][threadIdx.x];
        }
        __syncthreads();
    }
    if (threadIdx.y == 0 && c < C) {
        if (gridDim.y == 1) {
            if (dw) dw[c] += sw[0][threadIdx.x];
            if (db) db[c] += sb[0][threadIdx.x];
        } else {
            pw[(size_t)blockIdx.y * C + c] = sw[0][threadIdx.x];
            pb[(size_t)blockIdx.y * C + c] = sb[0][threadIdx.x];
        }
    }
}

extern "C" atas_status atas_cuda_layernorm_fwd(const atas_backend *be, float *y, float *mean, float *rstd, const float *x,
                                               const float *w, const float *b, int M, int C,
                                               float eps) {
    if (M == 0) return ATAS_OK;
    k_ln_fwd<float><<<atas_cu_row_blocks(M), 32 * ATAS_CU_ROWS_PER_BLOCK, 0, atas_cu_stream(be)>>>(y, mean, rstd, x, w, b, M, C,
                                                                     eps);
    CU_LAUNCHED("layernorm_fwd");
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_add_layernorm_fwd(const atas_backend *be, float *s, float *y, float *mean,
                                                   float *rstd, const float *a, const float *r, const float *w,
                                                   const float *b, int M, int C, float eps) {
    k_add_ln_fwd<float><<<atas_cu_row_blocks(M), 32 * ATAS_CU_ROWS_PER_BLOCK, 0, atas_cu_stream(be)>>>(s, y, mean, rstd, a, r,
                                                                                                w, b, M, C, eps);
    CU_LAUNCHED("add_layernorm_fwd");
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_layernorm_fwd_h(const atas_backend *be, atas_bf16 *y, float *mean, float *rstd,
                                                 const float *x, const float *w, const float *b, int M, int C,
                                                 float eps) {
    k_ln_fwd<__nv_bfloat16><<<atas_cu_row_blocks(M), 32 * ATAS_CU_ROWS_PER_BLOCK, 0, atas_cu_stream(be)>>>(
        reinterpret_cast<__nv_bfloat16 *>(y), mean, rstd, x, w, b, M, C, eps);
    CU_LAUNCHED("layernorm_fwd_h");
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_add_layernorm_fwd_h(const atas_backend *be, float *s, atas_bf16 *y, float *mean,
                                                     float *rstd, const float *a, const float *r, const float *w,
                                                     const float *b, int M, int C, float eps) {
    k_add_ln_fwd<__nv_bfloat16><<<atas_cu_row_blocks(M), 32 * ATAS_CU_ROWS_PER_BLOCK, 0, atas_cu_stream(be)>>>(
        s, reinterpret_cast<__nv_bfloat16 *>(y), mean, rstd, a, r, w, b, M, C, eps);
    CU_LAUNCHED("add_layernorm_fwd_h");
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_layernorm_bwd(const atas_backend *be, float *dx, float *dw, float *db, const float *dy,
                                               const float *x, const float *w, const float *mean,
                                               const float *rstd, int M, int C) {
    if (M == 0) return ATAS_OK;
    if (dx) {
        k_ln_bwd_dx<<<atas_cu_row_blocks(M), 32 * ATAS_CU_ROWS_PER_BLOCK, 0, atas_cu_stream(be)>>>(dx, dy, x, w, mean,
                                                                            rstd, M, C);
        CU_LAUNCHED("layernorm_bwd dx");
    }
    if (dw || db) {
        const int S = atas_cu_col_slabs(be, M, C, 2), R = (M + S - 1) / S;
        float *pw = atas_cu_ctx(be)->scratch, *pb = pw + (size_t)S * C;
        k_ln_bwd_wb<<<dim3((C + 31) / 32, S), dim3(32, 32), 0, atas_cu_stream(be)>>>(dw, db, pw, pb, dy, x, mean,
                                                                                   rstd, M, C, R);
        CU_LAUNCHED("layernorm_bwd dw/db");
        ATAS_CHECK(atas_cu_col_finish(be, dw, pw, S, C, "layernorm_bwd dw"));
        ATAS_CHECK(atas_cu_col_finish(be, db, pb, S, C, "layernorm_bwd db"));
    }
    return ATAS_OK;
}
