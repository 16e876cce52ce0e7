/* Global-to-Global: the student's global embedding of a view against the teacher's
 * global embedding of the same view (cosine, or InfoNCE over the group's images). */
#include <math.h>
#include <string.h>

#include "losses_internal.h"

double atas_g2g(const atas_loss_config *cfg, int n, int E, const double *tg, const float *s_glob,
                double alpha, float *ds, double *buf) {
    double total = 0;
    /* small (n x n x E): serial, so the sum order never depends on threads */
    double *sv = buf, *sh = buf + E, *gsh = buf + 2 * E, *pr = buf + 3 * E;
    for (int i = 0; i < n; i++) {
        for (int e = 0; e < E; e++) sv[e] = s_glob[(size_t)i * E + e];
        double den = atas_l2n(sv, E, sh);
        const double *ti = tg + (size_t)i * E;
        if (cfg->g2g_form == ATAS_FORM_COSINE) {
            double dot = 0;
            for (int e = 0; e < E; e++) dot += sh[e] * ti[e];
            total += 1.0 - dot;
            for (int e = 0; e < E; e++) gsh[e] = -ti[e];
        } else {
            const double itau = 1.0 / cfg->g2g_tau;
            for (int j = 0; j < n; j++) {
                double dot = 0;
                for (int e = 0; e < E; e++) dot += sh[e] * tg[(size_t)j * E + e];
                pr[j] = dot * itau;
            }
            total += atas_softmax_ce(pr, n, i, pr);
            memset(gsh, 0, sizeof(double) * E);
            for (int j = 0; j < n; j++) {
                double cj = (pr[j] - (j == i ? 1.0 : 0.0)) * itau;
                for (int e = 0; e < E; e++) gsh[e] += cj * tg[(size_t)j * E + e];
            }
        }
        if (ds) {
            atas_l2n_back(sh, den, gsh, E, sv);
            for (int e = 0; e < E; e++) ds[(size_t)i * E + e] = (float)(alpha * sv[e]);
        }
    }
    return total / n;
}
