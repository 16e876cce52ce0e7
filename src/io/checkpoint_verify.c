/* Verifying a checkpoint before resuming from it: completion marker, whole-file CRC-32,
 * then every tensor read back through its Fletcher32 checksum. Anything wrong is a
 * reason to fall back to the previous checkpoint, named in the warning. */
#include "checkpoint_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "atas/h5util.h"

atas_status atas_ckpt_file_crc(const char *path, long long *size, unsigned long *crc) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ATAS_ERR(ATAS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    enum { BUF = 1 << 20 };
    unsigned char *b = malloc(BUF);
    if (!b) { close(fd); return ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory for the checksum", path); }
    uLong c = crc32(0L, Z_NULL, 0);
    long long n = 0;
    atas_status s = ATAS_OK;
    for (;;) {
        ssize_t r = read(fd, b, BUF);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { s = ATAS_ERR(ATAS_ERR_IO, "%s: read failed: %s", path, strerror(errno)); break; }
        if (r == 0) break;
        c = crc32(c, b, (uInt)r);
        n += r;
    }
    free(b);
    close(fd);
    ATAS_CHECK(s);
    *size = n;
    *crc = c;
    return ATAS_OK;
}

int atas_ckpt_marker_ok_req(const char *path, int required, char *why, size_t cap) {
    char done[1300];
    snprintf(done, sizeof done, "%s.done", path);
    FILE *m = fopen(done, "r");
    if (!m) {
        if (required) snprintf(why, cap, "no completion marker");
        return !required;
    }
    long long want = -1;
    unsigned long want_crc = 0;
    int nf = fscanf(m, "%lld %lx", &want, &want_crc);
    fclose(m);
    if (nf < 1) want = -1;
    struct stat sb;
    if (stat(path, &sb) != 0) { snprintf(why, cap, "file missing"); return 0; }
    if (!S_ISREG(sb.st_mode)) { snprintf(why, cap, "not a regular file"); return 0; }
    if ((long long)sb.st_size != want) {
        snprintf(why, cap, "size %lld bytes, marker says %lld (truncated?)", (long long)sb.st_size, want);
        return 0;
    }
    if (nf < 2) return 1; /* a marker of a version 1 checkpoint: size only */
    long long n;
    unsigned long crc;
    if (atas_ckpt_file_crc(path, &n, &crc) != ATAS_OK) {
        snprintf(why, cap, "%s", atas_error_message());
        atas_error_clear();
        return 0;
    }
    if (crc != want_crc) {
        snprintf(why, cap, "CRC-32 of the file is %08lx, the marker says %08lx (corrupted data)", crc, want_crc);
        return 0;
    }
    return 1;
}

typedef struct {
    const char *path;
    int need_checksums;
    char *why;
    size_t cap;
    int bad;
} visit_ctx;

static herr_t visit_cb(hid_t obj, const char *name, const H5O_info_t *info, void *data) {
    visit_ctx *v = data;
    if (info->type != H5O_TYPE_DATASET) return 0;
    if (v->need_checksums && !atas_h5_has_fletcher32(obj, name)) {
        snprintf(v->why, v->cap, "dataset %s carries no Fletcher32 checksum", name);
        v->bad = 1;
        return 1;
    }
    hid_t ds = H5Dopen2(obj, name, H5P_DEFAULT);
    if (ds < 0) { snprintf(v->why, v->cap, "dataset %s cannot be opened (damaged header?)", name); v->bad = 1; return 1; }
    hid_t sp = H5Dget_space(ds);
    hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (sp >= 0) H5Sclose(sp);
    hid_t t = H5Dget_type(ds);
    size_t es = t >= 0 ? H5Tget_size(t) : 0;
    if (t >= 0) H5Tclose(t);
    void *buf = n >= 0 && es > 0 ? malloc((size_t)n * es + 1) : NULL;
    if (!buf) {
        snprintf(v->why, v->cap, "dataset %s: damaged header (size %lld x %zu)", name, (long long)n, es);
        v->bad = 1;
    } else {
        hid_t mt = H5Dget_type(ds);
        if (H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
            snprintf(v->why, v->cap, "dataset %s fails its checksum or cannot be read", name);
            v->bad = 1;
        }
        H5Tclose(mt);
    }
    free(buf);
    H5Dclose(ds);
    return v->bad ? 1 : 0;
}

static int verify_locked(const char *path, char *why, size_t cap) {
    if (!atas_ckpt_marker_ok_req(path, 1, why, cap)) return 0;
    hid_t f;
    if (atas_h5_open_ro(path, &f) != ATAS_OK) {
        snprintf(why, cap, "%s", atas_error_message());
        atas_error_clear();
        return 0;
    }
    char fmt[64] = "";
    long long ver = 0;
    int ok = atas_h5_attr_read_str(f, "format", fmt, sizeof fmt, path) == ATAS_OK && !strcmp(fmt, ATAS_CKPT_FORMAT);
    if (!ok) snprintf(why, cap, "not an atas checkpoint");
    else if (atas_h5_attr_read_int(f, "format_version", &ver, path) != ATAS_OK) {
        snprintf(why, cap, "attribute format_version missing or damaged");
        ok = 0;
    }
    if (ok) {
        visit_ctx v = {path, ver >= 2, why, cap, 0};
        if (H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_NATIVE, visit_cb, &v, H5O_INFO_BASIC) < 0 && !v.bad) {
            snprintf(why, cap, "its object tree cannot be walked (damaged header)");
            v.bad = 1;
        }
        ok = !v.bad;
    }
    H5Fclose(f);
    atas_error_clear();
    return ok;
}

/* HDF5 is not thread-safe: the loader's I/O thread may be reading the corpus (the lock is recursive) */
int atas_ckpt_verify(const char *path, char *why, size_t cap) {
    atas_h5_lock();
    int r = verify_locked(path, why, cap);
    atas_h5_unlock();
    return r;
}
