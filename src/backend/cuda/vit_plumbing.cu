/* ViT plumbing on the GPU: image to patch rows, token embedding (cls +
 * positions) and row slices. One thread per output element; the sums over the
 * batch (dpos, dcls) run in batch order per element, as on the CPU. */
#include "backend/cuda/cuda_common.cuh"

#define GRID_STRIDE(i, n)                                                       \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);     \
         i += (size_t)gridDim.x * blockDim.x)

__global__ void k_patchify(float *patches, const float *img, size_t n, int H, int W, int P,
                           int gw, int np) {
    const int pd = 3 * P * P;
    GRID_STRIDE(i, n) {
        const size_t r = i / pd;
        const int e = (int)(i % pd);
        const int c = e / (P * P), ky = (e / P) % P, kx = e % P;
        const int b = (int)(r / np), p = (int)(r % np), gy = p / gw, gx = p % gw;
        patches[i] = img[(((size_t)b * 3 + c) * H + (size_t)gy * P + ky) * W + (size_t)gx * P + kx];
    }
}

extern "C" atas_status atas_cuda_patchify(const atas_backend *be, float *patches, const float *img, int B, int H, int W,
                                          int P) {
    const int gw = W / P, np = (H / P) * gw;
    const size_t n = (size_t)B * 3 * H * W;
    if (n == 0) return ATAS_OK;
    k_patchify<<<atas_cu_blocks(n, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, atas_cu_stream(be)>>>(patches, img, n, H, W, P,
                                                                        gw, np);
    CU_LAUNCHED("patchify");
    return ATAS_OK;
}

__global__ void k_embed_fwd(float *x, const float *pe, const float *cls, const float *pos,
                            size_t n, int T, int Np, int D) {
    GRID_STRIDE(i, n) {
        const size_t r = i / D;
        const int c = (int)(i % D), t = (int)(r % T), b = (int)(r / T);
        const float src = t == 0 ? cls[c] : pe[((size_t)b * Np + t - 1) * D + c];
        x[i] = src + pos[(size_t)t * D + c];
    }
}

extern "C" atas_status atas_cuda_embed_fwd(const atas_backend *be, float *x, const float *pe, const float *cls,
                                           const float *pos, int B, int Np, int D) {
    const int T = Np + 1;
    const size_t n = (size_t)B * T * D;
    if (n == 0) return ATAS_OK;
    k_embed_fwd<<<atas_cu_blocks(n, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, atas_cu_stream(be)>>>(x, pe, cls, pos, n, T, Np,
                                                                         D);
    CU_LAUNCHED("embed_fwd");
    return ATAS_OK;
}

__global__ void k_embed_bwd_pe(float *dpe, const float *dx, size_t n, int T, int Np, int D) {
    GRID_STRIDE(i, n) {
        const size_t r = i / D;
        const int c = (int)(i % D), b = (int)(r / Np), p = (int)(r % Np);
        dpe[i] += dx[((size_t)b * T + 1 + p) * D + c];
    }
}

/* one thread per (t, c) of pos; t = 0 also feeds dcls */
__global__ void k_embed_bwd_pos(float *dcls, float *dpos, const float *dx, int B, int T, int D) {
    const size_t n = (size_t)T * D;
    GRID_STRIDE(i, n) {
        const int t = (int)(i / D), c = (int)(i % D);
        float ap = dpos ? dpos[i] : 0.0f;
        float ac = (t == 0 && dcls) ? dcls[c] : 0.0f;
        for (int b = 0; b < B; b++) {
            const float v = dx[((size_t)b * T + t) * D + c];
            ap += v;
            ac += v;
        }
        if (dpos) dpos[i] = ap;
        if (t == 0 && dcls) dcls[c] = ac;
    }
}

extern "C" atas_status atas_cuda_embed_bwd(const atas_backend *be, float *dpe, float *dcls, float *dpos, const float *dx,
                                           int B, int Np, int D) {
    const int T = Np + 1;
    const size_t npe = (size_t)B * Np * D;
    if (dpe && npe) {
        k_embed_bwd_pe<<<atas_cu_blocks(npe, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, atas_cu_stream(be)>>>(dpe, dx, npe, T,
                                                                                  Np, D);
        CU_LAUNCHED("embed_bwd dpe");
    }
    if (dpos || dcls) {
        const size_t n = (size_t)T * D;
        k_embed_bwd_pos<<<atas_cu_blocks(n, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, atas_cu_stream(be)>>>(dcls, dpos, dx, B,
                                                                                 T, D);
        CU_LAUNCHED("embed_bwd dpos/dcls");
    }
    return ATAS_OK;
}

/* out[b, j, c] = in[b, t0 + j, c] (add = 0), or in[b, t0 + j, c] += out[b, j, c] (add = 1) */
__global__ void k_rows(float *small, float *big, size_t n, int T, int C, int t0, int nt, int add) {
    const size_t per = (size_t)nt * C;
    GRID_STRIDE(i, n) {
        const size_t b = i / per, k = i % per;
        float *bg = big + (b * T + t0) * C + k;
        if (add)
            *bg += small[i];
        else
            small[i] = *bg;
    }
}

extern "C" atas_status atas_cuda_rows_gather(const atas_backend *be, float *out, const float *in, int B, int T, int C,
                                             int t0, int nt) {
    const size_t n = (size_t)B * nt * C;
    if (n == 0) return ATAS_OK;
    k_rows<<<atas_cu_blocks(n, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, atas_cu_stream(be)>>>(out, (float *)in, n, T, C, t0,
                                                                    nt, 0);
    CU_LAUNCHED("rows_gather");
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_rows_scatter_add(const atas_backend *be, float *din, const float *dout, int B, int T,
                                                  int C, int t0, int nt) {
    if (!din) return ATAS_OK;
    const size_t n = (size_t)B * nt * C;
    if (n == 0) return ATAS_OK;
    k_rows<<<atas_cu_blocks(n, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, atas_cu_stream(be)>>>((float *)dout, din, n, T, C,
                                                                    t0, nt, 1);
    CU_LAUNCHED("rows_scatter_add");
    return ATAS_OK;
}
