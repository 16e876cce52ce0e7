/* model: the CLIP ViT vision encoder with explicit forward and backward.
 *
 * All parameters live in ONE backend allocation, gradients in a second of the
 * same layout; a tensor is an offset into it, named as OpenCLIP names it
 * ("visual.transformer.resblocks.3.attn.in_proj_weight"). Activations belong to
 * a pass (atas_vit_pass): one shape (batch, resolution, outputs, train or
 * inference), allocated once and reused every step. */
#ifndef ATAS_VIT_H
#define ATAS_VIT_H

#include "atas/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int patch;   /* P */
    int width;   /* D */
    int layers;  /* L */
    int heads;   /* H, D % H == 0 */
    int mlp;     /* MLP hidden width */
    int embed;   /* E, output of proj */
    int grid;    /* pretrained positional grid side (224/16 -> 14) */
    atas_act act;
    float ln_eps; /* 1e-5 for CLIP */
    int family;   /* ATAS_VIT_CLIP (0) or ATAS_VIT_EVA02 (docs/eva02.md) */
} atas_vit_config;

/* Model families. EVA02 (docs/eva02.md): separate q/k/v (q, v biased), 2-D
 * rotary embedding on q/k, inner LayerNorms, SwiGLU MLP (mlp = hidden width),
 * conv bias, no ln_pre, a Linear head with bias; `act` is not used. */
enum { ATAS_VIT_CLIP = 0, ATAS_VIT_EVA02 = 1 };

/* A config that cannot work fails here, naming the key (prefixed by `where`,
 * e.g. "configs/x.cfg: model") and the rule. */
atas_status atas_vit_config_check(const atas_vit_config *c, const char *where);
/* Limits of atas_vit_config_check (docs/limits.md) */
#define ATAS_VIT_MAX_PATCH 1024
#define ATAS_VIT_MAX_WIDTH 16384
#define ATAS_VIT_MAX_LAYERS 1024
#define ATAS_VIT_MAX_MLP 65536
#define ATAS_VIT_MAX_GRID 1024
#define ATAS_VIT_MAX_PARAMS ((size_t)16 << 30) /* 1.7e10 parameters */
/* An input resolution (H x W) for this model: positive multiples of the patch. */
atas_status atas_vit_check_resolution(const atas_vit_config *c, int H, int W, const char *key);
/* Named presets: "ViT-B-16", "ViT-L-14", "ViT-L-14-336", "ViT-H-14", "ViT-g-14", "ViT-bigG-14". */
atas_status atas_vit_preset(const char *name, atas_vit_config *c);
/* Forward FLOPs per image at H x W, as docs/method.md counts them (x3 for fwd+bwd). */
double atas_vit_flops_forward(const atas_vit_config *c, int H, int W);

/* Tensor table ---------------------------------------------------------- */
enum {
    ATAS_VIT_CONV1 = 0, /* [D,3,P,P] */
    ATAS_VIT_CLS,       /* [D] */
    ATAS_VIT_POS,       /* [G*G+1, D] */
    ATAS_VIT_LNPRE_W,
    ATAS_VIT_LNPRE_B,
    ATAS_VIT_NHEAD /* tensors before the blocks */
};
enum {
    ATAS_BLK_LN1_W = 0,
    ATAS_BLK_LN1_B,
    ATAS_BLK_INPROJ_W, /* [3D,D] rows q|k|v */
    ATAS_BLK_INPROJ_B, /* [3D] */
    ATAS_BLK_OUTPROJ_W,
    ATAS_BLK_OUTPROJ_B,
    ATAS_BLK_LN2_W,
    ATAS_BLK_LN2_B,
    ATAS_BLK_FC_W,    /* [MLP,D] */
    ATAS_BLK_FC_B,
    ATAS_BLK_CPROJ_W, /* [D,MLP] */
    ATAS_BLK_CPROJ_B,
    ATAS_BLK_NTENSORS
};
enum { ATAS_VIT_LNPOST_W = 0, ATAS_VIT_LNPOST_B, ATAS_VIT_PROJ /* [D,E] */, ATAS_VIT_NTAIL };

