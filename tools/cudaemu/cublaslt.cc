/* cudaemu cuBLASLt: descriptors hold what was set on them; the heuristic offers
 * one algorithm that remembers the preference's alignment promises, and
 * cublasLtMatmul refuses pointers that break them (a GPU would fault or misread,
 * or the real heuristic would have picked a slower algorithm). Only the
 * column-major, non-batched matmul with D = C in place of C (what lt_linear.cu
 * asks for), fp32 or bf16 A and B, and the DEFAULT / BIAS epilogues are supported. */
#include <cublasLt.h>
#include <stdio.h>

#include "cublas_internal.h"
#include "runtime_internal.h"

struct cublasLtContext {
    int unused;
};
struct cublasLtMatmulDescOpaque_st {
    cublasComputeType_t ct;
    cudaDataType_t scale;
    cublasOperation_t ta, tb;
    cublasLtEpilogue_t epi;
    const void *bias;
};
struct cublasLtMatrixLayoutOpaque_st {
    cudaDataType_t type;
    uint64_t rows, cols;
    int64_t ld;
};
struct cublasLtMatmulPreferenceOpaque_st {
    uint64_t max_ws;
    uint32_t align[4]; /* A, B, C, D; 256 unless set */
};

namespace {
template <class T> cublasStatus_t get(T *dst, const void *buf, size_t bytes) {
    if (!buf || bytes != sizeof(T)) return CUBLAS_STATUS_INVALID_VALUE;
    memcpy(dst, buf, sizeof(T));
    return CUBLAS_STATUS_SUCCESS;
}
bool aligned(const void *p, uint32_t a) { return a == 0 || ((uintptr_t)p % a) == 0; }
} // namespace

namespace cudaemu {
/* fp32 A and B, or bf16 A and B at plain fp32 compute (what the bf16 storage op asks for);
 * C and D fp32: the heuristic offers nothing for other types, as cuBLASLt would not */
static bool lt_types_ok(cublasLtMatmulDesc_t op, cublasLtMatrixLayout_t A, cublasLtMatrixLayout_t B,
                        cublasLtMatrixLayout_t C, cublasLtMatrixLayout_t D) {
    const bool bf = A->type == CUDA_R_16BF;
    return (A->type == CUDA_R_32F || bf) && B->type == A->type && C->type == CUDA_R_32F && D->type == CUDA_R_32F &&
           (!bf || op->ct == CUBLAS_COMPUTE_32F);
}
} // namespace cudaemu

