/* Local-to-Local: the student's tokens of a cell against the teacher's dense map of
 * the image in that cell, bilinearly resampled (torch align_corners=False) to the
 * cell's k x k grid. Token-wise cosine, or MSE between similarity matrices. */
#include <cblas.h>
#include <string.h>

#include "atas/backend.h"
#include "losses_internal.h"

/* T'_p: normalised teacher tokens resampled to k x k, re-normalised per token. */
static void teacher_to_cell(const atas_loss_ctx *c, const atas_cell *cell, atas_loss_scratch *s) {
    const int E = c->E, k = cell->k;
    int *ty = s->taps, *tx = s->taps + 4 * k;
    float *wy = s->wts, *wx = s->wts + 4 * k;
    atas_resample_weights(c->hT, k, ATAS_RESAMPLE_BILINEAR, ty, wy);
    atas_resample_weights(c->wT, k, ATAS_RESAMPLE_BILINEAR, tx, wx);
    const double *img = c->td + (size_t)cell->image * c->hT * c->wT * E;
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++) {
            double *y = s->tp + ((size_t)a * k + b) * E;
            memset(y, 0, sizeof(double) * E);
            for (int u = 0; u < 2; u++)
                for (int v = 0; v < 2; v++) {
                    double f = (double)wy[4 * a + u] * (double)wx[4 * b + v];
                    if (f == 0) continue;
                    const double *src = img + ((size_t)ty[4 * a + u] * c->wT + tx[4 * b + v]) * E;
                    for (int e = 0; e < E; e++) y[e] += f * src[e];
                }
            atas_l2n(y, E, y);
        }
}

double atas_l2l_cell(const atas_loss_ctx *c, const atas_cell *cell, atas_loss_scratch *s,
                     double alpha) {
    const int E = c->E, K = cell->k * cell->k;
    teacher_to_cell(c, cell, s);
    double loss;
    if (c->cfg->l2l_form == ATAS_L2L_COSINE) {
        double sum = 0;
        for (int p = 0; p < K; p++) {
            const double *d = s->dh + (size_t)p * E, *t = s->tp + (size_t)p * E;
            double *g = s->gh + (size_t)p * E;
            double dot = 0;
            for (int e = 0; e < E; e++) dot += d[e] * t[e];
            sum += 1.0 - dot;
            for (int e = 0; e < E; e++) g[e] = -t[e] / K;
        }
        loss = sum / K;
    } else {
        /* S = D^ D^T, S_T = T' T'^T (symmetric: lower triangles only);
         * loss = mean (S - S_T)^2; dD^ = 4/K^2 (S - S_T) D^ */
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, K, E, 1.0, s->dh, E, 0.0, s->ss, K);
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, K, E, 1.0, s->tp, E, 0.0, s->st, K);
        double sum = 0;
        for (int p = 0; p < K; p++) {
            double *sp = s->ss + (size_t)p * K;
            const double *tq = s->st + (size_t)p * K;
            double row = 0;
            for (int q = 0; q < p; q++) {
                double d = sp[q] - tq[q];
                sp[q] = d;
                row += d * d;
            }
            double dd = sp[p] - tq[p];
            sp[p] = dd;
            sum += 2 * row + dd * dd; /* off-diagonal entries appear twice */
        }
        loss = sum / ((double)K * K);
        cblas_dsymm(CblasRowMajor, CblasLeft, CblasLower, K, E, 4.0 / ((double)K * K), s->ss, K, s->dh, E,
                    0.0, s->gh, E);
    }
    double *gx = s->vec;
    for (int p = 0; p < K; p++) {
        atas_l2n_back(s->dh + (size_t)p * E, s->dn[p], s->gh + (size_t)p * E, E, gx);
        double *g = s->gacc + (size_t)p * E;
        for (int e = 0; e < E; e++) g[e] += alpha * gx[e];
    }
    return loss;
}
