/* Activations, elementwise arithmetic and the optimizer / teacher updates:
 * grid-stride loops, one element per thread per step. Accurate expf / erff
 * (the backend is never built with fast-math). */
#include <math.h>

#include "backend/adamw_math.h"
#include "backend/cuda/cuda_common.cuh"

#define QG_ALPHA 1.702f
#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT2PI 0.39894228040143268f

#define GRID_STRIDE(i, n)                                                       \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);     \
         i += (size_t)gridDim.x * blockDim.x)

#define LAUNCH(kernel, n, op, ...)                                                          \
    do {                                                                                    \
        if ((n) == 0) return ATAS_OK;                                                       \
        kernel<<<atas_cu_blocks((n), ATAS_CU_THREADS), ATAS_CU_THREADS, 0, atas_cu_stream(be)>>>(__VA_ARGS__);     \
        CU_LAUNCHED(op);                                                                    \
    } while (0)

__global__ void k_act_fwd(float *y, const float *x, size_t n, int kind) {
    GRID_STRIDE(i, n) {
        const float v = x[i];
        y[i] = kind == ATAS_ACT_QUICKGELU ? v / (1.0f + expf(-QG_ALPHA * v))
                                          : 0.5f * v * (1.0f + erff(v * INV_SQRT2));
    }
}

__global__ void k_act_bwd(float *dx, const float *dy, const float *x, size_t n, int kind) {
    GRID_STRIDE(i, n) {
        const float v = x[i];
        float d;
        if (kind == ATAS_ACT_QUICKGELU) {
            /* d/dx x s(ax) = s + a x s (1 - s) */
            const float s = 1.0f / (1.0f + expf(-QG_ALPHA * v));
            d = s + QG_ALPHA * v * s * (1.0f - s);
        } else {
            /* d/dx 0.5 x (1 + erf(x/sqrt2)) = Phi(x) + x phi(x) */
            const float cdf = 0.5f * (1.0f + erff(v * INV_SQRT2));
            d = cdf + v * INV_SQRT2PI * expf(-0.5f * v * v);
        }
        dx[i] += dy[i] * d;
    }
}

extern "C" atas_status atas_cuda_act_fwd(const atas_backend *be, float *y, const float *x, size_t n, atas_act kind) {
    LAUNCH(k_act_fwd, n, "act_fwd", y, x, n, (int)kind);
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_act_bwd(const atas_backend *be, float *dx, const float *dy, const float *x, size_t n,
                                         atas_act kind) {
    if (!dx) return ATAS_OK;
    LAUNCH(k_act_bwd, n, "act_bwd", dx, dy, x, n, (int)kind);
    return ATAS_OK;
}

__global__ void k_add(float *y, const float *a, const float *b, size_t n) {
    GRID_STRIDE(i, n) y[i] = a[i] + b[i];
}
__global__ void k_axpy(float *y, float alpha, const float *x, size_t n) {
    GRID_STRIDE(i, n) y[i] += alpha * x[i];
}
__global__ void k_scale(float *y, float alpha, size_t n) {
    GRID_STRIDE(i, n) y[i] *= alpha;
}
__global__ void k_ema(float *t, const float *s, size_t n, float mom) {
    const float a = 1.0f - mom;
    GRID_STRIDE(i, n) t[i] = mom * t[i] + a * s[i];
}

extern "C" atas_status atas_cuda_add(const atas_backend *be, float *y, const float *a, const float *b, size_t n) {
    LAUNCH(k_add, n, "add", y, a, b, n);
    return ATAS_OK;
}
extern "C" atas_status atas_cuda_axpy(const atas_backend *be, float *y, float alpha, const float *x, size_t n) {
    LAUNCH(k_axpy, n, "axpy", y, alpha, x, n);
    return ATAS_OK;
}
extern "C" atas_status atas_cuda_scale(const atas_backend *be, float *y, float alpha, size_t n) {
    LAUNCH(k_scale, n, "scale", y, alpha, n);
    return ATAS_OK;
}
extern "C" atas_status atas_cuda_ema(const atas_backend *be, float *teacher, const float *student, size_t n, float mom) {
    LAUNCH(k_ema, n, "ema", teacher, student, n, mom);
    return ATAS_OK;
}

/* torch.optim.AdamW, the same arithmetic as the CPU backend (adamw_math.h) */
__global__ void k_adamw(float *p, const float *g, float *m, float *v, size_t n,
                        const atas_adamw_consts k) {
    GRID_STRIDE(i, n) atas_adamw_update(p + i, m + i, v + i, g[i], k);
}

extern "C" atas_status atas_cuda_adamw(const atas_backend *be, float *p, const float *g, float *m, float *v, size_t n,
                                       float lr, float beta1, float beta2, float eps, float wd,
                                       int t) {
    /* the step constants on the host, exactly as the CPU backend computes them */
    const atas_adamw_consts k = atas_adamw_prepare(lr, beta1, beta2, eps, wd, t);
    LAUNCH(k_adamw, n, "adamw", p, g, m, v, n, k);
    return ATAS_OK;
}
