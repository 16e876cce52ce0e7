/* Schedules and the EMA: linear warmup then cosine, momentum start -> end,
 * momentum 1 is a frozen teacher, the EMA op matches its formula. */
#include <string.h>

#include "atas/train.h"
#include "test_util.h"

int main(void) {
    /* warmup: step 0 gets peak/warmup, step warmup-1 gets peak */
    T_ASSERT(fabs(atas_lr_at(0, 100, 10, 1.0, 0.0) - 0.1) < 1e-12, "warmup start");
    T_ASSERT(fabs(atas_lr_at(9, 100, 10, 1.0, 0.0) - 1.0) < 1e-12, "warmup end");
    /* cosine: peak right after warmup, half way = (peak+min)/2, end = min */
    T_ASSERT(fabs(atas_lr_at(10, 100, 10, 1.0, 0.1) - 1.0) < 1e-12, "cosine start");
    T_ASSERT(fabs(atas_lr_at(55, 100, 10, 1.0, 0.1) - 0.55) < 1e-12, "cosine middle %g", atas_lr_at(55, 100, 10, 1.0, 0.1));
    T_ASSERT(fabs(atas_lr_at(100, 100, 10, 1.0, 0.1) - 0.1) < 1e-12, "cosine end");
    for (int s = 11; s < 100; s++)
        T_ASSERT(atas_lr_at(s, 100, 10, 1.0, 0.0) <= atas_lr_at(s - 1, 100, 10, 1.0, 0.0), "monotone at %d", s);
    /* momentum */
    T_ASSERT(fabs(atas_momentum_at(0, 50, 0.99, 1.0, 1) - 0.99) < 1e-12, "mom start");
    T_ASSERT(fabs(atas_momentum_at(49, 50, 0.99, 1.0, 1) - 1.0) < 1e-12, "mom end");
    T_ASSERT(fabs(atas_momentum_at(30, 50, 0.99, 1.0, 0) - 0.99) < 1e-12, "constant");
    for (int s = 1; s < 50; s++)
        T_ASSERT(atas_momentum_at(s, 50, 0.99, 1.0, 1) >= atas_momentum_at(s - 1, 50, 0.99, 1.0, 1), "mom monotone");
    /* EMA op: t = m t + (1-m) s; m = 1 freezes the teacher */
    const atas_backend *be = atas_backend_cpu();
    float t[5] = {1, 2, 3, 4, 5}, s[5] = {5, 4, 3, 2, 1}, t0[5];
    memcpy(t0, t, sizeof t);
    T_OK(be->ema(be, t, s, 5, 0.75f));
    for (int i = 0; i < 5; i++) T_ASSERT(fabs(t[i] - (0.75f * t0[i] + 0.25f * s[i])) < 1e-6, "ema %d", i);
    memcpy(t0, t, sizeof t);
    T_OK(be->ema(be, t, s, 5, 1.0f));
    for (int i = 0; i < 5; i++) T_ASSERT(t[i] == t0[i], "frozen teacher moved at %d", i);
    return t_finish("test_schedule");
}
