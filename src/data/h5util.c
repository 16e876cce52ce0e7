#define _GNU_SOURCE /* PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP */
/* HDF5 helpers: float/int datasets and scalar attributes with named errors. */
#include "atas/h5util.h"
#include "atas/h5file.h"
#include "atas/fileio.h"

#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

static pthread_mutex_t g_h5_mutex = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
void atas_h5_lock(void) { pthread_mutex_lock(&g_h5_mutex); }
void atas_h5_unlock(void) { pthread_mutex_unlock(&g_h5_mutex); }

void atas_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
void atas_h5_quiet_begin(atas_h5_quiet_state *saved) {
    H5Eget_auto2(H5E_DEFAULT, &saved->fn, &saved->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
void atas_h5_quiet_end(const atas_h5_quiet_state *saved) { H5Eset_auto2(H5E_DEFAULT, saved->fn, saved->data); }

int atas_h5_is_file(const char *path) {
    struct stat sb; /* never open a FIFO or device to look: the open would block */
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return 0;
    atas_h5_quiet_state q;
    atas_h5_quiet_begin(&q);
    htri_t r = H5Fis_hdf5(path);
    atas_h5_quiet_end(&q);
    return r > 0;
}

atas_status atas_h5_create(const char *path, hid_t *file) {
    *file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (*file < 0) return ATAS_ERR(ATAS_ERR_IO, "%s: cannot create HDF5 file", path);
    return ATAS_OK;
}

atas_status atas_h5_open_ro(const char *path, hid_t *file) {
    *file = -1;
    ATAS_CHECK(atas_require_regular_file(path, "HDF5 file"));
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0)
        return ATAS_ERR(is < 0 ? ATAS_ERR_IO : ATAS_ERR_FORMAT, "%s: %s", path,
                        is < 0 ? "cannot open (missing or unreadable)" : "not an HDF5 file");
    *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*file < 0) return ATAS_ERR(ATAS_ERR_FORMAT, "%s: cannot open as HDF5 (damaged?)", path);
    return ATAS_OK;
}

atas_status atas_h5_close(hid_t file, const char *path) {
    if (H5Fclose(file) < 0) return ATAS_ERR(ATAS_ERR_IO, "%s: cannot close", path);
    return ATAS_OK;
}

static atas_status write_any_dcpl(hid_t loc, const char *name, hid_t type, const void *data,
                                  int ndim, const size_t *dims, int checked) {
    hsize_t hd[8], ck[8];
    ATAS_REQUIRE(ndim >= 0 && ndim <= 8, "dataset %s: rank %d", name, ndim);
    for (int i = 0; i < ndim; i++) hd[i] = dims[i];
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t space = ndim ? H5Screate_simple(ndim, hd, NULL) : H5Screate(H5S_SCALAR);
    hid_t dcpl = H5P_DEFAULT;
    if (checked && ndim > 0) {
        /* one chunk per tensor, split along the first axis below HDF5's 4 GiB chunk limit */
        size_t rest = H5Tget_size(type);
        for (int i = 1; i < ndim; i++) { ck[i] = hd[i]; rest *= dims[i]; }
        size_t rows = ((size_t)1 << 30) / (rest ? rest : 1);
        ck[0] = hd[0] < rows ? hd[0] : rows ? rows : 1;
        for (int i = 0; i < ndim; i++)
            ATAS_REQUIRE(ck[i] > 0, "dataset %s: a zero-sized dimension cannot carry a checksum", name);
        dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(dcpl, ndim, ck);
        H5Pset_fletcher32(dcpl);
    }
    hid_t ds = H5Dcreate2(loc, name, type, space, lcpl, dcpl, H5P_DEFAULT);
    herr_t e = ds >= 0 ? H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : -1;
    char why[256];
    snprintf(why, sizeof why, "%s", e < 0 ? atas_h5_sys_reason() : ""); /* before the next call clears it */
    if (ds >= 0 && H5Dclose(ds) < 0) {
        if (e >= 0) snprintf(why, sizeof why, "%s", atas_h5_sys_reason());
        e = -1;
    }
    H5Sclose(space);
    H5Pclose(lcpl);
    if (dcpl != H5P_DEFAULT) H5Pclose(dcpl);
    if (e < 0) {
        return ATAS_ERR(ATAS_ERR_IO, "cannot write dataset %s%s%s", name, why[0] ? ": " : "", why);
    }
    return ATAS_OK;
}

static atas_status write_any(hid_t loc, const char *name, hid_t type, const void *data, int ndim,
                             const size_t *dims) {
    return write_any_dcpl(loc, name, type, data, ndim, dims, 0);
}

atas_status atas_h5_write_f32_checked(hid_t loc, const char *name, const float *data, int ndim,
                                      const size_t *dims) {
    return write_any_dcpl(loc, name, H5T_NATIVE_FLOAT, data, ndim, dims, 1);
}

int atas_h5_has_fletcher32(hid_t loc, const char *name) {
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0) return 0;
    hid_t dcpl = H5Dget_create_plist(ds);
    int n = dcpl >= 0 ? H5Pget_nfilters(dcpl) : 0, found = 0;
    for (int i = 0; i < n; i++) {
        unsigned flags;
        size_t nelem = 0;
        unsigned conf;
        if (H5Pget_filter2(dcpl, (unsigned)i, &flags, &nelem, NULL, 0, NULL, &conf) == H5Z_FILTER_FLETCHER32)
            found = 1;
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    H5Dclose(ds);
    return found;
}

atas_status atas_h5_write_f32(hid_t loc, const char *name, const float *data, int ndim,
                              const size_t *dims) {
    return write_any(loc, name, H5T_NATIVE_FLOAT, data, ndim, dims);
}

