/* Whole-tensor reduction written to host memory: the sum of squares (double
 * accumulation; a NaN or Inf anywhere makes it non-finite). Each block writes one partial into a
 * static device array (no allocation per call); the host adds the partials in
 * block order, so results are deterministic. */
#include "backend/cuda/cuda_common.cuh"

#define RED_BLOCKS 1024
#define RED_THREADS 256

__device__ double g_red_sum[RED_BLOCKS];

__global__ void k_sumsq(const float *x, size_t n) {
    __shared__ double sh[RED_THREADS / 32];
    double s = 0.0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const double v = x[i];
        s += v * v;
    }
    s = atas_warp_sum_d(s);
    if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        double t = 0.0;
        for (int w = 0; w < RED_THREADS / 32; w++) t += sh[w];
        g_red_sum[blockIdx.x] = t;
    }
}

static unsigned red_blocks(size_t n) {
    size_t b = (n + RED_THREADS - 1) / RED_THREADS;
    return (unsigned)(b < 1 ? 1 : (b > RED_BLOCKS ? RED_BLOCKS : b));
}

extern "C" atas_status atas_cuda_sumsq(const atas_backend *be, double *host_out, const float *x, size_t n) {
    *host_out = 0.0;
    if (n == 0) return ATAS_OK;
    const unsigned nb = red_blocks(n);
    k_sumsq<<<nb, RED_THREADS, 0, atas_cu_stream(be)>>>(x, n);
    CU_LAUNCHED("sumsq");
    double part[RED_BLOCKS];
    CU_CHECK("sumsq", cudaMemcpyFromSymbolAsync(part, g_red_sum, nb * sizeof(double), 0,
                                                cudaMemcpyDeviceToHost, atas_cu_stream(be)));
    atas_backend_count_transfer(0, nb * sizeof(double));
    CU_CHECK("sumsq", cudaStreamSynchronize(atas_cu_stream(be)));
    double s = 0.0;
    for (unsigned k = 0; k < nb; k++) s += part[k];
    *host_out = s;
    return ATAS_OK;
}
