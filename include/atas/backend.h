/* backend: one table of ops with forward and backward, chosen at run time.
 *
 * Conventions (every backend, every op):
 *  - pointers are backend memory (host memory for "cpu", device memory for "cuda");
 *  - tensors are fp32, row-major, contiguous unless a leading dimension is given;
 *  - forward ops overwrite their outputs;
 *  - backward ops ACCUMULATE (+=) into every gradient they write, and a NULL
 *    gradient pointer means "not wanted": its work is skipped (frozen weights
 *    cost no weight-gradient GEMM);
 *  - no op allocates: scratch comes from the caller (see *_workspace_bytes);
 *  - no op prints; failures return a status raised with ATAS_ERR.
 */
#ifndef ATAS_BACKEND_H
#define ATAS_BACKEND_H

#include "atas/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { ATAS_ACT_QUICKGELU = 0, ATAS_ACT_GELU = 1 } atas_act;
typedef enum { ATAS_RESAMPLE_BICUBIC = 0, ATAS_RESAMPLE_BILINEAR = 1 } atas_resample;

typedef struct atas_backend atas_backend;
struct atas_backend {
    const char *name;
    int host_addressable; /* 1 when pointers can be read by the CPU directly */

    /* ---- memory */
    atas_status (*alloc)(void **p, size_t bytes, const char *what); /* zero-filled */
    void (*free)(void *p);
    atas_status (*upload)(void *dst, const void *host_src, size_t bytes);
    atas_status (*download)(void *host_dst, const void *src, size_t bytes);
    atas_status (*copy)(void *dst, const void *src, size_t bytes);
    atas_status (*zero)(void *dst, size_t bytes);
    atas_status (*sync)(void);

    /* ---- linear: y[M,N] = x[M,K] W[N,K]^T + b[N]   (b may be NULL) */
    atas_status (*linear_fwd)(float *y, const float *x, const float *W, const float *b,
                              int M, int K, int N);
    /* dx[M,K] += dy W ; dW[N,K] += dy^T x ; db[N] += sum_rows dy */
    atas_status (*linear_bwd)(float *dx, float *dW, float *db, const float *dy, const float *x,
                              const float *W, int M, int K, int N);

    /* ---- plain matmul, for weights stored [K,N] (CLIP's proj): y[M,N] = x[M,K] W[K,N];
     * backward: dx[M,K] += dy W^T ; dW[K,N] += x^T dy */
    atas_status (*matmul_fwd)(float *y, const float *x, const float *W, int M, int K, int N);
    atas_status (*matmul_bwd)(float *dx, float *dW, const float *dy, const float *x,
                              const float *W, int M, int K, int N);

    /* ---- LayerNorm over the last dim C; mean/rstd [M] saved when non-NULL */
    atas_status (*layernorm_fwd)(float *y, float *mean, float *rstd, const float *x,
                                 const float *w, const float *b, int M, int C, float eps);
    atas_status (*layernorm_bwd)(float *dx, float *dw, float *db, const float *dy, const float *x,
                                 const float *w, const float *mean, const float *rstd, int M, int C);

    /* ---- multi-head self-attention on packed qkv [B,T,3D] (q | k | v, heads
     * contiguous inside each third, D = H*hd) -> out [B,T,D]. lse [B,H,T] holds the
     * row log-sum-exp of the scaled scores (NULL in inference); the backward
     * recomputes probabilities from it, so no T x T matrix outlives a call. */
    size_t (*attention_workspace_bytes)(int B, int T, int H, int hd);
    atas_status (*attention_fwd)(float *out, float *lse, const float *qkv, int B, int T, int H,
                                 int hd, void *workspace);
    atas_status (*attention_bwd)(float *dqkv, const float *dout, const float *qkv,
                                 const float *out, const float *lse, int B, int T, int H, int hd,
                                 void *workspace);
    /* Causal variant (CLIP's text tower): query i attends to keys j <= i only.
     * Same layout, lse and workspace as attention_fwd; inference only (no backward). */
    atas_status (*attention_causal_fwd)(float *out, float *lse, const float *qkv, int B, int T,
                                        int H, int hd, void *workspace);

    /* ---- activation: QuickGELU x*sigmoid(1.702x) or erf-GELU; dx += dy*act'(x) */
    atas_status (*act_fwd)(float *y, const float *x, size_t n, atas_act kind);
    atas_status (*act_bwd)(float *dx, const float *dy, const float *x, size_t n, atas_act kind);

