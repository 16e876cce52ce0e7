/* Private to the CUDA backend: the op functions that fill its table (plain C
 * declarations, so the table itself is written in C) and the entry point that
 * backend.c dispatches "cuda" to. Built only with ATAS_WITH_CUDA. */
#ifndef ATAS_CUDA_BACKEND_H
#define ATAS_CUDA_BACKEND_H

#include "atas/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Initialises the device, cuBLAS and the static tables once; fails with
 * ATAS_ERR_UNSUPPORTED when no CUDA device can be used. */
atas_status atas_cuda_backend_get(const atas_backend **out);
/* once per process, from atas_cuda_backend_get */
atas_status atas_cuda_init(void);

atas_status atas_cuda_alloc(void **p, size_t bytes, const char *what);
void atas_cuda_free(void *p);
atas_status atas_cuda_upload(void *dst, const void *src, size_t bytes);
atas_status atas_cuda_download(void *dst, const void *src, size_t bytes);
atas_status atas_cuda_copy(void *dst, const void *src, size_t bytes);
atas_status atas_cuda_zero(void *dst, size_t bytes);
atas_status atas_cuda_sync(void);

atas_status atas_cuda_linear_fwd(float *y, const float *x, const float *W, const float *b, int M,
                                 int K, int N);
atas_status atas_cuda_linear_bwd(float *dx, float *dW, float *db, const float *dy, const float *x,
                                 const float *W, int M, int K, int N);
atas_status atas_cuda_matmul_fwd(float *y, const float *x, const float *W, int M, int K, int N);
atas_status atas_cuda_matmul_bwd(float *dx, float *dW, const float *dy, const float *x,
                                 const float *W, int M, int K, int N);

atas_status atas_cuda_layernorm_fwd(float *y, float *mean, float *rstd, const float *x,
                                    const float *w, const float *b, int M, int C, float eps);
atas_status atas_cuda_layernorm_bwd(float *dx, float *dw, float *db, const float *dy,
                                    const float *x, const float *w, const float *mean,
                                    const float *rstd, int M, int C);

size_t atas_cuda_attention_workspace_bytes(int B, int T, int H, int hd);
atas_status atas_cuda_attention_fwd(float *out, float *lse, const float *qkv, int B, int T, int H,
                                    int hd, void *workspace);
atas_status atas_cuda_attention_causal_fwd(float *out, float *lse, const float *qkv, int B,
                                           int T, int H, int hd, void *workspace);
atas_status atas_cuda_attention_bwd(float *dqkv, const float *dout, const float *qkv,
                                    const float *out, const float *lse, int B, int T, int H,
                                    int hd, void *workspace);

atas_status atas_cuda_act_fwd(float *y, const float *x, size_t n, atas_act kind);
atas_status atas_cuda_act_bwd(float *dx, const float *dy, const float *x, size_t n, atas_act kind);
atas_status atas_cuda_add(float *y, const float *a, const float *b, size_t n);
atas_status atas_cuda_axpy(float *y, float alpha, const float *x, size_t n);
atas_status atas_cuda_scale(float *y, float alpha, size_t n);

atas_status atas_cuda_resample_fwd(float *out, const float *in, int ih, int iw, int oh, int ow,
                                   int C, atas_resample kind);
atas_status atas_cuda_resample_bwd(float *din, const float *dout, int ih, int iw, int oh, int ow,
                                   int C, atas_resample kind);

atas_status atas_cuda_l2norm_fwd(float *y, float *norm, const float *x, int M, int C);
atas_status atas_cuda_l2norm_bwd(float *dx, const float *dy, const float *y, const float *norm,
                                 int M, int C);

atas_status atas_cuda_patchify(float *patches, const float *img, int B, int H, int W, int P);
atas_status atas_cuda_embed_fwd(float *x, const float *pe, const float *cls, const float *pos,
                                int B, int Np, int D);
atas_status atas_cuda_embed_bwd(float *dpe, float *dcls, float *dpos, const float *dx, int B,
                                int Np, int D);
atas_status atas_cuda_rows_gather(float *out, const float *in, int B, int T, int C, int t0, int nt);
atas_status atas_cuda_rows_scatter_add(float *din, const float *dout, int B, int T, int C, int t0,
                                       int nt);

atas_status atas_cuda_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr,
                            float beta1, float beta2, float eps, float wd, int t);
atas_status atas_cuda_ema(float *teacher, const float *student, size_t n, float mom);
atas_status atas_cuda_sumsq(double *host_out, const float *x, size_t n);
atas_status atas_cuda_count_nonfinite(size_t *host_out, const float *x, size_t n);

#ifdef __cplusplus
}
#endif
#endif
