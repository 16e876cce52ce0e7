/* Private: the arithmetic of the device-resident optimizer step (ops.def
 * grad_sumsq / step_guard / clip_adamw_ema), shared by the CPU twin and the CUDA
 * kernels so that both compute the same floats. The AdamW update itself is
 * adamw_math.h's (the adamw op's). */
#ifndef ATAS_STEP_MATH_H
#define ATAS_STEP_MATH_H

#include <math.h>

#include "atas/backend.h"
#include "backend/adamw_math.h"

/* state[] from the squared gradient norm and the group losses: the old host
 * logic of the trainer (skip when |g| is not finite, clip when |g| > clip > 0) */
ATAS_HOST_DEVICE void atas_step_guard_math(double *state, double sumsq, const double *losses, int nl,
                                           double clip) {
    const double gn = sqrt(sumsq);
    int skip = !(gn == gn && gn - gn == 0);
    for (int k = 0; k < nl; k++)
        if (!(losses[k] == losses[k] && losses[k] - losses[k] == 0)) skip = 1;
    double sc = 1.0;
    if (!skip && clip > 0 && gn > clip) sc = (double)(float)(clip / (gn + 1e-6));
    state[ATAS_STEP_GNORM] = gn;
    state[ATAS_STEP_CLIP_SCALE] = sc;
    state[ATAS_STEP_SKIP] = skip;
    state[3] = 0;
}

/* one element: clip, AdamW with the segment's constants, then the teacher EMA */
ATAS_HOST_DEVICE void atas_clip_adamw_ema_math(float *p, float g, float sc, float *m, float *v, float *teacher,
                                               const atas_adamw_consts k, float mom, float one_minus_mom) {
    atas_adamw_update(p, m, v, g * sc, k);
    *teacher = mom * *teacher + one_minus_mom * *p;
}

#endif
