/* The CPU twins of the device-resident optimizer step (ops.def grad_sumsq,
 * step_guard, clip_adamw_ema): results stay in backend memory. */
#include <math.h>

#include "backend/cpu/cpu_internal.h"
#include "backend/step_math.h"

static size_t chunks(size_t n) { return n ? (n + ATAS_GN_CHUNK - 1) / ATAS_GN_CHUNK : 1; }

size_t atas_cpu_grad_sumsq_workspace_bytes(const atas_backend *be, size_t n) { return sizeof(double) * chunks(n); }

atas_status atas_cpu_grad_sumsq(const atas_backend *be, double *out, const float *x, size_t n, void *workspace) {
    double *part = workspace;
    const long nc = (long)chunks(n);
    /* each chunk summed in index order, the chunks in chunk order: the CUDA kernel
     * uses the same chunks (a tree inside each), so both are deterministic */
#pragma omp parallel for schedule(static) if (n > ATAS_CPU_PAR_MIN)
    for (long c = 0; c < nc; c++) {
        const size_t a = (size_t)c * ATAS_GN_CHUNK, b = a + ATAS_GN_CHUNK < n ? a + ATAS_GN_CHUNK : n;
        double s = 0;
        for (size_t i = a; i < b; i++) s += (double)x[i] * x[i];
        part[c] = s;
    }
    double s = 0;
    for (long c = 0; c < nc; c++) s += part[c];
    out[0] = s;
    return ATAS_OK;
}

atas_status atas_cpu_step_guard(const atas_backend *be, double *state, const double *sumsq, const double *losses, int nl, double clip) {
    atas_step_guard_math(state, sumsq[0], losses, nl, clip);
    return ATAS_OK;
}

atas_status atas_cpu_clip_adamw_ema(const atas_backend *be, float *p, const float *g, float *m, float *v, float *teacher, size_t n,
                                    const size_t *seg_end, const int *seg_kind, int nseg, const double *state,
                                    float lr, float beta1, float beta2, float eps, float wd, int t, float mom) {
    if (state[ATAS_STEP_SKIP] != 0) return ATAS_OK;
    const float sc = (float)state[ATAS_STEP_CLIP_SCALE];
    const atas_adamw_consts kd = atas_adamw_prepare(lr, beta1, beta2, eps, wd, t);
    const atas_adamw_consts k0 = atas_adamw_prepare(lr, beta1, beta2, eps, 0.0f, t);
    const float a = 1.0f - mom;
    size_t from = 0;
    for (int s = 0; s < nseg && from < n; s++) {
        const size_t to = seg_end[s] < n ? seg_end[s] : n;
        if (seg_kind[s] != ATAS_SEG_FROZEN) {
            const atas_adamw_consts k = seg_kind[s] == ATAS_SEG_DECAY ? kd : k0;
            const long a0 = (long)from, a1 = (long)to;
#pragma omp parallel for simd schedule(static) if (to - from > ATAS_CPU_PAR_MIN)
            for (long i = a0; i < a1; i++)
                atas_clip_adamw_ema_math(p + i, g[i], sc, m + i, v + i, teacher + i, k, mom, a);
        }
        from = to;
    }
    return ATAS_OK;
}
