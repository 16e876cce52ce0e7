/* Reading and validating a corpus (format version 1, docs/corpus.md). Every
 * HDF5 failure becomes one atas error naming the file (and image index). */
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "atas/corpus.h"

static void quiet_hdf5(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static int read_int_attr(hid_t loc, const char *name, long long *v) {
    if (H5Aexists(loc, name) <= 0) return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t t = H5Aget_type(a);
    int ok = H5Tget_class(t) == H5T_INTEGER && H5Aread(a, H5T_NATIVE_LLONG, v) >= 0;
    H5Tclose(t);
    H5Aclose(a);
    return ok ? 0 : -2;
}

static int read_str_attr(hid_t loc, const char *name, char *buf, size_t len) {
    buf[0] = 0;
    if (H5Aexists(loc, name) <= 0) return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t t = H5Aget_type(a);
    int rc = -2;
    if (H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t)) {
        size_t n = H5Tget_size(t);
        char *tmp = calloc(n + 2, 1);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, n + 1); /* room for the terminator of a NULLPAD string */
        if (tmp && H5Aread(a, mt, tmp) >= 0) {
            snprintf(buf, len, "%s", tmp);
            rc = 0;
        }
        H5Tclose(mt);
        free(tmp);
    } else if (H5Tget_class(t) == H5T_STRING) { /* variable-length (h5py default) */
        char *s = NULL;
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        if (H5Aread(a, mt, &s) >= 0 && s) {
            snprintf(buf, len, "%s", s);
            H5free_memory(s);
            rc = 0;
        }
        H5Tclose(mt);
    }
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

atas_status atas_corpus_attr_str(atas_corpus *c, const char *name, char *buf, size_t len) {
    read_str_attr((hid_t)c->hid_file, name, buf, len);
    return ATAS_OK;
}

static atas_status fmt_err(atas_corpus *c, const char *what) {
    atas_corpus_close(c);
    return ATAS_ERR(ATAS_ERR_FORMAT, "corpus %s: %s", c->path, what);
}

atas_status atas_corpus_open(atas_corpus *c, const char *path, MPI_Comm comm) {
    memset(c, 0, sizeof *c);
    c->hid_file = c->hid_images = c->hid_space = -1;
    snprintf(c->path, sizeof c->path, "%s", path);
    quiet_hdf5();
    FILE *f = fopen(path, "rb");
    if (!f) return ATAS_ERR(ATAS_ERR_IO, "corpus %s: cannot open (%s)", path, "no such file or no permission");
    fclose(f);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    c->parallel = comm != MPI_COMM_NULL;
    if (c->parallel) H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
    hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (fid < 0)
        return ATAS_ERR(ATAS_ERR_FORMAT,
                        "corpus %s: not readable as HDF5 (truncated, damaged or not an HDF5 file)", path);
    c->hid_file = fid;
    char fmt[64];
    long long v = 0, S = 0, N = 0;
    if (read_str_attr(fid, "format", fmt, sizeof fmt) != 0)
        return fmt_err(c, "not an atas corpus: root attribute 'format' is missing (expected \""
                          ATAS_CORPUS_FORMAT "\")");
    if (strcmp(fmt, ATAS_CORPUS_FORMAT) != 0) {
        char m[200];
        snprintf(m, sizeof m, "not an atas corpus: format is \"%s\", expected \"%s\"", fmt,
                 ATAS_CORPUS_FORMAT);
        return fmt_err(c, m);
    }
    if (read_int_attr(fid, "version", &v) != 0) return fmt_err(c, "root attribute 'version' missing or not an integer");
    if (v != ATAS_CORPUS_VERSION) {
        char m[200];
        snprintf(m, sizeof m, "format version %lld, this build reads version %d", v, ATAS_CORPUS_VERSION);
        return fmt_err(c, m);
    }
    if (read_int_attr(fid, "size", &S) != 0 || read_int_attr(fid, "count", &N) != 0)
        return fmt_err(c, "root attributes 'size' and 'count' (integers) are required");
    hid_t d = H5Dopen2(fid, ATAS_CORPUS_IMAGES, H5P_DEFAULT);
    if (d < 0) return fmt_err(c, "dataset '" ATAS_CORPUS_IMAGES "' is missing");
    c->hid_images = d;
    hid_t sp = H5Dget_space(d);
    c->hid_space = sp;
    hsize_t dims[4];
    hid_t t = H5Dget_type(d);
    int tok = H5Tget_class(t) == H5T_INTEGER && H5Tget_size(t) == 1 && H5Tget_sign(t) == H5T_SGN_NONE;
    H5Tclose(t);
    if (H5Sget_simple_extent_ndims(sp) != 4 || !tok)
        return fmt_err(c, "dataset 'images' must be uint8 [N, S, S, 3]");
    H5Sget_simple_extent_dims(sp, dims, NULL);
    if ((long long)dims[0] != N || (long long)dims[1] != S || (long long)dims[2] != S || dims[3] != 3) {
        char m[256];
        snprintf(m, sizeof m, "dataset 'images' has shape [%llu, %llu, %llu, %llu], attributes say "
                 "count=%lld size=%lld (expected [count, size, size, 3])",
                 (unsigned long long)dims[0], (unsigned long long)dims[1],
                 (unsigned long long)dims[2], (unsigned long long)dims[3], N, S);
        return fmt_err(c, m);
    }
    if (S < 1 || S > 65536) return fmt_err(c, "attribute 'size' out of range");
    c->S = (int)S;
    c->N = N;
    c->version = (int)v;
    return ATAS_OK;
}

