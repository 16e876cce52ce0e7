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

/* memory.c */
atas_status atas_cpu_alloc(void **p, size_t bytes, const char *what);
void atas_cpu_free(void *p);
atas_status atas_cpu_upload(void *dst, const void *src, size_t bytes);
atas_status atas_cpu_download(void *dst, const void *src, size_t bytes);
atas_status atas_cpu_copy(void *dst, const void *src, size_t bytes);
atas_status atas_cpu_zero(void *dst, size_t bytes);
atas_status atas_cpu_sync(void);

/* cpu_matmul.c */
atas_status atas_cpu_matmul_fwd(float *y, const float *x, const float *W, int M, int K, int N);
atas_status atas_cpu_matmul_bwd(float *dx, float *dW, const float *dy, const float *x,
                                const float *W, int M, int K, int N);
/* linear.c */
atas_status atas_cpu_linear_fwd(float *y, const float *x, const float *W, const float *b, int M,
                                int K, int N);
atas_status atas_cpu_linear_bwd(float *dx, float *dW, float *db, const float *dy, const float *x,
                                const float *W, int M, int K, int N);

/* layernorm.c */
atas_status atas_cpu_layernorm_fwd(float *y, float *mean, float *rstd, const float *x,
                                   const float *w, const float *b, int M, int C, float eps);
atas_status atas_cpu_layernorm_bwd(float *dx, float *dw, float *db, const float *dy,
                                   const float *x, const float *w, const float *mean,
                                   const float *rstd, int M, int C);

/* attention.c */
size_t atas_cpu_attention_workspace_bytes(int B, int T, int H, int hd);
atas_status atas_cpu_attention_fwd(float *out, float *lse, const float *qkv, int B, int T, int H,
                                   int hd, void *workspace);
atas_status atas_cpu_attention_bwd(float *dqkv, const float *dout, const float *qkv,
                                   const float *out, const float *lse, int B, int T, int H, int hd,
                                   void *workspace);

/* elementwise.c */
atas_status atas_cpu_act_fwd(float *y, const float *x, size_t n, atas_act kind);
atas_status atas_cpu_act_bwd(float *dx, const float *dy, const float *x, size_t n, atas_act kind);
atas_status atas_cpu_add(float *y, const float *a, const float *b, size_t n);
atas_status atas_cpu_axpy(float *y, float alpha, const float *x, size_t n);
atas_status atas_cpu_scale(float *y, float alpha, size_t n);

/* resample.c */
atas_status atas_cpu_resample_fwd(float *out, const float *in, int ih, int iw, int oh, int ow,
                                  int C, atas_resample kind);
atas_status atas_cpu_resample_bwd(float *din, const float *dout, int ih, int iw, int oh, int ow,
                                  int C, atas_resample kind);

/* l2norm.c */
atas_status atas_cpu_l2norm_fwd(float *y, float *norm, const float *x, int M, int C);
atas_status atas_cpu_l2norm_bwd(float *dx, const float *dy, const float *y, const float *norm,
                                int M, int C);

/* vit_plumbing.c */
atas_status atas_cpu_patchify(float *patches, const float *img, int B, int H, int W, int P);
atas_status atas_cpu_embed_fwd(float *x, const float *pe, const float *cls, const float *pos,
                               int B, int Np, int D);
atas_status atas_cpu_embed_bwd(float *dpe, float *dcls, float *dpos, const float *dx, int B,
                               int Np, int D);
atas_status atas_cpu_rows_gather(float *out, const float *in, int B, int T, int C, int t0, int nt);
atas_status atas_cpu_rows_scatter_add(float *din, const float *dout, int B, int T, int C, int t0,
                                      int nt);

/* optimizer.c */
atas_status atas_cpu_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr,
                           float beta1, float beta2, float eps, float wd, int t);
atas_status atas_cpu_ema(float *teacher, const float *student, size_t n, float mom);
atas_status atas_cpu_sumsq(double *host_out, const float *x, size_t n);
atas_status atas_cpu_count_nonfinite(size_t *host_out, const float *x, size_t n);

#endif
