/* Helpers every ATAS loss uses: L2 normalisation and its backward, softmax
 * cross-entropy, loading a cell's student tokens. All in double: the losses are
 * small next to the model, and double keeps finite-difference checks sharp. */
#include <math.h>

#include "losses_internal.h"

double atas_l2n(const double *x, int E, double *y) {
    double ss = 0;
    for (int e = 0; e < E; e++) ss += x[e] * x[e];
    double den = sqrt(ss);
    if (den < ATAS_L2N_EPS) den = ATAS_L2N_EPS;
    double inv = 1.0 / den;
    for (int e = 0; e < E; e++) y[e] = x[e] * inv;
    return den;
}

void atas_l2n_back(const double *y, double denom, const double *gy, int E, double *gx) {
    double inv = 1.0 / denom;
    if (denom <= ATAS_L2N_EPS) { /* the clamp is active: the norm gets no gradient */
        for (int e = 0; e < E; e++) gx[e] = gy[e] * inv;
        return;
    }
    double dot = 0;
    for (int e = 0; e < E; e++) dot += y[e] * gy[e];
    for (int e = 0; e < E; e++) gx[e] = (gy[e] - y[e] * dot) * inv;
}

double atas_softmax_ce(const double *logits, int n, int target, double *p) {
    const double lt = logits[target]; /* p may alias logits */
    double mx = logits[0];
    for (int j = 1; j < n; j++) if (logits[j] > mx) mx = logits[j];
    double sum = 0;
    for (int j = 0; j < n; j++) {
        p[j] = exp(logits[j] - mx);
        sum += p[j];
    }
    for (int j = 0; j < n; j++) p[j] /= sum;
    return log(sum) + mx - lt;
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
