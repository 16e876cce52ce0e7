/* linear_fwd with its bias through cuBLASLt: one GEMM whose epilogue adds the bias
 * (CUBLASLT_EPILOGUE_BIAS), where linear.cu's cuBLAS path writes the bias rows
 * first and reads them back into a beta = 1 GEMM (one more pass over y). Same
 * compute type as the cuBLAS path (fp32, or FAST_TF32 / FAST_16BF on the fp32
 * buffers). A plan (descriptors, layouts and the heuristic's algorithm) is made
 * once per shape, precision and operand type (fp32 buffers, or the bf16 storage op's
 * bf16 x and W at plain fp32 compute) and kept in the context; the bias pointer is set per
 * call. Shapes the heuristic has no algorithm for, and pointers not 16-byte aligned
 * (a bias inside the parameter block may sit anywhere), take the cuBLAS path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_common.cuh"

struct atas_cu_lt_plan {
    int M, K, N, prec, h, ok;
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
};

static int lt_aligned(const void *p) { return ((uintptr_t)p & 15u) == 0; }

static void plan_release(atas_cu_lt_plan *p) {
    if (p->op) (void)cublasLtMatmulDescDestroy(p->op);
    if (p->la) (void)cublasLtMatrixLayoutDestroy(p->la);
    if (p->lb) (void)cublasLtMatrixLayoutDestroy(p->lb);
    if (p->lc) (void)cublasLtMatrixLayoutDestroy(p->lc);
    memset(p, 0, sizeof *p);
}

void atas_cu_lt_release(atas_cuda_ctx *c) {
    for (int i = 0; i < c->lt_nplans; i++) plan_release(&c->lt_plans[i]);
    free(c->lt_plans);
    c->lt_plans = NULL;
    c->lt_nplans = 0;
}

/* row-major y[M,N] = x[M,K] W[N,K]^T + b is column-major y^T[N,M] = op_T(W as [K,N]) x^T[K,M] */
static cublasStatus_t plan_make(const atas_backend *be, atas_cu_lt_plan *p) {
    atas_cuda_ctx *c = atas_cu_ctx(be);
    const cublasComputeType_t ct = p->h ? CUBLAS_COMPUTE_32F : atas_cu_compute(be);
    const cudaDataType_t in = p->h ? CUDA_R_16BF : CUDA_R_32F;
    cublasStatus_t s = cublasLtMatmulDescCreate(&p->op, ct, CUDA_R_32F);
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    const cublasLtEpilogue_t ep = CUBLASLT_EPILOGUE_BIAS;
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta);
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb);
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof ep);
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatrixLayoutCreate(&p->la, in, p->K, p->N, p->K);
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatrixLayoutCreate(&p->lb, in, p->K, p->M, p->K);
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatrixLayoutCreate(&p->lc, CUDA_R_32F, p->N, p->M, p->N);
    cublasLtMatmulPreference_t pref = NULL;
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasLtMatmulPreferenceCreate(&pref);
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &c->lt_ws_bytes,
                                                 sizeof c->lt_ws_bytes);
    /* the heuristic assumes 256-byte aligned operands unless told: the calls guarantee 16 */
    const uint32_t align = 16;
    const cublasLtMatmulPreferenceAttributes_t aligns[] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    for (int i = 0; i < 4 && s == CUBLAS_STATUS_SUCCESS; i++)
        s = cublasLtMatmulPreferenceSetAttribute(pref, aligns[i], &align, sizeof align);
    cublasLtMatmulHeuristicResult_t h;
    int found = 0;
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulAlgoGetHeuristic(c->lt, p->op, p->la, p->lb, p->lc, p->lc, pref, 1, &h, &found);
    if (pref) (void)cublasLtMatmulPreferenceDestroy(pref);
    p->ok = s == CUBLAS_STATUS_SUCCESS && found > 0;
    if (p->ok) p->algo = h.algo;
    /* no algorithm is not an error: the caller takes the cuBLAS path for this shape */
    return s == CUBLAS_STATUS_NOT_SUPPORTED ? CUBLAS_STATUS_SUCCESS : s;
}

/* *done = 1 when cuBLASLt computed y (bias included); 0: nothing was queued */
atas_status atas_cu_lt_linear_bias(const atas_backend *be, float *y, const void *x, const void *W, const float *b,
                                   int M, int K, int N, int h, int *done) {
    *done = 0;
    atas_cuda_ctx *c = atas_cu_ctx(be);
    if (!b || !lt_aligned(y) || !lt_aligned(x) || !lt_aligned(W) || !lt_aligned(b)) return ATAS_OK;
    atas_cu_lt_plan *p = NULL;
    for (int i = 0; i < c->lt_nplans && !p; i++) {
        atas_cu_lt_plan *q = &c->lt_plans[i];
        if (q->M == M && q->K == K && q->N == N && q->prec == be->precision && q->h == h) p = q;
    }
    if (!p) {
        if (c->lt_nplans == c->lt_cap) {
            const int cap = c->lt_cap ? 2 * c->lt_cap : 16;
            atas_cu_lt_plan *np = (atas_cu_lt_plan *)realloc(c->lt_plans, sizeof *np * cap);
            ATAS_REQUIRE(np, "linear_fwd: out of host memory for cuBLASLt plans");
            memset(np + c->lt_cap, 0, sizeof *np * (cap - c->lt_cap));
            c->lt_plans = np;
            c->lt_cap = cap;
        }
        p = &c->lt_plans[c->lt_nplans++];
        p->M = M, p->K = K, p->N = N, p->prec = be->precision, p->h = h;
        CB_CHECK(h ? "linear_fwd_h (cuBLASLt plan)" : "linear_fwd (cuBLASLt plan)", plan_make(be, p));
    }
    if (!p->ok) return ATAS_OK;
    const char *op = h ? "linear_fwd_h" : "linear_fwd";
    CB_CHECK(op, cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &b, sizeof b));
    const float one = 1.0f, zero = 0.0f;
    CB_CHECK(op, cublasLtMatmul(c->lt, p->op, &one, W, p->la, x, p->lb, &zero, y, p->lc, y, p->lc, &p->algo,
                                          c->lt_ws, c->lt_ws_bytes, c->stream));
    *done = 1;
    return ATAS_OK;
}
