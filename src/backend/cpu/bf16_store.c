/* The bf16 storage ops on the CPU (include/backend/atas/ops.def, docs/backend.md
 * "bf16 storage"): each computes in fp32 exactly as its fp32 op does, then packs the
 * bf16 output, or widens its bf16 operands into the thread's scratch and runs the
 * fp32 op's GEMMs on them. Since the fp32 ops at precision bf16 round the same
 * operands to the same values before the same GEMM calls, a model stored in bf16
 * computes bit for bit what the fp32-stored model computes at bf16. */
#include "backend/cpu/cpu_internal.h"

static void pack(atas_bf16 *dst, const float *src, size_t n) {
    const long nn = (long)n;
#pragma omp parallel for schedule(static) if (n > ATAS_CPU_PAR_MIN)
    for (long i = 0; i < nn; i++) dst[i] = atas_bf16_from_float(src[i]);
}

static void widen(float *dst, const atas_bf16 *src, size_t n) {
    const long nn = (long)n;
#pragma omp parallel for schedule(static) if (n > ATAS_CPU_PAR_MIN)
    for (long i = 0; i < nn; i++) dst[i] = atas_bf16_to_float(src[i]);
}

atas_status atas_cpu_cast_bf16(const atas_backend *be, atas_bf16 *dst, const float *src, size_t n) {
    (void)be;
    pack(dst, src, n);
    return ATAS_OK;
}

atas_status atas_cpu_cast_f32(const atas_backend *be, float *dst, const atas_bf16 *src, size_t n) {
    (void)be;
    widen(dst, src, n);
    return ATAS_OK;
}

atas_status atas_cpu_layernorm_fwd_h(const atas_backend *be, atas_bf16 *y, float *mean, float *rstd, const float *x,
                                     const float *w, const float *b, int M, int C, float eps) {
    float *t;
    ATAS_CHECK(atas_cpu_scratch((size_t)M * C, &t, "layernorm_fwd_h"));
    ATAS_CHECK(atas_cpu_layernorm_fwd(be, t, mean, rstd, x, w, b, M, C, eps));
    pack(y, t, (size_t)M * C);
    return ATAS_OK;
}

atas_status atas_cpu_add_layernorm_fwd_h(const atas_backend *be, float *s, atas_bf16 *y, float *mean, float *rstd,
                                         const float *a, const float *r, const float *w, const float *b, int M, int C,
                                         float eps) {
    float *t;
    ATAS_CHECK(atas_cpu_scratch((size_t)M * C, &t, "add_layernorm_fwd_h"));
    ATAS_CHECK(atas_cpu_add_layernorm_fwd(be, s, t, mean, rstd, a, r, w, b, M, C, eps));
    pack(y, t, (size_t)M * C);
    return ATAS_OK;
}

atas_status atas_cpu_act_fwd_h(const atas_backend *be, atas_bf16 *y, const float *x, size_t n, atas_act kind) {
    float *t;
    ATAS_CHECK(atas_cpu_scratch(n, &t, "act_fwd_h"));
    ATAS_CHECK(atas_cpu_act_fwd(be, t, x, n, kind));
    pack(y, t, n);
    return ATAS_OK;
}

atas_status atas_cpu_linear_fwd_h(const atas_backend *be, float *y, const atas_bf16 *x, const atas_bf16 *W,
                                  const float *b, int M, int K, int N) {
    (void)be;
    float *xf;
    ATAS_CHECK(atas_cpu_scratch((size_t)M * K + (size_t)N * K, &xf, "linear_fwd_h"));
    float *Wf = xf + (size_t)M * K;
    widen(xf, x, (size_t)M * K);
    widen(Wf, W, (size_t)N * K);
    atas_cpu_linear_fwd_gemm(y, xf, Wf, b, M, K, N);
    return ATAS_OK;
}

atas_status atas_cpu_linear_bwd_h(const atas_backend *be, float *dx, float *dW, float *db, const float *dy,
                                  const atas_bf16 *x, const atas_bf16 *W, int M, int K, int N, atas_bf16 *dyh) {
    (void)be;
    if (!dx && !dW) {
        atas_cpu_linear_bwd_gemm(NULL, NULL, db, NULL, dy, NULL, NULL, M, K, N);
        return ATAS_OK;
    }
    const size_t nd = (size_t)M * N, nx = dW ? (size_t)M * K : 0, nw = dx ? (size_t)N * K : 0;
    float *dyf;
    ATAS_CHECK(atas_cpu_scratch(nd + nx + nw, &dyf, "linear_bwd_h"));
    pack(dyh, dy, nd); /* the contract: dyh holds the GEMMs' operand */
    widen(dyf, dyh, nd);
    float *xf = dW ? dyf + nd : NULL, *Wf = dx ? dyf + nd + nx : NULL;
    if (dW) widen(xf, x, nx);
    if (dx) widen(Wf, W, nw);
    atas_cpu_linear_bwd_gemm(dx, dW, db, dyf, dy, xf, Wf, M, K, N);
    return ATAS_OK;
}
