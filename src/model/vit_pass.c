/* Activation plan: every buffer of a pass allocated once, sized for its shape. */
#include <string.h>

#include "vit_pass.h"

static atas_status take(atas_vit_pass *p, float **buf, size_t nfloats, const char *what) {
    if (nfloats == 0) { *buf = NULL; return ATAS_OK; }
    CHECK(p->be->alloc((void **)buf, nfloats * sizeof(float), what));
    p->bytes += nfloats * sizeof(float);
    return ATAS_OK;
}

atas_status atas_vit_pass_create(atas_vit_pass **out, const atas_vit *m, int B, int H, int W,
                                 int outputs, int train) {
    const atas_vit_config *c = &m->cfg;
    *out = NULL;
    REQUIRE(B > 0, "pass: batch %d must be positive", B);
    REQUIRE(outputs & (ATAS_OUT_GLOBAL | ATAS_OUT_DENSE), "pass: no output requested");
    CHECK(atas_vit_check_resolution(c, H, W, "pass resolution"));
    atas_vit_pass *p;
    CHECK(atas_host_calloc((void **)&p, sizeof *p, "pass"));
    *out = p;
    p->be = m->be;
    p->B = B; p->H = H; p->W = W;
    p->gh = H / c->patch; p->gw = W / c->patch;
    p->Np = p->gh * p->gw; p->T = p->Np + 1;
    p->outputs = outputs; p->train = train;
    p->nblk = (outputs & ATAS_OUT_GLOBAL) ? c->layers : c->layers - 1;

    const size_t D = c->width, Hm = c->mlp, E = c->embed, nh = c->heads;
    const size_t BT = (size_t)B * p->T, BN = (size_t)B * p->Np, K = 3 * (size_t)c->patch * c->patch;
    const size_t S = train ? (size_t)p->nblk : 1; /* per-layer slots */

    CHECK(take(p, &p->patches, BN * K, "patches"));
    CHECK(take(p, &p->pe, BN * D, "patch embeddings"));
    CHECK(take(p, &p->pos, (size_t)p->T * D, "positional embedding"));
    CHECK(take(p, &p->x0, BT * D, "embedding sum"));
    CHECK(take(p, &p->lnpre_mean, BT, "ln_pre mean"));
    CHECK(take(p, &p->lnpre_rstd, BT, "ln_pre rstd"));

    CHECK(take(p, &p->res, (train ? S + 1 : 1) * BT * D, "residual stream"));
    CHECK(take(p, &p->ln1, S * BT * D, "ln_1 out"));
    CHECK(take(p, &p->ln1_mean, S * BT, "ln_1 mean"));
    CHECK(take(p, &p->ln1_rstd, S * BT, "ln_1 rstd"));
    CHECK(take(p, &p->qkv, S * BT * 3 * D, "qkv"));
    CHECK(take(p, &p->atty, S * BT * D, "attention out"));
    CHECK(take(p, &p->lse, S * (size_t)B * nh * p->T, "attention lse"));
    CHECK(take(p, &p->res2, train ? S * BT * D : 0, "residual after attention"));
    CHECK(take(p, &p->ln2, S * BT * D, "ln_2 out"));
    CHECK(take(p, &p->ln2_mean, S * BT, "ln_2 mean"));
    CHECK(take(p, &p->ln2_rstd, S * BT, "ln_2 rstd"));
    CHECK(take(p, &p->fch, S * BT * Hm, "mlp hidden"));
    CHECK(take(p, &p->fca, BT * Hm, "mlp activation"));
    CHECK(take(p, &p->tmp, train ? 0 : BT * D, "projection scratch"));
    size_t ws = m->be->attention_workspace_bytes(B, p->T, (int)nh, (int)(D / nh));
    if (ws) {
        CHECK(m->be->alloc(&p->attn_ws, ws, "attention workspace"));
        p->bytes += ws;
    }

    if (outputs & ATAS_OUT_GLOBAL) {
        CHECK(take(p, &p->g_x, (size_t)B * D, "global token"));
        CHECK(take(p, &p->g_ln, (size_t)B * D, "global ln_post"));
        CHECK(take(p, &p->g_mean, (size_t)B, "global ln_post mean"));
        CHECK(take(p, &p->g_rstd, (size_t)B, "global ln_post rstd"));
        CHECK(take(p, &p->glob, (size_t)B * E, "global embedding"));
    }
    if (outputs & ATAS_OUT_DENSE) {
        CHECK(take(p, &p->d_x, BN * D, "dense input"));
        CHECK(take(p, &p->d_ln1, BN * D, "dense ln_1"));
        CHECK(take(p, &p->d_ln1_mean, BN, "dense ln_1 mean"));
        CHECK(take(p, &p->d_ln1_rstd, BN, "dense ln_1 rstd"));
        CHECK(take(p, &p->d_v, BN * D, "dense values"));
        CHECK(take(p, &p->d_x1, BN * D, "dense residual 1"));
        CHECK(take(p, &p->d_ln2, BN * D, "dense ln_2"));
        CHECK(take(p, &p->d_ln2_mean, BN, "dense ln_2 mean"));
        CHECK(take(p, &p->d_ln2_rstd, BN, "dense ln_2 rstd"));
        CHECK(take(p, &p->d_fch, train ? BN * Hm : 0, "dense mlp hidden"));
        CHECK(take(p, &p->d_x2, BN * D, "dense residual 2"));
        CHECK(take(p, &p->d_lnp, BN * D, "dense ln_post"));
        CHECK(take(p, &p->d_lnp_mean, BN, "dense ln_post mean"));
        CHECK(take(p, &p->d_lnp_rstd, BN, "dense ln_post rstd"));
        CHECK(take(p, &p->dense, BN * E, "dense embedding"));
    }
    if (train) {
        CHECK(take(p, &p->g_dres, BT * D, "grad residual"));
        CHECK(take(p, &p->g_dqkv, BT * 3 * D, "grad qkv"));
        CHECK(take(p, &p->g_datty, BT * D, "grad attention out"));
        CHECK(take(p, &p->g_dln, BT * D, "grad ln out"));
        CHECK(take(p, &p->g_dfch, BT * Hm, "grad mlp hidden"));
        CHECK(take(p, &p->g_dfca, BT * Hm, "grad mlp activation"));
        CHECK(take(p, &p->g_dpos, (size_t)p->T * D, "grad positional embedding"));
        CHECK(take(p, &p->g_dpe, BN * D, "grad patch embeddings"));
        CHECK(take(p, &p->g_dsmall, BN * D > (size_t)B * D ? BN * D : (size_t)B * D, "grad head a"));
        CHECK(take(p, &p->g_dsmall2, BN * D, "grad head b"));
    }
    return ATAS_OK;
}

