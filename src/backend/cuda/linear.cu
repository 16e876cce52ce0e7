/* Linear and matmul on cuBLAS. cuBLAS is column-major: a row-major [r, c]
 * buffer is its [c, r] transpose, so every row-major product C = A B is issued
 * as C^T = B^T A^T with the operands swapped. Backward GEMMs use beta = 1, so
 * gradients accumulate in place; the bias column sums are a deterministic
 * kernel (a fixed summation order per column, no atomics). The GEMMs go through
 * atas_cu_sgemm: cublasSgemm at precision fp32, cublasGemmEx with the
 * FAST_TF32 / FAST_16BF compute type at tf32 / bf16 (cuda_common.cuh). */
#include "backend/cuda/cuda_common.cuh"

static const float k_one = 1.0f, k_zero = 0.0f;

__global__ void k_bias_rows(float *y, const float *b, long M, int N) {
    const size_t n = (size_t)M * N;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] = b[i % N];
}

/* sum_i in[i, c] over the rows [y R, min(M, y R + R)) of slab y = blockIdx.y: a block owns
 * 32 columns, its 32 thread rows take every 32nd row, then a fixed-order tree in shared
 * memory; one slab adds to out, more write part[y][c] */
__global__ void k_colsum_add(float *out, float *part, const float *in, int M, int N, int R) {
    __shared__ float sh[32][33];
    const int c = blockIdx.x * 32 + threadIdx.x;
    const int r0 = blockIdx.y * R, r1 = min(M, r0 + R);
    float acc = 0.0f;
    if (c < N)
        for (int i = r0 + threadIdx.y; i < r1; i += 32) acc += in[(size_t)i * N + c];
    sh[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    for (int s = 16; s > 0; s >>= 1) {
        if (threadIdx.y < s) sh[threadIdx.y][threadIdx.x] += sh[threadIdx.y + s][threadIdx.x];
        __syncthreads();
    }
    if (threadIdx.y == 0 && c < N) {
        if (gridDim.y == 1) out[c] += sh[0][threadIdx.x];
        else part[(size_t)blockIdx.y * N + c] = sh[0][threadIdx.x];
    }
}

/* out[c] += the S slab sums of column c, in slab order */
__global__ void k_col_finish(float *out, const float *part, int S, int N) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= N) return;
    float acc = 0.0f;
    for (int s = 0; s < S; s++) acc += part[(size_t)s * N + c];
    out[c] += acc;
}

/* ~1024 rows per slab, at most 64 slabs and what the partials buffer holds */
int atas_cu_col_slabs(const atas_backend *be, int M, int N, int nout) {
    const atas_cuda_ctx *c = atas_cu_ctx(be);
    int S = M / 1024;
    if (S > 64) S = 64;
    while (S > 1 && (size_t)S * N * nout > c->scratch_floats) S--;
    return S < 1 ? 1 : S;
}

atas_status atas_cu_col_finish(const atas_backend *be, float *out, const float *part, int S, int N, const char *op) {
    if (S <= 1 || !out) return ATAS_OK;
    k_col_finish<<<(N + 255) / 256, 256, 0, atas_cu_stream(be)>>>(out, part, S, N);
    CU_LAUNCHED(op);
    return ATAS_OK;
}

atas_status atas_cuda_colsum_add(const atas_backend *be, float *out, const float *in, int M, int N, const char *op) {
    if (M <= 0 || N <= 0) return ATAS_OK;
    const int S = atas_cu_col_slabs(be, M, N, 1), R = (M + S - 1) / S;
    float *part = atas_cu_ctx(be)->scratch;
    k_colsum_add<<<dim3((N + 31) / 32, S), dim3(32, 32), 0, atas_cu_stream(be)>>>(out, part, in, M, N, R);
    CU_LAUNCHED(op);
    return atas_cu_col_finish(be, out, part, S, N, op);
}

/* where cuBLASLt's bias epilogue does not apply: the bias rows first, then the GEMM adds
 * onto them (as the CPU backend) with *beta = 1; no bias: *beta = 0 */
