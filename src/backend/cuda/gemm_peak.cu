/* gemm_peak: the device's dense GEMM rate at the backend's precision, the MFU
 * denominator. bf16 multiplies bf16 operands (cublasGemmEx, CUDA_R_16BF inputs,
 * fp32 output and accumulation): the tensor-core rate the bf16 kernels can reach,
 * not the slower rate of FAST_16BF on fp32 buffers. tf32: fp32 buffers with
 * FAST_TF32; fp32: cublasSgemm. Timed with events on the compute stream, best of
 * 5 after a warm-up; the operands hold a fixed non-zero pattern (zeros draw less
 * power and would flatter the rate). */
#include <cuda_bf16.h>

#include "backend/cuda/cuda_common.cuh"

__global__ void k_peak_fill(float *x, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] = (float)((i * 2654435761u) % 1000u) * 1e-3f - 0.5f;
}
__global__ void k_peak_fill_bf16(__nv_bfloat16 *x, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] = __float2bfloat16((float)((i * 2654435761u) % 1000u) * 1e-3f - 0.5f);
}

static atas_status peak_run(const atas_backend *be, void *a, void *c, int n, double *best) {
    cudaStream_t st = atas_cu_stream(be);
    const float one = 1.0f, zero = 0.0f;
    cudaEvent_t e0 = NULL, e1 = NULL;
    CU_CHECK("gemm_peak", cudaEventCreate(&e0));
    atas_status s = ATAS_OK;
    if (cudaEventCreate(&e1) != cudaSuccess) s = ATAS_ERR(ATAS_ERR_CUDA, "gemm_peak: cudaEventCreate failed");
    for (int r = 0; s == ATAS_OK && r < 6; r++) {
        cublasStatus_t bs;
        if (cudaEventRecord(e0, st) != cudaSuccess) s = ATAS_ERR(ATAS_ERR_CUDA, "gemm_peak: cudaEventRecord failed");
        if (be->precision == ATAS_PREC_BF16)
            bs = cublasGemmEx(atas_cu_blas(be), CUBLAS_OP_T, CUBLAS_OP_N, n, n, n, &one, a, CUDA_R_16BF, n, a,
                              CUDA_R_16BF, n, &zero, c, CUDA_R_32F, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        else
            bs = atas_cu_sgemm(be, CUBLAS_OP_T, CUBLAS_OP_N, n, n, n, &one, (const float *)a, n, (const float *)a, n,
                               &zero, (float *)c, n);
        if (bs != CUBLAS_STATUS_SUCCESS)
            s = ATAS_ERR(ATAS_ERR_CUDA, "gemm_peak: cuBLAS GEMM %d^3 failed: %s", n, cublasGetStatusString(bs));
        if (s == ATAS_OK && (cudaEventRecord(e1, st) != cudaSuccess || cudaEventSynchronize(e1) != cudaSuccess))
            s = ATAS_ERR(ATAS_ERR_CUDA, "gemm_peak: %s", cudaGetErrorString(cudaGetLastError()));
        float ms = 0;
        if (s == ATAS_OK && r > 0 && cudaEventElapsedTime(&ms, e0, e1) == cudaSuccess && ms > 0) {
            const double rate = 2.0 * n * (double)n * n / (ms * 1e-3);
            if (rate > *best) *best = rate;
        }
    }
    (void)cudaEventDestroy(e0);
    if (e1) (void)cudaEventDestroy(e1);
    return s;
}

extern "C" atas_status atas_cuda_gemm_peak(const atas_backend *be, double *tflops, int n) {
    *tflops = 0;
    const size_t nn = (size_t)n * n;
    const size_t in_bytes = nn * (be->precision == ATAS_PREC_BF16 ? sizeof(__nv_bfloat16) : sizeof(float));
    void *a = NULL, *c = NULL;
    if (cudaMalloc(&a, in_bytes) != cudaSuccess || cudaMalloc(&c, nn * sizeof(float)) != cudaSuccess) {
        (void)cudaGetLastError();
        if (a) (void)cudaFree(a);
        return ATAS_ERR(ATAS_ERR_NOMEM, "gemm_peak: no device memory for a %d^3 GEMM", n);
    }
    if (be->precision == ATAS_PREC_BF16)
        k_peak_fill_bf16<<<atas_cu_blocks(nn, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, atas_cu_stream(be)>>>(
            (__nv_bfloat16 *)a, nn);
    else
        k_peak_fill<<<atas_cu_blocks(nn, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, atas_cu_stream(be)>>>((float *)a, nn);
    double best = 0;
    atas_status s = cudaGetLastError() == cudaSuccess ? peak_run(be, a, c, n, &best)
                                                      : ATAS_ERR(ATAS_ERR_CUDA, "gemm_peak: fill kernel failed");
    (void)cudaStreamSynchronize(atas_cu_stream(be));
    (void)cudaFree(a);
    (void)cudaFree(c);
    *tflops = best * 1e-12;
    return s;
}