atas_status atas_h5_write_i32(hid_t loc, const char *name, const int *data, int ndim,
                              const size_t *dims) {
    return write_any(loc, name, H5T_NATIVE_INT, data, ndim, dims);
}

int atas_h5_exists(hid_t loc, const char *name) {
    /* H5Lexists fails on a missing intermediate group: check each prefix */
    char buf[512];
    snprintf(buf, sizeof buf, "%s", name);
    for (char *s = buf; (s = strchr(s, '/')); s++) {
        *s = 0;
        if (buf[0] && H5Lexists(loc, buf, H5P_DEFAULT) <= 0) return 0;
        *s = '/';
    }
    return H5Lexists(loc, name, H5P_DEFAULT) > 0;
}

atas_status atas_h5_shape(hid_t loc, const char *name, int *ndim, size_t *dims, const char *file) {
    if (!atas_h5_exists(loc, name))
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: dataset %s is missing", file, name);
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0) return ATAS_ERR(ATAS_ERR_FORMAT, "%s: %s is not a dataset", file, name);
    hid_t sp = H5Dget_space(ds);
    hsize_t hd[8];
    int nd = H5Sget_simple_extent_ndims(sp);
    if (nd > 8 || nd < 0) nd = -1; else H5Sget_simple_extent_dims(sp, hd, NULL);
    H5Sclose(sp);
    H5Dclose(ds);
    if (nd < 0) return ATAS_ERR(ATAS_ERR_FORMAT, "%s: dataset %s has an unsupported rank", file, name);
    *ndim = nd;
    for (int i = 0; i < nd; i++) dims[i] = hd[i];
    return ATAS_OK;
}

static atas_status read_any(hid_t loc, const char *name, hid_t type, void *data, size_t n,
                            const char *file) {
    int nd;
    size_t dims[8], cnt = 1;
    ATAS_CHECK(atas_h5_shape(loc, name, &nd, dims, file));
    for (int i = 0; i < nd; i++) cnt *= dims[i];
    if (cnt != n)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: dataset %s has %zu elements, expected %zu", file, name,
                        cnt, n);
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    herr_t e = H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(ds);
    if (e < 0) return ATAS_ERR(ATAS_ERR_IO, "%s: cannot read dataset %s (damaged?)", file, name);
    return ATAS_OK;
}

atas_status atas_h5_read_f32(hid_t loc, const char *name, float *data, size_t n, const char *file) {
    return read_any(loc, name, H5T_NATIVE_FLOAT, data, n, file);
}

atas_status atas_h5_read_i32(hid_t loc, const char *name, int *data, size_t n, const char *file) {
    return read_any(loc, name, H5T_NATIVE_INT, data, n, file);
}

static atas_status attr_write(hid_t loc, const char *name, hid_t type, const void *v) {
    if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a >= 0 ? H5Awrite(a, type, v) : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    if (e < 0) return ATAS_ERR(ATAS_ERR_IO, "cannot write attribute %s", name);
    return ATAS_OK;
}

atas_status atas_h5_attr_write_int(hid_t loc, const char *name, long long v) {
    return attr_write(loc, name, H5T_NATIVE_LLONG, &v);
}

atas_status atas_h5_attr_write_double(hid_t loc, const char *name, double v) {
    return attr_write(loc, name, H5T_NATIVE_DOUBLE, &v);
}

atas_status atas_h5_attr_write_str(hid_t loc, const char *name, const char *v) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    atas_status s = attr_write(loc, name, t, v);
    H5Tclose(t);
    return s;
}

static atas_status attr_read(hid_t loc, const char *name, hid_t type, void *v, const char *file) {
    if (H5Aexists(loc, name) <= 0)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: attribute %s is missing", file, name);
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    herr_t e = H5Aread(a, type, v);
    H5Aclose(a);
    if (e < 0) return ATAS_ERR(ATAS_ERR_FORMAT, "%s: attribute %s has the wrong type", file, name);
    return ATAS_OK;
}

atas_status atas_h5_attr_read_int(hid_t loc, const char *name, long long *v, const char *file) {
    return attr_read(loc, name, H5T_NATIVE_LLONG, v, file);
}

atas_status atas_h5_attr_read_double(hid_t loc, const char *name, double *v, const char *file) {
    return attr_read(loc, name, H5T_NATIVE_DOUBLE, v, file);
}

atas_status atas_h5_attr_read_str(hid_t loc, const char *name, char *buf, size_t cap, const char *file) {
    if (H5Aexists(loc, name) <= 0)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: attribute %s is missing", file, name);
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t ft = H5Aget_type(a);
    atas_status st = ATAS_OK;
    if (H5Tget_class(ft) != H5T_STRING) {
        st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: attribute %s is not a string", file, name);
    } else if (H5Tis_variable_str(ft) > 0) {
        char *s = NULL;
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(ft)); /* h5py writes UTF-8; HDF5 will not convert between csets */
        if (H5Aread(a, mt, &s) < 0 || !s) st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: cannot read %s", file, name);
        else { snprintf(buf, cap, "%s", s); H5free_memory(s); }
        H5Tclose(mt);
    } else {
        size_t sz = H5Tget_size(ft);
        char tmp[4096];
        if (sz >= sizeof tmp) st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: attribute %s too long", file, name);
        else {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, sz + 1);
            H5Tset_cset(mt, H5Tget_cset(ft));
            memset(tmp, 0, sizeof tmp);
            if (H5Aread(a, mt, tmp) < 0) st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: cannot read %s", file, name);
            else snprintf(buf, cap, "%s", tmp);
            H5Tclose(mt);
        }
    }
    H5Tclose(ft);
    H5Aclose(a);
    return st;
}
