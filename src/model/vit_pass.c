/* Activation plan: every buffer of a pass carved from one allocation, sized
 * for its shape from a table of named sizes, printed once, freed once. */
#include <stdio.h>
#include <string.h>

#include "eva_internal.h"

/* one named entry of the plan, in floats */
static void take(atas_plan *pl, float **buf, size_t nfloats, const char *what) {
    atas_plan_add(pl, buf, nfloats * sizeof(float), what);
}

/* one named bf16 entry, in elements */
static void take_h(atas_plan *pl, atas_bf16 **buf, size_t n, const char *what) {
    atas_plan_add(pl, buf, n * sizeof(atas_bf16), what);
}

/* The activation plan of a pass: every buffer's size from the shape (B, grid),
 * the outputs and train/inference, as a table of named sizes (llm.c's
 * fill_in_activation_sizes); atas_vit_pass_create carves them out of one
 * allocation. */
static void fill_in_activation_sizes(atas_vit_pass *p, const atas_vit_config *c) {
    atas_plan *pl = &p->plan;
    const int B = p->B, outputs = p->outputs, train = p->train, h = p->h;
    const size_t D = c->width, Hm = c->mlp, E = c->embed, nh = c->heads;
    const size_t BT = (size_t)B * p->T, BN = (size_t)B * p->Np, K = 3 * (size_t)c->patch * c->patch;
    const size_t S = train ? (size_t)p->nblk : 1; /* per-layer slots */

    take(pl, &p->patches, BN * K, "patches");
    take(pl, &p->pe, BN * D, "patch embeddings");
    take(pl, &p->pos, (size_t)p->T * D, "positional embedding");
    take(pl, &p->x0, BT * D, "embedding sum");
    take(pl, &p->lnpre_mean, BT, "ln_pre mean");
    take(pl, &p->lnpre_rstd, BT, "ln_pre rstd");

    take(pl, &p->res, (train ? S + 1 : 1) * BT * D, "residual stream");
    atas_pass_take_in(p, &p->ln1, &p->ln1h, S * BT * D, "ln_1 out", "ln_1 out (bf16)");
    take(pl, &p->ln1_mean, S * BT, "ln_1 mean");
    take(pl, &p->ln1_rstd, S * BT, "ln_1 rstd");
    take(pl, &p->qkv, S * BT * 3 * D, "qkv");
    take(pl, &p->atty, S * BT * D, "attention out");
    take(pl, &p->lse, S * (size_t)B * nh * p->T, "attention lse");
    take(pl, &p->res2, train ? S * BT * D : 0, "residual after attention");
    atas_pass_take_in(p, &p->ln2, &p->ln2h, S * BT * D, "ln_2 out", "ln_2 out (bf16)");
    take(pl, &p->ln2_mean, S * BT, "ln_2 mean");
    take(pl, &p->ln2_rstd, S * BT, "ln_2 rstd");
    take(pl, &p->fch, S * BT * Hm, "mlp hidden");
    if (h) take_h(pl, &p->fcah, BT * Hm, "mlp activation (bf16)");
    take(pl, &p->fca, h ? ((outputs & ATAS_OUT_DENSE) ? BN * Hm : 0) : BT * Hm,
         h ? "dense mlp activation" : "mlp activation");
    take(pl, &p->tmp, train ? 0 : BT * D, "projection scratch");
    atas_plan_add(pl, &p->attn_ws, p->be->attention_workspace_bytes(p->be, B, p->T, (int)nh, (int)(D / nh)),
                  "attention workspace");

    if (outputs & ATAS_OUT_GLOBAL) {
        take(pl, &p->g_x, (size_t)B * D, "global token");
        take(pl, &p->g_ln, (size_t)B * D, "global ln_post");
        take(pl, &p->g_mean, (size_t)B, "global ln_post mean");
        take(pl, &p->g_rstd, (size_t)B, "global ln_post rstd");
        take(pl, &p->glob, (size_t)B * E, "global embedding");
    }
    if (outputs & ATAS_OUT_DENSE) {
        take(pl, &p->d_x, BN * D, "dense input");
        take(pl, &p->d_ln1, BN * D, "dense ln_1");
        take(pl, &p->d_ln1_mean, BN, "dense ln_1 mean");
        take(pl, &p->d_ln1_rstd, BN, "dense ln_1 rstd");
        take(pl, &p->d_v, BN * D, "dense values");
        take(pl, &p->d_x1, BN * D, "dense residual 1");
        take(pl, &p->d_ln2, BN * D, "dense ln_2");
        take(pl, &p->d_ln2_mean, BN, "dense ln_2 mean");
        take(pl, &p->d_ln2_rstd, BN, "dense ln_2 rstd");
        take(pl, &p->d_fch, train ? BN * Hm : 0, "dense mlp hidden");
        take(pl, &p->d_x2, BN * D, "dense residual 2");
        take(pl, &p->d_lnp, BN * D, "dense ln_post");
        take(pl, &p->d_lnp_mean, BN, "dense ln_post mean");
        take(pl, &p->d_lnp_rstd, BN, "dense ln_post rstd");
        take(pl, &p->dense, BN * E, "dense embedding");
    }
    if (train) {
        take(pl, &p->g_dres, BT * D, "grad residual");
        take(pl, &p->g_dqkv, BT * 3 * D, "grad qkv");
        take(pl, &p->g_datty, BT * D, "grad attention out");
        take(pl, &p->g_dln, BT * D, "grad ln out");
        take(pl, &p->g_dfch, BT * Hm, "grad mlp hidden");
        take(pl, &p->g_dfca, BT * Hm, "grad mlp activation");
        if (h) take_h(pl, &p->g_dyh, BT * (3 * D > Hm ? 3 * D : Hm), "grad GEMM operand (bf16)");
        take(pl, &p->g_dpos, (size_t)p->T * D, "grad positional embedding");
        take(pl, &p->g_dpe, BN * D, "grad patch embeddings");
        take(pl, &p->g_dsmall, BN * D > (size_t)B * D ? BN * D : (size_t)B * D, "grad head a");
        take(pl, &p->g_dsmall2, BN * D, "grad head b");
    }
}

