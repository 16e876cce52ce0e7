/* Private: a model's tensors and shape as HDF5, shared by checkpoints and dumps. */
#ifndef ATAS_MODEL_H5_H
#define ATAS_MODEL_H5_H

#include "atas/h5util.h"
#include "atas/vit.h"

/* One dataset per tensor, "group/<OpenCLIP name>", from backend memory `src` laid
 * out like m's parameters (staged through the host when the backend needs it);
 * only_trainable skips frozen tensors (gradients, optimizer moments). */
atas_status atas_model_h5_write_tensors(hid_t f, const char *group, const atas_vit *m,
                                        const float *src, int only_trainable);
/* Root attributes patch width layers heads mlp embed grid act ln_eps. */
atas_status atas_model_h5_write_config(hid_t f, const atas_vit_config *c);

#endif
