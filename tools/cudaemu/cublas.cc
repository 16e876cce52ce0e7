/* cudaemu cuBLAS: the documented column-major GEMM, C = alpha op(A) op(B) + beta C
 * (C(i,j) at C[i + j ldc], A(i,l) at A[i + l lda]; op(A) is m x k; beta == 0
 * means C is not read). op(A) and op(B) are packed into contiguous rows first,
 * rounded to the compute type's input precision on the way (FAST_16BF: bf16,
 * FAST_TF32: tf32, nearest even), then each C element is a fp32 dot product. */
#include <cublas_v2.h>
#include <stdio.h>
#include <stdlib.h>

#include <vector>

#include "cublas_internal.h"
#include "runtime_internal.h"

struct cublasContext {
    cudaStream_t stream;
    cublasMath_t math;
    cublasPointerMode_t ptr_mode;
};

namespace cudaemu {

/* keep the top 32 - drop bits of x, rounding to nearest with ties to even */
static float round_bits(float x, int drop) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) return x; /* inf, nan */
    const uint32_t half = (1u << (drop - 1)) - 1, lsb = (u >> drop) & 1u;
    u = (u + half + lsb) & ~((1u << drop) - 1);
    memcpy(&x, &u, 4);
    return x;
}
float round_in(float x, cublasComputeType_t ct) {
    switch (ct) {
    case CUBLAS_COMPUTE_32F_FAST_16BF: return round_bits(x, 16);
    case CUBLAS_COMPUTE_32F_FAST_TF32: return round_bits(x, 13);
    default: return x;
    }
}

static float load(const void *p, cudaDataType_t t, size_t i) {
    if (t == CUDA_R_16BF) {
        uint16_t b;
        memcpy(&b, (const char *)p + 2 * i, 2);
        const uint32_t u = (uint32_t)b << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    return ((const float *)p)[i];
}

bool valid_compute(cublasComputeType_t ct) {
    return ct == CUBLAS_COMPUTE_32F || ct == CUBLAS_COMPUTE_32F_PEDANTIC || ct == CUBLAS_COMPUTE_32F_FAST_16BF ||
           ct == CUBLAS_COMPUTE_32F_FAST_TF32 || ct == CUBLAS_COMPUTE_32F_FAST_16F;
}

cublasStatus_t gemm(const gemm_args &g) {
    const int m = g.m, n = g.n, k = g.k;
    if (m < 0 || n < 0 || k < 0) return CUBLAS_STATUS_INVALID_VALUE;
    /* cuBLAS's own argument checks: lda >= rows of A as stored, etc. */
    const int arows = g.ta == CUBLAS_OP_N ? m : k, brows = g.tb == CUBLAS_OP_N ? k : n;
    if (g.lda < (arows > 1 ? arows : 1) || g.ldb < (brows > 1 ? brows : 1) || g.ldc < (m > 1 ? m : 1)) {
        fprintf(stderr, "cudaemu: cuBLAS GEMM m %d n %d k %d op %d/%d: lda %d ldb %d ldc %d too small\n", m, n, k,
                (int)g.ta, (int)g.tb, g.lda, g.ldb, g.ldc);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (!valid_compute(g.ct)) return CUBLAS_STATUS_NOT_SUPPORTED;
    if (sticky_error() != cudaSuccess) return CUBLAS_STATUS_EXECUTION_FAILED;
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    std::vector<float> a((size_t)m * k), b((size_t)n * k);
    for (int bi = 0; bi < g.batch; bi++) {
        const size_t oa = (size_t)bi * g.sA, ob = (size_t)bi * g.sB;
        float *C = g.C + (size_t)bi * g.sC;
        /* a[i][l] = op(A)(i, l); b[j][l] = op(B)(l, j) */
        for (int i = 0; i < m; i++)
            for (int l = 0; l < k; l++) {
                const size_t at = g.ta == CUBLAS_OP_N ? i + (size_t)l * g.lda : l + (size_t)i * g.lda;
                a[(size_t)i * k + l] = round_in(load(g.A, g.At, oa + at), g.ct);
            }
        for (int j = 0; j < n; j++)
            for (int l = 0; l < k; l++) {
                const size_t at = g.tb == CUBLAS_OP_N ? l + (size_t)j * g.ldb : j + (size_t)l * g.ldb;
                b[(size_t)j * k + l] = round_in(load(g.B, g.Bt, ob + at), g.ct);
            }
        for (int j = 0; j < n; j++) {
            const float *bj = &b[(size_t)j * k];
            for (int i = 0; i < m; i++) {
                const float *ai = &a[(size_t)i * k];
                float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                int l = 0;
                for (; l + 8 <= k; l += 8)
                    for (int u = 0; u < 8; u++) s[u] += ai[l + u] * bj[l + u];
                float acc = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
                for (; l < k; l++) acc += ai[l] * bj[l];
                float &c = C[i + (size_t)j * g.ldc];
                float v = g.alpha * acc;
                if (g.bias) v += g.bias[i];
                c = g.beta == 0.0f ? v : v + g.beta * c;
            }
        }
    }
    return CUBLAS_STATUS_SUCCESS;
}

} // namespace cudaemu

using cudaemu::gemm_args;

extern "C" {

cublasStatus_t cublasCreate(cublasHandle_t *h) {
    *h = new cublasContext{nullptr, CUBLAS_DEFAULT_MATH, CUBLAS_POINTER_MODE_HOST};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t h) {
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    h->stream = s;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasGetStream(cublasHandle_t h, cudaStream_t *s) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    *s = h->stream;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t mode) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    h->math = mode;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasGetMathMode(cublasHandle_t h, cublasMath_t *mode) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    *mode = h->math;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetPointerMode(cublasHandle_t h, cublasPointerMode_t mode) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    h->ptr_mode = mode;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetWorkspace(cublasHandle_t h, void *ws, size_t bytes) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    (void)ws;
    (void)bytes;
    return CUBLAS_STATUS_SUCCESS;
}
const char *cublasGetStatusName(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    default: return "CUBLAS_STATUS_UNKNOWN";
    }
}
const char *cublasGetStatusString(cublasStatus_t s) { return cublasGetStatusName(s); }

