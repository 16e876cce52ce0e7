/* EVA02 forward (docs/eva02.md): patch embedding with bias, CLS + resampled
 * absolute positions (no ln_pre), pre-LN blocks with q|k|v (q, v biased), 2-D
 * rotary q/k, attn.norm before proj, SwiGLU with mlp.norm before fc2; global
 * head: norm(CLS) -> head (Linear with bias); dense: CLIPSelf's EVA value path
 * of the last block (forward_without_attn: no rotary, v only). */
#include "eva_internal.h"

#define SLOT(p, buf, l, per) ((p)->buf + ((p)->train ? (size_t)(l) * (per) : 0))
#define PW(m, idx) atas_vit_p((m), (idx))
#define BLK(l, k) atas_eva_blk((l), (k))

/* the bias of the fused q|k|v projection: q_bias | 0 | v_bias */
static atas_status pack_bias3(atas_vit_pass *p, const atas_vit *m, int l) {
    const atas_backend *be = m->be;
    const size_t D = m->cfg.width, bytes = D * sizeof(float);
    ATAS_CHECK(be->copy(be, p->e_bias3, PW(m, BLK(l, ATAS_EVA_Q_B)), bytes));
    ATAS_CHECK(be->zero(be, p->e_bias3 + D, bytes));
    ATAS_CHECK(be->copy(be, p->e_bias3 + 2 * D, PW(m, BLK(l, ATAS_EVA_V_B)), bytes));
    return ATAS_OK;
}

/* the SwiGLU MLP with its inner norm on rows [M]: out = fc2(norm(swiglu(w12 x))). With bf16
 * storage the block passes xh and flnh (its input and the inner norm's output as bf16) and
 * the GEMMs read them and the weights' bf16 copy; the dense path passes x and fln. */
static atas_status mlp_fwd(const atas_vit *m, int l, int M, const float *x, const atas_bf16 *xh, float *fch,
                           float *fca, float *fln, atas_bf16 *flnh, float *fm, float *fr, float *out) {
    const atas_backend *be = m->be;
    const atas_vit_config *c = &m->cfg;
    const int D = c->width, F = c->mlp, w12 = BLK(l, ATAS_EVA_W12_W), w3 = BLK(l, ATAS_EVA_W3_W);
    const float *b12 = PW(m, BLK(l, ATAS_EVA_W12_B)), *b3 = PW(m, BLK(l, ATAS_EVA_W3_B));
    const float *nw = PW(m, BLK(l, ATAS_EVA_FLN_W)), *nb = PW(m, BLK(l, ATAS_EVA_FLN_B));
    if (xh) ATAS_CHECK(be->linear_fwd_h(be, fch, xh, atas_vit_ph(m, w12), b12, M, D, 2 * F));
    else ATAS_CHECK(be->linear_fwd(be, fch, x, PW(m, w12), b12, M, D, 2 * F));
    ATAS_CHECK(be->swiglu_fwd(be, fca, fch, M, F));
    if (flnh) {
        ATAS_CHECK(be->layernorm_fwd_h(be, flnh, fm, fr, fca, nw, nb, M, F, c->ln_eps));
        ATAS_CHECK(be->linear_fwd_h(be, out, flnh, atas_vit_ph(m, w3), b3, M, F, D));
    } else {
        ATAS_CHECK(be->layernorm_fwd(be, fln, fm, fr, fca, nw, nb, M, F, c->ln_eps));
        ATAS_CHECK(be->linear_fwd(be, out, fln, PW(m, w3), b3, M, F, D));
    }
    return ATAS_OK;
}

/* a bf16 slot (bf16 storage), NULL in an fp32 pass */
#define SLOT_H(p, buf, l, per) ((p)->h ? SLOT(p, buf, l, per) : NULL)
/* With bf16 storage (p->h) norm1, attn.norm, norm2 and mlp.norm write bf16 and the four
 * block GEMMs read them and the weights' bf16 copy (docs/backend.md "bf16 storage"). */
