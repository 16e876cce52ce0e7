/* Opening safetensors models: one file, a sharded model through its index
 * (model.safetensors.index.json), or a directory holding either. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atas/safetensors.h"
#include "atas/fileio.h"

typedef struct {
    char *path;
    unsigned char *map;
    size_t size;
    atas_st_tensor *t;
    int n;
} st_file;

struct atas_st {
    char *path;
    int nfiles;
    st_file *files;
    int n;
    atas_st_tensor **t;      /* every tensor, file order */
    struct named { const atas_st_tensor *t; int idx; } *byname; /* sorted by name */
};

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const struct named *)a)->t->name, ((const struct named *)b)->t->name);
}

static atas_status map_file(st_file *f) {
    ATAS_CHECK(atas_require_regular_file(f->path, "weights file")); /* a FIFO would block the open */
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ATAS_ERR(ATAS_ERR_IO, "%s: cannot open: %s", f->path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return ATAS_ERR(ATAS_ERR_IO, "%s: not a regular file", f->path);
    }
    f->size = (size_t)sb.st_size;
    if (f->size < 8) {
        close(fd);
        return ATAS_ERR(ATAS_ERR_FORMAT,
                        "%s: truncated: %zu bytes, shorter than the 8-byte header length", f->path,
                        f->size);
    }
    void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return ATAS_ERR(ATAS_ERR_IO, "%s: mmap failed: %s", f->path, strerror(errno));
    f->map = m;
    ATAS_CHECK(atas_st_parse(f->map, f->size, f->path, &f->t, &f->n));
    return ATAS_OK;
}

void atas_st_close(atas_st *st) {
    if (!st) return;
    for (int i = 0; i < st->nfiles; i++) {
        atas_st_tensors_free(st->files[i].t, st->files[i].n);
        if (st->files[i].map) munmap(st->files[i].map, st->files[i].size);
        free(st->files[i].path);
    }
    free(st->files);
    free(st->t);
    free(st->byname);
    free(st->path);
    free(st);
}

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}
static int exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}
static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

