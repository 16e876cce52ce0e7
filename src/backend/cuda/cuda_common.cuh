/* Shared by the CUDA backend's .cu files: the backend context (be->ctx), error
 * checks that turn CUDA and cuBLAS failures into ATAS_ERR_CUDA naming the op,
 * launch-shape helpers and the warp reductions. Every op runs on the context's
 * compute stream (non-blocking: it never synchronises with the legacy default
 * stream), so kernels, cuBLAS calls and async copies are ordered with each other
 * and with nothing else; the backend is meant to be driven by one host thread. */
#ifndef ATAS_CUDA_COMMON_CUH
#define ATAS_CUDA_COMMON_CUH

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <nccl.h>

#include "backend/cuda/cuda_backend.h"

struct atas_cu_lt_plan;
typedef struct atas_cu_lt_plan atas_cu_lt_plan;

/* The backend context: everything an op needs besides its arguments. */
typedef struct {
    int device, ndevices, shared; /* shared: more ranks on this node than visible GPUs (a hint) */
    int cc_major;              /* compute capability (flash_attn.cu needs >= 8: bf16 tensor cores) */
    int smem_optin;            /* bytes of shared memory a block may opt in to (99 KiB on sm_86/89) */
    char host[64];
    char busid[32];            /* PCI bus id of the device: unique on the host */
    cudaStream_t stream;       /* compute: every kernel, cuBLAS call and async copy */
    cudaStream_t comm_stream;  /* NCCL collectives */
    cudaStream_t copy_stream;  /* upload_prefetch: the next step's inputs beside this step's compute */
    cublasHandle_t blas;       /* bound to stream; full fp32 math */
    cublasLtHandle_t lt;
    void *lt_ws;               /* cuBLASLt workspace, reused by every Lt call */
    size_t lt_ws_bytes;
    cudaEvent_t ev_compute;    /* recorded on stream: the comm stream waits for it */
    cudaEvent_t ev_comm;       /* recorded on comm_stream: the compute stream waits for it */
    cudaEvent_t ev_copy;       /* recorded on copy_stream by upload_join: the compute stream waits for it */
    cudaEvent_t ev_c0, ev_c1;  /* timing of the collectives since the last coll_wait */
    int timing;                /* ev_c0 recorded, not yet read */
    struct atas_cu_lt_plan *lt_plans; /* lt_linear.cu: cuBLASLt plans, one per GEMM shape and precision */
    int lt_nplans, lt_cap;
    ncclComm_t nccl;           /* NULL until coll_init */
    int nranks, rank;
    double coll_timeout_s;     /* dist.timeout_s from coll_init: bounds set-up and enqueues */
    float *scratch;            /* 8 MiB of one op's scratch on the compute stream, valid within the
                                * call: column sums' slab partials, rope's angle table */
    size_t scratch_floats;
} atas_cuda_ctx;

static inline atas_cuda_ctx *atas_cu_ctx(const atas_backend *be) { return (atas_cuda_ctx *)be->ctx; }
static inline cudaStream_t atas_cu_stream(const atas_backend *be) { return atas_cu_ctx(be)->stream; }
static inline cublasHandle_t atas_cu_blas(const atas_backend *be) { return atas_cu_ctx(be)->blas; }

/* "rank r of n, host H, GPU d": where a failure happened, for its message (a
 * thread-local buffer; queried at the failure, so it needs no context) */
extern "C" const char *atas_cu_where(void);

/* cudaMalloc whose failure names the bytes, what for, the GPU, host and rank (memory.cu) */
extern "C" atas_status atas_cu_malloc(const atas_cuda_ctx *c, void **p, size_t bytes, const char *what);

/* a failed runtime call also clears the (non-sticky) last error, so the next op's
 * CU_LAUNCHED does not report it as its own */
#define CU_CHECK(op, call)                                                              \
    do {                                                                                \
        cudaError_t _ce = (call);                                                       \
        if (_ce != cudaSuccess) {                                                       \
            (void)cudaGetLastError();                                                   \
            return ATAS_ERR(ATAS_ERR_CUDA, "%s: %s failed (%s): %s", (op), #call,       \
                            atas_cu_where(), cudaGetErrorString(_ce));                  \
        }                                                                               \
    } while (0)

/* after a kernel launch: a bad configuration shows up here, a fault at sync */
#define CU_LAUNCHED(op)                                                                 \
    do {                                                                                \
        cudaError_t _ce = cudaGetLastError();                                           \
        if (_ce != cudaSuccess)                                                         \
            return ATAS_ERR(ATAS_ERR_CUDA, "%s: kernel launch failed (%s): %s", (op),   \
                            atas_cu_where(), cudaGetErrorString(_ce));                  \
    } while (0)