void atas_vit_pass_destroy(atas_vit_pass *p) {
    if (!p) return;
    const atas_backend *be = p->be;
    float **bufs[] = {&p->patches, &p->pe, &p->pos, &p->x0, &p->lnpre_mean, &p->lnpre_rstd,
                      &p->res, &p->ln1, &p->ln1_mean, &p->ln1_rstd, &p->qkv, &p->atty, &p->lse,
                      &p->res2, &p->ln2, &p->ln2_mean, &p->ln2_rstd, &p->fch, &p->fca, &p->tmp,
                      &p->g_x, &p->g_ln, &p->g_mean, &p->g_rstd, &p->glob, &p->d_x, &p->d_ln1,
                      &p->d_ln1_mean, &p->d_ln1_rstd, &p->d_v, &p->d_x1, &p->d_ln2,
                      &p->d_ln2_mean, &p->d_ln2_rstd, &p->d_fch, &p->d_x2, &p->d_lnp,
                      &p->d_lnp_mean, &p->d_lnp_rstd, &p->dense, &p->g_dres, &p->g_dqkv,
                      &p->g_datty, &p->g_dln, &p->g_dfch, &p->g_dfca, &p->g_dpos, &p->g_dpe,
                      &p->g_dsmall, &p->g_dsmall2};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (*bufs[i]) be->free(*bufs[i]);
    if (p->attn_ws) be->free(p->attn_ws);
    atas_host_free(p);
}

size_t atas_vit_pass_bytes(const atas_vit_pass *p) { return p->bytes; }
int atas_vit_pass_grid_h(const atas_vit_pass *p) { return p->gh; }
int atas_vit_pass_grid_w(const atas_vit_pass *p) { return p->gw; }
const float *atas_vit_global(const atas_vit_pass *p) { return p->glob; }
const float *atas_vit_dense(const atas_vit_pass *p) { return p->dense; }
