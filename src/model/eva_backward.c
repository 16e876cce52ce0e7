/* EVA02 backward: eva_forward.c in reverse, accumulating into the model's
 * gradients; frozen tensors pass NULL (no weight-gradient GEMM) and the pass
 * stops at the lowest block that still has something to learn. */
#include "eva_internal.h"

#define SLOT(p, buf, l, per) ((p)->buf + (size_t)(l) * (per))
#define G(m, idx) atas_vit_g((m), (idx))
#define PW(m, idx) atas_vit_p((m), (idx))
#define BLK(l, k) atas_eva_blk((l), (k))


/* The MLP in reverse on rows [M]: dout = d(out); d(its input) into g_dln.
 * fch, fln, fm, fr: what the forward kept; fca is recomputed. With bf16 storage the block
 * passes xh and flnh (as bf16) instead of x and fln, as mlp_fwd. */
static atas_status mlp_bwd(atas_vit_pass *p, const atas_vit *m, int l, int M, const float *x, const atas_bf16 *xh,
                           const float *fch, const float *fln, const atas_bf16 *flnh, const float *fm, const float *fr,
                           const float *dout) {
    const atas_backend *be = m->be;
    const int D = m->cfg.width, F = m->cfg.mlp, w12 = BLK(l, ATAS_EVA_W12_W), w3 = BLK(l, ATAS_EVA_W3_W);
    const size_t MF = (size_t)M * F;
    ATAS_CHECK(be->swiglu_fwd(be, p->fca, fch, M, F));
    ATAS_CHECK(be->zero(be, p->g_dfln, MF * sizeof(float)));
    if (flnh)
        ATAS_CHECK(be->linear_bwd_h(be, p->g_dfln, G(m, w3), G(m, BLK(l, ATAS_EVA_W3_B)), dout, flnh, atas_vit_ph(m, w3), M, F,
                                    D, p->g_dyh));
    else
        ATAS_CHECK(be->linear_bwd(be, p->g_dfln, G(m, w3), G(m, BLK(l, ATAS_EVA_W3_B)), dout, fln, PW(m, w3), M, F,
                                  D));
    ATAS_CHECK(be->zero(be, p->g_dfca, MF * sizeof(float)));
    ATAS_CHECK(be->layernorm_bwd(be, p->g_dfca, G(m, BLK(l, ATAS_EVA_FLN_W)), G(m, BLK(l, ATAS_EVA_FLN_B)),
                            p->g_dfln, p->fca, PW(m, BLK(l, ATAS_EVA_FLN_W)), fm, fr, M, F));
    ATAS_CHECK(be->zero(be, p->g_dfch, 2 * MF * sizeof(float)));
    ATAS_CHECK(be->swiglu_bwd(be, p->g_dfch, p->g_dfca, fch, M, F));
    ATAS_CHECK(be->zero(be, p->g_dln, (size_t)M * D * sizeof(float)));
    if (xh)
        ATAS_CHECK(be->linear_bwd_h(be, p->g_dln, G(m, w12), G(m, BLK(l, ATAS_EVA_W12_B)), p->g_dfch, xh,
                                    atas_vit_ph(m, w12), M, D, 2 * F, p->g_dyh));
    else
        ATAS_CHECK(be->linear_bwd(be, p->g_dln, G(m, w12), G(m, BLK(l, ATAS_EVA_W12_B)), p->g_dfch, x, PW(m, w12), M,
                                  D, 2 * F));
    return ATAS_OK; /* d(norm2 out) is in g_dln */
}

