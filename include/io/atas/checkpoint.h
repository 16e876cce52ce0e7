/* io: atas checkpoints, one HDF5 file each (docs/checkpoint.md): writing, reading back
 * for resume or export, verifying, finding the newest usable one and pruning. Takes
 * models and a state struct; knows nothing of the trainer. */
#ifndef ATAS_CHECKPOINT_H
#define ATAS_CHECKPOINT_H

#include <stddef.h>

#include "atas/h5util.h"
#include "atas/vit.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ATAS_CKPT_FORMAT "atas-checkpoint"
#define ATAS_CKPT_VERSION 2 /* 2: Fletcher32 on every tensor; 1 still read */

typedef struct {
    long long step;          /* optimizer steps completed */
    long long epoch, step_in_epoch;
    long long nonfinite_total, nonfinite_in_row;
    long long seed;
    int world;               /* ranks that wrote it (informational) */
    double elapsed_s;        /* training seconds up to this state (metrics elapsed_s); 0 when absent */
} atas_ckpt_state;

/* Write student, teacher, AdamW moments and state to dir/ckpt-STEP.h5 via a
 * temporary name, fsync, rename, then a .done marker. Rank 0 only. */
atas_status atas_ckpt_write(const char *dir, const atas_vit *student, const atas_vit *teacher,
                            const float *adam_m, const float *adam_v, const atas_ckpt_state *st,
                            const char *resolved_config, const char *pretrained, char *out_path,
                            size_t out_cap);
/* Read into created models/moments of the same shape; shape or version mismatch ->
 * ATAS_ERR_FORMAT naming the file and what differs. adam_m/v may be NULL. */
atas_status atas_ckpt_read(const char *path, atas_vit *student, atas_vit *teacher, float *adam_m,
                           float *adam_v, atas_ckpt_state *st);
/* The newest complete checkpoint in dir that reads back; damaged newer ones are
 * reported (warning) and skipped. path[0] = 0 when there is none. */
atas_status atas_ckpt_find_latest(const char *dir, char *path, size_t cap);
/* Keep the newest keep_last, plus every checkpoint whose step is a multiple of keep_every. */
atas_status atas_ckpt_prune(const char *dir, int keep_last, int keep_every);
/* The whole check behind resume auto: the completion marker (required), then the file
 * opens as an atas checkpoint and every dataset reads back with its Fletcher32 checksum
 * verified (required from format version 2). 1 = usable; 0 with the reason in why. */
int atas_ckpt_verify(const char *path, char *why, size_t cap);

/* Without a created model (export, embedding): the model config and pretrained path
 * from the root attributes (formats 1 and 2), and one group's tensors into host memory. */
atas_status atas_ckpt_read_model(const char *path, atas_vit_config *c, char *pretrained,
                                 size_t cap);
atas_status atas_ckpt_read_params(const char *path, const char *group, const atas_param_info *info,
                                  int n, float *host);

/* A model's tensors and shape as HDF5, shared by checkpoints and the trainer's debug
 * dumps. One dataset per tensor, "group/<OpenCLIP name>", from backend memory `src`
 * laid out like m's parameters (staged through the host when the backend needs it);
 * only_trainable skips frozen tensors (gradients, optimizer moments). */
atas_status atas_model_h5_write_tensors(hid_t f, const char *group, const atas_vit *m,
                                        const float *src, int only_trainable);
/* Root attributes patch width layers heads mlp embed grid act ln_eps family. */
atas_status atas_model_h5_write_config(hid_t f, const atas_vit_config *c);

#ifdef __cplusplus
}
#endif

#endif
