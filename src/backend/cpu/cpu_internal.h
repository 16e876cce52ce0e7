/* Private to the CPU backend: the op functions that fill the table, the
 * thresholds below which loops stay serial, and vectorisable math helpers
 * (glibc's expf/erff are scalar calls that would dominate softmax and GELU). */
#ifndef ATAS_CPU_INTERNAL_H
#define ATAS_CPU_INTERNAL_H

/* FP exception flags are never read in atas; without this GCC refuses to
 * if-convert the clamps in the exp/erf helpers and leaves their loops scalar.
 * The Release build also passes -fno-trapping-math (CMakeLists.txt): the pragma
 * does not reach the AVX2 clones of ATAS_CPU_HOT functions. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include <stdint.h>
#include <string.h>

#include "atas/backend.h"

/* The hot loops (activations, softmax, LayerNorm rows) are compiled twice, for
 * x86-64-v3 (AVX2 + FMA) and for the portable baseline, and the loader picks
 * the clone the CPU runs (GCC target_clones, an ifunc). A build that already
 * targets AVX2 (-DATAS_NATIVE=ON on such a machine) compiles them once. The
 * OpenMP regions call them per span or row: a region's outlined body is not
 * cloned, a function it calls is. GEMMs are OpenBLAS's, dispatched by it. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__AVX2__)
#define ATAS_CPU_HOT \
    __attribute__((target_clones("arch=x86-64-v3", "default"), optimize("no-trapping-math")))
#else
#define ATAS_CPU_HOT
#endif
/* elements per span handed to an ATAS_CPU_HOT function by a parallel loop */
#define ATAS_CPU_SPAN ((long)1 << 14)

/* Elementwise loops shorter than this run on the calling thread: an OpenMP
 * region costs a few microseconds, more than 32k float ops. */
#define ATAS_CPU_PAR_MIN ((size_t)1 << 15)

/* exp(x) for fp32, ~1 ulp over the normal range (Cody-Waite reduction by ln2
 * and a degree-6 polynomial); branch-free so loops calling it vectorise.
 * NaN propagates; below -87.3 it returns ~1e-38 instead of a denormal. */
static inline float atas_fast_expf(float x) {
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.7f ? 88.7f : x;
    /* n = nearest integer to x/ln2 by the 1.5*2^23 shift (|x/ln2| < 2^22): adds
     * vectorise on every ISA, where floorf needs SSE4.1's roundps and is a libm
     * call in the portable baseline, which stops the loop vectorising */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    /* NaN: converting it to int is undefined; its exponent is irrelevant (y is NaN) */
    int32_t ni = (int32_t)(n == n ? n : 0.0f);
    uint32_t e = (uint32_t)(ni + 127) << 23;
    float s;
    memcpy(&s, &e, sizeof s);
    return y * s;
}

/* erf(x), Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7), vectorisable. */
static inline float atas_fast_erff(float x) {
    float ax = x < 0 ? -x : x;
    float t = 1.0f / (1.0f + 0.3275911f * ax);
    float p = 1.061405429f;
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    float y = 1.0f - p * t * atas_fast_expf(-ax * ax);
    return x < 0 ? -y : y;
}

/* Scratch of the calling thread for the rounded GEMM operands (scratch.c):
 * at least `floats` floats, valid until this thread's next call; grown, never
 * freed while the thread lives. */
atas_status atas_cpu_scratch(size_t floats, float **out, const char *op);
/* the GEMM inputs of be are rounded (tf32 / bf16) */
static inline int atas_cpu_rounds(const atas_backend *be) { return be->precision != ATAS_PREC_FP32; }

/* the GEMMs of linear_fwd / linear_bwd on operands as given (linear.c): the fp32 ops
 * call them on rounded copies at tf32/bf16, the bf16 storage ops on widened ones */
void atas_cpu_linear_fwd_gemm(float *y, const float *x, const float *W, const float *b, int M, int K, int N);
void atas_cpu_linear_bwd_gemm(float *dx, float *dW, float *db, const float *dy, const float *dy_sum, const float *x,
                              const float *W, int M, int K, int N);

/* every op of the registry (include/backend/atas/ops.def) as atas_cpu_<name>; the
 * registry's argument checks have run before any of them is called */
#define ATAS_OP(name, params, args, checks, flops, bytes) atas_status atas_cpu_##name params;
#define ATAS_FN(name, ret, params) ret atas_cpu_##name params;
#include "atas/ops.def"

#endif
