/* ViT backward: the forward in reverse, accumulating into the model's gradient
 * buffer. Frozen tensors pass NULL gradients (no weight-gradient GEMM), and the
 * backward stops at the lowest block that still has something to learn. */
#include "eva_internal.h"

#define SLOT(p, buf, l, per) ((p)->buf + (size_t)(l) * (per))
#define G(m, idx) atas_vit_g((m), (idx))
#define PW(m, idx) atas_vit_p((m), (idx))


/* dx holds d(block output); on return it holds d(block input) when need_dx. */
static atas_status block_bwd(atas_vit_pass *p, const atas_vit *m, int l, float *dx, int need_dx) {
    const atas_backend *be = m->be;
    const atas_vit_config *c = &m->cfg;
    const int D = c->width, Hm = c->mlp, nh = c->heads, M = p->B * p->T;
    const size_t BT = (size_t)M;
    const float *x_in = SLOT(p, res, l, BT * D);
    const float *qkv = SLOT(p, qkv, l, BT * 3 * D), *atty = SLOT(p, atty, l, BT * D);
    const float *fch = SLOT(p, fch, l, BT * Hm), *res2 = SLOT(p, res2, l, BT * D);
    const float *lse = SLOT(p, lse, l, (size_t)p->B * nh * p->T);
    const int h = p->h, iw = atas_vit_blk(l, ATAS_BLK_INPROJ_W), fw = atas_vit_blk(l, ATAS_BLK_FC_W);
    const int cw = atas_vit_blk(l, ATAS_BLK_CPROJ_W);

    /* MLP: x_out = res2 + c_proj(act(c_fc(ln_2 res2))); the activation is recomputed, not
     * stored. With bf16 storage (p->h) the GEMMs read the bf16 ln_2 / activation / weights
     * and dy rounded into g_dyh, as the forward's _h ops did. */
    if (h) ATAS_CHECK(be->act_fwd_h(be, p->fcah, fch, BT * Hm, c->act));
    else ATAS_CHECK(be->act_fwd(be, p->fca, fch, BT * Hm, c->act));
    ATAS_CHECK(be->zero(be, p->g_dfca, BT * Hm * sizeof(float)));
    if (h)
        ATAS_CHECK(be->linear_bwd_h(be, p->g_dfca, G(m, cw), G(m, atas_vit_blk(l, ATAS_BLK_CPROJ_B)), dx, p->fcah,
                                    atas_vit_ph(m, cw), M, Hm, D, p->g_dyh));
    else
        ATAS_CHECK(be->linear_bwd(be, p->g_dfca, G(m, cw), G(m, atas_vit_blk(l, ATAS_BLK_CPROJ_B)), dx, p->fca,
                                  PW(m, cw), M, Hm, D));
    ATAS_CHECK(be->zero(be, p->g_dfch, BT * Hm * sizeof(float)));
    ATAS_CHECK(be->act_bwd(be, p->g_dfch, p->g_dfca, fch, BT * Hm, c->act));
    ATAS_CHECK(be->zero(be, p->g_dln, BT * D * sizeof(float)));
    if (h)
        ATAS_CHECK(be->linear_bwd_h(be, p->g_dln, G(m, fw), G(m, atas_vit_blk(l, ATAS_BLK_FC_B)), p->g_dfch,
                                    SLOT(p, ln2h, l, BT * D), atas_vit_ph(m, fw), M, D, Hm, p->g_dyh));
    else
        ATAS_CHECK(be->linear_bwd(be, p->g_dln, G(m, fw), G(m, atas_vit_blk(l, ATAS_BLK_FC_B)), p->g_dfch,
                                  SLOT(p, ln2, l, BT * D), PW(m, fw), M, D, Hm));
    ATAS_CHECK(be->layernorm_bwd(be, dx, G(m, atas_vit_blk(l, ATAS_BLK_LN2_W)),
                            G(m, atas_vit_blk(l, ATAS_BLK_LN2_B)), p->g_dln, res2,
                            PW(m, atas_vit_blk(l, ATAS_BLK_LN2_W)), SLOT(p, ln2_mean, l, BT),
                            SLOT(p, ln2_rstd, l, BT), M, D));
    /* attention: res2 = x_in + out_proj(attn(in_proj(ln_1 x_in))) */
    ATAS_CHECK(be->zero(be, p->g_datty, BT * D * sizeof(float)));
    ATAS_CHECK(be->linear_bwd(be, p->g_datty, G(m, atas_vit_blk(l, ATAS_BLK_OUTPROJ_W)),
                         G(m, atas_vit_blk(l, ATAS_BLK_OUTPROJ_B)), dx, atty,
                         PW(m, atas_vit_blk(l, ATAS_BLK_OUTPROJ_W)), M, D, D));
    ATAS_CHECK(be->zero(be, p->g_dqkv, BT * 3 * D * sizeof(float)));
    ATAS_CHECK(be->attention_bwd(be, p->g_dqkv, p->g_datty, qkv, atty, lse, p->B, p->T, nh, D / nh, p->attn_ws));
    /* d ln_1 is needed for the input gradient and for ln_1's own weights */
    float *lw = G(m, atas_vit_blk(l, ATAS_BLK_LN1_W)), *lb = G(m, atas_vit_blk(l, ATAS_BLK_LN1_B));
    const int need_dln = need_dx || lw || lb;
    if (need_dln) ATAS_CHECK(be->zero(be, p->g_dln, BT * D * sizeof(float)));
    float *gib = G(m, atas_vit_blk(l, ATAS_BLK_INPROJ_B));
    if (h)
        ATAS_CHECK(be->linear_bwd_h(be, need_dln ? p->g_dln : NULL, G(m, iw), gib, p->g_dqkv,
                                    SLOT(p, ln1h, l, BT * D), atas_vit_ph(m, iw), M, D, 3 * D, p->g_dyh));
    else
        ATAS_CHECK(be->linear_bwd(be, need_dln ? p->g_dln : NULL, G(m, iw), gib, p->g_dqkv, SLOT(p, ln1, l, BT * D),
                                  PW(m, iw), M, D, 3 * D));
    if (need_dln)
        ATAS_CHECK(be->layernorm_bwd(be, need_dx ? dx : NULL, lw, lb, p->g_dln, x_in,
                                PW(m, atas_vit_blk(l, ATAS_BLK_LN1_W)), SLOT(p, ln1_mean, l, BT),
                                SLOT(p, ln1_rstd, l, BT), M, D));
    return ATAS_OK;
}

