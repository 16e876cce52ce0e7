/* Private to src/io/checkpoint_*.c: the completion marker and whole-file checksum. */
#ifndef ATAS_CHECKPOINT_INTERNAL_H
#define ATAS_CHECKPOINT_INTERNAL_H

#include <stddef.h> /* offsetof */

#include "atas/checkpoint.h"

/* size and zlib CRC-32 of a whole file */
atas_status atas_ckpt_file_crc(const char *path, long long *size, unsigned long *crc);
/* path.done agrees with the file (size, and CRC-32 when the marker has one); a missing
 * marker passes unless `required`. 0 with the reason in why otherwise. */
int atas_ckpt_marker_ok_req(const char *path, int required, char *why, size_t cap);
#define atas_ckpt_marker_ok(path, why, cap) atas_ckpt_marker_ok_req((path), 0, (why), (cap))

/* The model-shape root attributes (int fields of atas_vit_config), one list for the
 * writer and both readers. */
typedef struct {
    const char *name;
    size_t off;
} atas_ckpt_dim;
static const atas_ckpt_dim atas_ckpt_dims[] = {
    {"patch", offsetof(atas_vit_config, patch)}, {"width", offsetof(atas_vit_config, width)},
    {"layers", offsetof(atas_vit_config, layers)}, {"heads", offsetof(atas_vit_config, heads)},
    {"mlp", offsetof(atas_vit_config, mlp)}, {"embed", offsetof(atas_vit_config, embed)},
    {"grid", offsetof(atas_vit_config, grid)}};
#define ATAS_CKPT_NDIMS (sizeof atas_ckpt_dims / sizeof atas_ckpt_dims[0])
static inline int atas_ckpt_dim_get(const atas_vit_config *c, size_t i) {
    return *(const int *)((const char *)c + atas_ckpt_dims[i].off);
}
static inline int *atas_ckpt_dim_at(atas_vit_config *c, size_t i) {
    return (int *)((char *)c + atas_ckpt_dims[i].off);
}

#endif