/* EVA02 tensor table (family ATAS_VIT_EVA02), timm's names under "visual.trunk." */
enum { ATAS_EVA_PATCH_W = 0, ATAS_EVA_PATCH_B, ATAS_EVA_CLS, ATAS_EVA_POS, ATAS_EVA_NHEAD };
enum {
    ATAS_EVA_NORM1_W = 0,
    ATAS_EVA_NORM1_B,
    ATAS_EVA_QKV_W, /* [3D,D] rows q|k|v (q_proj, k_proj, v_proj) */
    ATAS_EVA_Q_B,   /* [D] (k has no bias) */
    ATAS_EVA_V_B,   /* [D] */
    ATAS_EVA_ILN_W, /* attention's inner LayerNorm, before proj */
    ATAS_EVA_ILN_B,
    ATAS_EVA_PROJ_W,
    ATAS_EVA_PROJ_B,
    ATAS_EVA_NORM2_W,
    ATAS_EVA_NORM2_B,
    ATAS_EVA_W12_W, /* [2F,D] rows w1 (gate) | w2 (value) */
    ATAS_EVA_W12_B, /* [2F] */
    ATAS_EVA_FLN_W, /* the MLP's inner LayerNorm (ffn_ln), before w3 */
    ATAS_EVA_FLN_B,
    ATAS_EVA_W3_W,  /* [D,F] */
    ATAS_EVA_W3_B,
    ATAS_EVA_NBLK
};
enum { ATAS_EVA_NORM_W = 0, ATAS_EVA_NORM_B, ATAS_EVA_HEAD_W /* [E,D] */, ATAS_EVA_HEAD_B, ATAS_EVA_NTAIL };
#define ATAS_EVA_ROPE_REF 16.0f    /* the pre-training grid of every EVA02-CLIP */
#define ATAS_EVA_ROPE_THETA 10000.0f
static inline int atas_eva_blk(int l, int k) { return ATAS_EVA_NHEAD + l * ATAS_EVA_NBLK + k; }
static inline int atas_eva_tail(int layers, int k) { return ATAS_EVA_NHEAD + layers * ATAS_EVA_NBLK + k; }

typedef struct {
    char name[96];   /* OpenCLIP name, with the "visual." prefix */
    size_t offset;   /* in floats, into params / grads */
    size_t numel;
    int ndim;
    int shape[4];
    int decay;       /* 1 for 2-D weight matrices (AdamW weight decay applies) */
} atas_param_info;

/* index of a block tensor (layer l, kind k), or of a tail tensor */
static inline int atas_vit_blk(int l, int k) { return ATAS_VIT_NHEAD + l * ATAS_BLK_NTENSORS + k; }
static inline int atas_vit_tail(int layers, int k) {
    return ATAS_VIT_NHEAD + layers * ATAS_BLK_NTENSORS + k;
}

/* The table for a config, in the parameter buffer's order (no model needed). */
atas_status atas_vit_param_table(const atas_vit_config *c, atas_param_info **info, int *n,
                                 size_t *nparams);

typedef struct atas_vit {
    atas_vit_config cfg;
    const atas_backend *be;
    int ntensors;
    atas_param_info *info; /* host */
    size_t nparams;
    float *params;          /* backend memory, one allocation */
    float *grads;           /* backend memory, one allocation, or NULL (teacher) */
    atas_bf16 *params_h;    /* bf16 storage (docs/backend.md): a bf16 copy of params that the
                             * block GEMMs read, refreshed by every forward; NULL when off */
    unsigned char *trainable; /* host [ntensors]: frozen tensors get no weight gradient */
    /* Optional: called during the backward whenever every gradient at offsets >=
     * `from` is final for this pass (the trainer starts its allreduce buckets). */
    atas_status (*grad_ready)(void *ctx, size_t from);
    void *grad_ready_ctx;
} atas_vit;

