/* io: creating an HDF5 file that either appears complete under its final name or not
 * at all, whatever the disk does (ENOSPC, EIO, EDQUOT): an unpredictable temporary
 * beside the target (mkstemp, never through a symlink), mode 0666 & ~umask, errors
 * with the path and the system's reason, and a close that cannot leave HDF5 holding
 * a half-flushed file (which crashes the library at exit). */
#ifndef ATAS_H5FILE_H
#define ATAS_H5FILE_H

#include <hdf5.h>

#include "atas/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* mkstemp "<dir>/.<base>.XXXXXX" beside final_path into tmp (cap bytes); the file exists,
 * empty, mode from the umask. */
atas_status atas_tmp_name(const char *final_path, char *tmp, size_t cap);
/* atas_tmp_name + H5Fcreate on it with fapl (H5P_DEFAULT or an MPI-IO list); refuses a
 * temporary that was swapped for a symlink or another file before HDF5 opened it. */
atas_status atas_h5_create_tmp(const char *final_path, char *tmp, size_t cap, hid_t fapl, hid_t *f);
/* Close f (created on tmp). When prior != ATAS_OK or the close fails, the temporary is
 * emptied (so that HDF5's retried flush has room), closed for good and removed; the
 * returned error names tmp and the system's reason (from HDF5's error stack). */
atas_status atas_h5_close_tmp(hid_t f, const char *tmp, atas_status prior);
/* fsync tmp, rename it to final_path, fsync the directory; on failure tmp is removed. */
atas_status atas_commit_tmp(const char *tmp, const char *final_path);
/* The last HDF5 error's system reason ("No space left on device") or "" - read right
 * after the failing HDF5 call. */
const char *atas_h5_sys_reason(void);
/* fsync a path (file or directory) with a named error */
atas_status atas_fsync_path(const char *path);

#ifdef __cplusplus
}
#endif
#endif
