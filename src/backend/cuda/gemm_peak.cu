/* gemm_peak: the device's dense GEMM rate at the backend's precision, the MFU
 * denominator. bf16 multiplies bf16 operands (cublasGemmEx, CUDA_R_16BF inputs,
 * fp32 output and accumulation): the tensor-core rate the bf16 kernels can reach,
 * not the slower rate of FAST_16BF on fp32 buffers. tf32: fp32 buffers with
 * FAST_TF32; fp32: cublasSgemm. Timed with events on the compute stream, best of
 * 5 after a warm-up; the operands hold a fixed non-zero pattern (zeros draw less
 * power and would flatter the rate). gemm_rate: the same timing at linear_fwd's
 * shape, on fp32 buffers at the backend's precision or on bf16 buffers. */
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

/* column-major C[m,n] = A[k,m]^T B[k,n] (linear_fwd's y^T = W x^T: m = N, n = M, k = K), best
 * rate of 5 after a warm-up; bf16in: A and B hold bf16 (fp32 C, fp32 accumulation) */
static atas_status peak_run(const atas_backend *be, const void *a, const void *b, void *c, int m, int n, int k,
                            int bf16in, double *best) {
    cudaStream_t st = atas_cu_stream(be);
    const float one = 1.0f, zero = 0.0f;
    cudaEvent_t e0 = NULL, e1 = NULL;
    CU_CHECK("gemm_peak", cudaEventCreate(&e0));
    atas_status s = ATAS_OK;
    if (cudaEventCreate(&e1) != cudaSuccess) s = ATAS_ERR(ATAS_ERR_CUDA, "gemm_peak: cudaEventCreate failed");
    for (int r = 0; s == ATAS_OK && r < 6; r++) {
        cublasStatus_t bs;
        if (cudaEventRecord(e0, st) != cudaSuccess) s = ATAS_ERR(ATAS_ERR_CUDA, "gemm_peak: cudaEventRecord failed");
        if (bf16in)
            bs = cublasGemmEx(atas_cu_blas(be), CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, a, CUDA_R_16BF, k, b,
                              CUDA_R_16BF, k, &zero, c, CUDA_R_32F, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        else
            bs = atas_cu_sgemm(be, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, (const float *)a, k, (const float *)b, k,
                               &zero, (float *)c, m);
        if (bs != CUBLAS_STATUS_SUCCESS)
            s = ATAS_ERR(ATAS_ERR_CUDA, "gemm_peak: cuBLAS GEMM %dx%dx%d failed: %s", m, n, k, cublasGetStatusString(bs));
        if (s == ATAS_OK && (cudaEventRecord(e1, st) != cudaSuccess || cudaEventSynchronize(e1) != cudaSuccess))
            s = ATAS_ERR(ATAS_ERR_CUDA, "gemm_peak: %s", cudaGetErrorString(cudaGetLastError()));
        float ms = 0;
        if (s == ATAS_OK && r > 0 && cudaEventElapsedTime(&ms, e0, e1) == cudaSuccess && ms > 0) {
            const double rate = 2.0 * m * (double)n * k / (ms * 1e-3);
            if (rate > *best) *best = rate;
        }
    }
    (void)cudaEventDestroy(e0);
    if (e1) (void)cudaEventDestroy(e1);
    return s;
}

/* operands A [k x m], B [k x n] (bf16 or fp32, a fixed pattern), C fp32 [m x n]: allocated,
 * filled, timed, freed */
static atas_status rate_of(const atas_backend *be, int m, int n, int k, int bf16in, double *tflops) {
    *tflops = 0;
    const size_t na = (size_t)k * m, nb = (size_t)k * n, es = bf16in ? sizeof(__nv_bfloat16) : sizeof(float);
    void *a = NULL, *b = NULL, *c = NULL;
    if (cudaMalloc(&a, na * es) != cudaSuccess || cudaMalloc(&b, nb * es) != cudaSuccess ||
        cudaMalloc(&c, (size_t)m * n * sizeof(float)) != cudaSuccess) {
        (void)cudaGetLastError();
        if (a) (void)cudaFree(a);
        if (b) (void)cudaFree(b);
        return ATAS_ERR(ATAS_ERR_NOMEM, "gemm_peak: no device memory for a %dx%dx%d GEMM", m, n, k);
    }
    cudaStream_t st = atas_cu_stream(be);
    if (bf16in) {
        k_peak_fill_bf16<<<atas_cu_blocks(na, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, st>>>((__nv_bfloat16 *)a, na);
        k_peak_fill_bf16<<<atas_cu_blocks(nb, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, st>>>((__nv_bfloat16 *)b, nb);
    } else {
        k_peak_fill<<<atas_cu_blocks(na, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, st>>>((float *)a, na);
        k_peak_fill<<<atas_cu_blocks(nb, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, st>>>((float *)b, nb);
    }
    double best = 0;
    atas_status s = cudaGetLastError() == cudaSuccess ? peak_run(be, a, b, c, m, n, k, bf16in, &best)
                                                      : ATAS_ERR(ATAS_ERR_CUDA, "gemm_peak: fill kernel failed");
    (void)cudaStreamSynchronize(st);
    (void)cudaFree(a);
    (void)cudaFree(b);
    (void)cudaFree(c);
    *tflops = best * 1e-12;
    return s;
}

extern "C" atas_status atas_cuda_gemm_peak(const atas_backend *be, double *tflops, int n) {
    return rate_of(be, n, n, n, be->precision == ATAS_PREC_BF16, tflops);
}

extern "C" atas_status atas_cuda_gemm_rate(const atas_backend *be, double *tflops, int M, int K, int N,
                                           int bf16_buffers) {
    if (bf16_buffers && be->precision != ATAS_PREC_BF16)
        return ATAS_ERR(ATAS_ERR_UNSUPPORTED, "gemm_rate: bf16 buffers are timed at precision bf16 only");
    return rate_of(be, N, M, K, bf16_buffers, tflops);
}
