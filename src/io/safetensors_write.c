/* safetensors writer and the atomic file write it stands on: a temporary name
 * in the target directory, fsync, rename; on error the temporary is removed. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atas/safetensors.h"

typedef struct {
    char *tmp;
    int fd;
} tmpfile_t;

static atas_status tmp_open(tmpfile_t *f, const char *path) {
    size_t n = strlen(path);
    f->fd = -1;
    f->tmp = malloc(n + 16);
    if (!f->tmp) return ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", path);
    snprintf(f->tmp, n + 16, "%s.tmp-XXXXXX", path);
    f->fd = mkstemp(f->tmp);
    if (f->fd < 0) {
        atas_status s = ATAS_ERR(ATAS_ERR_IO, "%s: cannot create a temporary file beside it: %s",
                                 path, strerror(errno));
        free(f->tmp);
        f->tmp = NULL;
        return s;
    }
    mode_t um = umask(0); /* final mode from the umask, like other tools (mkstemp makes 0600) */
    umask(um);
    fchmod(f->fd, 0666 & ~um);
    return ATAS_OK;
}

static atas_status tmp_write(tmpfile_t *f, const char *path, const void *p, size_t len) {
    const char *c = p;
    while (len) {
        size_t chunk = len > (1u << 30) ? (1u << 30) : len;
        ssize_t w = write(f->fd, c, chunk);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return ATAS_ERR(ATAS_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        c += w;
        len -= (size_t)w;
    }
    return ATAS_OK;
}

static atas_status tmp_commit(tmpfile_t *f, const char *path) {
    if (fsync(f->fd) != 0) return ATAS_ERR(ATAS_ERR_IO, "%s: fsync failed: %s", path, strerror(errno));
    int fd = f->fd;
    f->fd = -1;
    if (close(fd) != 0) return ATAS_ERR(ATAS_ERR_IO, "%s: close failed: %s", path, strerror(errno));
    if (rename(f->tmp, path) != 0)
        return ATAS_ERR(ATAS_ERR_IO, "%s: rename from %s failed: %s", path, f->tmp, strerror(errno));
    free(f->tmp);
    f->tmp = NULL;
    return ATAS_OK;
}

/* Drop an uncommitted temporary (no-op after a commit). */
static void tmp_abort(tmpfile_t *f) {
    if (f->fd >= 0) close(f->fd);
    if (f->tmp) unlink(f->tmp);
    free(f->tmp);
    f->tmp = NULL;
    f->fd = -1;
}

atas_status atas_write_file_atomic(const char *path, const void *data, size_t len) {
    tmpfile_t f;
    ATAS_CHECK(tmp_open(&f, path));
    atas_status s;
    ATAS_CHECK_GOTO(s, tmp_write(&f, path, data, len), fail);
    ATAS_CHECK_GOTO(s, tmp_commit(&f, path), fail);
    return ATAS_OK;
fail:
    tmp_abort(&f);
    return s;
}

static const atas_st_entry *g_sort_base;
static int cmp_entry(const void *a, const void *b) {
    const atas_st_entry *x = &g_sort_base[*(const int *)a], *y = &g_sort_base[*(const int *)b];
    int sx = atas_dtype_size(x->dtype), sy = atas_dtype_size(y->dtype);
    if (sx != sy) return sx > sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

static size_t entry_bytes(const atas_st_entry *e) {
    size_t n = (size_t)atas_dtype_size(e->dtype);
    for (int i = 0; i < e->ndim; i++) n *= (size_t)e->shape[i];
    return n;
}

atas_status atas_st_write(const char *path, const atas_st_entry *e, int n) {
    return atas_st_write_meta(path, e, n, NULL, NULL, 0);
}

atas_status atas_st_write_meta(const char *path, const atas_st_entry *e, int n, const char *const *keys,
                               const char *const *vals, int nmeta) {
    atas_status s = ATAS_OK;
    int *ord = malloc(sizeof *ord * (size_t)(n > 0 ? n : 1));
    json_t *root = json_object(), *meta = json_object();
    char *hdr = NULL;
    tmpfile_t f = {NULL, -1};
    if (!ord || !root || !meta) { s = ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", path); goto done; }
    json_object_set_new(meta, "format", json_string("pt"));
    for (int i = 0; i < nmeta; i++) /* "format" stays "pt": transformers refuses anything else */
        if (keys[i] && vals[i] && strcmp(keys[i], "format") != 0)
            json_object_set_new(meta, keys[i], json_string(vals[i]));
    json_object_set_new(root, "__metadata__", meta);
    meta = NULL;
    for (int i = 0; i < n; i++) {
        ord[i] = i;
        if ((unsigned)e[i].dtype >= ATAS_DT_COUNT || e[i].ndim < 0 || e[i].ndim > ATAS_ST_MAXDIM ||
            !e[i].name || !*e[i].name || strcmp(e[i].name, "__metadata__") == 0) {
            s = ATAS_ERR(ATAS_ERR_INVALID, "%s: tensor %d ('%s'): bad name, dtype or rank", path, i,
                         e[i].name ? e[i].name : "(null)");
            goto done;
        }
    }
    g_sort_base = e; /* the writer runs on one thread (rank 0) */
    qsort(ord, (size_t)n, sizeof *ord, cmp_entry);
    size_t off = 0;
    for (int k = 0; k < n; k++) {
        const atas_st_entry *x = &e[ord[k]];
        if (json_object_get(root, x->name)) {
            s = ATAS_ERR(ATAS_ERR_INVALID, "%s: tensor '%s' given twice", path, x->name);
            goto done;
        }
        json_t *shape = json_array(), *t = json_object();
        for (int d = 0; d < x->ndim; d++) json_array_append_new(shape, json_integer(x->shape[d]));
        size_t nb = entry_bytes(x);
        json_object_set_new(t, "dtype", json_string(atas_dtype_name(x->dtype)));
        json_object_set_new(t, "shape", shape);
        json_object_set_new(t, "data_offsets",
                            json_pack("[II]", (json_int_t)off, (json_int_t)(off + nb)));
        if (json_object_set_new(root, x->name, t) != 0) {
            s = ATAS_ERR(ATAS_ERR_INVALID, "%s: tensor name '%s' is not valid UTF-8", path, x->name);
            goto done;
        }
        off += nb;
    }
    hdr = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!hdr) { s = ATAS_ERR(ATAS_ERR_NOMEM, "%s: cannot serialise the header", path); goto done; }
    size_t hlen = strlen(hdr), padded = (hlen + 7) & ~(size_t)7;
    char *h2 = realloc(hdr, padded + 1);
    if (!h2) { s = ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", path); goto done; }
    hdr = h2;
    memset(hdr + hlen, ' ', padded - hlen);
    uint64_t N = padded;
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(N >> (8 * i));
    ATAS_CHECK_GOTO(s, tmp_open(&f, path), done);
    ATAS_CHECK_GOTO(s, tmp_write(&f, path, le, 8), done);
    ATAS_CHECK_GOTO(s, tmp_write(&f, path, hdr, padded), done);
    for (int k = 0; k < n; k++) {
        const atas_st_entry *x = &e[ord[k]];
        size_t nb = entry_bytes(x);
        if (nb && !x->data) {
            s = ATAS_ERR(ATAS_ERR_INVALID, "%s: tensor '%s' has no data", path, x->name);
            goto done;
        }
        if (nb) ATAS_CHECK_GOTO(s, tmp_write(&f, path, x->data, nb), done);
    }
    ATAS_CHECK_GOTO(s, tmp_commit(&f, path), done);
done:
    tmp_abort(&f);
    json_decref(meta);
    json_decref(root);
    free(hdr);
    free(ord);
    return s;
}
