/* Global-to-Local: the student's pooled cell embedding against the teacher's global
 * embedding of the image in that cell (cosine, or InfoNCE over the group's images).
 *
 * What is pooled: "mean" and "teacher_weighted" pool the L2-NORMALISED tokens (CLIPSelf's
 * protocol: its dense extractor normalises every token, then RoIAlign 1x1; region
 * classification evaluates the same way), so no high-norm token dominates a cell;
 * "mean_raw" pools the raw tokens (this project's behaviour before, kept as an option). */
#include <math.h>
#include <string.h>

#include "losses_internal.h"

void atas_g2l_pool_weights(const atas_loss_ctx *c, const atas_cell *cell, const atas_loss_scratch *s,
                           double *w) {
    const int E = c->E, K = cell->k * cell->k;
    if (c->cfg->g2l_pool != ATAS_G2L_POOL_TEACHER_WEIGHTED) { /* mean, mean_raw */
        for (int p = 0; p < K; p++) w[p] = 1.0 / K;
        return;
    }
    /* teacher_weighted: tokens that agree with the teacher's view of the image count
     * more; the weights are treated as constants in the backward (stop-gradient). */
    const double *t = c->tg + (size_t)cell->image * E;
    const double itau = 1.0 / c->cfg->pool_tau;
    for (int p = 0; p < K; p++) {
        const double *d = s->dh + (size_t)p * E;
        double dot = 0;
        for (int e = 0; e < E; e++) dot += t[e] * d[e];
        w[p] = dot * itau;
    }
    atas_obj_softmax(w, K);
}

double atas_g2l_cell(const atas_loss_ctx *c, const atas_cell *cell, atas_loss_scratch *s,
                     const double *w, double alpha) {
    const int E = c->E, K = cell->k * cell->k, n = c->n, i = cell->image;
    const int raw = c->cfg->g2l_pool == ATAS_G2L_POOL_MEAN_RAW;
    double *z = s->vec, *zh = s->vec + E, *gzh = s->vec + 2 * E;
    memset(z, 0, sizeof(double) * E);
    for (int p = 0; p < K; p++) {
        if (raw) {
            const float *d = atas_cell_token(c, cell, p);
            for (int e = 0; e < E; e++) z[e] += w[p] * d[e];
        } else { /* s->dh holds the normalised tokens (atas_cell_load) */
            const double *d = s->dh + (size_t)p * E;
            for (int e = 0; e < E; e++) z[e] += w[p] * d[e];
        }
    }
    double den = atas_l2n(z, E, zh);
    const double *ti = c->tg + (size_t)i * E;
    double loss;
    if (c->cfg->g2l_form == ATAS_FORM_COSINE) {
        double dot = 0;
        for (int e = 0; e < E; e++) dot += zh[e] * ti[e];
        loss = 1.0 - dot;
        for (int e = 0; e < E; e++) gzh[e] = -ti[e];
    } else {
        const double itau = 1.0 / c->cfg->g2l_tau;
        double *pr = s->prob;
        for (int j = 0; j < n; j++) {
            const double *tj = c->tg + (size_t)j * E;
            double dot = 0;
            for (int e = 0; e < E; e++) dot += zh[e] * tj[e];
            pr[j] = dot * itau;
        }
        loss = atas_softmax_ce(pr, n, i, pr);
        /* d CE / d z^ = sum_j (p_j - [j == i]) t^_j / tau */
        memset(gzh, 0, sizeof(double) * E);
        for (int j = 0; j < n; j++) {
            const double *tj = c->tg + (size_t)j * E;
            double cj = (pr[j] - (j == i ? 1.0 : 0.0)) * itau;
            for (int e = 0; e < E; e++) gzh[e] += cj * tj[e];
        }
    }
    double *gz = z; /* z is no longer needed */
    atas_l2n_back(zh, den, gzh, E, gz);
    double *gp = gzh; /* free now: d term / d (normalised) token p */
    for (int p = 0; p < K; p++) {
        double f = alpha * w[p];
        double *g = s->gacc + (size_t)p * E;
        if (raw) {
            for (int e = 0; e < E; e++) g[e] += f * gz[e];
            continue;
        }
        for (int e = 0; e < E; e++) gp[e] = f * gz[e];
        atas_l2n_back(s->dh + (size_t)p * E, s->dn[p], gp, E, gp); /* through token p's normalisation */
        for (int e = 0; e < E; e++) g[e] += gp[e];
    }
    return loss;
}
