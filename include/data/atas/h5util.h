/* data: the one set of HDF5 helpers (the data layer is the lowest that uses HDF5):
 * the process-wide lock, error silencing, open/create/close, float datasets and
 * attributes, with errors that name the file and the dataset. Callers own the hid_t handles. */
#ifndef ATAS_H5UTIL_H
#define ATAS_H5UTIL_H

#include <hdf5.h>

#include "atas/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* HDF5 here is not thread-safe: every thread that calls it while another may
 * (the loader's I/O thread vs checkpoint/dump writes) holds this recursive lock. */
void atas_h5_lock(void);
void atas_h5_unlock(void);

/* HDF5 prints its own error stack to stderr on every failed call; atas raises its own
 * messages naming the file instead. atas_h5_quiet: off for the rest of the process
 * (programs and pipelines that own their HDF5 use); _begin/_end: off for a scope, then
 * put back what was there (library readers called from anywhere). */
typedef struct {
    H5E_auto2_t fn;
    void *data;
} atas_h5_quiet_state;
void atas_h5_quiet(void);
void atas_h5_quiet_begin(atas_h5_quiet_state *saved);
void atas_h5_quiet_end(const atas_h5_quiet_state *saved);

/* 1 when path is an HDF5 file (any user-block offset), 0 otherwise; never prints */
int atas_h5_is_file(const char *path);

/* create (truncate) / open read-only a plain (serial) HDF5 file */
atas_status atas_h5_create(const char *path, hid_t *file);
atas_status atas_h5_open_ro(const char *path, hid_t *file);
/* H5Fclose with a named error ("PATH: cannot close"): a close flushes, so it can fail */
atas_status atas_h5_close(hid_t file, const char *path);
/* "a/b/c": create missing intermediate groups */
atas_status atas_h5_write_f32(hid_t loc, const char *name, const float *data, int ndim,
                              const size_t *dims);
atas_status atas_h5_write_i32(hid_t loc, const char *name, const int *data, int ndim,
                              const size_t *dims);
/* Like atas_h5_write_f32, chunked with HDF5's Fletcher32 checksum filter (verified by
 * every read); dims must be > 0. */
atas_status atas_h5_write_f32_checked(hid_t loc, const char *name, const float *data, int ndim,
                                      const size_t *dims);
/* 1 when dataset `name` carries the Fletcher32 filter */
int atas_h5_has_fletcher32(hid_t loc, const char *name);
/* Read a float dataset whose element count must be n; `file` only names it in errors. */
atas_status atas_h5_read_f32(hid_t loc, const char *name, float *data, size_t n, const char *file);
atas_status atas_h5_read_i32(hid_t loc, const char *name, int *data, size_t n, const char *file);
/* shape of a dataset (ndim <= 8) */
atas_status atas_h5_shape(hid_t loc, const char *name, int *ndim, size_t *dims, const char *file);
int atas_h5_exists(hid_t loc, const char *name);
atas_status atas_h5_attr_write_int(hid_t loc, const char *name, long long v);
atas_status atas_h5_attr_write_double(hid_t loc, const char *name, double v);
atas_status atas_h5_attr_write_str(hid_t loc, const char *name, const char *v);
atas_status atas_h5_attr_read_int(hid_t loc, const char *name, long long *v, const char *file);
atas_status atas_h5_attr_read_double(hid_t loc, const char *name, double *v, const char *file);
/* reads a fixed or variable length string attribute into buf (NUL-terminated) */
atas_status atas_h5_attr_read_str(hid_t loc, const char *name, char *buf, size_t cap, const char *file);

#ifdef __cplusplus
}
#endif
#endif
