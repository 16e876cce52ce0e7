/* Separable bicubic / bilinear resampling of a channels-last grid on the GPU.
 * The 1-D tap/weight tables come from atas_resample_weights on the host (the
 * same code as the CPU backend) and are copied into static __device__ tables,
 * so no op allocates. The forward gathers at most 4x4 taps per output; the
 * backward is a gather too: the host inverts the tables (for each input index,
 * the outputs that read it, in output order), so din += R^T dout needs no
 * atomics and is deterministic. The tables are shared: one host thread, one stream. */
#include "backend/cuda/cuda_common.cuh"

#define RS_MAX_SIDE 4096  /* outputs per axis, as the CPU backend */
#define RS_MAX_IN 16384   /* inputs per axis (backward tables) */

__device__ int g_ty[4 * RS_MAX_SIDE], g_tx[4 * RS_MAX_SIDE];
__device__ float g_wy[4 * RS_MAX_SIDE], g_wx[4 * RS_MAX_SIDE];
/* inverse tables: entries [off[i], off[i+1]) of (output, weight) read input i */
__device__ int g_yoff[RS_MAX_IN + 1], g_xoff[RS_MAX_IN + 1];
__device__ int g_yo[4 * RS_MAX_SIDE], g_xo[4 * RS_MAX_SIDE];
__device__ float g_yw[4 * RS_MAX_SIDE], g_xw[4 * RS_MAX_SIDE];

/* beyond the registry's checks: the inverse tables bound the input side */
static atas_status check_input(const char *op, int ih, int iw) {
    ATAS_REQUIRE(ih <= RS_MAX_IN && iw <= RS_MAX_IN, "%s: input %dx%d exceeds %d per side", op,
                 ih, iw, RS_MAX_IN);
    return ATAS_OK;
}

__global__ void k_resample_fwd(float *out, const float *in, int iw, int ow, int C, size_t n,
                               int ntap) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const int c = (int)(i % C);
        const size_t pix = i / C;
        const int ox = (int)(pix % ow), oy = (int)(pix / ow);
        float o = 0.0f;
        for (int ky = 0; ky < ntap; ky++) {
            const float *row = in + (size_t)g_ty[4 * oy + ky] * iw * C;
            for (int kx = 0; kx < ntap; kx++) {
                const float w = g_wy[4 * oy + ky] * g_wx[4 * ox + kx];
                o += w * row[(size_t)g_tx[4 * ox + kx] * C + c];
            }
        }
        out[i] = o;
    }
}

__global__ void k_resample_bwd(float *din, const float *dout, int iw, int ow, int C, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const int c = (int)(i % C);
        const size_t pix = i / C;
        const int ix = (int)(pix % iw), iy = (int)(pix / iw);
        float acc = 0.0f;
        for (int ey = g_yoff[iy]; ey < g_yoff[iy + 1]; ey++) {
            const float *row = dout + (size_t)g_yo[ey] * ow * C;
            const float wy = g_yw[ey];
            for (int ex = g_xoff[ix]; ex < g_xoff[ix + 1]; ex++)
                acc += (wy * g_xw[ex]) * row[(size_t)g_xo[ex] * C + c];
        }
        din[i] += acc;
    }
}

/* CSR of the transposed 1-D map: for input i, the (output, weight) pairs that read it */
static void invert(int in, int out, int ntap, const int *taps, const float *wts, int *off,
                   int *oidx, float *ow) {
    for (int i = 0; i <= in; i++) off[i] = 0;
    for (int o = 0; o < out; o++)
        for (int k = 0; k < ntap; k++) off[taps[4 * o + k] + 1]++;
    for (int i = 0; i < in; i++) off[i + 1] += off[i];
    int fill[in];
    for (int i = 0; i < in; i++) fill[i] = off[i];
    for (int o = 0; o < out; o++)
        for (int k = 0; k < ntap; k++) {
            const int e = fill[taps[4 * o + k]]++;
            oidx[e] = o;
            ow[e] = wts[4 * o + k];
        }
}