static atas_status bias_rows(const atas_backend *be, float *y, const float *b, int M, int N, const char *op,
                             float *beta) {
    *beta = 0.0f;
    if (!b) return ATAS_OK;
    k_bias_rows<<<atas_cu_blocks((size_t)M * N, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, atas_cu_stream(be)>>>(y, b, M, N);
    CU_LAUNCHED(op);
    *beta = 1.0f;
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_linear_fwd(const atas_backend *be, float *y, const float *x, const float *W,
                                            const float *b, int M, int K, int N) {
    if (M == 0) return ATAS_OK;
    int done = 0;
    ATAS_CHECK(atas_cu_lt_linear_bias(be, y, x, W, b, M, K, N, 0, &done)); /* one pass: bias in the epilogue */
    if (done) return ATAS_OK;
    float beta;
    ATAS_CHECK(bias_rows(be, y, b, M, N, "linear_fwd bias", &beta));
    /* y^T[N,M] = W^T... : op(W buffer [K,N] col-major) = T, x buffer = x^T [K,M] */
    CB_CHECK("linear_fwd", atas_cu_sgemm(be, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &k_one,
                                       W, K, x, K, &beta, y, N));
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_linear_bwd(const atas_backend *be, float *dx, float *dW, float *db, const float *dy,
                                            const float *x, const float *W, int M, int K, int N) {
    if (M == 0) return ATAS_OK;
    if (dx) {
        /* dx^T[K,M] += W^T[K,N] dy^T[N,M] */
        CB_CHECK("linear_bwd dx", atas_cu_sgemm(be, CUBLAS_OP_N, CUBLAS_OP_N, K, M, N,
                                              &k_one, W, K, dy, N, &k_one, dx, K));
    }
    if (dW) {
        /* dW^T[K,N] += x^T[K,M] dy[M,N] */
        CB_CHECK("linear_bwd dW", atas_cu_sgemm(be, CUBLAS_OP_N, CUBLAS_OP_T, K, N, M,
                                              &k_one, x, K, dy, N, &k_one, dW, K));
    }
    if (db) ATAS_CHECK(atas_cuda_colsum_add(be, db, dy, M, N, "linear_bwd db"));
    return ATAS_OK;
}

/* ---- bf16 storage: the same GEMMs on bf16 x and W (cublasGemmEx, fp32 C and compute) */
static cublasStatus_t gemm_h(const atas_backend *be, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                             const float *beta, const atas_bf16 *A, int lda, const atas_bf16 *B, int ldb, float *C,
                             int ldc) {
    return cublasGemmEx(atas_cu_blas(be), ta, tb, m, n, k, &k_one, A, CUDA_R_16BF, lda, B, CUDA_R_16BF, ldb, beta, C,
                        CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}

extern "C" atas_status atas_cuda_linear_fwd_h(const atas_backend *be, float *y, const atas_bf16 *x, const atas_bf16 *W,
                                              const float *b, int M, int K, int N) {
    int done = 0;
    ATAS_CHECK(atas_cu_lt_linear_bias(be, y, x, W, b, M, K, N, 1, &done));
    if (done) return ATAS_OK;
    float beta;
    ATAS_CHECK(bias_rows(be, y, b, M, N, "linear_fwd_h bias", &beta));
    CB_CHECK("linear_fwd_h", gemm_h(be, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &beta, W, K, x, K, y, N));
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_linear_bwd_h(const atas_backend *be, float *dx, float *dW, float *db, const float *dy,
                                              const atas_bf16 *x, const atas_bf16 *W, int M, int K, int N,
                                              atas_bf16 *dyh) {
    if (dx || dW) ATAS_CHECK(atas_cuda_cast_bf16(be, dyh, dy, (size_t)M * N));
    if (dx) CB_CHECK("linear_bwd_h dx", gemm_h(be, CUBLAS_OP_N, CUBLAS_OP_N, K, M, N, &k_one, W, K, dyh, N, dx, K));
    if (dW) CB_CHECK("linear_bwd_h dW", gemm_h(be, CUBLAS_OP_N, CUBLAS_OP_T, K, N, M, &k_one, x, K, dyh, N, dW, K));
    if (db) ATAS_CHECK(atas_cuda_colsum_add(be, db, dy, M, N, "linear_bwd_h db"));
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_matmul_fwd(const atas_backend *be, float *y, const float *x, const float *W, int M,
                                            int K, int N) {
    if (M == 0) return ATAS_OK;
    /* y^T[N,M] = W^T[N,K] x^T[K,M] */
    CB_CHECK("matmul_fwd", atas_cu_sgemm(be, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &k_one,
                                       W, N, x, K, &k_zero, y, N));
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_matmul_bwd(const atas_backend *be, float *dx, float *dW, const float *dy, const float *x,
                                            const float *W, int M, int K, int N) {
    if (M == 0) return ATAS_OK;
    if (dx) {
        /* dx^T[K,M] += W[K,N] dy^T[N,M] */
        CB_CHECK("matmul_bwd dx", atas_cu_sgemm(be, CUBLAS_OP_T, CUBLAS_OP_N, K, M, N,
                                              &k_one, W, N, dy, N, &k_one, dx, K));
    }
    if (dW) {
        /* dW^T[N,K] += dy^T[N,M] x[M,K] */
        CB_CHECK("matmul_bwd dW", atas_cu_sgemm(be, CUBLAS_OP_N, CUBLAS_OP_T, N, K, M,
                                              &k_one, dy, N, x, K, &k_one, dW, N));
    }
    return ATAS_OK;
}
