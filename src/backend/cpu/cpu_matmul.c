/* CPU matmul for [K,N]-stored weights (CLIP's proj): cblas_sgemm without
 * transposes; at tf32/bf16 the operands are rounded first, as in linear.c. */
#include <cblas.h>

#include "backend/cpu/cpu_internal.h"

/* x [M,K], W [K,N], dy [M,N] rounded into the thread's scratch as wanted */
static atas_status rounded(const atas_backend *be, const float **x, const float **W, const float **dy, int M,
                           int K, int N, const char *op) {
    const size_t nx = x ? (size_t)M * K : 0, nw = W ? (size_t)K * N : 0, nd = dy ? (size_t)M * N : 0;
    float *s;
    ATAS_CHECK(atas_cpu_scratch(nx + nw + nd, &s, op));
    if (x) {
        atas_round_precision(s, *x, nx, be->precision);
        *x = s;
    }
    if (W) {
        atas_round_precision(s + nx, *W, nw, be->precision);
        *W = s + nx;
    }
    if (dy) {
        atas_round_precision(s + nx + nw, *dy, nd, be->precision);
        *dy = s + nx + nw;
    }
    return ATAS_OK;
}

atas_status atas_cpu_matmul_fwd(const atas_backend *be, float *y, const float *x, const float *W, int M, int K, int N) {
    if (atas_cpu_rounds(be) && M > 0) ATAS_CHECK(rounded(be, &x, &W, NULL, M, K, N, "matmul_fwd"));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, x, K, W, N, 0.0f, y, N);
    return ATAS_OK;
}

atas_status atas_cpu_matmul_bwd(const atas_backend *be, float *dx, float *dW, const float *dy, const float *x,
                                const float *W, int M, int K, int N) {
    if (atas_cpu_rounds(be) && M > 0 && (dx || dW))
        ATAS_CHECK(rounded(be, dW ? &x : NULL, dx ? &W : NULL, &dy, M, K, N, "matmul_bwd"));
    if (dx) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, K, N, 1.0f, dy, N, W, N, 1.0f, dx, K);
    if (dW) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, M, 1.0f, x, K, dy, N, 1.0f, dW, N);
    return ATAS_OK;
}

/* the sgemm rate of these threads: best of 3 after a warm-up (n x n x n, random-ish
 * data: zeros would flatter nothing on a CPU, but keep it honest) */
atas_status atas_cpu_gemm_peak(const atas_backend *be, double *tflops, int n) {
    (void)be;
    if (n > 2048) n = 2048; /* ops.def: the CPU's rate is reached well below */
    const size_t nn = (size_t)n * n;
    float *a = NULL, *b = NULL, *c = NULL;
    atas_status st = atas_host_alloc((void **)&a, nn * sizeof(float), "gemm_peak");
    if (st == ATAS_OK) st = atas_host_alloc((void **)&b, nn * sizeof(float), "gemm_peak");
    if (st == ATAS_OK) st = atas_host_alloc((void **)&c, nn * sizeof(float), "gemm_peak");
    double best = 0;
    if (st == ATAS_OK) {
        for (size_t i = 0; i < nn; i++) a[i] = b[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
        for (int r = 0; r < 4; r++) {
            const double t0 = atas_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
            const double dt = atas_now() - t0;
            if (r > 0 && dt > 0 && 2.0 * nn * n / dt > best) best = 2.0 * nn * n / dt;
        }
    }
    atas_host_free(a);
    atas_host_free(b);
    atas_host_free(c);
    *tflops = best * 1e-12;
    return st;
}

/* sgemm at one shape (the CPU has no bf16 storage to time: bf16_buffers refused) */
atas_status atas_cpu_gemm_rate(const atas_backend *be, double *tflops, int M, int K, int N, int bf16_buffers) {
    (void)be;
    *tflops = 0;
    if (bf16_buffers) return ATAS_ERR(ATAS_ERR_UNSUPPORTED, "gemm_rate: the cpu backend has no bf16 buffers to time");
    float *x = NULL, *w = NULL, *y = NULL;
    atas_status st = atas_host_alloc((void **)&x, (size_t)M * K * sizeof(float), "gemm_rate");
    if (st == ATAS_OK) st = atas_host_alloc((void **)&w, (size_t)N * K * sizeof(float), "gemm_rate");
    if (st == ATAS_OK) st = atas_host_alloc((void **)&y, (size_t)M * N * sizeof(float), "gemm_rate");
    double best = 0;
    if (st == ATAS_OK) {
        for (size_t i = 0; i < (size_t)M * K; i++) x[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
        for (size_t i = 0; i < (size_t)N * K; i++) w[i] = (float)((i * 2654435761u) % 997) * 1e-3f - 0.5f;
        for (int r = 0; r < 4; r++) {
            const double t0 = atas_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, w, K, 0.0f, y, N);
            const double dt = atas_now() - t0;
            if (r > 0 && dt > 0 && 2.0 * M * K * N / dt > best) best = 2.0 * M * K * N / dt;
        }
    }
    atas_host_free(x);
    atas_host_free(w);
    atas_host_free(y);
    *tflops = best * 1e-12;
    return st;
}
