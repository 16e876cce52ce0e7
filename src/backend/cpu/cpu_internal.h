/* Private to the CPU backend: the op functions that fill the table, the
 * thresholds below which loops stay serial, and vectorisable math helpers
 * (glibc's expf/erff are scalar calls that would dominate softmax and GELU). */
#ifndef ATAS_CPU_INTERNAL_H
#define ATAS_CPU_INTERNAL_H

/* FP exception flags are never read in atas; without this GCC refuses to
 * if-convert the clamps in the exp/erf helpers and leaves their loops scalar. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include <stdint.h>
#include <string.h>

#include "atas/backend.h"

/* Elementwise loops shorter than this run on the calling thread: an OpenMP
 * region costs a few microseconds, more than 32k float ops. */
#define ATAS_CPU_PAR_MIN ((size_t)1 << 15)

/* exp(x) for fp32, ~1 ulp over the normal range (Cody-Waite reduction by ln2
 * and a degree-6 polynomial); branch-free so loops calling it vectorise.
 * NaN propagates; below -87.3 it returns ~1e-38 instead of a denormal. */
static inline float atas_fast_expf(float x) {
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.7f ? 88.7f : x;
    float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    int32_t e = ((int32_t)n + 127) << 23;
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

/* every op of the registry (include/atas/ops.def) as atas_cpu_<name>; the
 * registry's argument checks have run before any of them is called */
#define ATAS_OP(name, params, args, checks, flops, bytes) atas_status atas_cpu_##name params;
#define ATAS_FN(name, ret, params) ret atas_cpu_##name params;
#include "atas/ops.def"

#endif