    /* ---- elementwise: y = a + b (y may alias a or b); y += alpha*x; y *= alpha */
    atas_status (*add)(float *y, const float *a, const float *b, size_t n);
    atas_status (*axpy)(float *y, float alpha, const float *x, size_t n);
    atas_status (*scale)(float *y, float alpha, size_t n);

    /* ---- separable resampling of a channels-last grid in[ih,iw,C] -> out[oh,ow,C],
     * align_corners = False; bicubic a = -0.75 with edge-clamped taps, or bilinear.
     * The backward accumulates the transposed weights: din += R^T dout. */
    atas_status (*resample_fwd)(float *out, const float *in, int ih, int iw, int oh, int ow, int C,
                                atas_resample kind);
    atas_status (*resample_bwd)(float *din, const float *dout, int ih, int iw, int oh, int ow,
                                int C, atas_resample kind);

    /* ---- L2 normalisation of M rows of C: y = x / max(|x|, 1e-12); norm [M] saved */
    atas_status (*l2norm_fwd)(float *y, float *norm, const float *x, int M, int C);
    atas_status (*l2norm_bwd)(float *dx, const float *dy, const float *y, const float *norm, int M,
                              int C);

    /* ---- ViT plumbing.
     * patchify: img [B,3,H,W] -> patches [B, (H/P)*(W/P), 3*P*P], each patch ordered (c, ky, kx)
     * so that conv1 [D,3,P,P] is a plain linear layer on it. */
    atas_status (*patchify)(float *patches, const float *img, int B, int H, int W, int P);
    /* tokens: x[b,0] = cls + pos[0]; x[b,1+p] = pe[b,p] + pos[1+p]  (x [B,T,D], T = 1+Np) */
    atas_status (*embed_fwd)(float *x, const float *pe, const float *cls, const float *pos, int B,
                             int Np, int D);
    atas_status (*embed_bwd)(float *dpe, float *dcls, float *dpos, const float *dx, int B, int Np,
                             int D);
    /* out[b, j] = in[b, t0 + j] for j < nt   (rows of C);   backward: din[b, t0+j] += dout[b, j] */
    atas_status (*rows_gather)(float *out, const float *in, int B, int T, int C, int t0, int nt);
    atas_status (*rows_scatter_add)(float *din, const float *dout, int B, int T, int C, int t0,
                                    int nt);

    /* ---- optimizer and teacher */
    /* AdamW, PyTorch semantics: p -= lr*wd*p; m,v moments; bias-corrected with step t >= 1 */
    atas_status (*adamw)(float *p, const float *g, float *m, float *v, size_t n, float lr,
                         float beta1, float beta2, float eps, float wd, int t);
    /* teacher = mom*teacher + (1-mom)*student */
    atas_status (*ema)(float *teacher, const float *student, size_t n, float mom);
    /* sum of squares in double, written to a host double */
    atas_status (*sumsq)(double *host_out, const float *x, size_t n);
    /* number of non-finite values, written to a host size_t */
    atas_status (*count_nonfinite)(size_t *host_out, const float *x, size_t n);
};

/* "cpu" or "cuda". Asking for "cuda" in a CPU-only build, or on a machine with
 * no GPU, fails with ATAS_ERR_UNSUPPORTED and a message that says which. */
atas_status atas_backend_get(const char *name, const atas_backend **out);
const atas_backend *atas_backend_cpu(void);
/* The rank's index among the ranks of its node. Call before atas_backend_get: a
 * device backend then binds one device per local rank (device = local_rank % count). */
void atas_backend_set_local_rank(int local_rank);
int atas_backend_local_rank(void);
/* Threads the CPU backend (OpenMP and OpenBLAS) uses; <= 0 keeps the default. */
void atas_cpu_set_threads(int n);
int atas_cpu_threads(void);

/* The 1-D resampling weights that the resample ops apply along one axis:
 * taps[o*4 + k] source indices and wts[o*4 + k] weights (bilinear uses k < 2 and
 * sets the rest to weight 0). Exposed so tests and the CUDA backend share them. */
void atas_resample_weights(int in, int out, atas_resample kind, int *taps, float *wts);

#ifdef __cplusplus
}
#endif
#endif
