/* Private to src/model: the pieces the two block families (CLIP ViT: vit_*.c, EVA02:
 * eva_*.c) share. Each family supplies its own block, dense-path and head functions;
 * the order they run in, the gradient-ready notices and the positional embedding's
 * backward are written once here. */
#ifndef ATAS_VIT_FAMILY_H
#define ATAS_VIT_FAMILY_H

#include "vit_pass.h"

/* one parameter table entry at *off (64-byte aligned), name from fmt */
void atas_param_set(atas_param_info *t, size_t *off, int decay, int ndim, const int *shape,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* a family's functions: atas_vit_forward_blocks uses the _fwd ones, atas_vit_backward_blocks
 * the _bwd ones (each file fills its half) */
typedef struct {
    /* x_out = block l (x_in); keeps what the backward needs when p->train */
    atas_status (*block_fwd)(atas_vit_pass *p, const atas_vit *m, int l, const float *x_in, float *x_out);
    /* the dense output from the last block's input x */
    atas_status (*dense_fwd)(atas_vit_pass *p, const atas_vit *m, const float *x);
    /* the global output from the last block's output x */
    atas_status (*global_fwd)(atas_vit_pass *p, const atas_vit *m, const float *x);
    /* dx holds d(block output); on return d(block input) when need_dx */
    atas_status (*block_bwd)(atas_vit_pass *p, const atas_vit *m, int l, float *dx, int need_dx);
    atas_status (*dense_bwd)(atas_vit_pass *p, const atas_vit *m, const float *ddense, float *dres, int need_dx);
    atas_status (*global_bwd)(atas_vit_pass *p, const atas_vit *m, const float *dglob, float *dres);
} atas_vit_family;

/* Cross-block fusion of the forward: block l's closing residual add also computes
 * the ln_1 of block l+1 (add_layernorm_fwd) when block l+1 is one of the shared
 * blocks 1..L-2, which then start from it. The last block computes its own: its input
 * feeds the dense path first, which may reuse the ln_1 buffer in inference. */
static inline int atas_vit_ln1_from_prev(const atas_vit *m, int l) {
    return l >= 1 && l <= m->cfg.layers - 2;
}

/* The close of block l's forward, both families: x_out = mlp + res2, fused with block l+1's
 * ln_1 into its slot (fp32, or bf16 with bf16 storage) when atas_vit_ln1_from_prev(m, l+1);
 * nw, nb: that ln_1's weight and bias (unused otherwise). */
atas_status atas_vit_block_close(atas_vit_pass *p, const atas_vit *m, int l, float *x_out, const float *mlp,
                                 const float *res2, const float *nw, const float *nb);

/* The blocks of a forward once p->res slot 0 holds the embedded input: blocks 0..L-2
 * (shared by both outputs), then the dense path on the last block's input (first:
 * inference updates the residual stream in place in the last block), then the last
 * block and the global head. */
atas_status atas_vit_forward_blocks(atas_vit_pass *p, const atas_vit *m, const atas_vit_family *f);
/* The blocks of a backward: heads and the last block, then blocks top down, stopping
 * where nothing below learns. *embed = 1 when the embeddings still need their
 * backward (p->g_dres holds d(res slot 0)); 0 when the pass is done. */
atas_status atas_vit_backward_blocks(atas_vit_pass *p, const atas_vit *m, const float *dglobal,
                                     const float *ddense, const atas_vit_family *f, int *embed);
/* tell the listener (gradient buckets) that offsets >= info[idx].offset are final */
atas_status atas_vit_grad_ready(const atas_vit *m, int idx);
/* Does anything below block l (blocks < l, embeddings, ln_pre) train? */
int atas_vit_trains_below(const atas_vit *m, int l);
/* p->pos = the positional embedding pos at this pass's grid: the class row kept, the
 * grid rows bicubic-resampled */
atas_status atas_vit_pos_fwd(atas_vit_pass *p, const atas_vit *m, const float *pos);
/* gpos += d(positional embedding) from p->g_dpos at this pass's grid (the class row
 * as is, the patch rows through the bicubic resample's backward) */
atas_status atas_vit_pos_bwd(const atas_vit_pass *p, const atas_vit *m, float *gpos);

#endif