atas_status atas_vit_create(atas_vit *m, const atas_vit_config *cfg, const atas_backend *be,
                            int with_grads);
void atas_vit_destroy(atas_vit *m);
int atas_vit_find(const atas_vit *m, const char *name); /* -1 when absent */
/* bf16 storage (docs/backend.md "bf16 storage"): on by default on a backend at precision
 * bf16 (ATAS_BF16_STORAGE=0 in the environment turns the default off); passes created
 * afterwards store the block GEMMs' inputs as bf16 and read the weights from a bf16 copy.
 * Same results as off on the CPU, bit for bit. Returns ATAS_ERR_UNSUPPORTED for on at
 * another precision. */
atas_status atas_vit_set_bf16_storage(atas_vit *m, int on);
/* what atas_vit_create chooses on be: precision bf16 and ATAS_BF16_STORAGE not "0" */
int atas_vit_bf16_storage_default(const atas_backend *be);
static inline int atas_vit_bf16_storage(const atas_vit *m) { return m->params_h != NULL; }
static inline float *atas_vit_p(const atas_vit *m, int idx) { return m->params + m->info[idx].offset; }
/* the bf16 copy of tensor idx (bf16 storage on) */
static inline const atas_bf16 *atas_vit_ph(const atas_vit *m, int idx) { return m->params_h + m->info[idx].offset; }
/* gradient of tensor idx, or NULL when the model has no gradients or it is frozen */
static inline float *atas_vit_g(const atas_vit *m, int idx) {
    return (m->grads && m->trainable[idx]) ? m->grads + m->info[idx].offset : NULL;
}
/* Deterministic random weights (tests, benchmarks): N(0, std) matrices scaled
 * like CLIP's init, LayerNorm weight 1 + noise, biases small. */
atas_status atas_vit_init_random(atas_vit *m, uint64_t seed);
/* Train every tensor (1) or none (0). */
void atas_vit_set_trainable_all(atas_vit *m, int on);
/* CLIPSelf's default: the last n blocks train (n <= 0 or n > L: all blocks);
 * conv1, class/positional embedding, ln_pre, ln_post and proj stay frozen
 * unless train_embeddings / train_head. */
void atas_vit_set_trainable_blocks(atas_vit *m, int unlocked_blocks, int train_embeddings,
                                   int train_head);
atas_status atas_vit_zero_grads(atas_vit *m);
size_t atas_vit_trainable_params(const atas_vit *m);

/* Passes ----------------------------------------------------------------- */
enum { ATAS_OUT_GLOBAL = 1, ATAS_OUT_DENSE = 2 };

typedef struct atas_vit_pass atas_vit_pass;

/* B images of H x W; outputs = ATAS_OUT_GLOBAL | ATAS_OUT_DENSE; train = 1 keeps
 * what the backward needs, train = 0 keeps nothing beyond a few working buffers. */
atas_status atas_vit_pass_create(atas_vit_pass **p, const atas_vit *m, int B, int H, int W,
                                 int outputs, int train);
void atas_vit_pass_destroy(atas_vit_pass *p);
size_t atas_vit_pass_bytes(const atas_vit_pass *p);
int atas_vit_pass_grid_h(const atas_vit_pass *p);
int atas_vit_pass_grid_w(const atas_vit_pass *p);

/* images: backend memory [B,3,H,W], already CLIP-normalised. */
atas_status atas_vit_forward(atas_vit_pass *p, const atas_vit *m, const float *images);
/* [B,E] = ln_post(x_cls) @ proj, not normalised (backend memory) */
const float *atas_vit_global(const atas_vit_pass *p);
/* [B,h,w,E] value-path dense map, not normalised (backend memory) */
const float *atas_vit_dense(const atas_vit_pass *p);
/* Accumulate parameter gradients (+=) into m->grads from upstream gradients of
 * either output (NULL = zero). Needs a train pass after its forward. */
atas_status atas_vit_backward(atas_vit_pass *p, const atas_vit *m, const float *dglobal,
                              const float *ddense);

#ifdef __cplusplus
}
#endif
#endif
