/* EVA02-CLIP's ops (include/backend/atas/ops.def): the 2-D rotary position embedding on
 * packed q/k rows and the SwiGLU gate. The rotary angles are computed per row in
 * double (a few hundred sincos per token: small next to the attention GEMMs). */
#include <math.h>

#include "backend/cpu/cpu_internal.h"

/* cos/sin of the hd/2 pairs of one head at grid cell (r, c): pairs [0, hd/4) turn
 * with the row, pairs [hd/4, hd/2) with the column (docs/eva02.md) */
static void rope_angles(float *cs, float *sn, int r, int c, int gh, int gw, int hd, float ref,
                        float theta) {
    const int nb = hd / 4;
    const double pr = (double)r / gh * ref, pc = (double)c / gw * ref;
    for (int j = 0; j < nb; j++) {
        const double f = pow((double)theta, -(double)j / nb);
        cs[j] = (float)cos(pr * f);
        sn[j] = (float)sin(pr * f);
        cs[nb + j] = (float)cos(pc * f);
        sn[nb + j] = (float)sin(pc * f);
    }
}

/* sign +1: the rotation (forward, y = R x); -1: its transpose (backward, accumulated) */
static void rope_rows(float *out, const float *in, int B, int gh, int gw, int ld, int nh, int hd,
                      float ref, float theta, int transpose) {
    const int T = 1 + gh * gw, rot = nh * hd;
    const long rows = (long)B * T;
#pragma omp parallel for schedule(static) if ((size_t)rows * ld > ATAS_CPU_PAR_MIN)
    for (long row = 0; row < rows; row++) {
        float cs[512], sn[512];
        const int t = (int)(row % T);
        const float *x = in + row * ld;
        float *y = out + row * ld;
        if (t == 0) { /* CLS: identity */
            for (int i = 0; i < ld; i++) y[i] = transpose ? y[i] + x[i] : x[i];
            continue;
        }
        rope_angles(cs, sn, (t - 1) / gw, (t - 1) % gw, gh, gw, hd, ref, theta);
        for (int h = 0; h < nh; h++) {
            const float *xh = x + (size_t)h * hd;
            float *yh = y + (size_t)h * hd;
            for (int p = 0; p < hd / 2; p++) {
                const float a = xh[2 * p], b = xh[2 * p + 1], c = cs[p], s = sn[p];
                if (transpose) {
                    yh[2 * p] += a * c + b * s;
                    yh[2 * p + 1] += b * c - a * s;
                } else {
                    yh[2 * p] = a * c - b * s;
                    yh[2 * p + 1] = b * c + a * s;
                }
            }
        }
        for (int i = rot; i < ld; i++) y[i] = transpose ? y[i] + x[i] : x[i];
    }
}

atas_status atas_cpu_rope_fwd(const atas_backend *be, float *y, const float *x, int B, int gh, int gw, int ld, int nh,
                              int hd, float ref, float theta) {
    rope_rows(y, x, B, gh, gw, ld, nh, hd, ref, theta, 0);
    return ATAS_OK;
}

atas_status atas_cpu_rope_bwd(const atas_backend *be, float *dx, const float *dy, int B, int gh, int gw, int ld, int nh,
                              int hd, float ref, float theta) {
    rope_rows(dx, dy, B, gh, gw, ld, nh, hd, ref, theta, 1);
    return ATAS_OK;
}

ATAS_CPU_HOT static void swiglu_fwd_row(float *y, const float *x, int F) {
    const float *g = x, *v = x + F;
#pragma omp simd
    for (int i = 0; i < F; i++) y[i] = g[i] / (1.0f + atas_fast_expf(-g[i])) * v[i];
}

/* silu'(g) = s (1 + g (1 - s)), s = sigmoid(g) */
ATAS_CPU_HOT static void swiglu_bwd_row(float *dx, const float *dy, const float *x, int F) {
    const float *g = x, *v = x + F;
#pragma omp simd
    for (int i = 0; i < F; i++) {
        const float s = 1.0f / (1.0f + atas_fast_expf(-g[i]));
        dx[i] += dy[i] * v[i] * s * (1.0f + g[i] * (1.0f - s));
        dx[F + i] += dy[i] * g[i] * s;
    }
}

atas_status atas_cpu_swiglu_fwd(const atas_backend *be, float *y, const float *x, int M, int F) {
#pragma omp parallel for schedule(static) if ((size_t)M * F > ATAS_CPU_PAR_MIN)
    for (int m = 0; m < M; m++) swiglu_fwd_row(y + (size_t)m * F, x + (size_t)m * 2 * F, F);
    return ATAS_OK;
}

atas_status atas_cpu_swiglu_bwd(const atas_backend *be, float *dx, const float *dy, const float *x, int M, int F) {
#pragma omp parallel for schedule(static) if ((size_t)M * F > ATAS_CPU_PAR_MIN)
    for (int m = 0; m < M; m++)
        swiglu_bwd_row(dx + (size_t)m * 2 * F, dy + (size_t)m * F, x + (size_t)m * 2 * F, F);
    return ATAS_OK;
}
