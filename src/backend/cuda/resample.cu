/* Separable bicubic / bilinear resampling of a channels-last grid on the GPU.
 * The tables are a resample plan (resample_plan.h; the same code as the CPU backend):
 * the caller's, built once and uploaded by resample_plan, or, with no plan, built on
 * the host for this call and copied into a static __device__ buffer on the compute
 * stream (so no op allocates; the buffer is shared: one host thread, one stream). The
 * forward gathers at most 4x4 taps per output; the backward is a gather too, over the
 * plan's transposed tables (for each input index, the outputs that read it, in output
 * order), so din += R^T dout needs no atomics and is deterministic. */
#include <stdlib.h>

#include "backend/cuda/cuda_common.cuh"
#include "backend/resample_plan.h"

#define RS_MAX_SIDE 4096  /* outputs per axis, as the CPU backend */
#define RS_MAX_IN 16384   /* inputs per axis (the transposed tables) */
/* the largest plan: 8 arrays of 4 entries per output, 2 of offsets, a header and the
 * 16-byte rounding of each (resample_plan.h) */
#define RS_MAX_PLAN (256 + 4 * 8 * 4 * RS_MAX_SIDE + 4 * 2 * (RS_MAX_IN + 1))

__device__ __align__(16) unsigned char g_plan[RS_MAX_PLAN];

__global__ void k_resample_fwd(float *out, const float *in, int iw, int ow, int C, size_t n, int ntap,
                               const int *ty, const float *wy, const int *tx, const float *wx) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const int c = (int)(i % C);
        const size_t pix = i / C;
        const int ox = (int)(pix % ow), oy = (int)(pix / ow);
        float o = 0.0f;
        for (int ky = 0; ky < ntap; ky++) {
            const float *row = in + (size_t)ty[4 * oy + ky] * iw * C;
            for (int kx = 0; kx < ntap; kx++) {
                const float w = wy[4 * oy + ky] * wx[4 * ox + kx];
                o += w * row[(size_t)tx[4 * ox + kx] * C + c];
            }
        }
        out[i] = o;
    }
}

__global__ void k_resample_bwd(float *din, const float *dout, int iw, int ow, int C, size_t n,
                               const int *yoff, const int *yo, const float *yw, const int *xoff,
                               const int *xo, const float *xw) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const int c = (int)(i % C);
        const size_t pix = i / C;
        const int ix = (int)(pix % iw), iy = (int)(pix / iw);
        float acc = 0.0f;
        for (int ey = yoff[iy]; ey < yoff[iy + 1]; ey++) {
            const float *row = dout + (size_t)yo[ey] * ow * C;
            const float wy = yw[ey];
            for (int ex = xoff[ix]; ex < xoff[ix + 1]; ex++)
                acc += (wy * xw[ex]) * row[(size_t)xo[ex] * C + c];
        }
        din[i] += acc;
    }
}

extern "C" size_t atas_cuda_resample_plan_bytes(const atas_backend *be, int ih, int iw, int oh, int ow) {
    return atas_resample_plan_size(ih, iw, oh, ow);
}

/* built on the host, one synchronous upload (a pass does this once, at its creation) */
extern "C" atas_status atas_cuda_resample_plan(const atas_backend *be, void *plan, int ih, int iw, int oh, int ow,
                                               atas_resample kind) {
    const size_t bytes = atas_resample_plan_size(ih, iw, oh, ow);
    void *h = malloc(bytes);
    ATAS_REQUIRE(h, "resample_plan: out of host memory for %zu bytes", bytes);
    atas_resample_plan_fill(h, ih, iw, oh, ow, kind);
    const atas_status st = be->upload(be, plan, h, bytes);
    free(h);
    return st;
}

/* the device tables of a call: the plan, or this call's own in g_plan */
static atas_status tables(const atas_backend *be, const char *op, const void *plan, int ih, int iw, int oh, int ow,
                          atas_resample kind, atas_resample_tabs *t) {
    ATAS_REQUIRE(ih <= RS_MAX_IN && iw <= RS_MAX_IN, "%s: input %dx%d exceeds %d per side", op, ih, iw, RS_MAX_IN);
    if (!plan) {
        const size_t bytes = atas_resample_plan_size(ih, iw, oh, ow);
        ATAS_REQUIRE(bytes <= RS_MAX_PLAN, "%s: tables of %zu bytes exceed %d", op, bytes, RS_MAX_PLAN);
        void *h = malloc(bytes);
        ATAS_REQUIRE(h, "%s: out of host memory for %zu bytes", op, bytes);
        atas_resample_plan_fill(h, ih, iw, oh, ow, kind);
        /* on the compute stream: ordered after the kernels that read the previous tables.
         * From pageable memory the call returns once the source is staged, so h may go. */
        const cudaError_t ce = cudaMemcpyToSymbolAsync(g_plan, h, bytes, 0, cudaMemcpyHostToDevice,
                                                       atas_cu_stream(be));
        free(h);
        CU_CHECK(op, ce);
        atas_backend_count_transfer(1, bytes);
        CU_CHECK(op, cudaGetSymbolAddress((void **)&plan, g_plan));
    }
    atas_resample_plan_view(plan, ih, iw, oh, ow, t);
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_resample_fwd(const atas_backend *be, float *out, const float *in, int ih, int iw, int oh,
                                              int ow, int C, atas_resample kind, const void *plan) {
    atas_resample_tabs t;
    ATAS_CHECK(tables(be, "resample_fwd", plan, ih, iw, oh, ow, kind, &t));
    const size_t n = (size_t)oh * ow * C;
    const int ntap = kind == ATAS_RESAMPLE_BICUBIC ? 4 : 2;
    k_resample_fwd<<<atas_cu_blocks(n, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, atas_cu_stream(be)>>>(
        out, in, iw, ow, C, n, ntap, t.ty, t.wy, t.tx, t.wx);
    CU_LAUNCHED("resample_fwd");
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_resample_bwd(const atas_backend *be, float *din, const float *dout, int ih, int iw,
                                              int oh, int ow, int C, atas_resample kind, const void *plan) {
    atas_resample_tabs t;
    ATAS_CHECK(tables(be, "resample_bwd", plan, ih, iw, oh, ow, kind, &t));
    const size_t n = (size_t)ih * iw * C;
    k_resample_bwd<<<atas_cu_blocks(n, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, atas_cu_stream(be)>>>(
        din, dout, iw, ow, C, n, t.yoff, t.yo, t.yw, t.xoff, t.xo, t.xw);
    CU_LAUNCHED("resample_bwd");
    return ATAS_OK;
}
