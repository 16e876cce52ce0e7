/* Temporary-then-rename HDF5 files that survive full disks (include/data/atas/h5file.h). */
#define _GNU_SOURCE
#include "atas/h5file.h"
#include "atas/h5util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static mode_t umask_mode(void) {
    mode_t u = umask(0);
    umask(u);
    return 0666 & ~u;
}

atas_status atas_tmp_name(const char *final_path, char *tmp, size_t cap) {
    const char *slash = strrchr(final_path, '/');
    int dlen = slash ? (int)(slash - final_path) + 1 : 0;
    const char *base = slash ? slash + 1 : final_path;
    int n = snprintf(tmp, cap, "%.*s.%s.XXXXXX", dlen, final_path, base);
    if (n < 0 || (size_t)n >= cap) return ATAS_ERR(ATAS_ERR_INVALID, "%s: path too long", final_path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return ATAS_ERR(ATAS_ERR_IO, "%s: cannot create a temporary file beside it: %s", final_path,
                        strerror(errno));
    fchmod(fd, umask_mode()); /* like other tools: 0666 & ~umask (mkstemp makes 0600) */
    close(fd);
    return ATAS_OK;
}

static char g_reason[256];

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data) {
    (void)n;
    (void)data;
    const char *p = e->desc ? strstr(e->desc, "errno = ") : NULL;
    if (p && !g_reason[0]) {
        int en = atoi(p + 8);
        if (en > 0) snprintf(g_reason, sizeof g_reason, "%s", strerror(en));
    }
    return 0;
}

const char *atas_h5_sys_reason(void) {
    g_reason[0] = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, NULL);
    return g_reason;
}

atas_status atas_fsync_path(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ATAS_ERR(ATAS_ERR_IO, "%s: cannot open for fsync: %s", path, strerror(errno));
    int e = fsync(fd);
    int en = errno;
    close(fd);
    if (e != 0) return ATAS_ERR(ATAS_ERR_IO, "%s: fsync failed: %s", path, strerror(en));
    return ATAS_OK;
}

atas_status atas_commit_tmp(const char *tmp, const char *final_path) {
    atas_status s = atas_fsync_path(tmp);
    if (s == ATAS_OK && rename(tmp, final_path) != 0)
        s = ATAS_ERR(ATAS_ERR_IO, "cannot rename %s -> %s: %s", tmp, final_path, strerror(errno));
    if (s != ATAS_OK) {
        unlink(tmp);
        return s;
    }
    char dir[4200];
    const char *slash = strrchr(final_path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - final_path) : 1, slash ? final_path : ".");
    if (!dir[0]) snprintf(dir, sizeof dir, "/");
    ATAS_CHECK(atas_fsync_path(dir));
    return ATAS_OK;
}

atas_status atas_h5_create_mem(const char *name, size_t expected_bytes, hid_t *f) {
    atas_h5_quiet();
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    size_t inc = expected_bytes + (expected_bytes >> 4) + (1u << 20);
    H5Pset_fapl_core(fapl, inc, 0);
    *f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (*f < 0) return ATAS_ERR(ATAS_ERR_NOMEM, "%s: cannot create the file in memory", name);
    return ATAS_OK;
}

static atas_status write_all(int fd, const char *path, const unsigned char *p, size_t len) {
    while (len) {
        size_t chunk = len > (1u << 30) ? (1u << 30) : len;
        ssize_t w = write(fd, p, chunk);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return ATAS_ERR(ATAS_ERR_IO, "%s: write failed: %s", path, w < 0 ? strerror(errno) : "no progress");
        p += w;
        len -= (size_t)w;
    }
    return ATAS_OK;
}

atas_status atas_h5_commit_mem(hid_t f, const char *final_path, atas_status prior, long long *size,
                               unsigned long *crc) {
    unsigned char *img = NULL;
    ssize_t n = -1;
    if (prior == ATAS_OK && H5Fflush(f, H5F_SCOPE_LOCAL) >= 0) n = H5Fget_file_image(f, NULL, 0);
    if (n > 0) img = malloc((size_t)n);
    if (img && H5Fget_file_image(f, img, (size_t)n) != n) { free(img); img = NULL; }
    H5Fclose(f); /* in memory: nothing to fail on */
    if (prior != ATAS_OK) return prior;
    if (!img) return ATAS_ERR(ATAS_ERR_NOMEM, "%s: cannot take the file image (%zd bytes) from memory", final_path, n);
    char tmp[4200];
    atas_status s = atas_tmp_name(final_path, tmp, sizeof tmp);
    if (s != ATAS_OK) { free(img); return s; }
    int fd = open(tmp, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) s = ATAS_ERR(ATAS_ERR_IO, "%s: cannot open the temporary: %s", tmp, strerror(errno));
    if (s == ATAS_OK) s = write_all(fd, tmp, img, (size_t)n);
    if (s == ATAS_OK && fsync(fd) != 0) s = ATAS_ERR(ATAS_ERR_IO, "%s: fsync failed: %s", tmp, strerror(errno));
    if (fd >= 0 && close(fd) != 0 && s == ATAS_OK)
        s = ATAS_ERR(ATAS_ERR_IO, "%s: close failed: %s", tmp, strerror(errno));
    if (s == ATAS_OK && crc) {
        uLong c = crc32(0L, Z_NULL, 0);
        for (size_t o = 0; o < (size_t)n; o += (1u << 30)) {
            size_t k = (size_t)n - o < (1u << 30) ? (size_t)n - o : (1u << 30);
            c = crc32(c, img + o, (uInt)k);
        }
        *crc = c;
    }
    if (size) *size = n;
    free(img);
    if (s != ATAS_OK) { unlink(tmp); return s; }
    ATAS_CHECK(atas_commit_tmp(tmp, final_path));
    return ATAS_OK;
}
