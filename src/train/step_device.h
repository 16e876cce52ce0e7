/* Private: the device-resident step (step_device.c), called by the trainer's
 * objective and update phases. */
#ifndef ATAS_STEP_DEVICE_H
#define ATAS_STEP_DEVICE_H

#include "trainer_internal.h"

/* the group losses of this rank's groups on the backend's embeddings and their
 * gradients, left in backend memory (nothing is downloaded) */
atas_status atas_step_dev_objective(atas_trainer *t, const atas_batch *b);
/* the group losses now (the dump step): loss4 = their means (NaN when one is not
 * finite, then *bad = 1 and the gradients are NaN) */
atas_status atas_step_dev_losses(atas_trainer *t, const atas_batch *b, double *loss4, int *bad);
/* the objective's gradient outputs (backend memory), for the backward */
const float *atas_step_dev_ds_glob(const atas_trainer *t);
const float *atas_step_dev_ds_dense(const atas_trainer *t);
/* |g| over the trainable range, skip flag, clip + AdamW + EMA, then the step's one
 * small download: the state and, unless loss4 is NULL, the group losses (as
 * atas_step_dev_losses reads them) */
atas_status atas_step_dev_optimize(atas_trainer *t, const atas_batch *b, double lr, double mom, double *gnorm_out,
                                   int *finite, double *loss4, int *bad);
void atas_step_dev_close(atas_trainer *t);

#endif