atas_status atas_corpus_read(atas_corpus *c, int64_t idx, uint8_t *dst) {
    REQUIRE(idx >= 0 && idx < c->N, "corpus %s: image index %lld out of range [0, %lld)", c->path,
            (long long)idx, (long long)c->N);
    hsize_t start[4] = {(hsize_t)idx, 0, 0, 0}, count[4] = {1, (hsize_t)c->S, (hsize_t)c->S, 3};
    hid_t fs = H5Scopy((hid_t)c->hid_space);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    hid_t ms = H5Screate_simple(4, count, NULL);
    herr_t e = H5Dread((hid_t)c->hid_images, H5T_NATIVE_UCHAR, ms, fs, H5P_DEFAULT, dst);
    H5Sclose(ms);
    H5Sclose(fs);
    if (e < 0)
        return ATAS_ERR(ATAS_ERR_FORMAT,
                        "corpus %s: image %lld cannot be read (Fletcher32 checksum failure or "
                        "damaged chunk)", c->path, (long long)idx);
    return ATAS_OK;
}

atas_status atas_corpus_name(atas_corpus *c, int64_t idx, char *buf, size_t len) {
    buf[0] = 0;
    hid_t d = H5Dopen2((hid_t)c->hid_file, ATAS_CORPUS_NAMES, H5P_DEFAULT);
    if (d < 0) return ATAS_OK;
    hid_t t = H5Dget_type(d);
    size_t n = H5Tget_size(t);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[1] = {0};
    H5Sget_simple_extent_dims(sp, dims, NULL);
    if (idx >= 0 && (hsize_t)idx < dims[0] && H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t)) {
        char *tmp = calloc(n + 1, 1);
        hsize_t st[1] = {(hsize_t)idx}, one[1] = {1};
        H5Sselect_hyperslab(sp, H5S_SELECT_SET, st, NULL, one, NULL);
        hid_t ms = H5Screate_simple(1, one, NULL);
        if (tmp && H5Dread(d, t, ms, sp, H5P_DEFAULT, tmp) >= 0) snprintf(buf, len, "%s", tmp);
        H5Sclose(ms);
        free(tmp);
    }
    H5Sclose(sp);
    H5Tclose(t);
    H5Dclose(d);
    return ATAS_OK;
}

void atas_corpus_close(atas_corpus *c) {
    if (c->hid_space >= 0) H5Sclose((hid_t)c->hid_space);
    if (c->hid_images >= 0) H5Dclose((hid_t)c->hid_images);
    if (c->hid_file >= 0) H5Fclose((hid_t)c->hid_file);
    c->hid_space = c->hid_images = c->hid_file = -1;
}

atas_status atas_corpus_check_sizes(const char *path, int S, int R, int C, const int *grids,
                                    int ngrids, const char *view_key, const char *canvas_key) {
    if (S < R)
        return ATAS_ERR(ATAS_ERR_CONFIG,
                        "corpus %s has images of side S=%d, but %s=%d needs S >= %d (repack with "
                        "atas_pack --size %d or more)", path, S, view_key, R, R, R);
    int gmin = 1 << 30;
    for (int i = 0; i < ngrids; i++) gmin = grids[i] < gmin ? grids[i] : gmin;
    if (ngrids > 0 && gmin > 0 && S < C / gmin)
        return ATAS_ERR(ATAS_ERR_CONFIG,
                        "corpus %s has images of side S=%d, but %s=%d with grid %d needs cells of "
                        "%d px: S >= %d (repack with atas_pack --size %d or more)",
                        path, S, canvas_key, C, gmin, C / gmin, C / gmin, C / gmin);
    return ATAS_OK;
}
