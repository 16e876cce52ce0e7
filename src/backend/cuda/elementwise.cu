/* Activations, elementwise arithmetic and the optimizer / teacher updates: grid-stride
 * loops of elementwise maps. When every pointer is 16-byte aligned (the activation
 * plans and parameter arenas align their buffers; an offset view may not be) a thread
 * moves a float4 per step, then the < 4 tail elements go one each: these ops are pure
 * memory traffic, and 16-byte accesses need a quarter of the load/store instructions.
 * Each element's arithmetic is the same either way. Accurate expf / erff (the backend
 * is never built with fast-math). */
#include <math.h>
#include <stdint.h>

#include <cuda_bf16.h>
#include <string.h>

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

#define F4(p) reinterpret_cast<float4 *>(p)
#define CF4(p) reinterpret_cast<const float4 *>(p)
/* the tail after the float4s: one element for each of the first n % 4 threads */
#define TAIL_INDEX(n) (((n) & ~(size_t)3) + blockIdx.x * (size_t)blockDim.x + threadIdx.x)

/* y[i] = f(x[i]) (x may be y) */
template <class F, bool V4> __global__ void k_map1(float *y, const float *x, size_t n, F f) {
    if (V4) {
        GRID_STRIDE(i, n / 4) {
            const float4 u = CF4(x)[i];
            F4(y)[i] = make_float4(f(u.x), f(u.y), f(u.z), f(u.w));
        }
        const size_t t = TAIL_INDEX(n);
        if (t < n) y[t] = f(x[t]);
    } else {
        GRID_STRIDE(i, n) y[i] = f(x[i]);
    }
}
/* y[i] = f(a[i], b[i]) (y may be a or b) */
template <class F, bool V4> __global__ void k_map2(float *y, const float *a, const float *b, size_t n, F f) {
    if (V4) {
        GRID_STRIDE(i, n / 4) {
            const float4 u = CF4(a)[i], v = CF4(b)[i];
            F4(y)[i] = make_float4(f(u.x, v.x), f(u.y, v.y), f(u.z, v.z), f(u.w, v.w));
        }
        const size_t t = TAIL_INDEX(n);
        if (t < n) y[t] = f(a[t], b[t]);
    } else {
        GRID_STRIDE(i, n) y[i] = f(a[i], b[i]);
    }
}
/* y[i] = f(a[i], b[i], c[i]) (y may be a) */
template <class F, bool V4>
__global__ void k_map3(float *y, const float *a, const float *b, const float *c, size_t n, F f) {
    if (V4) {
        GRID_STRIDE(i, n / 4) {
            const float4 u = CF4(a)[i], v = CF4(b)[i], w = CF4(c)[i];
            F4(y)[i] = make_float4(f(u.x, v.x, w.x), f(u.y, v.y, w.y), f(u.z, v.z, w.z), f(u.w, v.w, w.w));
        }
        const size_t t = TAIL_INDEX(n);
        if (t < n) y[t] = f(a[t], b[t], c[t]);
    } else {
        GRID_STRIDE(i, n) y[i] = f(a[i], b[i], c[i]);
    }
}

static inline bool al16(const void *p) { return ((uintptr_t)p & 15) == 0; }
/* the float4 kernel when every pointer allows it; blocks for n/4 (or n) work items */
#define MAP_LAUNCH(kern, op, n, aligned, F, f, ...)                                                   \
    do {                                                                                             \
        if ((n) == 0) return ATAS_OK;                                                                \
        if (aligned)                                                                                 \
            kern<F, true><<<atas_cu_blocks(((n) + 3) / 4, ATAS_CU_THREADS), ATAS_CU_THREADS, 0,        \
                            atas_cu_stream(be)>>>(__VA_ARGS__, (n), (f));                              \
        else                                                                                         \
            kern<F, false><<<atas_cu_blocks((n), ATAS_CU_THREADS), ATAS_CU_THREADS, 0,                 \
                             atas_cu_stream(be)>>>(__VA_ARGS__, (n), (f));                             \
        CU_LAUNCHED(op);                                                                             \
    } while (0)

struct ActFwd {
    int kind;
    __device__ float operator()(float v) const {
        return kind == ATAS_ACT_QUICKGELU ? v / (1.0f + expf(-QG_ALPHA * v)) : 0.5f * v * (1.0f + erff(v * INV_SQRT2));
    }
};
/* dx + dy * act'(x) */
struct ActBwd {
    int kind;
    __device__ float operator()(float dx, float dy, float v) const {
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
        return dx + dy * d;
    }
};
struct Add {
    __device__ float operator()(float a, float b) const { return a + b; }
};
struct Axpy {
    float alpha;
    __device__ float operator()(float y, float x) const { return y + alpha * x; }
};
struct Scale {
    float alpha;
    __device__ float operator()(float y) const { return y * alpha; }
};
struct Ema {
    float mom, a;
    __device__ float operator()(float t, float s) const { return mom * t + a * s; }
};