extern "C" {

cublasStatus_t cublasLtCreate(cublasLtHandle_t *h) {
    *h = new cublasLtContext{0};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtDestroy(cublasLtHandle_t h) {
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *d, cublasComputeType_t ct, cudaDataType_t scale) {
    if (!cudaemu::valid_compute(ct) || scale != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
    *d = new cublasLtMatmulDescOpaque_st{ct, scale, CUBLAS_OP_N, CUBLAS_OP_N, CUBLASLT_EPILOGUE_DEFAULT, nullptr};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d) {
    delete d;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a,
                                              const void *buf, size_t bytes) {
    if (!d) return CUBLAS_STATUS_NOT_INITIALIZED;
    switch (a) {
    case CUBLASLT_MATMUL_DESC_TRANSA: {
        int32_t v = 0; /* cublasOperation_t is an int32 attribute */
        cublasStatus_t s = get(&v, buf, bytes);
        d->ta = (cublasOperation_t)v;
        return s;
    }
    case CUBLASLT_MATMUL_DESC_TRANSB: {
        int32_t v = 0;
        cublasStatus_t s = get(&v, buf, bytes);
        d->tb = (cublasOperation_t)v;
        return s;
    }
    case CUBLASLT_MATMUL_DESC_EPILOGUE: {
        uint32_t v = 0;
        cublasStatus_t s = get(&v, buf, bytes);
        d->epi = (cublasLtEpilogue_t)v;
        return s;
    }
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER: return get(&d->bias, buf, bytes);
    default:
        fprintf(stderr, "cudaemu: cublasLtMatmulDescSetAttribute %d is not emulated\n", (int)a);
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
}
cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *l, cudaDataType_t type, uint64_t rows,
                                          uint64_t cols, int64_t ld) {
    *l = new cublasLtMatrixLayoutOpaque_st{type, rows, cols, ld};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l) {
    delete l;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *p) {
    *p = new cublasLtMatmulPreferenceOpaque_st{0, {256, 256, 256, 256}};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p) {
    delete p;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p,
                                                    cublasLtMatmulPreferenceAttributes_t a, const void *buf,
                                                    size_t bytes) {
    if (!p) return CUBLAS_STATUS_NOT_INITIALIZED;
    switch (a) {
    case CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES: return get(&p->max_ws, buf, bytes);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES: return get(&p->align[0], buf, bytes);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES: return get(&p->align[1], buf, bytes);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES: return get(&p->align[2], buf, bytes);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES: return get(&p->align[3], buf, bytes);
    default:
        fprintf(stderr, "cudaemu: cublasLtMatmulPreferenceSetAttribute %d is not emulated\n", (int)a);
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
}

/* the algorithm's data: [0] = magic, [1..4] = the alignments it was chosen for */
#define ALGO_MAGIC 0x63756461656d75ull
cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t op, cublasLtMatrixLayout_t A,
                                              cublasLtMatrixLayout_t B, cublasLtMatrixLayout_t C,
                                              cublasLtMatrixLayout_t D, cublasLtMatmulPreference_t pref,
                                              int requested, cublasLtMatmulHeuristicResult_t *results, int *found) {
    if (!h || !op || !A || !B || !C || !D || !pref || requested < 1) return CUBLAS_STATUS_INVALID_VALUE;
    *found = 0;
    /* shapes must agree: op(A) m x k, op(B) k x n, C and D m x n */
    const uint64_t m = D->rows, n = D->cols;
    const uint64_t am = op->ta == CUBLAS_OP_N ? A->rows : A->cols, ak = op->ta == CUBLAS_OP_N ? A->cols : A->rows;
    const uint64_t bk = op->tb == CUBLAS_OP_N ? B->rows : B->cols, bn = op->tb == CUBLAS_OP_N ? B->cols : B->rows;
    if (am != m || bn != n || ak != bk || C->rows != m || C->cols != n) {
        fprintf(stderr, "cudaemu: cublasLt heuristic: shapes disagree (op(A) %llux%llu, op(B) %llux%llu, D %llux%llu)\n",
                (unsigned long long)am, (unsigned long long)ak, (unsigned long long)bk, (unsigned long long)bn,
                (unsigned long long)m, (unsigned long long)n);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (op->epi != CUBLASLT_EPILOGUE_DEFAULT && op->epi != CUBLASLT_EPILOGUE_BIAS) return CUBLAS_STATUS_NOT_SUPPORTED;
    if (!cudaemu::lt_types_ok(op, A, B, C, D)) return CUBLAS_STATUS_NOT_SUPPORTED; /* the caller falls back */
    memset(&results[0], 0, sizeof results[0]);
    results[0].algo.data[0] = ALGO_MAGIC;
    for (int i = 0; i < 4; i++) results[0].algo.data[1 + i] = pref->align[i];
    results[0].workspaceSize = 0;
    results[0].state = CUBLAS_STATUS_SUCCESS;
    results[0].wavesCount = 1.0f;
    *found = 1;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t op, const void *alpha, const void *A,
                              cublasLtMatrixLayout_t Ad, const void *B, cublasLtMatrixLayout_t Bd, const void *beta,
                              const void *C, cublasLtMatrixLayout_t Cd, void *D, cublasLtMatrixLayout_t Dd,
                              const cublasLtMatmulAlgo_t *algo, void *ws, size_t ws_bytes, cudaStream_t stream) {
    (void)ws;
    (void)ws_bytes;
    if (!h || !op || !Ad || !Bd || !Cd || !Dd) return CUBLAS_STATUS_INVALID_VALUE;
    if (cudaemu::check_stream(stream) != cudaSuccess) return CUBLAS_STATUS_EXECUTION_FAILED;
    if (algo) {
        if (algo->data[0] != ALGO_MAGIC) return CUBLAS_STATUS_INVALID_VALUE;
        const void *ptr[4] = {A, B, C, D};
        for (int i = 0; i < 4; i++)
            if (!aligned(ptr[i], (uint32_t)algo->data[1 + i])) {
                fprintf(stderr, "cudaemu: cublasLtMatmul: operand %c at %p breaks the %u-byte alignment its "
                        "algorithm was chosen for\n", "ABCD"[i], ptr[i], (unsigned)algo->data[1 + i]);
                return CUBLAS_STATUS_INVALID_VALUE;
            }
    }
    if (op->epi == CUBLASLT_EPILOGUE_BIAS && !op->bias) return CUBLAS_STATUS_INVALID_VALUE;
    if (op->epi != CUBLASLT_EPILOGUE_DEFAULT && op->epi != CUBLASLT_EPILOGUE_BIAS) return CUBLAS_STATUS_NOT_SUPPORTED;
    if (!cudaemu::lt_types_ok(op, Ad, Bd, Cd, Dd)) return CUBLAS_STATUS_NOT_SUPPORTED;
    const int m = (int)Dd->rows, n = (int)Dd->cols, k = (int)(op->ta == CUBLAS_OP_N ? Ad->cols : Ad->rows);
    const float b = *(const float *)beta;
    /* D = alpha op(A) op(B) + beta C (+ bias): with C != D, copy C into D first */
    if (b != 0.0f && C != D) {
        if (Cd->ld != Dd->ld) return CUBLAS_STATUS_NOT_SUPPORTED;
        for (int j = 0; j < n; j++)
            memcpy((float *)D + (size_t)j * Dd->ld, (const float *)C + (size_t)j * Cd->ld, sizeof(float) * m);
    }
    cudaemu::gemm_args g{op->ta, op->tb, m, n, k, *(const float *)alpha, A, Ad->type, (int)Ad->ld, 0, B,
                         Bd->type, (int)Bd->ld, 0, b, (float *)D, (int)Dd->ld, 0, 1, op->ct,
                         op->epi == CUBLASLT_EPILOGUE_BIAS ? (const float *)op->bias : nullptr};
    return cudaemu::gemm(g);
}

} // extern "C"
