/* Reading and validating a corpus (format version 1, docs/corpus.md). Every
 * HDF5 failure becomes one atas error naming the file (and image index). */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atas/corpus.h"
#include "atas/fileio.h"
#include "atas/h5util.h"


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
        H5Tset_cset(mt, H5Tget_cset(t)); /* UTF-8 (h5py's default for str) reads as UTF-8 */
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
        H5Tset_cset(mt, H5Tget_cset(t));
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
    c->raw_fd = -1;
    snprintf(c->path, sizeof c->path, "%s", path);
    atas_h5_quiet();
    ATAS_CHECK(atas_require_regular_file(path, "corpus")); /* a FIFO would block HDF5's open */
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
    if (S < 1 || S > ATAS_CORPUS_MAX_SIDE) {
        char m[160];
        snprintf(m, sizeof m, "attribute 'size' = %lld out of range 1..%d", S, ATAS_CORPUS_MAX_SIDE);
        return fmt_err(c, m);
    }
    if (N < 0 || N > ATAS_CORPUS_MAX_COUNT) {
        char m[160];
        snprintf(m, sizeof m, "attribute 'count' = %lld out of range 0..%lld", N, (long long)ATAS_CORPUS_MAX_COUNT);
        return fmt_err(c, m);
    }
    /* the checksum is the integrity guarantee: a corpus without it is refused */
    {
        hid_t dcpl = H5Dget_create_plist(d);
        hsize_t ck[4] = {0};
        int ok = dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, 4, ck) == 4 &&
                 ck[0] == 1 && ck[1] == (hsize_t)S && ck[2] == (hsize_t)S && ck[3] == 3;
        int fl = 0;
        for (int i = 0; dcpl >= 0 && i < H5Pget_nfilters(dcpl); i++) {
            unsigned flags, conf;
            size_t ne = 0;
            if (H5Pget_filter2(dcpl, (unsigned)i, &flags, &ne, NULL, 0, NULL, &conf) == H5Z_FILTER_FLETCHER32) fl = 1;
        }
        if (dcpl >= 0) H5Pclose(dcpl);
        if (!fl) return fmt_err(c, "dataset 'images' carries no Fletcher32 checksum filter (repack with atas_pack)");
        if (!ok) return fmt_err(c, "dataset 'images' must be chunked one image per chunk, [1, size, size, 3]");
    }
    /* every image is stored: the file holds at least N*S*S*3 bytes (before allocating for N) */
    struct stat sb;
    if (stat(path, &sb) == 0 && (unsigned long long)sb.st_size / ((unsigned long long)S * S * 3) < (unsigned long long)N) {
        char m[256];
        snprintf(m, sizeof m, "%lld bytes cannot hold the %lld images of %lldx%lld it declares (truncated, or "
                 "images never written)", (long long)sb.st_size, N, S, S);
        return fmt_err(c, m);
    }
    c->S = (int)S;
    c->N = N;
    c->version = (int)v;
    c->raw_fd = open(path, O_RDONLY | O_CLOEXEC); /* -1: direct reads off, H5Dread serves */
    return ATAS_OK;
}

/* HDF5's Fletcher32 (H5Z fletcher32 filter): 16-bit big-endian words, sums
 * folded every 360 words; stored little-endian after the chunk's data. */