extern "C" atas_status atas_cuda_resample_fwd(const atas_backend *be, float *out, const float *in, int ih, int iw, int oh,
                                              int ow, int C, atas_resample kind) {
    ATAS_CHECK(check_input("resample_fwd", ih, iw));
    int ty[4 * oh], tx[4 * ow];
    float wy[4 * oh], wx[4 * ow];
    atas_resample_weights(ih, oh, kind, ty, wy);
    atas_resample_weights(iw, ow, kind, tx, wx);
    /* on the compute stream: ordered after the kernels that read the previous tables. From
     * pageable memory the call returns once the source is staged, so the VLAs may go. */
    CU_CHECK("resample_fwd", cudaMemcpyToSymbolAsync(g_ty, ty, sizeof(int) * 4 * oh, 0, cudaMemcpyHostToDevice, atas_cu_stream(be)));
    CU_CHECK("resample_fwd", cudaMemcpyToSymbolAsync(g_wy, wy, sizeof(float) * 4 * oh, 0, cudaMemcpyHostToDevice, atas_cu_stream(be)));
    CU_CHECK("resample_fwd", cudaMemcpyToSymbolAsync(g_tx, tx, sizeof(int) * 4 * ow, 0, cudaMemcpyHostToDevice, atas_cu_stream(be)));
    CU_CHECK("resample_fwd", cudaMemcpyToSymbolAsync(g_wx, wx, sizeof(float) * 4 * ow, 0, cudaMemcpyHostToDevice, atas_cu_stream(be)));
    const size_t n = (size_t)oh * ow * C;
    const int ntap = kind == ATAS_RESAMPLE_BICUBIC ? 4 : 2;
    k_resample_fwd<<<atas_cu_blocks(n, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, atas_cu_stream(be)>>>(out, in, iw, ow, C, n,
                                                                            ntap);
    CU_LAUNCHED("resample_fwd");
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_resample_bwd(const atas_backend *be, float *din, const float *dout, int ih, int iw,
                                              int oh, int ow, int C, atas_resample kind) {
    ATAS_CHECK(check_input("resample_bwd", ih, iw));
    int ty[4 * oh], tx[4 * ow];
    float wy[4 * oh], wx[4 * ow];
    atas_resample_weights(ih, oh, kind, ty, wy);
    atas_resample_weights(iw, ow, kind, tx, wx);
    const int ntap = kind == ATAS_RESAMPLE_BICUBIC ? 4 : 2;
    int yoff[ih + 1], xoff[iw + 1], yo[ntap * oh], xo[ntap * ow];
    float yw[ntap * oh], xw[ntap * ow];
    invert(ih, oh, ntap, ty, wy, yoff, yo, yw);
    invert(iw, ow, ntap, tx, wx, xoff, xo, xw);
    CU_CHECK("resample_bwd", cudaMemcpyToSymbolAsync(g_yoff, yoff, sizeof(int) * (ih + 1), 0, cudaMemcpyHostToDevice, atas_cu_stream(be)));
    CU_CHECK("resample_bwd", cudaMemcpyToSymbolAsync(g_xoff, xoff, sizeof(int) * (iw + 1), 0, cudaMemcpyHostToDevice, atas_cu_stream(be)));
    CU_CHECK("resample_bwd", cudaMemcpyToSymbolAsync(g_yo, yo, sizeof(int) * ntap * oh, 0, cudaMemcpyHostToDevice, atas_cu_stream(be)));
    CU_CHECK("resample_bwd", cudaMemcpyToSymbolAsync(g_xo, xo, sizeof(int) * ntap * ow, 0, cudaMemcpyHostToDevice, atas_cu_stream(be)));
    CU_CHECK("resample_bwd", cudaMemcpyToSymbolAsync(g_yw, yw, sizeof(float) * ntap * oh, 0, cudaMemcpyHostToDevice, atas_cu_stream(be)));
    CU_CHECK("resample_bwd", cudaMemcpyToSymbolAsync(g_xw, xw, sizeof(float) * ntap * ow, 0, cudaMemcpyHostToDevice, atas_cu_stream(be)));
    const size_t n = (size_t)ih * iw * C;
    k_resample_bwd<<<atas_cu_blocks(n, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, atas_cu_stream(be)>>>(din, dout, iw, ow, C,
                                                                            n);
    CU_LAUNCHED("resample_bwd");
    return ATAS_OK;
}