/* dx holds d(block output); on return d(block input) when need_dx */
static atas_status block_bwd(atas_vit_pass *p, const atas_vit *m, int l, float *dx, int need_dx) {
    const atas_backend *be = m->be;
    const atas_vit_config *c = &m->cfg;
    const int D = c->width, F = c->mlp, nh = c->heads, M = p->B * p->T;
    const size_t BT = (size_t)M;
    const float *x_in = SLOT(p, res, l, BT * D), *res2 = SLOT(p, res2, l, BT * D);

    /* MLP: x_out = res2 + mlp(norm2 res2) */
    const int h = p->h, pw = BLK(l, ATAS_EVA_PROJ_W), qw = BLK(l, ATAS_EVA_QKV_W);
    if (h)
        ATAS_CHECK(mlp_bwd(p, m, l, M, NULL, SLOT(p, ln2h, l, BT * D), SLOT(p, fch, l, BT * 2 * F), NULL,
                           SLOT(p, e_flnh, l, BT * F), SLOT(p, e_fln_mean, l, BT), SLOT(p, e_fln_rstd, l, BT), dx));
    else
        ATAS_CHECK(mlp_bwd(p, m, l, M, SLOT(p, ln2, l, BT * D), NULL, SLOT(p, fch, l, BT * 2 * F),
                           SLOT(p, e_fln, l, BT * F), NULL, SLOT(p, e_fln_mean, l, BT), SLOT(p, e_fln_rstd, l, BT),
                           dx));
    ATAS_CHECK(be->layernorm_bwd(be, dx, G(m, BLK(l, ATAS_EVA_NORM2_W)), G(m, BLK(l, ATAS_EVA_NORM2_B)),
                            p->g_dln, res2, PW(m, BLK(l, ATAS_EVA_NORM2_W)), SLOT(p, ln2_mean, l, BT),
                            SLOT(p, ln2_rstd, l, BT), M, D));
    /* attention: res2 = x_in + proj(attn.norm(attn(rope(qkv(norm1 x_in))))) */
    ATAS_CHECK(be->zero(be, p->g_dln, BT * D * sizeof(float)));
    if (h)
        ATAS_CHECK(be->linear_bwd_h(be, p->g_dln, G(m, pw), G(m, BLK(l, ATAS_EVA_PROJ_B)), dx,
                                    SLOT(p, e_ilnh, l, BT * D), atas_vit_ph(m, pw), M, D, D, p->g_dyh));
    else
        ATAS_CHECK(be->linear_bwd(be, p->g_dln, G(m, pw), G(m, BLK(l, ATAS_EVA_PROJ_B)), dx,
                                  SLOT(p, e_iln, l, BT * D), PW(m, pw), M, D, D));
    const float *atty = SLOT(p, atty, l, BT * D);
    ATAS_CHECK(be->zero(be, p->g_datty, BT * D * sizeof(float)));
    ATAS_CHECK(be->layernorm_bwd(be, p->g_datty, G(m, BLK(l, ATAS_EVA_ILN_W)), G(m, BLK(l, ATAS_EVA_ILN_B)),
                            p->g_dln, atty, PW(m, BLK(l, ATAS_EVA_ILN_W)), SLOT(p, e_iln_mean, l, BT),
                            SLOT(p, e_iln_rstd, l, BT), M, D));
    ATAS_CHECK(be->zero(be, p->g_dqkv, BT * 3 * D * sizeof(float)));
    ATAS_CHECK(be->attention_bwd(be, p->g_dqkv, p->g_datty, SLOT(p, qkv, l, BT * 3 * D), atty,
                            SLOT(p, lse, l, (size_t)p->B * nh * p->T), p->B, p->T, nh, D / nh,
                            p->attn_ws));
    ATAS_CHECK(be->zero(be, p->g_dqkv2, BT * 3 * D * sizeof(float)));
    ATAS_CHECK(be->rope_bwd(be, p->g_dqkv2, p->g_dqkv, p->B, p->gh, p->gw, 3 * D, 2 * nh, D / nh,
                       ATAS_EVA_ROPE_REF, ATAS_EVA_ROPE_THETA));
    float *gq = G(m, BLK(l, ATAS_EVA_Q_B)), *gv = G(m, BLK(l, ATAS_EVA_V_B));
    if (gq || gv) ATAS_CHECK(be->zero(be, p->g_dbias3, (size_t)3 * D * sizeof(float)));
    float *lw = G(m, BLK(l, ATAS_EVA_NORM1_W)), *lb = G(m, BLK(l, ATAS_EVA_NORM1_B));
    const int need_dln = need_dx || lw || lb;
    if (need_dln) ATAS_CHECK(be->zero(be, p->g_dln, BT * D * sizeof(float)));
    if (h)
        ATAS_CHECK(be->linear_bwd_h(be, need_dln ? p->g_dln : NULL, G(m, qw), (gq || gv) ? p->g_dbias3 : NULL,
                                    p->g_dqkv2, SLOT(p, ln1h, l, BT * D), atas_vit_ph(m, qw), M, D, 3 * D, p->g_dyh));
    else
        ATAS_CHECK(be->linear_bwd(be, need_dln ? p->g_dln : NULL, G(m, qw), (gq || gv) ? p->g_dbias3 : NULL,
                                  p->g_dqkv2, SLOT(p, ln1, l, BT * D), PW(m, qw), M, D, 3 * D));
    if (gq) ATAS_CHECK(be->axpy(be, gq, 1.0f, p->g_dbias3, (size_t)D));
    if (gv) ATAS_CHECK(be->axpy(be, gv, 1.0f, p->g_dbias3 + 2 * D, (size_t)D));
    if (need_dln)
        ATAS_CHECK(be->layernorm_bwd(be, need_dx ? dx : NULL, lw, lb, p->g_dln, x_in,
                                PW(m, BLK(l, ATAS_EVA_NORM1_W)), SLOT(p, ln1_mean, l, BT),
                                SLOT(p, ln1_rstd, l, BT), M, D));
    return ATAS_OK;
}

