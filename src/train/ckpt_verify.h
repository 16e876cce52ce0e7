/* Private: verifying a checkpoint before it is trusted (checkpoint.c). */
#ifndef ATAS_CKPT_VERIFY_H
#define ATAS_CKPT_VERIFY_H

#include <stddef.h>

#include "atas/core.h"

/* size and zlib CRC-32 of a whole file */
atas_status atas_ckpt_file_crc(const char *path, long long *size, unsigned long *crc);
/* path.done agrees with the file (size, and CRC-32 when the marker has one); a missing
 * marker passes unless `required`. 0 with the reason in why otherwise. */
int atas_ckpt_marker_ok_req(const char *path, int required, char *why, size_t cap);
#define atas_ckpt_marker_ok(path, why, cap) atas_ckpt_marker_ok_req((path), 0, (why), (cap))
/* The whole check behind resume auto: the marker (required), then the file opens as an
 * atas checkpoint and every dataset reads back with its Fletcher32 checksum verified
 * (required from format version 2). 1 = usable; 0 with the reason in why. */
int atas_ckpt_verify(const char *path, char *why, size_t cap);

#endif