extern "C" atas_status atas_cuda_act_fwd(const atas_backend *be, float *y, const float *x, size_t n, atas_act kind) {
    MAP_LAUNCH(k_map1, "act_fwd", n, al16(y) && al16(x), ActFwd, ActFwd{(int)kind}, y, x);
    return ATAS_OK;
}

/* ---- bf16 storage: f(x) rounded to bf16 (round to nearest even). Aligned (x 16 bytes,
 * y 8 bytes): a float4 in and four bf16 out as one 8-byte store per step. */
__device__ __forceinline__ unsigned bf16_bits(float v) {
    const __nv_bfloat16 h = __float2bfloat16_rn(v);
    unsigned short u;
    memcpy(&u, &h, sizeof u);
    return u;
}
struct Ident {
    __device__ float operator()(float v) const { return v; }
};
template <class F, bool V4> __global__ void k_map1_h(atas_bf16 *y, const float *x, size_t n, F f) {
    if (V4) {
        GRID_STRIDE(i, n / 4) {
            const float4 u = CF4(x)[i];
            reinterpret_cast<uint2 *>(y)[i] =
                make_uint2(bf16_bits(f(u.x)) | bf16_bits(f(u.y)) << 16, bf16_bits(f(u.z)) | bf16_bits(f(u.w)) << 16);
        }
        const size_t t = TAIL_INDEX(n);
        if (t < n) y[t] = (atas_bf16)bf16_bits(f(x[t]));
    } else {
        GRID_STRIDE(i, n) y[i] = (atas_bf16)bf16_bits(f(x[i]));
    }
}
/* widening is exact: the bf16 bits are the upper half of the fp32 */
__global__ void k_widen(float *y, const atas_bf16 *x, size_t n) {
    GRID_STRIDE(i, n) {
        const unsigned u = (unsigned)x[i] << 16;
        float v;
        memcpy(&v, &u, sizeof v);
        y[i] = v;
    }
}
static inline bool al8(const void *p) { return ((uintptr_t)p & 7) == 0; }

extern "C" atas_status atas_cuda_act_fwd_h(const atas_backend *be, atas_bf16 *y, const float *x, size_t n,
                                           atas_act kind) {
    MAP_LAUNCH(k_map1_h, "act_fwd_h", n, al8(y) && al16(x), ActFwd, ActFwd{(int)kind}, y, x);
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_cast_bf16(const atas_backend *be, atas_bf16 *dst, const float *src, size_t n) {
    MAP_LAUNCH(k_map1_h, "cast_bf16", n, al8(dst) && al16(src), Ident, Ident{}, dst, src);
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_cast_f32(const atas_backend *be, float *dst, const atas_bf16 *src, size_t n) {
    LAUNCH(k_widen, n, "cast_f32", dst, src, n);
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_act_bwd(const atas_backend *be, float *dx, const float *dy, const float *x, size_t n,
                                         atas_act kind) {
    if (!dx) return ATAS_OK;
    MAP_LAUNCH(k_map3, "act_bwd", n, al16(dx) && al16(dy) && al16(x), ActBwd, ActBwd{(int)kind}, dx, dx, dy, x);
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_add(const atas_backend *be, float *y, const float *a, const float *b, size_t n) {
    MAP_LAUNCH(k_map2, "add", n, al16(y) && al16(a) && al16(b), Add, Add{}, y, a, b);
    return ATAS_OK;
}
extern "C" atas_status atas_cuda_axpy(const atas_backend *be, float *y, float alpha, const float *x, size_t n) {
    MAP_LAUNCH(k_map2, "axpy", n, al16(y) && al16(x), Axpy, Axpy{alpha}, y, y, x);
    return ATAS_OK;
}
extern "C" atas_status atas_cuda_scale(const atas_backend *be, float *y, float alpha, size_t n) {
    MAP_LAUNCH(k_map1, "scale", n, al16(y), Scale, Scale{alpha}, y, y);
    return ATAS_OK;
}
extern "C" atas_status atas_cuda_ema(const atas_backend *be, float *teacher, const float *student, size_t n, float mom) {
    MAP_LAUNCH(k_map2, "ema", n, al16(teacher) && al16(student), Ema, (Ema{mom, 1.0f - mom}), teacher, teacher,
               student);
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