/* The shard list of an index: distinct files in first-seen order. */
static atas_status open_index(atas_st *st, const char *index) {
    json_error_t jerr;
    ATAS_CHECK(atas_require_regular_file(index, "weights index"));
    json_t *root = json_load_file(index, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: invalid JSON at line %d: %s", index, jerr.line,
                        jerr.text);
    atas_status s = ATAS_OK;
    char *dir = strdup(index);
    json_t *wm = json_object_get(root, "weight_map");
    if (!dir) { s = ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", index); goto done; }
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0; else strcpy(dir, ".");
    if (!json_is_object(wm) || json_object_size(wm) == 0) {
        s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: \"weight_map\" missing or not a non-empty object", index);
        goto done;
    }
    st->files = calloc(json_object_size(wm), sizeof *st->files);
    if (!st->files) { s = ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", index); goto done; }
    const char *key;
    json_t *v;
    json_object_foreach(wm, key, v) {
        const char *fn = json_string_value(v);
        if (!fn || !*fn || strchr(fn, '/') || strcmp(fn, "..") == 0) {
            s = ATAS_ERR(ATAS_ERR_FORMAT,
                         "%s: weight_map[\"%s\"] must be a file name in the index's directory",
                         index, key);
            goto done;
        }
        int found = 0;
        for (int i = 0; i < st->nfiles && !found; i++)
            found = strcmp(strrchr(st->files[i].path, '/') + 1, fn) == 0;
        if (found) continue;
        st_file *f = &st->files[st->nfiles];
        f->path = join(dir, fn);
        if (!f->path) { s = ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", index); goto done; }
        st->nfiles++;
        ATAS_CHECK_GOTO(s, map_file(f), done);
    }
    /* every listed tensor is in the file it names, and every shard tensor is listed there */
    for (int i = 0; i < st->nfiles; i++) {
        const char *base = strrchr(st->files[i].path, '/') + 1;
        for (int k = 0; k < st->files[i].n; k++) {
            const char *nm = st->files[i].t[k].name;
            json_t *w = json_object_get(wm, nm);
            if (!w || strcmp(json_string_value(w), base) != 0) {
                s = ATAS_ERR(ATAS_ERR_FORMAT,
                             "%s: tensor '%s' is stored in %s but weight_map lists it %s%s", index,
                             nm, st->files[i].path, w ? "in " : "nowhere",
                             w ? json_string_value(w) : "");
                goto done;
            }
        }
    }
    json_object_foreach(wm, key, v) {
        int found = 0;
        for (int i = 0; i < st->nfiles && !found; i++)
            for (int k = 0; k < st->files[i].n && !found; k++)
                found = strcmp(st->files[i].t[k].name, key) == 0;
        if (!found) {
            s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: tensor '%s' is missing from shard %s", index, key,
                         json_string_value(v));
            goto done;
        }
    }
done:
    free(dir);
    json_decref(root);
    return s;
}

atas_status atas_st_open(atas_st **out, const char *path) {
    *out = NULL;
    atas_st *st = calloc(1, sizeof *st);
    if (!st) return ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", path);
    atas_status s = ATAS_OK;
    char *cand = NULL;
    if (is_dir(path)) {
        static const char *names[] = {"model.safetensors.index.json", "model.safetensors",
                                      "open_clip_model.safetensors"};
        for (int i = 0; i < 3 && !st->path; i++) {
            cand = join(path, names[i]);
            if (cand && exists(cand)) { st->path = cand; cand = NULL; }
            free(cand);
            cand = NULL;
        }
        if (!st->path) {
            s = ATAS_ERR(ATAS_ERR_IO,
                         "%s: directory holds none of model.safetensors.index.json, "
                         "model.safetensors, open_clip_model.safetensors", path);
            goto fail;
        }
    } else {
        st->path = strdup(path);
    }
    if (!st->path) { s = ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", path); goto fail; }
    if (ends_with(st->path, ".json")) {
        ATAS_CHECK_GOTO(s, open_index(st, st->path), fail);
    } else {
        st->files = calloc(1, sizeof *st->files);
        if (!st->files) { s = ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", path); goto fail; }
        st->files[0].path = strdup(st->path);
        st->nfiles = 1;
        if (!st->files[0].path) { s = ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", path); goto fail; }
        ATAS_CHECK_GOTO(s, map_file(&st->files[0]), fail);
    }
    for (int i = 0; i < st->nfiles; i++) st->n += st->files[i].n;
    st->t = calloc((size_t)st->n + 1, sizeof *st->t);
    st->byname = calloc((size_t)st->n + 1, sizeof *st->byname);
    if (!st->t || !st->byname) { s = ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", path); goto fail; }
    int k = 0;
    for (int i = 0; i < st->nfiles; i++)
        for (int j = 0; j < st->files[i].n; j++) st->t[k++] = &st->files[i].t[j];
    for (int i = 0; i < st->n; i++) st->byname[i] = (struct named){st->t[i], i};
    qsort(st->byname, (size_t)st->n, sizeof *st->byname, cmp_name);
    for (int i = 1; i < st->n; i++)
        if (strcmp(st->byname[i].t->name, st->byname[i - 1].t->name) == 0) {
            s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: tensor '%s' appears in both %s and %s", st->path,
                         st->byname[i].t->name, st->byname[i - 1].t->file, st->byname[i].t->file);
            goto fail;
        }
    *out = st;
    return ATAS_OK;
fail:
    atas_st_close(st);
    return s;
}

int atas_st_count(const atas_st *st) { return st->n; }
const atas_st_tensor *atas_st_get(const atas_st *st, int i) { return st->t[i]; }
const char *atas_st_path(const atas_st *st) { return st->path; }

int atas_st_find(const atas_st *st, const char *name) {
    int lo = 0, hi = st->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(st->byname[mid].t->name, name);
        if (c == 0) return st->byname[mid].idx;
        if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}