#define CB_CHECK(op, call)                                                              \
    do {                                                                                \
        cublasStatus_t _bs = (call);                                                    \
        if (_bs != CUBLAS_STATUS_SUCCESS)                                               \
            return ATAS_ERR(ATAS_ERR_CUDA, "%s: cuBLAS %s failed (%s): %s (%d)", (op),  \
                            #call, atas_cu_where(), cublasGetStatusString(_bs), (int)_bs); \
    } while (0)

/* The GEMMs of linear, matmul and attention at the backend's precision
 * (be->precision, docs/backend.md "Precision"): fp32 is cublasSgemm exactly as
 * before; tf32 / bf16 are cublasGemmEx on the same fp32 buffers with compute
 * type CUBLAS_COMPUTE_32F_FAST_TF32 / _FAST_16BF (cuBLAS rounds the inputs for
 * the tensor cores and accumulates in fp32). Arguments as cublasSgemm's. */
static inline cublasComputeType_t atas_cu_compute(const atas_backend *be) {
    return be->precision == ATAS_PREC_BF16   ? CUBLAS_COMPUTE_32F_FAST_16BF
           : be->precision == ATAS_PREC_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32
                                             : CUBLAS_COMPUTE_32F;
}
static inline cublasStatus_t atas_cu_sgemm(const atas_backend *be, cublasOperation_t ta, cublasOperation_t tb, int m,
                                           int n, int k, const float *alpha, const float *A, int lda, const float *B,
                                           int ldb, const float *beta, float *C, int ldc) {
    if (be->precision == ATAS_PREC_FP32)
        return cublasSgemm(atas_cu_blas(be), ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
    return cublasGemmEx(atas_cu_blas(be), ta, tb, m, n, k, alpha, A, CUDA_R_32F, lda, B, CUDA_R_32F, ldb, beta, C,
                        CUDA_R_32F, ldc, atas_cu_compute(be), CUBLAS_GEMM_DEFAULT);
}
static inline cublasStatus_t atas_cu_sgemm_sb(const atas_backend *be, cublasOperation_t ta, cublasOperation_t tb,
                                              int m, int n, int k, const float *alpha, const float *A, int lda,
                                              long long sA, const float *B, int ldb, long long sB, const float *beta,
                                              float *C, int ldc, long long sC, int batch) {
    if (be->precision == ATAS_PREC_FP32)
        return cublasSgemmStridedBatched(atas_cu_blas(be), ta, tb, m, n, k, alpha, A, lda, sA, B, ldb, sB, beta, C,
                                         ldc, sC, batch);
    return cublasGemmStridedBatchedEx(atas_cu_blas(be), ta, tb, m, n, k, alpha, A, CUDA_R_32F, lda, sA, B,
                                      CUDA_R_32F, ldb, sB, beta, C, CUDA_R_32F, ldc, sC, batch, atas_cu_compute(be),
                                      CUBLAS_GEMM_DEFAULT);
}

#define ATAS_CU_THREADS 256
/* blocks for a grid-stride loop over n items; capped, the loop covers the rest */
static inline unsigned atas_cu_blocks(size_t n, int threads) {
    size_t b = (n + threads - 1) / threads;
    const size_t cap = (size_t)1 << 20;
    return (unsigned)(b < 1 ? 1 : (b > cap ? cap : b));
}

__device__ __forceinline__ float atas_warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ double atas_warp_sum_d(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float atas_warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* y = x W^T + b as one cuBLASLt GEMM with a bias epilogue (lt_linear.cu); x and W fp32
 * (h = 0, at the backend's precision) or bf16 (h = 1, fp32 compute); *done = 0 (nothing
 * queued) when it does not apply: no bias, unaligned pointers, no algorithm */
atas_status atas_cu_lt_linear_bias(const atas_backend *be, float *y, const void *x, const void *W, const float *b,
                                   int M, int K, int N, int h, int *done);
void atas_cu_lt_release(atas_cuda_ctx *c);

/* out[c] += sum over M rows of in[M, N] (deterministic; linear.cu) */
atas_status atas_cuda_colsum_add(const atas_backend *be, float *out, const float *in, int M, int N,
                                 const char *op);
/* Column reductions over many rows run in S row slabs (blockIdx.y), each slab's sums into
 * ctx->scratch [S][N] (per output), then atas_cu_col_finish adds the slabs in order: the
 * same sums every run, and enough blocks to fill the GPU when N is only ~1000 columns.
 * S = 1 (few rows) writes the output directly. nout: outputs reduced per column (1 or 2). */
int atas_cu_col_slabs(const atas_backend *be, int M, int N, int nout);
atas_status atas_cu_col_finish(const atas_backend *be, float *out, const float *part, int S, int N, const char *op);

/* rows handled one warp each: 8 warps (256 threads) per block */
#define ATAS_CU_ROWS_PER_BLOCK 8
static inline unsigned atas_cu_row_blocks(long rows) {
    return (unsigned)((rows + ATAS_CU_ROWS_PER_BLOCK - 1) / ATAS_CU_ROWS_PER_BLOCK);
}

#endif
