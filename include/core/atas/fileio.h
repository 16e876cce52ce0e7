/* io: refusing special files before they are opened for reading (a FIFO blocks the
 * open forever, a device streams garbage); one message naming the path and its kind. */
#ifndef ATAS_FILEIO_H
#define ATAS_FILEIO_H

#include "atas/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ATAS_OK when path (after symlinks) is a regular file; `what` names it in the error
 * ("config file", "weights"...). A missing file is ATAS_ERR_IO with the system's reason. */
atas_status atas_require_regular_file(const char *path, const char *what);

#ifdef __cplusplus
}
#endif
#endif
