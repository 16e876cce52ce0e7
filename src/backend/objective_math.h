/* Private: the device objective's arithmetic (ops.def `objective`), shared by the
 * CPU twin (src/backend/cpu/objective.c) and the CUDA kernels (cuda/objective.cu)
 * so that both compute the same thing in the same order. It follows the host
 * objective (src/objective/objective.c, losses_*.c) operation by operation: tensors
 * stay fp32, every sum and every normalised value is double, and normalised
 * vectors are recomputed on the fly as x * (1/|x|) from the fp32 inputs (the host
 * stores the same doubles). Work units: one mosaic cell (obj_cell), one global
 * view (obj_g2g), then one serial fixed-order finish (obj_finish).
 * Scratch lives in the caller's workspace, laid out by obj_layout. */
#ifndef ATAS_OBJECTIVE_MATH_H
#define ATAS_OBJECTIVE_MATH_H

#include <math.h>
#include <stddef.h>

#include "atas/backend.h"
#include "atas/objective_elem.h" /* l2n, its backward, softmax: the host objective's own */

#define OBJ_HD ATAS_OBJ_HD
#define OBJ_EPS ATAS_OBJ_EPS
/* the enums of atas/objective.h, restated for device code */
#define OBJ_POOL_TW 1
#define OBJ_POOL_RAW 2
#define OBJ_INFONCE 1
#define OBJ_SIMILARITY 1

typedef struct {
    int n, m, E, hT, wT, hC, wC, ncells, kmax;
    const float *tg, *td, *sg, *sd; /* raw teacher / student outputs */
    const int *cells;
    atas_obj_params prm;
    double a_g2l, a_l2l, a_g2g; /* grad_scale * weight / count */
    /* workspace */
    double *tg_inv;    /* [n]         1 / max(|t_glob_i|, eps) */
    double *td_inv;    /* [n*hT*wT]   the same for teacher tokens (L2L only) */
    double *cell_loss; /* [2*ncells]  g2l, l2l per cell */
    double *g2g_loss;  /* [n] */
    double *g2g_scr;   /* [n][g2g_stride] */
    double *cell_scr;  /* [ncells][cell_stride] */
    size_t g2g_stride, cell_stride;
} obj_ctx;

OBJ_HD int obj_dense(const atas_obj_params *p) { return p->w_g2l > 0 || p->w_l2l > 0; }

/* Workspace layout (doubles, each piece 64-byte aligned); base NULL only counts. */
static inline size_t obj_layout(obj_ctx *c, char *base) {
    size_t off = 0;
#define OBJ_CARVE(ptr, count)                                                           \
    do {                                                                                \
        off = (off + 63) & ~(size_t)63;                                                 \
        ptr = base ? (double *)(base + off) : NULL;                                     \
        off += sizeof(double) * (size_t)(count);                                        \
    } while (0)
    const size_t K = (size_t)c->kmax * c->kmax, E = (size_t)c->E;
    const int dense = obj_dense(&c->prm), l2l = c->prm.w_l2l > 0;
    const int sim = l2l && c->prm.l2l_form == OBJ_SIMILARITY;
    c->g2g_stride = 4 * E + (size_t)c->n;
    /* gacc, gh, tp [K,E]; D [K,K]; dn, w [K]; vec [4E]; prob [n] */
    c->cell_stride = dense ? (3 * K * E + (sim ? K * K : 0) + 2 * K + 4 * E + (size_t)c->n + 7) & ~(size_t)7
                           : 0;
    OBJ_CARVE(c->tg_inv, c->n);
    OBJ_CARVE(c->td_inv, l2l ? (size_t)c->n * c->hT * c->wT : 0);
    OBJ_CARVE(c->cell_loss, 2 * (size_t)c->ncells);
    OBJ_CARVE(c->g2g_loss, c->n);
    OBJ_CARVE(c->g2g_scr, c->g2g_stride * c->n);
    OBJ_CARVE(c->cell_scr, c->cell_stride * (dense ? c->ncells : 0));
#undef OBJ_CARVE
    return off + 64;
}