static atas_status block_fwd(atas_vit_pass *p, const atas_vit *m, int l, const float *x_in,
                             float *x_out) {
    const atas_backend *be = m->be;
    const atas_vit_config *c = &m->cfg;
    const int D = c->width, F = c->mlp, nh = c->heads, M = p->B * p->T, tr = p->train, h = p->h;
    const size_t BT = (size_t)M;
    float *ln1 = h ? NULL : SLOT(p, ln1, l, BT * D), *qkv = SLOT(p, qkv, l, BT * 3 * D);
    float *atty = SLOT(p, atty, l, BT * D), *iln = h ? NULL : SLOT(p, e_iln, l, BT * D);
    float *ln2 = h ? NULL : SLOT(p, ln2, l, BT * D), *fch = SLOT(p, fch, l, BT * 2 * F);
    float *fln = h ? NULL : SLOT(p, e_fln, l, BT * F);
    atas_bf16 *ln1h = SLOT_H(p, ln1h, l, BT * D), *ilnh = SLOT_H(p, e_ilnh, l, BT * D);
    atas_bf16 *ln2h = SLOT_H(p, ln2h, l, BT * D), *flnh = SLOT_H(p, e_flnh, l, BT * F);
    float *m1 = tr ? SLOT(p, ln1_mean, l, BT) : NULL, *r1 = tr ? SLOT(p, ln1_rstd, l, BT) : NULL;
    float *mi = tr ? SLOT(p, e_iln_mean, l, BT) : NULL, *ri = tr ? SLOT(p, e_iln_rstd, l, BT) : NULL;
    float *m2 = tr ? SLOT(p, ln2_mean, l, BT) : NULL, *r2 = tr ? SLOT(p, ln2_rstd, l, BT) : NULL;
    float *mf = tr ? SLOT(p, e_fln_mean, l, BT) : NULL, *rf = tr ? SLOT(p, e_fln_rstd, l, BT) : NULL;
    float *lse = tr ? SLOT(p, lse, l, (size_t)p->B * nh * p->T) : NULL;
    float *res2 = tr ? SLOT(p, res2, l, BT * D) : x_out;
    const int qw = BLK(l, ATAS_EVA_QKV_W), pw = BLK(l, ATAS_EVA_PROJ_W);
    const float *w1 = PW(m, BLK(l, ATAS_EVA_NORM1_W)), *b1 = PW(m, BLK(l, ATAS_EVA_NORM1_B));
    const float *wi = PW(m, BLK(l, ATAS_EVA_ILN_W)), *bi = PW(m, BLK(l, ATAS_EVA_ILN_B));
    const float *w2 = PW(m, BLK(l, ATAS_EVA_NORM2_W)), *b2 = PW(m, BLK(l, ATAS_EVA_NORM2_B));
    const float *pb = PW(m, BLK(l, ATAS_EVA_PROJ_B));

    if (!atas_vit_ln1_from_prev(m, l)) {
        if (h) ATAS_CHECK(be->layernorm_fwd_h(be, ln1h, m1, r1, x_in, w1, b1, M, D, c->ln_eps));
        else ATAS_CHECK(be->layernorm_fwd(be, ln1, m1, r1, x_in, w1, b1, M, D, c->ln_eps));
    }
    ATAS_CHECK(pack_bias3(p, m, l));
    if (h) ATAS_CHECK(be->linear_fwd_h(be, qkv, ln1h, atas_vit_ph(m, qw), p->e_bias3, M, D, 3 * D));
    else ATAS_CHECK(be->linear_fwd(be, qkv, ln1, PW(m, qw), p->e_bias3, M, D, 3 * D));
    /* q and k (2H heads) of the patch tokens turned in place */
    ATAS_CHECK(be->rope_fwd(be, qkv, qkv, p->B, p->gh, p->gw, 3 * D, 2 * nh, D / nh, ATAS_EVA_ROPE_REF,
                       ATAS_EVA_ROPE_THETA));
    ATAS_CHECK(be->attention_fwd(be, atty, lse, qkv, p->B, p->T, nh, D / nh, p->attn_ws));
    float *proj = tr ? res2 : p->tmp;
    if (h) {
        ATAS_CHECK(be->layernorm_fwd_h(be, ilnh, mi, ri, atty, wi, bi, M, D, c->ln_eps));
        ATAS_CHECK(be->linear_fwd_h(be, proj, ilnh, atas_vit_ph(m, pw), pb, M, D, D));
        ATAS_CHECK(be->add_layernorm_fwd_h(be, res2, ln2h, m2, r2, proj, x_in, w2, b2, M, D, c->ln_eps));
    } else {
        ATAS_CHECK(be->layernorm_fwd(be, iln, mi, ri, atty, wi, bi, M, D, c->ln_eps));
        ATAS_CHECK(be->linear_fwd(be, proj, iln, PW(m, pw), pb, M, D, D));
        ATAS_CHECK(be->add_layernorm_fwd(be, res2, ln2, m2, r2, proj, x_in, w2, b2, M, D, c->ln_eps));
    }
    float *mlp = tr ? x_out : p->tmp;
    ATAS_CHECK(mlp_fwd(m, l, M, ln2, ln2h, fch, p->fca, fln, flnh, mf, rf, mlp));
    /* the residual add, with the next block's norm1 when that block starts from it */
    const int n = l + 1 < c->layers ? l + 1 : l;
    return atas_vit_block_close(p, m, l, x_out, mlp, res2, PW(m, BLK(n, ATAS_EVA_NORM1_W)),
                                PW(m, BLK(n, ATAS_EVA_NORM1_B)));
}

/* CLIPSelf's EVA dense path on the patch tokens of x (the last block's input):
 * x1 = x + proj(attn.norm(v_proj(norm1 x) + v_bias)); x2 = x1 + mlp(norm2 x1);
 * dense = head(norm(x2)). */
