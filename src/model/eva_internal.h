/* Private to src/model: the EVA02 family's pieces (docs/eva02.md), called from
 * the atas_vit entry points when cfg.family == ATAS_VIT_EVA02. */
#ifndef ATAS_EVA_INTERNAL_H
#define ATAS_EVA_INTERNAL_H

#include "vit_family.h"
#include "vit_pass.h"

atas_status atas_eva_param_table(const atas_vit_config *c, atas_param_info **info, int *n,
                                 size_t *nparams);
void atas_eva_set_trainable_blocks(atas_vit *m, int unlocked, int train_embeddings, int train_head);
void atas_eva_init_std(const atas_vit *m, int i, float *mean, float *std);
void atas_eva_fill_activation_sizes(atas_vit_pass *p, const atas_vit_config *c);
atas_status atas_eva_forward(atas_vit_pass *p, const atas_vit *m, const float *images);
atas_status atas_eva_backward(atas_vit_pass *p, const atas_vit *m, const float *dglobal,
                              const float *ddense);

#endif
