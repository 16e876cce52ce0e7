/* The activation plan of an EVA02 pass: the CLIP plan's buffers (fch twice as
 * wide: w1|w2), plus the inner LayerNorms of attention and MLP, no ln_pre. */
#include "eva_internal.h"

static void take(atas_plan *pl, float **buf, size_t nfloats, const char *what) {
    atas_plan_add(pl, buf, nfloats * sizeof(float), what);
}

void atas_eva_fill_activation_sizes(atas_vit_pass *p, const atas_vit_config *c) {
    atas_plan *pl = &p->plan;
    const int B = p->B, outputs = p->outputs, train = p->train;
    const size_t D = c->width, F = c->mlp, E = c->embed, nh = c->heads;
    const size_t BT = (size_t)B * p->T, BN = (size_t)B * p->Np, K = 3 * (size_t)c->patch * c->patch;
    const size_t S = train ? (size_t)p->nblk : 1;

    take(pl, &p->patches, BN * K, "patches");
    take(pl, &p->pe, BN * D, "patch embeddings");
    take(pl, &p->pos, (size_t)p->T * D, "positional embedding");
    take(pl, &p->e_bias3, 3 * D, "q|0|v bias");

    take(pl, &p->res, (train ? S + 1 : 1) * BT * D, "residual stream");
    atas_pass_take_in(p, &p->ln1, &p->ln1h, S * BT * D, "norm1 out", "norm1 out (bf16)");
    take(pl, &p->ln1_mean, S * BT, "norm1 mean");
    take(pl, &p->ln1_rstd, S * BT, "norm1 rstd");
    take(pl, &p->qkv, S * BT * 3 * D, "qkv (q, k turned)");
    take(pl, &p->atty, S * BT * D, "attention out");
    take(pl, &p->lse, S * (size_t)B * nh * p->T, "attention lse");
    atas_pass_take_in(p, &p->e_iln, &p->e_ilnh, S * BT * D, "attn.norm out", "attn.norm out (bf16)");
    take(pl, &p->e_iln_mean, S * BT, "attn.norm mean");
    take(pl, &p->e_iln_rstd, S * BT, "attn.norm rstd");
    take(pl, &p->res2, train ? S * BT * D : 0, "residual after attention");
    atas_pass_take_in(p, &p->ln2, &p->ln2h, S * BT * D, "norm2 out", "norm2 out (bf16)");
    take(pl, &p->ln2_mean, S * BT, "norm2 mean");
    take(pl, &p->ln2_rstd, S * BT, "norm2 rstd");
    take(pl, &p->fch, S * BT * 2 * F, "w1|w2 out");
    take(pl, &p->fca, BT * F, "swiglu out (recomputed in the backward)");
    atas_pass_take_in(p, &p->e_fln, &p->e_flnh, S * BT * F, "mlp.norm out", "mlp.norm out (bf16)");
    take(pl, &p->e_fln_mean, S * BT, "mlp.norm mean");
    take(pl, &p->e_fln_rstd, S * BT, "mlp.norm rstd");
    take(pl, &p->tmp, train ? 0 : BT * D, "projection scratch");
    atas_plan_add(pl, &p->attn_ws, p->be->attention_workspace_bytes(p->be, B, p->T, (int)nh, (int)(D / nh)),
                  "attention workspace");

    if (outputs & ATAS_OUT_GLOBAL) {
        take(pl, &p->g_x, (size_t)B * D, "global token");
        take(pl, &p->g_ln, (size_t)B * D, "global norm");
        take(pl, &p->g_mean, (size_t)B, "global norm mean");
        take(pl, &p->g_rstd, (size_t)B, "global norm rstd");
        take(pl, &p->glob, (size_t)B * E, "global embedding");
    }
    if (outputs & ATAS_OUT_DENSE) {
        take(pl, &p->d_x, BN * D, "dense input");
        take(pl, &p->d_ln1, BN * D, "dense norm1");
        take(pl, &p->d_ln1_mean, BN, "dense norm1 mean");
        take(pl, &p->d_ln1_rstd, BN, "dense norm1 rstd");
        take(pl, &p->d_v, BN * D, "dense values");
        take(pl, &p->d_iln, BN * D, "dense attn.norm");
        take(pl, &p->d_iln_mean, BN, "dense attn.norm mean");
        take(pl, &p->d_iln_rstd, BN, "dense attn.norm rstd");
        take(pl, &p->d_x1, BN * D, "dense residual 1");
        take(pl, &p->d_ln2, BN * D, "dense norm2");
        take(pl, &p->d_ln2_mean, BN, "dense norm2 mean");
        take(pl, &p->d_ln2_rstd, BN, "dense norm2 rstd");
        take(pl, &p->d_fch, train ? BN * 2 * F : 0, "dense w1|w2 out");
        take(pl, &p->d_fln, BN * F, "dense mlp.norm");
        take(pl, &p->d_fln_mean, BN, "dense mlp.norm mean");
        take(pl, &p->d_fln_rstd, BN, "dense mlp.norm rstd");
        take(pl, &p->d_x2, BN * D, "dense residual 2");
        take(pl, &p->d_lnp, BN * D, "dense norm");
        take(pl, &p->d_lnp_mean, BN, "dense norm mean");
        take(pl, &p->d_lnp_rstd, BN, "dense norm rstd");
        take(pl, &p->dense, BN * E, "dense embedding");
    }
    if (train) {
        take(pl, &p->g_dres, BT * D, "grad residual");
        take(pl, &p->g_dqkv, BT * 3 * D, "grad qkv (turned)");
        take(pl, &p->g_dqkv2, BT * 3 * D, "grad qkv");
        take(pl, &p->g_dbias3, 3 * D, "grad q|k|v bias");
        take(pl, &p->g_datty, BT * D, "grad attention out");
        take(pl, &p->g_dln, BT * D, "grad ln out");
        take(pl, &p->g_dfch, BT * 2 * F, "grad w1|w2 out");
        take(pl, &p->g_dfca, BT * F, "grad swiglu out");
        take(pl, &p->g_dfln, BT * F, "grad mlp.norm out");
        if (p->h)
            atas_plan_add(pl, &p->g_dyh, BT * (3 * D > 2 * F ? 3 * D : 2 * F) * sizeof(atas_bf16),
                          "grad GEMM operand (bf16)");
        take(pl, &p->g_dpos, (size_t)p->T * D, "grad positional embedding");
        take(pl, &p->g_dpe, BN * D, "grad patch embeddings");
        take(pl, &p->g_dsmall, BN * D > (size_t)B * D ? BN * D : (size_t)B * D, "grad head a");
        take(pl, &p->g_dsmall2, BN * D, "grad head b");
    }
}
