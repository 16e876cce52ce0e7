/* gemm_peak: the device's dense GEMM rate at the backend's precision, the MFU
 * denominator. bf16 multiplies bf16 operands (linear_fwd_h without a bias: cublasGemmEx,
 * CUDA_R_16BF inputs, fp32 output and accumulation): the tensor-core rate the bf16 kernels
 * can reach, not the slower rate of FAST_16BF on fp32 buffers. tf32: fp32 buffers with
 * FAST_TF32; fp32: cublasSgemm (linear_fwd without a bias). Timed with events on the compute stream, best of
 * 5 after a warm-up; the operands hold a fixed non-zero pattern (zeros draw less
 * power and would flatter the rate). gemm_rate: the same timing at linear_fwd's
 * shape: linear_fwd itself with a bias on fp32 buffers, or linear_fwd_h on bf16 ones. */
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

/* what is timed: linear_fwd (fp32 buffers, at the backend's precision: cublasSgemm, FAST_TF32
 * or FAST_16BF) or linear_fwd_h (bf16 buffers, fp32 compute), y[n, m] = x[n, k] W[m, k]^T,
 * with a bias (gemm_rate: the model's own call, the cuBLASLt epilogue where it applies) or
 * without (gemm_peak: the plain GEMM, column-major C[m,n] = A[k,m]^T B[k,n]) */
static atas_status rate_call(const atas_backend *be, int bf16in, const void *a, const void *b, void *c,
                             const float *bias, int m, int n, int k) {
    if (bf16in) return atas_cuda_linear_fwd_h(be, (float *)c, (const atas_bf16 *)b, (const atas_bf16 *)a, bias, n, k, m);
    return atas_cuda_linear_fwd(be, (float *)c, (const float *)b, (const float *)a, bias, n, k, m);
}

/* best rate of 5 timed calls after a warm-up, with events on the compute stream */
static atas_status rate_run(const atas_backend *be, const char *op, int bf16in, const void *a, const void *b, void *c,
                            const float *bias, int m, int n, int k, double *best) {
    cudaStream_t st = atas_cu_stream(be);
    cudaEvent_t e0 = NULL, e1 = NULL;
    CU_CHECK(op, cudaEventCreate(&e0));
    atas_status s = ATAS_OK;
    if (cudaEventCreate(&e1) != cudaSuccess) s = ATAS_ERR(ATAS_ERR_CUDA, "%s: cudaEventCreate failed", op);
    for (int r = 0; s == ATAS_OK && r < 6; r++) {
        if (cudaEventRecord(e0, st) != cudaSuccess) s = ATAS_ERR(ATAS_ERR_CUDA, "%s: cudaEventRecord failed", op);
        if (s == ATAS_OK) s = rate_call(be, bf16in, a, b, c, bias, m, n, k);
        if (s == ATAS_OK && (cudaEventRecord(e1, st) != cudaSuccess || cudaEventSynchronize(e1) != cudaSuccess))
            s = ATAS_ERR(ATAS_ERR_CUDA, "%s: %s", op, cudaGetErrorString(cudaGetLastError()));
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

/* operands A [k x m], B [k x n] (bf16 or fp32, a fixed pattern; one buffer for both when
 * square: gemm_peak's 8192^3 needs no second), C fp32 [m x n], a bias of m when biased:
 * allocated, filled, timed, freed */
static atas_status rate_of(const atas_backend *be, const char *op, int bf16in, int biased, int m, int n, int k,
                           double *tflops) {
    *tflops = 0;
    const int same = m == n && n == k;
    const size_t na = (size_t)k * m, nb = (size_t)k * n, es = bf16in ? sizeof(__nv_bfloat16) : sizeof(float);
    void *a = NULL, *b = NULL, *c = NULL, *bias = NULL;
    if (cudaMalloc(&a, na * es) != cudaSuccess || (!same && cudaMalloc(&b, nb * es) != cudaSuccess) ||
        cudaMalloc(&c, (size_t)m * n * sizeof(float)) != cudaSuccess ||
        (biased && cudaMalloc(&bias, (size_t)m * sizeof(float)) != cudaSuccess)) {
        (void)cudaGetLastError();
        if (a) (void)cudaFree(a);
        if (b) (void)cudaFree(b);
        if (c) (void)cudaFree(c);
        return ATAS_ERR(ATAS_ERR_NOMEM, "%s: no device memory for a %dx%dx%d GEMM", op, m, n, k);
    }
    if (same) b = a;
    cudaStream_t st = atas_cu_stream(be);
    if (bf16in) {
        k_peak_fill_bf16<<<atas_cu_blocks(na, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, st>>>((__nv_bfloat16 *)a, na);
        if (!same)
            k_peak_fill_bf16<<<atas_cu_blocks(nb, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, st>>>((__nv_bfloat16 *)b, nb);
    } else {
        k_peak_fill<<<atas_cu_blocks(na, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, st>>>((float *)a, na);
        if (!same) k_peak_fill<<<atas_cu_blocks(nb, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, st>>>((float *)b, nb);
    }
    if (bias) k_peak_fill<<<atas_cu_blocks((size_t)m, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, st>>>((float *)bias, m);
    double best = 0;
    atas_status s = cudaGetLastError() == cudaSuccess
                        ? rate_run(be, op, bf16in, a, b, c, (const float *)bias, m, n, k, &best)
                        : ATAS_ERR(ATAS_ERR_CUDA, "%s: fill kernel failed", op);
    (void)cudaStreamSynchronize(st);
    (void)cudaFree(a);
    if (!same) (void)cudaFree(b);
    (void)cudaFree(c);
    if (bias) (void)cudaFree(bias);
    *tflops = best * 1e-12;
    return s;
}

extern "C" atas_status atas_cuda_gemm_peak(const atas_backend *be, double *tflops, int n) {
    return rate_of(be, "gemm_peak", be->precision == ATAS_PREC_BF16, 0, n, n, n, tflops);
}

/* linear_fwd with a bias on fp32 buffers, or linear_fwd_h on bf16 buffers: the model's own
 * calls without and with bf16 storage */
extern "C" atas_status atas_cuda_gemm_rate(const atas_backend *be, double *tflops, int M, int K, int N,
                                           int bf16_buffers) {
    if (bf16_buffers && be->precision != ATAS_PREC_BF16)
        return ATAS_ERR(ATAS_ERR_UNSUPPORTED, "gemm_rate: bf16 buffers are timed at precision bf16 only");
    return rate_of(be, "gemm_rate", bf16_buffers, 1, N, M, K, tflops);
}
