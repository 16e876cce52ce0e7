/* CPU matmul for [K,N]-stored weights (CLIP's proj): cblas_sgemm without transposes. */
#include <cblas.h>

#include "backend/cpu/cpu_internal.h"

atas_status atas_cpu_matmul_fwd(const atas_backend *be, float *y, const float *x, const float *W, int M, int K, int N) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, x, K, W, N, 0.0f, y, N);
    return ATAS_OK;
}

atas_status atas_cpu_matmul_bwd(const atas_backend *be, float *dx, float *dW, const float *dy, const float *x,
                                const float *W, int M, int K, int N) {
    if (dx) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, K, N, 1.0f, dy, N, W, N, 1.0f, dx, K);
    if (dW) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, M, 1.0f, x, K, dy, N, 1.0f, dW, N);
    return ATAS_OK;
}