/* 1 / max(|x|, eps) of an fp32 row, the sum in double in index order */
OBJ_HD double obj_inv_norm(const float *x, int E) {
    double ss = 0;
    for (int e = 0; e < E; e++) ss += (double)x[e] * (double)x[e];
    double den = sqrt(ss);
    if (den < OBJ_EPS) den = OBJ_EPS;
    return 1.0 / den;
}
OBJ_HD double obj_den(const float *x, int E) {
    double ss = 0;
    for (int e = 0; e < E; e++) ss += (double)x[e] * (double)x[e];
    double den = sqrt(ss);
    return den < OBJ_EPS ? OBJ_EPS : den;
}
/* in place on a double vector; returns the denominator */
OBJ_HD double obj_l2n(double *y, int E) { return atas_obj_l2n(y, E, y); }
#define obj_l2n_back atas_obj_l2n_back
/* the same with y = x * (1/den) from an fp32 row x (bitwise the host's y) */
OBJ_HD void obj_l2n_back_f(const float *x, double den, const double *gy, int E, double *gx) {
    double inv = 1.0 / den;
    if (den <= OBJ_EPS) {
        for (int e = 0; e < E; e++) gx[e] = gy[e] * inv;
        return;
    }
    double dot = 0;
    for (int e = 0; e < E; e++) dot += ((double)x[e] * inv) * gy[e];
    for (int e = 0; e < E; e++) gx[e] = (gy[e] - ((double)x[e] * inv) * dot) * inv;
}
#define obj_softmax_ce atas_obj_softmax_ce
/* the bilinear taps (align_corners = False) of output o along an axis in -> out,
 * atas_resample_weights' arithmetic */
OBJ_HD void obj_bilinear(int in, int out, int o, int *i0, int *i1, float *w0, float *w1) {
    const float scale = (float)in / (float)out;
#ifdef __CUDA_ARCH__
    float src = __fadd_rn(__fmul_rn(scale, __fadd_rn((float)o, 0.5f)), -0.5f); /* no FMA contraction */
#else
    float src = scale * ((float)o + 0.5f) - 0.5f;
#endif
    if (src < 0) src = 0;
    int a = (int)src;
    if (a > in - 1) a = in - 1;
    float l1 = src - (float)a;
    *i0 = a;
    *i1 = a < in - 1 ? a + 1 : a;
    *w0 = 1 - l1;
    *w1 = l1;
}

OBJ_HD const float *obj_tok(const obj_ctx *c, const float *base, const int *cl, int p) {
    const int k = cl[2], a = p / k, b = p % k;
    return base + (((size_t)cl[0] * c->hC + cl[3] + a) * c->wC + cl[4] + b) * c->E;
}

/* One cell: its G2L and L2L terms into cell_loss[2ci..], the gradient of its tokens
 * (grad_scale * d total / d raw token) into ds_dense. */