/* The dense value path in reverse; adds d(last-block input) into dres (rows of
 * the patch tokens) when need_dx. */
static atas_status dense_bwd(atas_vit_pass *p, const atas_vit *m, const float *ddense, float *dres,
                             int need_dx) {
    const atas_backend *be = m->be;
    const atas_vit_config *c = &m->cfg;
    const int D = c->width, Hm = c->mlp, E = c->embed, L = c->layers, l = L - 1, M = p->B * p->Np;
    const size_t MD = (size_t)M * D;
    float *dx2 = p->g_dsmall, *dtmp = p->g_dsmall2; /* [M,D] each */

    ATAS_CHECK(be->zero(be, dtmp, MD * sizeof(float)));
    ATAS_CHECK(be->matmul_bwd(be, dtmp, G(m, atas_vit_tail(L, ATAS_VIT_PROJ)), ddense, p->d_lnp,
                         PW(m, atas_vit_tail(L, ATAS_VIT_PROJ)), M, D, E));
    ATAS_CHECK(be->zero(be, dx2, MD * sizeof(float)));
    ATAS_CHECK(be->layernorm_bwd(be, dx2, G(m, atas_vit_tail(L, ATAS_VIT_LNPOST_W)),
                            G(m, atas_vit_tail(L, ATAS_VIT_LNPOST_B)), dtmp, p->d_x2,
                            PW(m, atas_vit_tail(L, ATAS_VIT_LNPOST_W)), p->d_lnp_mean,
                            p->d_lnp_rstd, M, D));
    /* x2 = x1 + c_proj(act(c_fc(ln_2 x1))): dx2 becomes d x1 */
    ATAS_CHECK(be->act_fwd(be, p->fca, p->d_fch, (size_t)M * Hm, c->act));
    ATAS_CHECK(be->zero(be, p->g_dfca, (size_t)M * Hm * sizeof(float)));
    ATAS_CHECK(be->linear_bwd(be, p->g_dfca, G(m, atas_vit_blk(l, ATAS_BLK_CPROJ_W)),
                         G(m, atas_vit_blk(l, ATAS_BLK_CPROJ_B)), dx2, p->fca,
                         PW(m, atas_vit_blk(l, ATAS_BLK_CPROJ_W)), M, Hm, D));
    ATAS_CHECK(be->zero(be, p->g_dfch, (size_t)M * Hm * sizeof(float)));
    ATAS_CHECK(be->act_bwd(be, p->g_dfch, p->g_dfca, p->d_fch, (size_t)M * Hm, c->act));
    ATAS_CHECK(be->zero(be, dtmp, MD * sizeof(float)));
    ATAS_CHECK(be->linear_bwd(be, dtmp, G(m, atas_vit_blk(l, ATAS_BLK_FC_W)), G(m, atas_vit_blk(l, ATAS_BLK_FC_B)),
                         p->g_dfch, p->d_ln2, PW(m, atas_vit_blk(l, ATAS_BLK_FC_W)), M, D, Hm));
    ATAS_CHECK(be->layernorm_bwd(be, dx2, G(m, atas_vit_blk(l, ATAS_BLK_LN2_W)),
                            G(m, atas_vit_blk(l, ATAS_BLK_LN2_B)), dtmp, p->d_x1,
                            PW(m, atas_vit_blk(l, ATAS_BLK_LN2_W)), p->d_ln2_mean, p->d_ln2_rstd, M, D));
    /* x1 = x + out_proj(v(ln_1 x)): dx2 becomes d x */
    const float *Wqkv = PW(m, atas_vit_blk(l, ATAS_BLK_INPROJ_W));
    float *gW = G(m, atas_vit_blk(l, ATAS_BLK_INPROJ_W)), *gb = G(m, atas_vit_blk(l, ATAS_BLK_INPROJ_B));
    ATAS_CHECK(be->zero(be, dtmp, MD * sizeof(float)));
    ATAS_CHECK(be->linear_bwd(be, dtmp, G(m, atas_vit_blk(l, ATAS_BLK_OUTPROJ_W)),
                         G(m, atas_vit_blk(l, ATAS_BLK_OUTPROJ_B)), dx2, p->d_v,
                         PW(m, atas_vit_blk(l, ATAS_BLK_OUTPROJ_W)), M, D, D));
    /* dtmp = d v; reuse g_dln (>= M*D floats) for d ln_1 */
    float *dln1 = p->g_dln;
    ATAS_CHECK(be->zero(be, dln1, MD * sizeof(float)));
    ATAS_CHECK(be->linear_bwd(be, dln1, gW ? gW + (size_t)2 * D * D : NULL, gb ? gb + 2 * D : NULL, dtmp,
                         p->d_ln1, Wqkv + (size_t)2 * D * D, M, D, D));
    float *lw = G(m, atas_vit_blk(l, ATAS_BLK_LN1_W)), *lb = G(m, atas_vit_blk(l, ATAS_BLK_LN1_B));
    ATAS_CHECK(be->layernorm_bwd(be, dx2, lw, lb, dln1, p->d_x, PW(m, atas_vit_blk(l, ATAS_BLK_LN1_W)),
                            p->d_ln1_mean, p->d_ln1_rstd, M, D));
    if (need_dx) ATAS_CHECK(be->rows_scatter_add(be, dres, dx2, p->B, p->T, D, 1, p->Np));
    return ATAS_OK;
}