/* the handle's math mode matters only for plain Sgemm: TF32_TENSOR_OP lets it use tf32 */
static cublasComputeType_t sgemm_compute(cublasHandle_t h) {
    return (h->math & 0xf) == CUBLAS_TF32_TENSOR_OP_MATH ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}
static cublasStatus_t run(cublasHandle_t h, gemm_args &g) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (h->ptr_mode != CUBLAS_POINTER_MODE_HOST) return CUBLAS_STATUS_NOT_SUPPORTED;
    if (cudaemu::check_stream(h->stream) != cudaSuccess) return CUBLAS_STATUS_EXECUTION_FAILED;
    return cudaemu::gemm(g);
}

cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float *alpha, const float *A, int lda, const float *B, int ldb, const float *beta,
                           float *C, int ldc) {
    return cublasSgemmStridedBatched(h, ta, tb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                         int k, const float *alpha, const float *A, int lda, long long sA,
                                         const float *B, int ldb, long long sB, const float *beta, float *C, int ldc,
                                         long long sC, int batch) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
    gemm_args g{ta, tb, m, n, k, *alpha, A, CUDA_R_32F, lda, sA, B, CUDA_R_32F, ldb, sB, *beta, C, ldc, sC, batch,
                sgemm_compute(h), nullptr};
    return run(h, g);
}
cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void *alpha, const void *A, cudaDataType_t Atype, int lda, const void *B,
                            cudaDataType_t Btype, int ldb, const void *beta, void *C, cudaDataType_t Ctype, int ldc,
                            cublasComputeType_t ct, cublasGemmAlgo_t algo) {
    return cublasGemmStridedBatchedEx(h, ta, tb, m, n, k, alpha, A, Atype, lda, 0, B, Btype, ldb, 0, beta, C, Ctype,
                                      ldc, 0, 1, ct, algo);
}
cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                          int k, const void *alpha, const void *A, cudaDataType_t Atype, int lda,
                                          long long sA, const void *B, cudaDataType_t Btype, int ldb, long long sB,
                                          const void *beta, void *C, cudaDataType_t Ctype, int ldc, long long sC,
                                          int batch, cublasComputeType_t ct, cublasGemmAlgo_t algo) {
    (void)algo;
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
    /* the combinations the backend can ask for: fp32 or bf16 inputs, fp32 output, fp32-class compute
     * with fp32 scalars (cublasGemmEx's table of supported types) */
    if (Ctype != CUDA_R_32F || (Atype != CUDA_R_32F && Atype != CUDA_R_16BF) || Btype != Atype)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (Atype == CUDA_R_32F && ct == CUBLAS_COMPUTE_32F_FAST_16F) return CUBLAS_STATUS_NOT_SUPPORTED;
    gemm_args g{ta, tb, m, n, k, *(const float *)alpha, A, Atype, lda, sA, B, Btype, ldb, sB, *(const float *)beta,
                (float *)C, ldc, sC, batch, ct, nullptr};
    return run(h, g);
}

} // extern "C"
