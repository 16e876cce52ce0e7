/* Private: the activation plan of one pass (shape, outputs, train/inference). */
#ifndef ATAS_VIT_PASS_H
#define ATAS_VIT_PASS_H

#include "atas/vit.h"

struct atas_vit_pass {
    int B, H, W, gh, gw, Np, T;
    int outputs, train;
    int h; /* bf16 storage (the model's params_h at creation): the *h buffers replace their
            * fp32 namesakes in the blocks, whose GEMMs read bf16 (docs/backend.md) */
    int nblk; /* blocks run on the full sequence: L with a global output, else L-1 */
    size_t bytes;
    const atas_backend *be;
    atas_plan plan; /* every buffer below lives in its one allocation */
    char title[96];

    /* embedding */
    float *patches; /* [B,Np,3PP] */
    float *pe;      /* [B,Np,D] patch embeddings */
    float *pos;     /* [T,D] positional embedding at this grid */
    float *x0;      /* [B,T,D] ln_pre input */
    float *lnpre_mean, *lnpre_rstd; /* [B*T] */

    /* blocks: train = nblk slots each (one allocation per kind), inference = 1 slot.
     * res holds nblk+1 slots in train (res[0] = ln_pre output) and 1 in inference
     * (updated in place). */
    float *res, *ln1, *ln1_mean, *ln1_rstd, *qkv, *atty, *lse, *res2, *ln2, *ln2_mean, *ln2_rstd,
        *fch;
    float *fca;     /* [B,T,Hm] activation output (recomputed in the backward); with bf16
                     * storage only the dense path's [B,Np,Hm] */
    atas_bf16 *ln1h, *ln2h, *fcah; /* bf16 storage: as ln1, ln2, fca (CLIP) */
    atas_bf16 *e_ilnh, *e_flnh;    /* bf16 storage, EVA02: as e_iln, e_fln (ln1h, ln2h too) */
    atas_bf16 *g_dyh;              /* bf16 storage, train: a GEMM's dy as bf16 [B,T,widest output] */
    float *tmp;     /* [B,T,D] inference: projection output before the residual add */
    void *attn_ws;
    void *rs_plan;  /* the positional embedding's resample tables, built at creation
                     * (NULL when the grid is the model's own) */

    /* global head */
    float *g_x, *g_ln, *g_mean, *g_rstd, *glob; /* [B,D] [B,D] [B] [B] [B,E] */

    /* dense value path on the Np patch tokens of every image (rows B*Np) */
    float *d_x, *d_ln1, *d_ln1_mean, *d_ln1_rstd, *d_v, *d_x1, *d_ln2, *d_ln2_mean, *d_ln2_rstd,
        *d_fch, *d_x2, *d_lnp, *d_lnp_mean, *d_lnp_rstd, *dense;

    /* EVA02 only (docs/eva02.md): the inner LayerNorms of attention and MLP, per
     * slot like ln_1 (fch then holds the w1|w2 output [.., 2F], fca the SwiGLU
     * output), their dense-path copies, the packed q|0|v bias and backward scratch */
    float *e_iln, *e_iln_mean, *e_iln_rstd, *e_fln, *e_fln_mean, *e_fln_rstd;
    float *d_iln, *d_iln_mean, *d_iln_rstd, *d_fln, *d_fln_mean, *d_fln_rstd;
    float *e_bias3, *g_dbias3, *g_dqkv2, *g_dfln;

    /* backward scratch (train only) */
    float *g_dres, *g_dqkv, *g_datty, *g_dln, *g_dfch, *g_dfca, *g_dpos, *g_dpe, *g_dsmall,
        *g_dsmall2;
};

/* a block GEMM input of a pass's plan: n elements of bf16 named what_h with bf16 storage
 * (p->h), else of fp32 named what (the plan keeps the names: string literals) */
static inline void atas_pass_take_in(atas_vit_pass *p, float **buf, atas_bf16 **bufh, size_t n, const char *what,
                                     const char *what_h) {
    if (p->h) atas_plan_add(&p->plan, bufh, n * sizeof(atas_bf16), what_h);
    else atas_plan_add(&p->plan, buf, n * sizeof(float), what);
}

#endif
