/* Private to src/io/checkpoint_*.c: the completion marker and whole-file checksum. */
#ifndef ATAS_CHECKPOINT_INTERNAL_H
#define ATAS_CHECKPOINT_INTERNAL_H

#include <stddef.h>

#include "atas/checkpoint.h"

/* size and zlib CRC-32 of a whole file */
atas_status atas_ckpt_file_crc(const char *path, long long *size, unsigned long *crc);
/* path.done agrees with the file (size, and CRC-32 when the marker has one); a missing
 * marker passes unless `required`. 0 with the reason in why otherwise. */
int atas_ckpt_marker_ok_req(const char *path, int required, char *why, size_t cap);
#define atas_ckpt_marker_ok(path, why, cap) atas_ckpt_marker_ok_req((path), 0, (why), (cap))

#endif
