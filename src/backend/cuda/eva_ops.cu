/* EVA02-CLIP's ops (include/backend/atas/ops.def): 2-D rotary position embedding on
 * packed q/k rows and the SwiGLU gate. One thread per rotated pair (so y may
 * alias x) or per copied channel; the angles in double, like the CPU backend, once per
 * call into a [T][hd/2] table in the context's scratch. */
#include <math.h>

#include "backend/cuda/cuda_common.cuh"

#define GRID_STRIDE(i, n)                                                       \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);     \
         i += (size_t)gridDim.x * blockDim.x)

/* the angle of position t (>= 1) and pair p of a head, in double as the CPU backend */
__device__ __forceinline__ void rope_angle(int t, int p, int gh, int gw, int hd, float ref, float theta, float *c,
                                           float *s) {
    const int nb = hd / 4, j = p < nb ? p : p - nb;
    const double pos = p < nb ? (double)((t - 1) / gw) / gh * ref : (double)((t - 1) % gw) / gw * ref;
    double sd, cd;
    sincos(pos * pow((double)theta, -(double)j / nb), &sd, &cd);
    *c = (float)cd;
    *s = (float)sd;
}

/* cs/sn[t][p] for every position and pair: the angles depend on neither the image nor
 * the head, so the rope kernel reads them instead of a pow + sincos in double per pair */
__global__ void k_rope_table(float *cs, float *sn, int T, int gh, int gw, int hd, float ref, float theta) {
    const int hp = hd / 2;
    GRID_STRIDE(i, (size_t)T * hp) {
        const int t = (int)(i / hp), p = (int)(i % hp);
        if (t == 0) { /* CLS: never read */
            cs[i] = 1.0f;
            sn[i] = 0.0f;
        } else {
            rope_angle(t, p, gh, gw, hd, ref, theta, &cs[i], &sn[i]);
        }
    }
}

/* per row: rot/2 pairs, then the ld - rot copied channels; cs/sn: the table, or NULL
 * (the angles computed here) */
__global__ void k_rope(float *out, const float *in, size_t rows, int T, int gh, int gw, int ld,
                       int rot, int hd, float ref, float theta, int transpose, const float *cs, const float *sn) {
    const int np = rot / 2, per = np + (ld - rot);
    const size_t n = rows * (size_t)per;
    GRID_STRIDE(i, n) {
        const size_t row = i / per;
        const int k = (int)(i % per), t = (int)(row % T);
        const float *x = in + row * ld;
        float *y = out + row * ld;
        if (k >= np) { /* a copied channel */
            const int ch = rot + (k - np);
            y[ch] = transpose ? y[ch] + x[ch] : x[ch];
            continue;
        }
        const int ch = 2 * k, p = (ch % hd) / 2;
        const float a = x[ch], b = x[ch + 1];
        if (t == 0) { /* CLS: identity */
            y[ch] = transpose ? y[ch] + a : a;
            y[ch + 1] = transpose ? y[ch + 1] + b : b;
            continue;
        }
        float c, s;
        if (cs) {
            c = cs[(size_t)t * (hd / 2) + p];
            s = sn[(size_t)t * (hd / 2) + p];
        } else {
            rope_angle(t, p, gh, gw, hd, ref, theta, &c, &s);
        }
        if (transpose) {
            y[ch] += a * c + b * s;
            y[ch + 1] += b * c - a * s;
        } else {
            y[ch] = a * c - b * s;
            y[ch + 1] = b * c + a * s;
        }
    }
}

static atas_status rope_launch(const atas_backend *be, float *out, const float *in, int B, int gh, int gw, int ld, int nh,
                               int hd, float ref, float theta, int transpose, const char *op) {
    const int T = 1 + gh * gw, rot = nh * hd;
    const size_t rows = (size_t)B * T, n = rows * (size_t)(rot / 2 + ld - rot);
    /* the table in the context's scratch when it fits (it does up to T * hd = 4M) */
    const atas_cuda_ctx *cx = atas_cu_ctx(be);
    const size_t tab = (size_t)T * (hd / 2);
    float *cs = 2 * tab <= cx->scratch_floats ? cx->scratch : NULL, *sn = cs ? cs + tab : NULL;
    if (cs) {
        k_rope_table<<<atas_cu_blocks(tab, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, atas_cu_stream(be)>>>(
            cs, sn, T, gh, gw, hd, ref, theta);
        CU_LAUNCHED(op);
    }
    k_rope<<<atas_cu_blocks(n, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, atas_cu_stream(be)>>>(out, in, rows, T, gh, gw, ld,
                                                                     rot, hd, ref, theta, transpose, cs, sn);
    CU_LAUNCHED(op);
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_rope_fwd(const atas_backend *be, float *y, const float *x, int B, int gh, int gw, int ld,
                                          int nh, int hd, float ref, float theta) {
    return rope_launch(be, y, x, B, gh, gw, ld, nh, hd, ref, theta, 0, "rope_fwd");
}

extern "C" atas_status atas_cuda_rope_bwd(const atas_backend *be, float *dx, const float *dy, int B, int gh, int gw,
                                          int ld, int nh, int hd, float ref, float theta) {
    return rope_launch(be, dx, dy, B, gh, gw, ld, nh, hd, ref, theta, 1, "rope_bwd");
}

__global__ void k_swiglu_fwd(float *y, const float *x, size_t n, int F) {
    GRID_STRIDE(i, n) {
        const size_t m = i / F, f = i % F;
        const float g = x[m * 2 * F + f], v = x[m * 2 * F + F + f];
        y[i] = g / (1.0f + expf(-g)) * v;
    }
}

/* silu'(g) = s (1 + g (1 - s)), s = sigmoid(g) */
__global__ void k_swiglu_bwd(float *dx, const float *dy, const float *x, size_t n, int F) {
    GRID_STRIDE(i, n) {
        const size_t m = i / F, f = i % F, ig = m * 2 * F + f;
        const float g = x[ig], v = x[ig + F], s = 1.0f / (1.0f + expf(-g));
        dx[ig] += dy[i] * v * s * (1.0f + g * (1.0f - s));
        dx[ig + F] += dy[i] * g * s;
    }
}

extern "C" atas_status atas_cuda_swiglu_fwd(const atas_backend *be, float *y, const float *x, int M, int F) {
    const size_t n = (size_t)M * F;
    k_swiglu_fwd<<<atas_cu_blocks(n, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, atas_cu_stream(be)>>>(y, x, n, F);
    CU_LAUNCHED("swiglu_fwd");
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_swiglu_bwd(const atas_backend *be, float *dx, const float *dy, const float *x, int M,
                                            int F) {
    const size_t n = (size_t)M * F;
    k_swiglu_bwd<<<atas_cu_blocks(n, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, atas_cu_stream(be)>>>(dx, dy, x, n, F);
    CU_LAUNCHED("swiglu_bwd");
    return ATAS_OK;
}