static atas_status global_bwd(atas_vit_pass *p, const atas_vit *m, const float *dglob, float *dres) {
    const atas_backend *be = m->be;
    const atas_vit_config *c = &m->cfg;
    const int D = c->width, E = c->embed, L = c->layers, B = p->B;
    float *dln = p->g_dsmall, *dxc = p->g_dsmall2;
    ATAS_CHECK(be->zero(be, dln, (size_t)B * D * sizeof(float)));
    ATAS_CHECK(be->matmul_bwd(be, dln, G(m, atas_vit_tail(L, ATAS_VIT_PROJ)), dglob, p->g_ln,
                         PW(m, atas_vit_tail(L, ATAS_VIT_PROJ)), B, D, E));
    ATAS_CHECK(be->zero(be, dxc, (size_t)B * D * sizeof(float)));
    ATAS_CHECK(be->layernorm_bwd(be, dxc, G(m, atas_vit_tail(L, ATAS_VIT_LNPOST_W)),
                            G(m, atas_vit_tail(L, ATAS_VIT_LNPOST_B)), dln, p->g_x,
                            PW(m, atas_vit_tail(L, ATAS_VIT_LNPOST_W)), p->g_mean, p->g_rstd, B, D));
    ATAS_CHECK(be->rows_scatter_add(be, dres, dxc, B, p->T, D, 0, 1));
    return ATAS_OK;
}

