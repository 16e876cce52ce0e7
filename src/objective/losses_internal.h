/* Internal pieces of the ATAS objective shared by objective.c and losses_*.c (and the
 * gradient test, which freezes the teacher-weighted pooling weights through
 * atas_objective_group_ex). Not a public header. */
#ifndef ATAS_LOSSES_INTERNAL_H
#define ATAS_LOSSES_INTERNAL_H

#include "atas/objective.h"
#include "atas/objective_elem.h"


/* One mosaic cell: where its tokens are and which image it holds. */
typedef struct {
    int mosaic, image;
    int k;      /* cell side in tokens (cell_px / patch) */
    int r0, c0; /* top-left token inside the mosaic's hC x wC map */
} atas_cell;

/* Read-only state of one call, shared by all threads. */
typedef struct {
    const atas_loss_config *cfg;
    int n, E, hT, wT, hC, wC;
    const double *tg;      /* [n,E]        normalised teacher globals */
    const double *td;      /* [n,hT,wT,E]  normalised teacher tokens (NULL when L2L is off) */
    const float *s_dense;  /* [m,hC,wC,E]  raw student tokens */
} atas_loss_ctx;

/* Per-thread scratch, sized for the largest cell (K = kmax^2 tokens). */
typedef struct {
    double *dh;   /* [K,E] normalised student tokens */
    double *dn;   /* [K]   their normalisation denominators max(|d|, eps) */
    double *gacc; /* [K,E] d loss / d raw tokens of the cell, all losses together */
    double *gh;   /* [K,E] d L2L / d normalised tokens */
    double *tp;   /* [K,E] resampled, re-normalised teacher tokens T' */
    double *ss;   /* [K,K] student similarity (L2L similarity only) */
    double *st;   /* [K,K] teacher similarity (L2L similarity only) */
    double *w;    /* [K]   pooling weights */
    double *vec;  /* [3E]  z, z^, dz^ */
    double *prob; /* [n]   softmax over the group's images */
    int *taps;    /* [2*4*kmax] resampling taps rows | cols */
    float *wts;   /* [2*4*kmax] resampling weights rows | cols */
} atas_loss_scratch;

/* Raw student token p (row-major inside the cell) of a cell. */
static inline const float *atas_cell_token(const atas_loss_ctx *c, const atas_cell *cell, int p) {
    int a = p / cell->k, b = p % cell->k;
    return c->s_dense + (((size_t)cell->mosaic * c->hC + cell->r0 + a) * c->wC + cell->c0 + b) * c->E;
}

/* y = x / max(|x|, eps); returns the denominator. */
double atas_l2n(const double *x, int E, double *y);
/* gx = d/dx of <gy, x/max(|x|,eps)>: (gy - y<y,gy>)/|x|, or gy/eps below eps. */
void atas_l2n_back(const double *y, double denom, const double *gy, int E, double *gx);
/* p = softmax(logits) (p may be logits); returns -log p[target] (log-sum-exp, stable). */
double atas_softmax_ce(const double *logits, int n, int target, double *p);

/* Normalise the cell's student tokens into s->dh / s->dn. */
void atas_cell_load(const atas_loss_ctx *c, const atas_cell *cell, atas_loss_scratch *s);

/* G2L pooling weights of the cell into w[K] (mean: 1/K; teacher_weighted: softmax). */
void atas_g2l_pool_weights(const atas_loss_ctx *c, const atas_cell *cell, const atas_loss_scratch *s,
                           double *w);
/* G2L term of one cell with pooling weights w (constants); adds alpha * d term / d raw
 * tokens to s->gacc; returns the term. */
double atas_g2l_cell(const atas_loss_ctx *c, const atas_cell *cell, atas_loss_scratch *s,
                     const double *w, double alpha);
/* L2L term of one cell; adds alpha * d term / d raw tokens to s->gacc; returns the term. */
double atas_l2l_cell(const atas_loss_ctx *c, const atas_cell *cell, atas_loss_scratch *s,
                     double alpha);
/* G2G over the group: returns the mean term; writes alpha * d / d s_glob into ds (if not
 * NULL). buf: 3E + n doubles of scratch. */
double atas_g2g(const atas_loss_config *cfg, int n, int E, const double *tg, const float *s_glob,
                double alpha, float *ds, double *buf);

/* atas_objective_group with a hook for tests: when pool_w_in is not NULL the G2L pooling
 * weights are taken from it ([m,hC,wC], one weight per student token) instead of being
 * computed; when pool_w_out is not NULL the weights used are written there. */
atas_status atas_objective_group_ex(const atas_loss_config *cfg, const atas_mosaic *plans, int m,
                                    int n, int E, int patch, const float *t_glob,
                                    const float *t_dense, int hT, int wT, const float *s_glob,
                                    const float *s_dense, int hC, int wC, float grad_scale,
                                    float *ds_glob, float *ds_dense, atas_loss_values *out,
                                    const double *pool_w_in, double *pool_w_out);

#endif