OBJ_HD void obj_cell(const obj_ctx *c, float *ds_dense, int ci) {
    const int *cl = c->cells + (size_t)ATAS_OBJ_CELL_INTS * ci;
    const int E = c->E, k = cl[2], K = k * k, img = cl[1], n = c->n;
    const size_t KM = (size_t)c->kmax * c->kmax, KE = KM * E;
    double *gacc = c->cell_scr + c->cell_stride * ci;
    double *gh = gacc + KE, *tp = gh + KE;
    const int sim = c->prm.w_l2l > 0 && c->prm.l2l_form == OBJ_SIMILARITY;
    double *D = tp + KE, *dn = D + (sim ? KM * KM : 0), *w = dn + KM, *vec = w + KM, *prob = vec + 4 * (size_t)E;
    for (int p = 0; p < K; p++) dn[p] = obj_den(obj_tok(c, c->sd, cl, p), E);
    for (size_t i = 0; i < (size_t)K * E; i++) gacc[i] = 0;
    double lg = 0, ll = 0;
    if (c->prm.w_g2l > 0) {
        const int raw = c->prm.g2l_pool == OBJ_POOL_RAW;
        const float *ti = c->tg + (size_t)img * E;
        const double tinv = c->tg_inv[img];
        if (c->prm.g2l_pool == OBJ_POOL_TW) { /* softmax_p(<t^, d^_p>/pool_tau), stop-gradient */
            const double itau = 1.0 / c->prm.pool_tau;
            for (int p = 0; p < K; p++) {
                const float *d = obj_tok(c, c->sd, cl, p);
                const double dinv = 1.0 / dn[p];
                double dot = 0;
                for (int e = 0; e < E; e++) dot += ((double)ti[e] * tinv) * ((double)d[e] * dinv);
                w[p] = dot * itau;
            }
            atas_obj_softmax(w, K);
        } else {
            for (int p = 0; p < K; p++) w[p] = 1.0 / K;
        }
        double *z = vec, *gzh = vec + E, *gz = vec + 2 * E, *gp = vec + 3 * E;
        for (int e = 0; e < E; e++) z[e] = 0;
        for (int p = 0; p < K; p++) {
            const float *d = obj_tok(c, c->sd, cl, p);
            const double dinv = 1.0 / dn[p];
            if (raw)
                for (int e = 0; e < E; e++) z[e] += w[p] * (double)d[e];
            else
                for (int e = 0; e < E; e++) z[e] += w[p] * ((double)d[e] * dinv);
        }
        const double zden = obj_l2n(z, E); /* z is now z^ */
        if (c->prm.g2l_form == OBJ_INFONCE) {
            const double itau = 1.0 / c->prm.g2l_tau;
            for (int j = 0; j < n; j++) {
                const float *tj = c->tg + (size_t)j * E;
                const double jinv = c->tg_inv[j];
                double dot = 0;
                for (int e = 0; e < E; e++) dot += z[e] * ((double)tj[e] * jinv);
                prob[j] = dot * itau;
            }
            lg = obj_softmax_ce(prob, n, img, prob);
            for (int e = 0; e < E; e++) gzh[e] = 0;
            for (int j = 0; j < n; j++) {
                const float *tj = c->tg + (size_t)j * E;
                const double jinv = c->tg_inv[j];
                const double cj = (prob[j] - (j == img ? 1.0 : 0.0)) * itau;
                for (int e = 0; e < E; e++) gzh[e] += cj * ((double)tj[e] * jinv);
            }
        } else {
            double dot = 0;
            for (int e = 0; e < E; e++) dot += z[e] * ((double)ti[e] * tinv);
            lg = 1.0 - dot;
            for (int e = 0; e < E; e++) gzh[e] = -((double)ti[e] * tinv);
        }
        obj_l2n_back(z, zden, gzh, E, gz);
        for (int p = 0; p < K; p++) {
            const double f = c->a_g2l * w[p];
            double *g = gacc + (size_t)p * E;
            if (raw) {
                for (int e = 0; e < E; e++) g[e] += f * gz[e];
                continue;
            }
            for (int e = 0; e < E; e++) gp[e] = f * gz[e];
            obj_l2n_back_f(obj_tok(c, c->sd, cl, p), dn[p], gp, E, gp);
            for (int e = 0; e < E; e++) g[e] += gp[e];
        }
    }
    if (c->prm.w_l2l > 0) {
        /* T'_p: the normalised teacher map of the image, bilinearly resampled to k x k,
         * re-normalised per token */
        const double *tdi = c->td_inv + (size_t)img * c->hT * c->wT;
        const float *tdm = c->td + (size_t)img * c->hT * c->wT * E;
        for (int a = 0; a < k; a++) {
            int ry[2], rx[2];
            float wy[2], wx[2];
            obj_bilinear(c->hT, k, a, &ry[0], &ry[1], &wy[0], &wy[1]);
            for (int b = 0; b < k; b++) {
                obj_bilinear(c->wT, k, b, &rx[0], &rx[1], &wx[0], &wx[1]);
                double *y = tp + ((size_t)a * k + b) * E;
                for (int e = 0; e < E; e++) y[e] = 0;
                for (int u = 0; u < 2; u++)
                    for (int v = 0; v < 2; v++) {
                        const double f = (double)wy[u] * (double)wx[v];
                        if (f == 0) continue;
                        const size_t q = (size_t)ry[u] * c->wT + rx[v];
                        const float *src = tdm + q * E;
                        const double sinv = tdi[q];
                        for (int e = 0; e < E; e++) y[e] += f * ((double)src[e] * sinv);
                    }
                obj_l2n(y, E);
            }
        }
        if (c->prm.l2l_form == OBJ_SIMILARITY) {
            /* loss = mean (S - S_T)^2 over K x K; dD^_p = 4/K^2 sum_q (S - S_T)_pq D^_q */
            double sum = 0;
            for (int p = 0; p < K; p++) {
                const float *dp = obj_tok(c, c->sd, cl, p);
                const double pinv = 1.0 / dn[p];
                const double *tpp = tp + (size_t)p * E;
                double row = 0;
                for (int q = 0; q <= p; q++) {
                    const float *dq = obj_tok(c, c->sd, cl, q);
                    const double qinv = 1.0 / dn[q];
                    const double *tpq = tp + (size_t)q * E;
                    double s = 0, st = 0;
                    for (int e = 0; e < E; e++) {
                        s += ((double)dp[e] * pinv) * ((double)dq[e] * qinv);
                        st += tpp[e] * tpq[e];
                    }
                    const double d = s - st;
                    D[(size_t)p * K + q] = D[(size_t)q * K + p] = d;
                    if (q < p) row += d * d;
                    else sum += 2 * row + d * d; /* off-diagonal entries appear twice */
                }
            }
            ll = sum / ((double)K * K);
            const double coef = 4.0 / ((double)K * K);
            for (int p = 0; p < K; p++) {
                double *g = gh + (size_t)p * E;
                for (int e = 0; e < E; e++) g[e] = 0;
                for (int q = 0; q < K; q++) {
                    const float *dq = obj_tok(c, c->sd, cl, q);
                    const double qinv = 1.0 / dn[q];
                    const double f = coef * D[(size_t)p * K + q];
                    for (int e = 0; e < E; e++) g[e] += f * ((double)dq[e] * qinv);
                }
            }
        } else {
            double sum = 0;
            for (int p = 0; p < K; p++) {
                const float *d = obj_tok(c, c->sd, cl, p);
                const double dinv = 1.0 / dn[p];
                const double *t = tp + (size_t)p * E;
                double *g = gh + (size_t)p * E;
                double dot = 0;
                for (int e = 0; e < E; e++) dot += ((double)d[e] * dinv) * t[e];
                sum += 1.0 - dot;
                for (int e = 0; e < E; e++) g[e] = -t[e] / K;
            }
            ll = sum / K;
        }
        double *gx = vec;
        for (int p = 0; p < K; p++) {
            obj_l2n_back_f(obj_tok(c, c->sd, cl, p), dn[p], gh + (size_t)p * E, E, gx);
            double *g = gacc + (size_t)p * E;
            for (int e = 0; e < E; e++) g[e] += c->a_l2l * gx[e];
        }
    }
    /* the cells tile the maps: every token of ds_dense is written exactly once */
    for (int p = 0; p < K; p++) {
        float *dst = (float *)obj_tok(c, ds_dense, cl, p);
        const double *g = gacc + (size_t)p * E;
        for (int e = 0; e < E; e++) dst[e] = (float)g[e];
    }
    c->cell_loss[2 * (size_t)ci] = lg;
    c->cell_loss[2 * (size_t)ci + 1] = ll;
}

