/* Temporary-then-rename HDF5 files that survive full disks (include/atas/h5file.h). */
#define _GNU_SOURCE
#include "atas/h5file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

atas_status atas_h5_create_tmp(const char *final_path, char *tmp, size_t cap, hid_t fapl, hid_t *f) {
    *f = -1;
    CHECK(atas_tmp_name(final_path, tmp, cap));
    struct stat before, after;
    if (lstat(tmp, &before) != 0 || !S_ISREG(before.st_mode)) {
        unlink(tmp);
        return ATAS_ERR(ATAS_ERR_IO, "%s: temporary vanished or is not a regular file", tmp);
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    *f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (*f < 0) {
        const char *why = atas_h5_sys_reason();
        unlink(tmp);
        return ATAS_ERR(ATAS_ERR_IO, "%s: cannot create HDF5 file%s%s", tmp, why[0] ? ": " : "", why);
    }
    /* someone swapped the name for a link or another file between mkstemp and H5Fcreate */
    if (lstat(tmp, &after) != 0 || !S_ISREG(after.st_mode) || after.st_ino != before.st_ino ||
        after.st_dev != before.st_dev) {
        atas_h5_close_tmp(*f, tmp, ATAS_ERR(ATAS_ERR_IO, "%s: replaced while being created", tmp));
        *f = -1;
        return ATAS_ERR(ATAS_ERR_IO, "%s: temporary file was replaced while being created (refused)", tmp);
    }
    return ATAS_OK;
}

atas_status atas_h5_close_tmp(hid_t f, const char *tmp, atas_status prior) {
    char why[256] = "";
    int failed = prior != ATAS_OK;
    if (failed) snprintf(why, sizeof why, "%s", atas_error_message());
    if (f >= 0) {
        if (failed) { /* drop what is unwritten: emptying frees the blocks a retried flush needs */
            int fd = open(tmp, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
            if (fd >= 0) { if (ftruncate(fd, 0) != 0) { /* best effort */ } close(fd); }
        }
        if (H5Fclose(f) < 0) {
            const char *r = atas_h5_sys_reason();
            if (!failed) snprintf(why, sizeof why, "%s", r[0] ? r : "closing failed");
            failed = 1;
            /* HDF5 keeps a file whose close failed and crashes at exit trying again:
             * give its retry room, then close it for good now */
            int fd = open(tmp, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
            if (fd >= 0) { if (ftruncate(fd, 0) != 0) { /* best effort */ } close(fd); }
            if (H5Fclose(f) < 0) H5Eclear2(H5E_DEFAULT);
        }
    }
    if (!failed) return ATAS_OK;
    unlink(tmp);
    if (prior != ATAS_OK) return prior;
    return ATAS_ERR(ATAS_ERR_IO, "%s: write failed: %s", tmp, why);
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
    CHECK(atas_fsync_path(dir));
    return ATAS_OK;
}
