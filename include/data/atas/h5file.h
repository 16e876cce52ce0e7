/* io: creating an HDF5 file that either appears complete under its final name or not
 * at all, whatever the disk does (ENOSPC, EIO, EDQUOT): an unpredictable temporary
 * beside the target (mkstemp, never through a symlink), mode 0666 & ~umask, errors
 * with the path and the system's reason, and no HDF5 write that can fail half-way
 * (a failed flush leaves HDF5 1.10 unable to close the file; it crashes at exit). */
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
/* A serial HDF5 file built in memory (core driver, nothing on disk): HDF5 itself then
 * never meets a write error - in HDF5 1.10 a failed metadata flush makes the file
 * impossible to close and crashes the library at exit. `name` only names it. */
atas_status atas_h5_create_mem(const char *name, size_t expected_bytes, hid_t *f);
/* Close the in-memory file f and write its image to final_path through an mkstemp
 * temporary (write, fsync, rename, fsync dir); when prior != ATAS_OK or anything fails,
 * nothing is left on disk and final_path is untouched; errors name the path and the
 * system's reason. size/crc (either may be NULL): the bytes written and their CRC-32. */
atas_status atas_h5_commit_mem(hid_t f, const char *final_path, atas_status prior, long long *size,
                               unsigned long *crc);
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
