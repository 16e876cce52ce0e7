/* Helpers every ATAS loss uses: L2 normalisation and its backward, softmax
 * cross-entropy, loading a cell's student tokens. All in double: the losses are
 * small next to the model, and double keeps finite-difference checks sharp. */
#include <math.h>

#include "losses_internal.h"

/* the per-element math is the device objective's too (atas/objective_elem.h) */
double atas_l2n(const double *x, int E, double *y) { return atas_obj_l2n(x, E, y); }

void atas_l2n_back(const double *y, double denom, const double *gy, int E, double *gx) {
    atas_obj_l2n_back(y, denom, gy, E, gx);
}

double atas_softmax_ce(const double *logits, int n, int target, double *p) {
    return atas_obj_softmax_ce(logits, n, target, p);
}

void atas_cell_load(const atas_loss_ctx *c, const atas_cell *cell, atas_loss_scratch *s) {
    const int E = c->E, K = cell->k * cell->k;
    for (int p = 0; p < K; p++) {
        const float *d = atas_cell_token(c, cell, p);
        double *y = s->dh + (size_t)p * E;
        for (int e = 0; e < E; e++) y[e] = d[e]; /* widen, then normalise in place */
        s->dn[p] = atas_l2n(y, E, y);
    }
}
