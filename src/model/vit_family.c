/* What the two block families share (vit_family.h): the parameter table entry, the
 * block order of forward and backward, gradient-ready notices, the positional
 * embedding's backward. */
#include "vit_family.h"

#include <stdarg.h>
#include <stdio.h>

/* slot l of a per-block buffer; inference keeps one slot, updated in place */
#define SLOT(p, buf, l, per) ((p)->buf + ((p)->train ? (size_t)(l) * (per) : 0))

atas_status atas_vit_block_close(atas_vit_pass *p, const atas_vit *m, int l, float *x_out, const float *mlp,
                                 const float *res2, const float *nw, const float *nb) {
    const atas_backend *be = m->be;
    const int D = m->cfg.width, M = p->B * p->T, n = l + 1;
    const size_t BT = (size_t)M;
    if (!atas_vit_ln1_from_prev(m, n)) return be->add(be, x_out, mlp, res2, BT * D);
    float *nm = p->train ? SLOT(p, ln1_mean, n, BT) : NULL, *nr = p->train ? SLOT(p, ln1_rstd, n, BT) : NULL;
    if (p->h)
        return be->add_layernorm_fwd_h(be, x_out, SLOT(p, ln1h, n, BT * D), nm, nr, mlp, res2, nw, nb, M, D,
                                       m->cfg.ln_eps);
    return be->add_layernorm_fwd(be, x_out, SLOT(p, ln1, n, BT * D), nm, nr, mlp, res2, nw, nb, M, D, m->cfg.ln_eps);
}

void atas_param_set(atas_param_info *t, size_t *off, int decay, int ndim, const int *shape,
                    const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < 4; i++) t->shape[i] = i < ndim ? shape[i] : 1;
    for (int i = 0; i < ndim; i++) t->numel *= (size_t)shape[i];
    t->decay = decay;
    t->offset = *off;
    *off += (t->numel + 15) & ~(size_t)15; /* 64-byte aligned tensors */
}

static int blk0(const atas_vit *m, int l) {
    return m->cfg.family == ATAS_VIT_EVA02 ? atas_eva_blk(l, 0) : atas_vit_blk(l, 0);
}

atas_status atas_vit_grad_ready(const atas_vit *m, int idx) {
    if (m->grad_ready) ATAS_CHECK(m->grad_ready(m->grad_ready_ctx, m->info[idx].offset));
    return ATAS_OK;
}

int atas_vit_trains_below(const atas_vit *m, int l) {
    for (int i = 0; i < blk0(m, l); i++)
        if (m->trainable[i]) return 1;
    return 0;
}

atas_status atas_vit_forward_blocks(atas_vit_pass *p, const atas_vit *m, const atas_vit_family *f) {
    const int D = m->cfg.width, L = m->cfg.layers;
    const size_t BT = (size_t)p->B * p->T;
    for (int l = 0; l < L - 1; l++) {
        float *xin = SLOT(p, res, l, BT * D), *xout = p->train ? SLOT(p, res, l + 1, BT * D) : p->res;
        ATAS_CHECK(f->block_fwd(p, m, l, xin, xout));
    }
    float *x_last = p->train ? p->res + (size_t)(L - 1) * BT * D : p->res;
    if (p->outputs & ATAS_OUT_DENSE) ATAS_CHECK(f->dense_fwd(p, m, x_last));
    if (p->outputs & ATAS_OUT_GLOBAL) {
        float *xout = p->train ? p->res + (size_t)L * BT * D : p->res;
        ATAS_CHECK(f->block_fwd(p, m, L - 1, x_last, xout));
        ATAS_CHECK(f->global_fwd(p, m, xout));
    }
    return ATAS_OK;
}

atas_status atas_vit_backward_blocks(atas_vit_pass *p, const atas_vit *m, const float *dglobal,
                                     const float *ddense, const atas_vit_family *f, int *embed) {
    const atas_backend *be = m->be;
    const int D = m->cfg.width, L = m->cfg.layers;
    *embed = 0;
    if (!(p->outputs & ATAS_OUT_GLOBAL)) dglobal = NULL;
    if (!(p->outputs & ATAS_OUT_DENSE)) ddense = NULL;
    if (!dglobal && !ddense) return ATAS_OK;
    float *dres = p->g_dres;
    ATAS_CHECK(be->zero(be, dres, (size_t)p->B * p->T * D * sizeof(float)));
    /* head(s) and the last block */
    if (dglobal) {
        ATAS_CHECK(f->global_bwd(p, m, dglobal, dres));
        ATAS_CHECK(f->block_bwd(p, m, L - 1, dres, 1));
    }
    if (ddense) ATAS_CHECK(f->dense_bwd(p, m, ddense, dres, atas_vit_trains_below(m, L - 1)));
    ATAS_CHECK(atas_vit_grad_ready(m, blk0(m, L - 1)));
    /* shared blocks, top down, stopping where nothing below learns */
    for (int l = L - 2; l >= 0; l--) {
        if (!atas_vit_trains_below(m, l + 1)) return atas_vit_grad_ready(m, 0);
        ATAS_CHECK(f->block_bwd(p, m, l, dres, atas_vit_trains_below(m, l)));
        ATAS_CHECK(atas_vit_grad_ready(m, blk0(m, l)));
    }
    if (!atas_vit_trains_below(m, 0)) return atas_vit_grad_ready(m, 0);
    *embed = 1;
    return ATAS_OK;
}

atas_status atas_vit_pos_fwd(atas_vit_pass *p, const atas_vit *m, const float *pos) {
    const atas_backend *be = m->be;
    const int D = m->cfg.width, G = m->cfg.grid;
    if (p->gh == G && p->gw == G) {
        ATAS_CHECK(be->copy(be, p->pos, pos, (size_t)p->T * D * sizeof(float)));
        return ATAS_OK;
    }
    ATAS_CHECK(be->copy(be, p->pos, pos, (size_t)D * sizeof(float)));
    ATAS_CHECK(be->resample_fwd(be, p->pos + D, pos + D, G, G, p->gh, p->gw, D, ATAS_RESAMPLE_BICUBIC, p->rs_plan));
    return ATAS_OK;
}

atas_status atas_vit_pos_bwd(const atas_vit_pass *p, const atas_vit *m, float *gpos) {
    const atas_backend *be = m->be;
    const int D = m->cfg.width, G0 = m->cfg.grid;
    if (p->gh == G0 && p->gw == G0) {
        ATAS_CHECK(be->axpy(be, gpos, 1.0f, p->g_dpos, (size_t)p->T * D));
    } else {
        ATAS_CHECK(be->axpy(be, gpos, 1.0f, p->g_dpos, (size_t)D));
        ATAS_CHECK(be->resample_bwd(be, gpos + D, p->g_dpos + D, G0, G0, p->gh, p->gw, D,
                                    ATAS_RESAMPLE_BICUBIC, p->rs_plan));
    }
    return ATAS_OK;
}