/* the dense value path in reverse; adds d(last-block input) into dres when need_dx */
static atas_status dense_bwd(atas_vit_pass *p, const atas_vit *m, const float *ddense, float *dres,
                             int need_dx) {
    const atas_backend *be = m->be;
    const atas_vit_config *c = &m->cfg;
    const int D = c->width, E = c->embed, L = c->layers, l = L - 1, M = p->B * p->Np;
    const size_t MD = (size_t)M * D;
    float *dx2 = p->g_dsmall, *dtmp = p->g_dsmall2;

    ATAS_CHECK(be->zero(be, dtmp, MD * sizeof(float)));
    ATAS_CHECK(be->linear_bwd(be, dtmp, G(m, atas_eva_tail(L, ATAS_EVA_HEAD_W)),
                         G(m, atas_eva_tail(L, ATAS_EVA_HEAD_B)), ddense, p->d_lnp,
                         PW(m, atas_eva_tail(L, ATAS_EVA_HEAD_W)), M, D, E));
    ATAS_CHECK(be->zero(be, dx2, MD * sizeof(float)));
    ATAS_CHECK(be->layernorm_bwd(be, dx2, G(m, atas_eva_tail(L, ATAS_EVA_NORM_W)),
                            G(m, atas_eva_tail(L, ATAS_EVA_NORM_B)), dtmp, p->d_x2,
                            PW(m, atas_eva_tail(L, ATAS_EVA_NORM_W)), p->d_lnp_mean, p->d_lnp_rstd, M,
                            D));
    /* x2 = x1 + mlp(norm2 x1): dx2 becomes d x1 */
    ATAS_CHECK(mlp_bwd(p, m, l, M, p->d_ln2, NULL, p->d_fch, p->d_fln, NULL, p->d_fln_mean, p->d_fln_rstd, dx2));
    ATAS_CHECK(be->layernorm_bwd(be, dx2, G(m, BLK(l, ATAS_EVA_NORM2_W)), G(m, BLK(l, ATAS_EVA_NORM2_B)),
                            p->g_dln, p->d_x1, PW(m, BLK(l, ATAS_EVA_NORM2_W)), p->d_ln2_mean,
                            p->d_ln2_rstd, M, D));
    /* x1 = x + proj(attn.norm(v)), v = v_proj(norm1 x) + v_bias: dx2 becomes d x */
    ATAS_CHECK(be->zero(be, dtmp, MD * sizeof(float)));
    ATAS_CHECK(be->linear_bwd(be, dtmp, G(m, BLK(l, ATAS_EVA_PROJ_W)), G(m, BLK(l, ATAS_EVA_PROJ_B)), dx2,
                         p->d_iln, PW(m, BLK(l, ATAS_EVA_PROJ_W)), M, D, D));
    float *dv = p->g_datty; /* >= M*D floats */
    ATAS_CHECK(be->zero(be, dv, MD * sizeof(float)));
    ATAS_CHECK(be->layernorm_bwd(be, dv, G(m, BLK(l, ATAS_EVA_ILN_W)), G(m, BLK(l, ATAS_EVA_ILN_B)), dtmp,
                            p->d_v, PW(m, BLK(l, ATAS_EVA_ILN_W)), p->d_iln_mean, p->d_iln_rstd, M,
                            D));
    float *gW = G(m, BLK(l, ATAS_EVA_QKV_W));
    float *dln1 = p->g_dln;
    ATAS_CHECK(be->zero(be, dln1, MD * sizeof(float)));
    ATAS_CHECK(be->linear_bwd(be, dln1, gW ? gW + (size_t)2 * D * D : NULL, G(m, BLK(l, ATAS_EVA_V_B)), dv,
                         p->d_ln1, PW(m, BLK(l, ATAS_EVA_QKV_W)) + (size_t)2 * D * D, M, D, D));
    ATAS_CHECK(be->layernorm_bwd(be, dx2, G(m, BLK(l, ATAS_EVA_NORM1_W)), G(m, BLK(l, ATAS_EVA_NORM1_B)), dln1,
                            p->d_x, PW(m, BLK(l, ATAS_EVA_NORM1_W)), p->d_ln1_mean, p->d_ln1_rstd, M,
                            D));
    if (need_dx) ATAS_CHECK(be->rows_scatter_add(be, dres, dx2, p->B, p->T, D, 1, p->Np));
    return ATAS_OK;
}

