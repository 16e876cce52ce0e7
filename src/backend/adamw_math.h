/* Private: AdamW's arithmetic (torch.optim.AdamW, step by step), shared by the
 * CPU and CUDA backends so that both compute the same floats:
 *   p *= 1 - lr wd; denom = sqrt(v) / sqrt(bc2) + eps; p -= lr/bc1 * m / denom */
#ifndef ATAS_ADAMW_MATH_H
#define ATAS_ADAMW_MATH_H

#include <math.h>

#ifdef __CUDACC__
#define ATAS_HOST_DEVICE static inline __host__ __device__
#else
#define ATAS_HOST_DEVICE static inline
#endif

typedef struct {
    float beta1, beta2, eps, step, decay, bc2s;
} atas_adamw_consts;

/* the step's constants, computed once on the host */
static inline atas_adamw_consts atas_adamw_prepare(float lr, float beta1, float beta2, float eps,
                                                   float wd, int t) {
    atas_adamw_consts k;
    k.beta1 = beta1;
    k.beta2 = beta2;
    k.eps = eps;
    k.step = lr / (1.0f - powf(beta1, (float)t));
    k.decay = 1.0f - lr * wd;
    k.bc2s = sqrtf(1.0f - powf(beta2, (float)t));
    return k;
}

/* one element: moments m, v and parameter p from gradient g */
ATAS_HOST_DEVICE void atas_adamw_update(float *p, float *m, float *v, float g,
                                        const atas_adamw_consts k) {
    const float mi = k.beta1 * *m + (1.0f - k.beta1) * g;
    const float vi = k.beta2 * *v + (1.0f - k.beta2) * g * g;
    *m = mi;
    *v = vi;
    *p = *p * k.decay - k.step * mi / (sqrtf(vi) / k.bc2s + k.eps);
}

#endif
