/* ViT forward: embedding, pre-LN blocks, global head (CLS -> ln_post -> proj) and
 * the dense value path of the last block (CLIPSelf), sharing blocks 1..L-1. */
#include "eva_internal.h"

/* slot of a per-layer buffer: train keeps one per layer, inference reuses slot 0 */
#define SLOT(p, buf, l, per) ((p)->buf + ((p)->train ? (size_t)(l) * (per) : 0))

/* a bf16 slot (bf16 storage), NULL in an fp32 pass */
#define SLOT_H(p, buf, l, per) ((p)->h ? SLOT(p, buf, l, per) : NULL)

/* One pre-LN block on the full sequence; x_in -> x_out (the same buffer in inference).
 * With bf16 storage (p->h) ln_1, ln_2 and the MLP activation are written as bf16 and the
 * in_proj, c_fc and c_proj GEMMs read them and the weights' bf16 copy (the _h ops):
 * the same values the fp32 ops at bf16 round to at the GEMM. */
static atas_status block_fwd(atas_vit_pass *p, const atas_vit *m, int l, const float *x_in,
                             float *x_out) {
    const atas_backend *be = m->be;
    const atas_vit_config *c = &m->cfg;
    const int D = c->width, Hm = c->mlp, nh = c->heads, M = p->B * p->T, h = p->h;
    const size_t BT = (size_t)M;
    float *ln1 = h ? NULL : SLOT(p, ln1, l, BT * D), *qkv = SLOT(p, qkv, l, BT * 3 * D);
    float *atty = SLOT(p, atty, l, BT * D), *ln2 = h ? NULL : SLOT(p, ln2, l, BT * D);
    atas_bf16 *ln1h = SLOT_H(p, ln1h, l, BT * D), *ln2h = SLOT_H(p, ln2h, l, BT * D);
    float *fch = SLOT(p, fch, l, BT * Hm);
    float *m1 = p->train ? SLOT(p, ln1_mean, l, BT) : NULL, *r1 = p->train ? SLOT(p, ln1_rstd, l, BT) : NULL;
    float *m2 = p->train ? SLOT(p, ln2_mean, l, BT) : NULL, *r2 = p->train ? SLOT(p, ln2_rstd, l, BT) : NULL;
    float *lse = p->train ? SLOT(p, lse, l, (size_t)p->B * nh * p->T) : NULL;
    float *res2 = p->train ? SLOT(p, res2, l, BT * D) : x_out;
    const float *w1 = atas_vit_p(m, atas_vit_blk(l, ATAS_BLK_LN1_W)), *b1 = atas_vit_p(m, atas_vit_blk(l, ATAS_BLK_LN1_B));
    const float *w2 = atas_vit_p(m, atas_vit_blk(l, ATAS_BLK_LN2_W)), *b2 = atas_vit_p(m, atas_vit_blk(l, ATAS_BLK_LN2_B));
    const int iw = atas_vit_blk(l, ATAS_BLK_INPROJ_W), fw = atas_vit_blk(l, ATAS_BLK_FC_W);
    const int cw = atas_vit_blk(l, ATAS_BLK_CPROJ_W);
    const float *ib = atas_vit_p(m, atas_vit_blk(l, ATAS_BLK_INPROJ_B)), *fb = atas_vit_p(m, atas_vit_blk(l, ATAS_BLK_FC_B));
    const float *cb = atas_vit_p(m, atas_vit_blk(l, ATAS_BLK_CPROJ_B));

    if (!atas_vit_ln1_from_prev(m, l)) {
        if (h) ATAS_CHECK(be->layernorm_fwd_h(be, ln1h, m1, r1, x_in, w1, b1, M, D, c->ln_eps));
        else ATAS_CHECK(be->layernorm_fwd(be, ln1, m1, r1, x_in, w1, b1, M, D, c->ln_eps));
    }
    if (h) ATAS_CHECK(be->linear_fwd_h(be, qkv, ln1h, atas_vit_ph(m, iw), ib, M, D, 3 * D));
    else ATAS_CHECK(be->linear_fwd(be, qkv, ln1, atas_vit_p(m, iw), ib, M, D, 3 * D));
    ATAS_CHECK(be->attention_fwd(be, atty, lse, qkv, p->B, p->T, nh, D / nh, p->attn_ws));
    float *proj = p->train ? res2 : p->tmp;
    ATAS_CHECK(be->linear_fwd(be, proj, atty, atas_vit_p(m, atas_vit_blk(l, ATAS_BLK_OUTPROJ_W)),
                         atas_vit_p(m, atas_vit_blk(l, ATAS_BLK_OUTPROJ_B)), M, D, D));
    float *mlp = p->train ? x_out : p->tmp;
    if (h) {
        ATAS_CHECK(be->add_layernorm_fwd_h(be, res2, ln2h, m2, r2, proj, x_in, w2, b2, M, D, c->ln_eps));
        ATAS_CHECK(be->linear_fwd_h(be, fch, ln2h, atas_vit_ph(m, fw), fb, M, D, Hm));
        ATAS_CHECK(be->act_fwd_h(be, p->fcah, fch, BT * Hm, c->act));
        ATAS_CHECK(be->linear_fwd_h(be, mlp, p->fcah, atas_vit_ph(m, cw), cb, M, Hm, D));
    } else {
        ATAS_CHECK(be->add_layernorm_fwd(be, res2, ln2, m2, r2, proj, x_in, w2, b2, M, D, c->ln_eps));
        ATAS_CHECK(be->linear_fwd(be, fch, ln2, atas_vit_p(m, fw), fb, M, D, Hm));
        ATAS_CHECK(be->act_fwd(be, p->fca, fch, BT * Hm, c->act));
        ATAS_CHECK(be->linear_fwd(be, mlp, p->fca, atas_vit_p(m, cw), cb, M, Hm, D));
    }
    /* the residual add, with the next block's ln_1 when that block starts from it */
    const int n = l + 1 < c->layers ? l + 1 : l;
    return atas_vit_block_close(p, m, l, x_out, mlp, res2, atas_vit_p(m, atas_vit_blk(n, ATAS_BLK_LN1_W)),
                                atas_vit_p(m, atas_vit_blk(n, ATAS_BLK_LN1_B)));
}

