/* Linear layer on OpenBLAS: y = x W^T + b, and its backward as beta=1 GEMMs so
 * the gradients accumulate without a temporary. At tf32/bf16 precision both
 * operands of every GEMM are rounded into the thread's scratch first and the
 * GEMM (and its accumulation) stays fp32: the arithmetic of tensor cores on
 * rounded inputs (docs/backend.md "Precision"). fp32 runs exactly as before. */
#include <cblas.h>

#include "backend/cpu/cpu_internal.h"

/* y = x W^T + b on operands as given (the bf16 storage ops call it on widened copies) */
void atas_cpu_linear_fwd_gemm(float *y, const float *x, const float *W, const float *b, int M, int K, int N) {
    float beta = 0.0f;
    if (b) {
        /* bias rows first, then the GEMM adds onto them (beta = 1) */
#pragma omp parallel for schedule(static) if ((size_t)M * N > ATAS_CPU_PAR_MIN)
        for (int i = 0; i < M; i++) memcpy(y + (size_t)i * N, b, sizeof(float) * N);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, W, K, beta, y, N);
}

atas_status atas_cpu_linear_fwd(const atas_backend *be, float *y, const float *x, const float *W, const float *b, int M,
                                int K, int N) {
    if (M == 0) return ATAS_OK;
    if (atas_cpu_rounds(be)) {
        float *xr, *Wr;
        ATAS_CHECK(atas_cpu_scratch((size_t)M * K + (size_t)N * K, &xr, "linear_fwd"));
        Wr = xr + (size_t)M * K;
        atas_round_precision(xr, x, (size_t)M * K, be->precision);
        atas_round_precision(Wr, W, (size_t)N * K, be->precision);
        x = xr;
        W = Wr;
    }
    atas_cpu_linear_fwd_gemm(y, x, W, b, M, K, N);
    return ATAS_OK;
}

/* dx += dy W, dW += dy^T x (dy, x, W as given: rounded or widened by the caller) and
 * db += the column sums of dy_sum (the fp32 dy) */
void atas_cpu_linear_bwd_gemm(float *dx, float *dW, float *db, const float *dy, const float *dy_sum, const float *x,
                              const float *W, int M, int K, int N) {
    if (dx) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N, 1.0f, dy, N, W, K, 1.0f,
                    dx, K);
    }
    if (dW) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, M, 1.0f, dy, N, x, K, 1.0f, dW,
                    K);
    }
    if (db) {
        /* column sums: each thread owns a block of columns, so the sum order is
         * fixed (deterministic) and there are no races */
        const int CB = 256;
        const int nblk = (N + CB - 1) / CB;
#pragma omp parallel for schedule(static) if ((size_t)M * N > ATAS_CPU_PAR_MIN)
        for (int blk = 0; blk < nblk; blk++) {
            int c0 = blk * CB, c1 = ATAS_MIN(N, c0 + CB);
            float acc[256];
            for (int c = c0; c < c1; c++) acc[c - c0] = 0.0f;
            for (int i = 0; i < M; i++) {
                const float *r = dy_sum + (size_t)i * N;
                for (int c = c0; c < c1; c++) acc[c - c0] += r[c];
            }
            for (int c = c0; c < c1; c++) db[c] += acc[c - c0];
        }
    }
}

atas_status atas_cpu_linear_bwd(const atas_backend *be, float *dx, float *dW, float *db, const float *dy, const float *x,
                                const float *W, int M, int K, int N) {
    if (M == 0) return ATAS_OK;
    const float *dy_g = dy; /* the bias gradient sums the fp32 dy, not a GEMM input */
    if (atas_cpu_rounds(be) && (dx || dW)) {
        const size_t nx = dW ? (size_t)M * K : 0, nw = dx ? (size_t)N * K : 0;
        float *dyr;
        ATAS_CHECK(atas_cpu_scratch((size_t)M * N + nx + nw, &dyr, "linear_bwd"));
        atas_round_precision(dyr, dy, (size_t)M * N, be->precision);
        dy = dyr;
        if (dW) {
            atas_round_precision(dyr + (size_t)M * N, x, nx, be->precision);
            x = dyr + (size_t)M * N;
        }
        if (dx) {
            atas_round_precision(dyr + (size_t)M * N + nx, W, nw, be->precision);
            W = dyr + (size_t)M * N + nx;
        }
    }
    atas_cpu_linear_bwd_gemm(dx, dW, db, dy, dy_g, x, W, M, K, N);
    return ATAS_OK;
}
