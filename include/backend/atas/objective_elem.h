/* backend: the per-element arithmetic of the ATAS objective, one implementation for
 * the host objective (src/objective/losses_*.c, double precision reference) and the
 * device objective (src/backend/objective_math.h: the CPU twin and the CUDA kernels),
 * so both compute the same doubles in the same order. Header-only: host and device
 * (__host__ __device__ under nvcc); every TU compiles it with its own flags, as before. */
#ifndef ATAS_OBJECTIVE_ELEM_H
#define ATAS_OBJECTIVE_ELEM_H

#include <math.h>

#ifdef __CUDACC__
#define ATAS_OBJ_HD static inline __host__ __device__
#else
#define ATAS_OBJ_HD static inline
#endif

#define ATAS_OBJ_EPS 1e-12 /* F.normalize's default eps */

/* y = x / max(|x|, eps) in double (y may be x); returns the denominator */
ATAS_OBJ_HD double atas_obj_l2n(const double *x, int E, double *y) {
    double ss = 0;
    for (int e = 0; e < E; e++) ss += x[e] * x[e];
    double den = sqrt(ss);
    if (den < ATAS_OBJ_EPS) den = ATAS_OBJ_EPS;
    double inv = 1.0 / den;
    for (int e = 0; e < E; e++) y[e] = x[e] * inv;
    return den;
}

/* gx = d/dx <gy, x/max(|x|,eps)> given y = x/den (gx may be gy); while the clamp is
 * active the norm gets no gradient */
ATAS_OBJ_HD void atas_obj_l2n_back(const double *y, double den, const double *gy, int E, double *gx) {
    double inv = 1.0 / den;
    if (den <= ATAS_OBJ_EPS) {
        for (int e = 0; e < E; e++) gx[e] = gy[e] * inv;
        return;
    }
    double dot = 0;
    for (int e = 0; e < E; e++) dot += y[e] * gy[e];
    for (int e = 0; e < E; e++) gx[e] = (gy[e] - y[e] * dot) * inv;
}

/* p = softmax(logits) (p may be logits); returns -log p[target] */
ATAS_OBJ_HD double atas_obj_softmax_ce(const double *logits, int n, int target, double *p) {
    const double lt = logits[target];
    double mx = logits[0];
    for (int j = 1; j < n; j++)
        if (logits[j] > mx) mx = logits[j];
    double sum = 0;
    for (int j = 0; j < n; j++) {
        p[j] = exp(logits[j] - mx);
        sum += p[j];
    }
    for (int j = 0; j < n; j++) p[j] /= sum;
    return log(sum) + mx - lt;
}

/* w = softmax(w) in place (the teacher-weighted pooling's token weights) */
ATAS_OBJ_HD void atas_obj_softmax(double *w, int K) {
    double mx = -INFINITY;
    for (int p = 0; p < K; p++)
        if (w[p] > mx) mx = w[p];
    double sum = 0;
    for (int p = 0; p < K; p++) {
        w[p] = exp(w[p] - mx);
        sum += w[p];
    }
    for (int p = 0; p < K; p++) w[p] /= sum;
}

#endif