/* G2G of view i: its term into g2g_loss[i], its gradient row into ds_glob. */
OBJ_HD void obj_g2g(const obj_ctx *c, float *ds_glob, int i) {
    const int E = c->E, n = c->n;
    double *sh = c->g2g_scr + c->g2g_stride * i, *gsh = sh + E, *gx = sh + 2 * E, *pr = sh + 4 * (size_t)E;
    const float *s = c->sg + (size_t)i * E;
    for (int e = 0; e < E; e++) sh[e] = s[e];
    const double den = obj_l2n(sh, E);
    const float *ti = c->tg + (size_t)i * E;
    const double tinv = c->tg_inv[i];
    double loss;
    if (c->prm.g2g_form == OBJ_INFONCE) {
        const double itau = 1.0 / c->prm.g2g_tau;
        for (int j = 0; j < n; j++) {
            const float *tj = c->tg + (size_t)j * E;
            const double jinv = c->tg_inv[j];
            double dot = 0;
            for (int e = 0; e < E; e++) dot += sh[e] * ((double)tj[e] * jinv);
            pr[j] = dot * itau;
        }
        loss = obj_softmax_ce(pr, n, i, pr);
        for (int e = 0; e < E; e++) gsh[e] = 0;
        for (int j = 0; j < n; j++) {
            const float *tj = c->tg + (size_t)j * E;
            const double jinv = c->tg_inv[j];
            const double cj = (pr[j] - (j == i ? 1.0 : 0.0)) * itau;
            for (int e = 0; e < E; e++) gsh[e] += cj * ((double)tj[e] * jinv);
        }
    } else {
        double dot = 0;
        for (int e = 0; e < E; e++) dot += sh[e] * ((double)ti[e] * tinv);
        loss = 1.0 - dot;
        for (int e = 0; e < E; e++) gsh[e] = -((double)ti[e] * tinv);
    }
    obj_l2n_back(sh, den, gsh, E, gx);
    for (int e = 0; e < E; e++) ds_glob[(size_t)i * E + e] = (float)(c->a_g2g * gx[e]);
    c->g2g_loss[i] = loss;
}

OBJ_HD int obj_finite(double v) { return v == v && v - v == 0; }

/* The fixed-order sums (thread-count independent) into losses[4]; returns 1 when
 * a loss is not finite (the caller then poisons the gradients). */
OBJ_HD int obj_finish(const obj_ctx *c, double *losses) {
    double g2l = 0, l2l = 0, g2g = 0;
    if (obj_dense(&c->prm)) {
        for (int ci = 0; ci < c->ncells; ci++) {
            g2l += c->cell_loss[2 * (size_t)ci];
            l2l += c->cell_loss[2 * (size_t)ci + 1];
        }
        g2l /= c->ncells;
        l2l /= c->ncells;
    }
    if (c->prm.w_g2g > 0) {
        for (int i = 0; i < c->n; i++) g2g += c->g2g_loss[i];
        g2g /= c->n;
    }
    losses[0] = g2l;
    losses[1] = l2l;
    losses[2] = g2g;
    losses[3] = c->prm.w_g2l * g2l + c->prm.w_l2l * l2l + c->prm.w_g2g * g2g;
    return !(obj_finite(g2l) && obj_finite(l2l) && obj_finite(g2g) && obj_finite(losses[3]));
}

#endif