static atas_status global_bwd(atas_vit_pass *p, const atas_vit *m, const float *dglob, float *dres) {
    const atas_backend *be = m->be;
    const atas_vit_config *c = &m->cfg;
    const int D = c->width, E = c->embed, L = c->layers, B = p->B;
    float *dln = p->g_dsmall, *dxc = p->g_dsmall2;
    ATAS_CHECK(be->zero(be, dln, (size_t)B * D * sizeof(float)));
    ATAS_CHECK(be->linear_bwd(be, dln, G(m, atas_eva_tail(L, ATAS_EVA_HEAD_W)),
                         G(m, atas_eva_tail(L, ATAS_EVA_HEAD_B)), dglob, p->g_ln,
                         PW(m, atas_eva_tail(L, ATAS_EVA_HEAD_W)), B, D, E));
    ATAS_CHECK(be->zero(be, dxc, (size_t)B * D * sizeof(float)));
    ATAS_CHECK(be->layernorm_bwd(be, dxc, G(m, atas_eva_tail(L, ATAS_EVA_NORM_W)),
                            G(m, atas_eva_tail(L, ATAS_EVA_NORM_B)), dln, p->g_x,
                            PW(m, atas_eva_tail(L, ATAS_EVA_NORM_W)), p->g_mean, p->g_rstd, B, D));
    ATAS_CHECK(be->rows_scatter_add(be, dres, dxc, B, p->T, D, 0, 1));
    return ATAS_OK;
}

static const atas_vit_family eva_family = {
    .block_bwd = block_bwd, .dense_bwd = dense_bwd, .global_bwd = global_bwd};

atas_status atas_eva_backward(atas_vit_pass *p, const atas_vit *m, const float *dglobal,
                              const float *ddense) {
    const atas_backend *be = m->be;
    const atas_vit_config *c = &m->cfg;
    const int D = c->width, P = c->patch;
    int embed;
    ATAS_CHECK(atas_vit_backward_blocks(p, m, dglobal, ddense, &eva_family, &embed));
    if (!embed) return ATAS_OK;
    /* embeddings: dres is d(embedding sum) (no ln_pre) */
    const float *dres = p->g_dres;
    float *gpw = G(m, ATAS_EVA_PATCH_W), *gpb = G(m, ATAS_EVA_PATCH_B);
    float *gcls = G(m, ATAS_EVA_CLS), *gpos = G(m, ATAS_EVA_POS);
    const int need_pe = gpw || gpb;
    if (need_pe) ATAS_CHECK(be->zero(be, p->g_dpe, (size_t)p->B * p->Np * D * sizeof(float)));
    if (gpos) ATAS_CHECK(be->zero(be, p->g_dpos, (size_t)p->T * D * sizeof(float)));
    ATAS_CHECK(be->embed_bwd(be, need_pe ? p->g_dpe : NULL, gcls, gpos ? p->g_dpos : NULL, dres, p->B, p->Np, D));
    if (gpos) ATAS_CHECK(atas_vit_pos_bwd(p, m, gpos));
    if (need_pe)
        ATAS_CHECK(be->linear_bwd(be, NULL, gpw, gpb, p->g_dpe, p->patches, PW(m, ATAS_EVA_PATCH_W),
                             p->B * p->Np, 3 * P * P, D));
    return atas_vit_grad_ready(m, 0);
}