static const atas_vit_family vit_family = {
    .block_bwd = block_bwd, .dense_bwd = dense_bwd, .global_bwd = global_bwd};

atas_status atas_vit_backward(atas_vit_pass *p, const atas_vit *m, const float *dglobal,
                              const float *ddense) {
    const atas_backend *be = m->be;
    const atas_vit_config *c = &m->cfg;
    const int D = c->width, P = c->patch;
    const size_t BT = (size_t)p->B * p->T;
    ATAS_REQUIRE(p->train, "backward needs a pass created with train = 1");
    ATAS_REQUIRE(m->grads, "backward needs a model with gradients");
    ATAS_REQUIRE(p->h == atas_vit_bf16_storage(m), "pass and model disagree on bf16 storage");
    if (c->family == ATAS_VIT_EVA02) return atas_eva_backward(p, m, dglobal, ddense);
    int embed;
    ATAS_CHECK(atas_vit_backward_blocks(p, m, dglobal, ddense, &vit_family, &embed));
    if (!embed) return ATAS_OK;
    /* ln_pre, embeddings: dres is d(ln_pre output) */
    const float *dres = p->g_dres;
    float *dx0 = p->g_dln;
    ATAS_CHECK(be->zero(be, dx0, BT * D * sizeof(float)));
    ATAS_CHECK(be->layernorm_bwd(be, dx0, G(m, ATAS_VIT_LNPRE_W), G(m, ATAS_VIT_LNPRE_B), dres, p->x0,
                            PW(m, ATAS_VIT_LNPRE_W), p->lnpre_mean, p->lnpre_rstd, (int)BT, D));
    float *gconv = G(m, ATAS_VIT_CONV1), *gcls = G(m, ATAS_VIT_CLS), *gpos = G(m, ATAS_VIT_POS);
    if (gconv) ATAS_CHECK(be->zero(be, p->g_dpe, (size_t)p->B * p->Np * D * sizeof(float)));
    if (gpos) ATAS_CHECK(be->zero(be, p->g_dpos, (size_t)p->T * D * sizeof(float)));
    ATAS_CHECK(be->embed_bwd(be, gconv ? p->g_dpe : NULL, gcls, gpos ? p->g_dpos : NULL, dx0, p->B, p->Np, D));
    if (gpos) ATAS_CHECK(atas_vit_pos_bwd(p, m, gpos));
    if (gconv)
        ATAS_CHECK(be->linear_bwd(be, NULL, gconv, NULL, p->g_dpe, p->patches, PW(m, ATAS_VIT_CONV1),
                             p->B * p->Np, 3 * P * P, D));
    return atas_vit_grad_ready(m, 0);
}