atas_status atas_vit_pass_create(atas_vit_pass **out, const atas_vit *m, int B, int H, int W,
                                 int outputs, int train) {
    const atas_vit_config *c = &m->cfg;
    *out = NULL;
    ATAS_REQUIRE(B > 0, "pass: batch %d must be positive", B);
    ATAS_REQUIRE(outputs & (ATAS_OUT_GLOBAL | ATAS_OUT_DENSE), "pass: no output requested");
    ATAS_CHECK(atas_vit_check_resolution(c, H, W, "pass resolution"));
    atas_vit_pass *p;
    ATAS_CHECK(atas_host_calloc((void **)&p, sizeof *p, "pass"));
    *out = p;
    p->be = m->be;
    p->B = B; p->H = H; p->W = W;
    p->gh = H / c->patch; p->gw = W / c->patch;
    p->Np = p->gh * p->gw; p->T = p->Np + 1;
    p->outputs = outputs; p->train = train;
    p->h = atas_vit_bf16_storage(m);
    p->nblk = (outputs & ATAS_OUT_GLOBAL) ? c->layers : c->layers - 1;

    snprintf(p->title, sizeof p->title, "pass %dx%dx%d %s%s%s, %s%s", B, H, W,
             (outputs & ATAS_OUT_GLOBAL) ? "global" : "",
             (outputs & ATAS_OUT_GLOBAL) && (outputs & ATAS_OUT_DENSE) ? "+" : "",
             (outputs & ATAS_OUT_DENSE) ? "dense" : "", train ? "train" : "inference",
             p->h ? ", bf16 storage" : "");
    atas_plan_init(&p->plan, m->be, p->title);
    if (c->family == ATAS_VIT_EVA02)
        atas_eva_fill_activation_sizes(p, c);
    else
        fill_in_activation_sizes(p, c);
    const atas_backend *be = m->be;
    const int G = c->grid, resampled = p->gh != G || p->gw != G;
    if (resampled)
        atas_plan_add(&p->plan, &p->rs_plan, be->resample_plan_bytes(be, G, G, p->gh, p->gw),
                      "resample tables");
    ATAS_CHECK(atas_plan_alloc(&p->plan));
    /* once per pass: its forward and backward then copy nothing from the host */
    if (resampled) ATAS_CHECK(be->resample_plan(be, p->rs_plan, G, G, p->gh, p->gw, ATAS_RESAMPLE_BICUBIC));
    p->bytes = p->plan.total;
    atas_plan_print(&p->plan, ATAS_LOG_INFO);
    return ATAS_OK;
}

void atas_vit_pass_destroy(atas_vit_pass *p) {
    if (!p) return;
    atas_plan_release(&p->plan);
    atas_host_free(p);
}

size_t atas_vit_pass_bytes(const atas_vit_pass *p) { return p->bytes; }
int atas_vit_pass_grid_h(const atas_vit_pass *p) { return p->gh; }
int atas_vit_pass_grid_w(const atas_vit_pass *p) { return p->gw; }
const float *atas_vit_global(const atas_vit_pass *p) { return p->glob; }
const float *atas_vit_dense(const atas_vit_pass *p) { return p->dense; }