/* The dense value path of the last block on the patch tokens of x (its input):
 * x' = x + out_proj(v(ln_1 x)); x'' = x' + mlp(ln_2 x'); ln_post; @ proj. */
static atas_status dense_fwd(atas_vit_pass *p, const atas_vit *m, const float *x) {
    const atas_backend *be = m->be;
    const atas_vit_config *c = &m->cfg;
    const int D = c->width, Hm = c->mlp, E = c->embed, l = c->layers - 1, M = p->B * p->Np;
    const int tr = p->train;
    ATAS_CHECK(be->rows_gather(be, p->d_x, x, p->B, p->T, D, 1, p->Np));
    ATAS_CHECK(be->layernorm_fwd(be, p->d_ln1, tr ? p->d_ln1_mean : NULL, tr ? p->d_ln1_rstd : NULL, p->d_x,
                            atas_vit_p(m, atas_vit_blk(l, ATAS_BLK_LN1_W)),
                            atas_vit_p(m, atas_vit_blk(l, ATAS_BLK_LN1_B)), M, D, c->ln_eps));
    /* v = rows [2D, 3D) of in_proj */
    const float *Wqkv = atas_vit_p(m, atas_vit_blk(l, ATAS_BLK_INPROJ_W));
    const float *bqkv = atas_vit_p(m, atas_vit_blk(l, ATAS_BLK_INPROJ_B));
    ATAS_CHECK(be->linear_fwd(be, p->d_v, p->d_ln1, Wqkv + (size_t)2 * D * D, bqkv + 2 * D, M, D, D));
    ATAS_CHECK(be->linear_fwd(be, p->d_x1, p->d_v, atas_vit_p(m, atas_vit_blk(l, ATAS_BLK_OUTPROJ_W)),
                         atas_vit_p(m, atas_vit_blk(l, ATAS_BLK_OUTPROJ_B)), M, D, D));
    ATAS_CHECK(be->add_layernorm_fwd(be, p->d_x1, p->d_ln2, tr ? p->d_ln2_mean : NULL, tr ? p->d_ln2_rstd : NULL,
                                     p->d_x1, p->d_x, atas_vit_p(m, atas_vit_blk(l, ATAS_BLK_LN2_W)),
                                     atas_vit_p(m, atas_vit_blk(l, ATAS_BLK_LN2_B)), M, D, c->ln_eps));
    /* inference reuses the full-sequence MLP buffers (B*Np <= B*T rows) */
    float *fch = tr ? p->d_fch : p->fch;
    ATAS_CHECK(be->linear_fwd(be, fch, p->d_ln2, atas_vit_p(m, atas_vit_blk(l, ATAS_BLK_FC_W)),
                         atas_vit_p(m, atas_vit_blk(l, ATAS_BLK_FC_B)), M, D, Hm));
    ATAS_CHECK(be->act_fwd(be, p->fca, fch, (size_t)M * Hm, c->act));
    ATAS_CHECK(be->linear_fwd(be, p->d_x2, p->fca, atas_vit_p(m, atas_vit_blk(l, ATAS_BLK_CPROJ_W)),
                         atas_vit_p(m, atas_vit_blk(l, ATAS_BLK_CPROJ_B)), M, Hm, D));
    const int L = c->layers;
    ATAS_CHECK(be->add_layernorm_fwd(be, p->d_x2, p->d_lnp, tr ? p->d_lnp_mean : NULL, tr ? p->d_lnp_rstd : NULL,
                                     p->d_x2, p->d_x1, atas_vit_p(m, atas_vit_tail(L, ATAS_VIT_LNPOST_W)),
                                     atas_vit_p(m, atas_vit_tail(L, ATAS_VIT_LNPOST_B)), M, D, c->ln_eps));
    ATAS_CHECK(be->matmul_fwd(be, p->dense, p->d_lnp, atas_vit_p(m, atas_vit_tail(L, ATAS_VIT_PROJ)), M, D, E));
    return ATAS_OK;
}