static atas_status dense_fwd(atas_vit_pass *p, const atas_vit *m, const float *x) {
    const atas_backend *be = m->be;
    const atas_vit_config *c = &m->cfg;
    const int D = c->width, E = c->embed, L = c->layers, l = L - 1, M = p->B * p->Np, tr = p->train;
    ATAS_CHECK(be->rows_gather(be, p->d_x, x, p->B, p->T, D, 1, p->Np));
    ATAS_CHECK(be->layernorm_fwd(be, p->d_ln1, tr ? p->d_ln1_mean : NULL, tr ? p->d_ln1_rstd : NULL, p->d_x,
                            PW(m, BLK(l, ATAS_EVA_NORM1_W)), PW(m, BLK(l, ATAS_EVA_NORM1_B)), M, D,
                            c->ln_eps));
    ATAS_CHECK(be->linear_fwd(be, p->d_v, p->d_ln1, PW(m, BLK(l, ATAS_EVA_QKV_W)) + (size_t)2 * D * D,
                         PW(m, BLK(l, ATAS_EVA_V_B)), M, D, D));
    ATAS_CHECK(be->layernorm_fwd(be, p->d_iln, tr ? p->d_iln_mean : NULL, tr ? p->d_iln_rstd : NULL, p->d_v,
                            PW(m, BLK(l, ATAS_EVA_ILN_W)), PW(m, BLK(l, ATAS_EVA_ILN_B)), M, D,
                            c->ln_eps));
    ATAS_CHECK(be->linear_fwd(be, p->d_x1, p->d_iln, PW(m, BLK(l, ATAS_EVA_PROJ_W)),
                         PW(m, BLK(l, ATAS_EVA_PROJ_B)), M, D, D));
    ATAS_CHECK(be->add_layernorm_fwd(be, p->d_x1, p->d_ln2, tr ? p->d_ln2_mean : NULL, tr ? p->d_ln2_rstd : NULL,
                                     p->d_x1, p->d_x, PW(m, BLK(l, ATAS_EVA_NORM2_W)),
                                     PW(m, BLK(l, ATAS_EVA_NORM2_B)), M, D, c->ln_eps));
    /* inference reuses the full-sequence MLP buffer (B*Np <= B*T rows) */
    ATAS_CHECK(mlp_fwd(m, l, M, p->d_ln2, NULL, tr ? p->d_fch : p->fch, p->fca, p->d_fln, NULL,
                  tr ? p->d_fln_mean : NULL, tr ? p->d_fln_rstd : NULL, p->d_x2));
    ATAS_CHECK(be->add_layernorm_fwd(be, p->d_x2, p->d_lnp, tr ? p->d_lnp_mean : NULL, tr ? p->d_lnp_rstd : NULL,
                                     p->d_x2, p->d_x1, PW(m, atas_eva_tail(L, ATAS_EVA_NORM_W)),
                                     PW(m, atas_eva_tail(L, ATAS_EVA_NORM_B)), M, D, c->ln_eps));
    ATAS_CHECK(be->linear_fwd(be, p->dense, p->d_lnp, PW(m, atas_eva_tail(L, ATAS_EVA_HEAD_W)),
                         PW(m, atas_eva_tail(L, ATAS_EVA_HEAD_B)), M, D, E));
    return ATAS_OK;
}

static atas_status global_fwd(atas_vit_pass *p, const atas_vit *m, const float *x) {
    const atas_backend *be = m->be;
    const atas_vit_config *c = &m->cfg;
    const int D = c->width, E = c->embed, L = c->layers;
    ATAS_CHECK(be->rows_gather(be, p->g_x, x, p->B, p->T, D, 0, 1));
    ATAS_CHECK(be->layernorm_fwd(be, p->g_ln, p->train ? p->g_mean : NULL, p->train ? p->g_rstd : NULL, p->g_x,
                            PW(m, atas_eva_tail(L, ATAS_EVA_NORM_W)),
                            PW(m, atas_eva_tail(L, ATAS_EVA_NORM_B)), p->B, D, c->ln_eps));
    ATAS_CHECK(be->linear_fwd(be, p->glob, p->g_ln, PW(m, atas_eva_tail(L, ATAS_EVA_HEAD_W)),
                         PW(m, atas_eva_tail(L, ATAS_EVA_HEAD_B)), p->B, D, E));
    return ATAS_OK;
}

static const atas_vit_family eva_family = {
    .block_fwd = block_fwd, .dense_fwd = dense_fwd, .global_fwd = global_fwd};

atas_status atas_eva_forward(atas_vit_pass *p, const atas_vit *m, const float *images) {
    const atas_backend *be = m->be;
    const atas_vit_config *c = &m->cfg;
    const int D = c->width, P = c->patch;
    ATAS_CHECK(be->patchify(be, p->patches, images, p->B, p->H, p->W, P));
    ATAS_CHECK(be->linear_fwd(be, p->pe, p->patches, PW(m, ATAS_EVA_PATCH_W), PW(m, ATAS_EVA_PATCH_B),
                         p->B * p->Np, 3 * P * P, D));
    ATAS_CHECK(atas_vit_pos_fwd(p, m, PW(m, ATAS_EVA_POS)));
    /* no ln_pre: the embedding sum is the residual stream's slot 0 */
    ATAS_CHECK(be->embed_fwd(be, p->res, p->pe, PW(m, ATAS_EVA_CLS), p->pos, p->B, p->Np, D));
    return atas_vit_forward_blocks(p, m, &eva_family);
}