static uint32_t fletcher32(const uint8_t *d, size_t nbytes) {
    uint32_t s1 = 0, s2 = 0;
    size_t words = nbytes / 2;
    while (words) {
        const uint32_t t = words > 360 ? 360 : (uint32_t)words;
        words -= t;
        /* the block's 360 sequential updates in closed form (exact: HDF5 picked
         * 360 so that none of these sums overflows 32 bits), vectorisable */
        uint32_t a = 0, b = 0;
        for (uint32_t i = 0; i < t; i++) {
            uint32_t w = ((uint32_t)d[2 * i] << 8) | d[2 * i + 1];
            a += w;
            b += (t - i) * w;
        }
        d += 2 * (size_t)t;
        uint64_t n2 = (uint64_t)s2 + (uint64_t)t * s1 + b;
        s1 += a;
        s2 = (uint32_t)n2;
        s1 = (s1 & 0xffff) + (s1 >> 16);
        s2 = (s2 & 0xffff) + (s2 >> 16);
    }
    if (nbytes & 1) {
        s1 += (uint32_t)d[0] << 8;
        s2 += s1;
        s1 = (s1 & 0xffff) + (s1 >> 16);
        s2 = (s2 & 0xffff) + (s2 >> 16);
    }
    s1 = (s1 & 0xffff) + (s1 >> 16);
    s2 = (s2 & 0xffff) + (s2 >> 16);
    return (s2 << 16) | s1;
}

static int read_full(int fd, void *buf, size_t n, off_t off) {
    char *p = buf;
    while (n) {
        ssize_t r = pread(fd, p, n, off);
        if (r <= 0) { if (r < 0 && errno == EINTR) continue; return -1; }
        p += r; n -= (size_t)r; off += r;
    }
    return 0;
}

/* Direct chunk read: HDF5 says where image idx's chunk lies (its chunk index,
 * read through the file's driver), the bytes come with one pread straight into
 * dst and the checksum is verified here. Saves the filter pipeline's bounce
 * buffer and copy: 1 pass over the data instead of 3. Returns 1 when it did the
 * read, 0 to fall back to H5Dread, -1 on a checksum mismatch or short read. */
static int read_direct(atas_corpus *c, int64_t idx, uint8_t *dst) {
    hsize_t off[4] = {(hsize_t)idx, 0, 0, 0}, size = 0;
    unsigned mask = 0;
    haddr_t addr = 0;
    const size_t n = (size_t)c->S * c->S * 3;
    if (H5Dget_chunk_info_by_coord((hid_t)c->hid_images, off, &mask, &addr, &size) < 0) return -2;
    if (addr == HADDR_UNDEF) return -2; /* never written: HDF5 would return the fill value */
    if (mask != 0 || size != n + 4) return -1; /* open checked the layout: a damaged chunk index */
    if (c->raw_fd < 0) return 0;
    uint8_t ck[4];
    if (read_full(c->raw_fd, dst, n, (off_t)addr) != 0 || read_full(c->raw_fd, ck, 4, (off_t)(addr + n)) != 0)
        return -1;
    uint32_t stored = (uint32_t)ck[0] | (uint32_t)ck[1] << 8 | (uint32_t)ck[2] << 16 | (uint32_t)ck[3] << 24;
    uint32_t f = fletcher32(dst, n);
    /* HDF5 also accepts the byte-swapped sum written by releases before 1.6.3 */
    uint32_t rev = ((f & 0x00ff00ffu) << 8) | ((f >> 8) & 0x00ff00ffu);
    return stored == f || stored == rev ? 1 : -1;
}

atas_status atas_corpus_read(atas_corpus *c, int64_t idx, uint8_t *dst) {
    ATAS_REQUIRE(idx >= 0 && idx < c->N, "corpus %s: image index %lld out of range [0, %lld)", c->path,
            (long long)idx, (long long)c->N);
    int d = read_direct(c, idx, dst);
    if (d == 1) return ATAS_OK;
    if (d == -2)
        return ATAS_ERR(ATAS_ERR_FORMAT, "corpus %s: image %lld was never written (its chunk is missing)",
                        c->path, (long long)idx);
    if (d < 0)
        return ATAS_ERR(ATAS_ERR_FORMAT,
                        "corpus %s: image %lld cannot be read (Fletcher32 checksum failure or "
                        "damaged chunk)", c->path, (long long)idx);
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
    if (c->raw_fd >= 0) close(c->raw_fd);
    c->raw_fd = -1;
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