static atas_status global_fwd(atas_vit_pass *p, const atas_vit *m, const float *x) {
    const atas_backend *be = m->be;
    const atas_vit_config *c = &m->cfg;
    const int D = c->width, E = c->embed, L = c->layers;
    ATAS_CHECK(be->rows_gather(be, p->g_x, x, p->B, p->T, D, 0, 1));
    ATAS_CHECK(be->layernorm_fwd(be, p->g_ln, p->train ? p->g_mean : NULL, p->train ? p->g_rstd : NULL, p->g_x,
                            atas_vit_p(m, atas_vit_tail(L, ATAS_VIT_LNPOST_W)),
                            atas_vit_p(m, atas_vit_tail(L, ATAS_VIT_LNPOST_B)), p->B, D, c->ln_eps));
    ATAS_CHECK(be->matmul_fwd(be, p->glob, p->g_ln, atas_vit_p(m, atas_vit_tail(L, ATAS_VIT_PROJ)), p->B, D, E));
    return ATAS_OK;
}

static const atas_vit_family vit_family = {
    .block_fwd = block_fwd, .dense_fwd = dense_fwd, .global_fwd = global_fwd};

atas_status atas_vit_forward(atas_vit_pass *p, const atas_vit *m, const float *images) {
    const atas_backend *be = m->be;
    const atas_vit_config *c = &m->cfg;
    const int D = c->width, P = c->patch;
    const size_t BT = (size_t)p->B * p->T;
    ATAS_REQUIRE(be == p->be, "pass and model use different backends");
    ATAS_REQUIRE(p->h == atas_vit_bf16_storage(m), "pass and model disagree on bf16 storage");
    /* the weights' bf16 copy, from the fp32 master as it is now (one pass over the
     * parameters, ~0.5 ms for ViT-L/14 on an H100-class GPU) */
    if (p->h) ATAS_CHECK(be->cast_bf16(be, m->params_h, m->params, m->nparams));
    if (c->family == ATAS_VIT_EVA02) return atas_eva_forward(p, m, images);

    ATAS_CHECK(be->patchify(be, p->patches, images, p->B, p->H, p->W, P));
    ATAS_CHECK(be->linear_fwd(be, p->pe, p->patches, atas_vit_p(m, ATAS_VIT_CONV1), NULL, p->B * p->Np,
                         3 * P * P, D));
    ATAS_CHECK(atas_vit_pos_fwd(p, m, atas_vit_p(m, ATAS_VIT_POS)));
    ATAS_CHECK(be->embed_fwd(be, p->x0, p->pe, atas_vit_p(m, ATAS_VIT_CLS), p->pos, p->B, p->Np, D));
    ATAS_CHECK(be->layernorm_fwd(be, p->res, p->train ? p->lnpre_mean : NULL, p->train ? p->lnpre_rstd : NULL,
                            p->x0, atas_vit_p(m, ATAS_VIT_LNPRE_W), atas_vit_p(m, ATAS_VIT_LNPRE_B),
                            (int)BT, D, c->ln_eps));
    return atas_vit_forward_blocks(p, m, &vit_family);
}
