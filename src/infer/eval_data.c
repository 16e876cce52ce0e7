/* COCO-format evaluation data: a panoptic or instances JSON (jansson) and the
 * panoptic PNGs. Every error names the file and the entry (annotations[i] ...). */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "atas/corpus.h"
#include "atas/eval.h"

typedef struct {
    long long id;
    int idx;
} id_idx;

static int cmp_id(const void *a, const void *b) {
    long long x = ((const id_idx *)a)->id, y = ((const id_idx *)b)->id;
    return x < y ? -1 : x > y;
}

static int find_id(const id_idx *t, int n, long long id) {
    id_idx key = {id, 0};
    const id_idx *r = bsearch(&key, t, (size_t)n, sizeof *t, cmp_id);
    return r ? r->idx : -1;
}

static atas_status get_int(json_t *o, const char *key, long long *v, const char *file, const char *where) {
    json_t *x = json_is_object(o) ? json_object_get(o, key) : NULL;
    if (!json_is_integer(x))
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: %s: \"%s\" is missing or not an integer", file, where, key);
    *v = json_integer_value(x);
    return ATAS_OK;
}

static atas_status get_str(json_t *o, const char *key, const char **v, const char *file, const char *where) {
    json_t *x = json_is_object(o) ? json_object_get(o, key) : NULL;
    if (!json_is_string(x) || !json_string_length(x))
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: %s: \"%s\" is missing or not a non-empty string", file, where, key);
    *v = json_string_value(x);
    return ATAS_OK;
}

static atas_status get_array(json_t *o, const char *key, json_t **v, const char *file) {
    *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    if (!json_is_array(*v))
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: \"%s\" is missing or not an array", file, key);
    return ATAS_OK;
}

/* bbox [x,y,w,h] inside the image (half a pixel of rounding allowed, then clipped) */
static atas_status get_box(json_t *o, const atas_eval_image *im, double b[4], const char *file,
                           const char *where) {
    json_t *x = json_object_get(o, "bbox");
    if (!json_is_array(x) || json_array_size(x) != 4)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: %s: \"bbox\" is missing or not [x, y, w, h]", file, where);
    for (int k = 0; k < 4; k++) {
        json_t *v = json_array_get(x, (size_t)k);
        if (!json_is_number(v) || !isfinite(json_number_value(v)))
            return ATAS_ERR(ATAS_ERR_FORMAT, "%s: %s: bbox[%d] is not a finite number", file, where, k);
        b[k] = json_number_value(v);
    }
    const double tol = 0.5;
    if (b[2] <= 0 || b[3] <= 0 || b[0] < -tol || b[1] < -tol || b[0] + b[2] > im->w + tol ||
        b[1] + b[3] > im->h + tol)
        return ATAS_ERR(ATAS_ERR_FORMAT,
                        "%s: %s: bbox [%g, %g, %g, %g] is empty or lies outside the image %s (%dx%d)",
                        file, where, b[0], b[1], b[2], b[3], im->file, im->w, im->h);
    double x0 = fmax(0, b[0]), y0 = fmax(0, b[1]);
    double x1 = fmin(im->w, b[0] + b[2]), y1 = fmin(im->h, b[1] + b[3]);
    b[0] = x0; b[1] = y0; b[2] = x1 - x0; b[3] = y1 - y0;
    return ATAS_OK;
}

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static atas_status add_region(atas_eval_set *s, atas_eval_image *im, const atas_eval_region *r, int *cap) {
    if (im->nreg == *cap) {
        *cap = *cap ? 2 * *cap : 8;
        atas_eval_region *p = realloc(im->reg, (size_t)*cap * sizeof *p);
        if (!p) return ATAS_ERR(ATAS_ERR_NOMEM, "eval regions");
        im->reg = p;
    }
    im->reg[im->nreg++] = *r;
    return ATAS_OK;
}

static int area_ok(atas_eval_set *s, double w, double h) {
    if (w * h < ATAS_EVAL_MIN_BOX_AREA) { s->skipped_small++; return 0; }
    if (w * h > ATAS_EVAL_MAX_BOX_AREA) { s->skipped_large++; return 0; }
    return 1;
}

static atas_status load(atas_eval_set *s, json_t *root, const char *file, const char *images_dir,
                        const char *masks_dir, const atas_classemb *ce, int max_images) {
    json_t *images, *anns, *cats;
    if (!json_is_object(root)) return ATAS_ERR(ATAS_ERR_FORMAT, "%s: the top level is not a JSON object", file);
    ATAS_CHECK(get_array(root, "images", &images, file));
    ATAS_CHECK(get_array(root, "annotations", &anns, file));
    ATAS_CHECK(get_array(root, "categories", &cats, file));
    const int ncat = (int)json_array_size(cats);
    if (ncat == 0) return ATAS_ERR(ATAS_ERR_FORMAT, "%s: \"categories\" is empty: no class to evaluate", file);
    if (json_array_size(images) == 0) return ATAS_ERR(ATAS_ERR_FORMAT, "%s: \"images\" is empty", file);
    json_t *a0 = json_array_get(anns, 0);
    s->panoptic = json_is_object(a0) && json_object_get(a0, "segments_info") != NULL;

    /* categories -> rows of the class embeddings */
    id_idx *ct = calloc((size_t)ncat, sizeof *ct);
    id_idx *it = NULL;
    if (!ct) return ATAS_ERR(ATAS_ERR_NOMEM, "eval categories");
    atas_status st = ATAS_OK;
    char where[256];
    for (int i = 0; i < ncat && st == ATAS_OK; i++) {
        json_t *c = json_array_get(cats, (size_t)i);
        long long id = 0;
        snprintf(where, sizeof where, "categories[%d]", i);
        if ((st = get_int(c, "id", &id, file, where)) != ATAS_OK) break;
        int row = -1;
        for (int k = 0; k < ce->K; k++)
            if (ce->category_id[k] == id) row = k;
        json_t *nm = json_object_get(c, "name");
        if (row < 0) {
            st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: %s (id %lld, \"%s\"): category id unknown to the class "
                          "embeddings (%d classes)", file, where, id, json_is_string(nm) ? json_string_value(nm) : "?",
                          ce->K);
            break;
        }
        json_t *th = json_object_get(c, "isthing");
        if (th && json_is_integer(th) && (json_integer_value(th) != 0) != (ce->isthing[row] != 0)) {
            st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: %s (id %lld): isthing %lld, the class embeddings say %d", file,
                          where, id, (long long)json_integer_value(th), ce->isthing[row]);
            break;
        }
        ct[i] = (id_idx){id, row};
    }
    if (st == ATAS_OK) qsort(ct, (size_t)ncat, sizeof *ct, cmp_id);

    /* images (the first max_images) */
    int nim = (int)json_array_size(images);
    if (max_images > 0 && nim > max_images) nim = max_images;
    if (st == ATAS_OK && !(s->im = calloc((size_t)nim, sizeof *s->im))) st = ATAS_ERR(ATAS_ERR_NOMEM, "eval images");
    const int nall = (int)json_array_size(images); /* ids of all images: annotations may name any */
    if (st == ATAS_OK && !(it = calloc((size_t)nall, sizeof *it))) st = ATAS_ERR(ATAS_ERR_NOMEM, "eval images");
    for (int i = 0; i < nim && st == ATAS_OK; i++) {
        json_t *o = json_array_get(images, (size_t)i);
        long long w = 0, h = 0;
        const char *fn = NULL;
        snprintf(where, sizeof where, "images[%d]", i);
        if ((st = get_int(o, "id", &s->im[i].id, file, where)) != ATAS_OK) break;
        if ((st = get_str(o, "file_name", &fn, file, where)) != ATAS_OK) break;
        if ((st = get_int(o, "width", &w, file, where)) != ATAS_OK) break;
        if ((st = get_int(o, "height", &h, file, where)) != ATAS_OK) break;
        if (w <= 0 || h <= 0 || w > 65535 || h > 65535) {
            st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: %s: width %lld x height %lld out of range", file, where, w, h);
            break;
        }
        s->im[i].w = (int)w;
        s->im[i].h = (int)h;
        if (!(s->im[i].file = join(images_dir, fn))) st = ATAS_ERR(ATAS_ERR_NOMEM, "eval names");
        it[i] = (id_idx){s->im[i].id, i};
        s->nimages = i + 1;
    }
    for (int j = nim; j < nall && st == ATAS_OK; j++) {
        snprintf(where, sizeof where, "images[%d]", j);
        st = get_int(json_array_get(images, (size_t)j), "id", &it[j].id, file, where);
        it[j].idx = j;
    }
    if (st == ATAS_OK) qsort(it, (size_t)nall, sizeof *it, cmp_id);
    for (int i = 1; i < nall && st == ATAS_OK; i++)
        if (it[i].id == it[i - 1].id)
            st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: images[%d] and images[%d] share the id %lld", file, it[i - 1].idx,
                          it[i].idx, it[i].id);

    /* annotations -> regions */
    /* cap: allocated regions; seen: segments of the JSON so far (the first 100 count, before the area limits) */
    int *cap = st == ATAS_OK ? calloc(2 * ((size_t)nim + 1), sizeof *cap) : NULL, *seen = cap ? cap + nim + 1 : NULL;
    if (st == ATAS_OK && !cap) st = ATAS_ERR(ATAS_ERR_NOMEM, "eval regions");
    const int nann = (int)json_array_size(anns);
    for (int a = 0; a < nann && st == ATAS_OK; a++) {
        json_t *o = json_array_get(anns, (size_t)a);
        long long iid = 0;
        snprintf(where, sizeof where, "annotations[%d]", a);
        if ((st = get_int(o, "image_id", &iid, file, where)) != ATAS_OK) break;
        const int i = find_id(it, nall, iid);
        if (i < 0) {
            st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: %s: image_id %lld is not among \"images\"", file, where, iid);
            break;
        }
        if (i >= nim) continue; /* beyond max_images */
        atas_eval_image *im = &s->im[i];
        if (s->panoptic) {
            json_t *segs;
            const char *png = NULL;
            if (!json_is_array(segs = json_object_get(o, "segments_info"))) {
                st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: %s: \"segments_info\" is missing or not an array (a panoptic "
                              "JSON, as annotations[0] says)", file, where);
                break;
            }
            if ((st = get_str(o, "file_name", &png, file, where)) != ATAS_OK) break;
            if (im->mask_file) {
                st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: %s: a second annotation for image_id %lld", file, where, iid);
                break;
            }
            if (!(im->mask_file = join(masks_dir, png))) { st = ATAS_ERR(ATAS_ERR_NOMEM, "eval names"); break; }
            for (size_t k = 0; k < json_array_size(segs) && st == ATAS_OK; k++) {
                json_t *g = json_array_get(segs, k);
                long long sid = 0, cid = 0;
                double b[4];
                snprintf(where, sizeof where, "annotations[%d] (image_id %lld) segments_info[%zu]", a, iid, k);
                if ((st = get_int(g, "id", &sid, file, where)) != ATAS_OK) break;
                if ((st = get_int(g, "category_id", &cid, file, where)) != ATAS_OK) break;
                if (sid <= 0 || sid >= (1LL << 24)) {
                    st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: %s: segment id %lld outside 1..2^24-1", file, where, sid);
                    break;
                }
                const int row = find_id(ct, ncat, cid);
                if (row < 0) {
                    st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: %s: category_id %lld is not among \"categories\"", file,
                                  where, cid);
                    break;
                }
                if ((st = get_box(g, im, b, file, where)) != ATAS_OK) break;
                atas_eval_region r = {b[0], b[1], b[2], b[3], row, ce->isthing[row] != 0, (unsigned)sid};
                /* a stuff box comes from its mask when the image is read; things filter now */
                if (seen[i]++ >= ATAS_EVAL_MAX_SEGMENTS) { s->skipped_over_max++; continue; }
                if (r.isthing && !area_ok(s, r.w, r.h)) continue;
                st = add_region(s, im, &r, &cap[i]);
            }
        } else {
            long long cid = 0;
            double b[4];
            if ((st = get_int(o, "category_id", &cid, file, where)) != ATAS_OK) break;
            const int row = find_id(ct, ncat, cid);
            if (row < 0) {
                st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: %s (image_id %lld): category_id %lld is not among \"categories\"",
                              file, where, iid, cid);
                break;
            }
            snprintf(where, sizeof where, "annotations[%d] (image_id %lld)", a, iid);
            if ((st = get_box(o, im, b, file, where)) != ATAS_OK) break;
            atas_eval_region r = {b[0], b[1], b[2], b[3], row, ce->isthing[row] != 0, 0};
            if (seen[i]++ >= ATAS_EVAL_MAX_SEGMENTS) { s->skipped_over_max++; continue; }
            if (!area_ok(s, r.w, r.h)) continue;
            st = add_region(s, im, &r, &cap[i]);
        }
    }
    free(cap);
    free(ct);
    free(it);
    return st;
}

atas_status atas_eval_set_load(atas_eval_set *s, const char *json, const char *images_dir,
                               const char *masks_dir, const atas_classemb *ce, int max_images) {
    memset(s, 0, sizeof *s);
    ATAS_REQUIRE(json && json[0], "eval: no annotation JSON given");
    ATAS_REQUIRE(images_dir && images_dir[0], "eval: no images folder given for %s", json);
    snprintf(s->json, sizeof s->json, "%s", json);
    json_error_t err;
    json_t *root = json_load_file(json, 0, &err);
    if (!root) {
        FILE *f = fopen(json, "r");
        if (!f) return ATAS_ERR(ATAS_ERR_IO, "%s: cannot open: %s", json, strerror(errno));
        fclose(f);
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s:%d:%d: not valid JSON: %s", json, err.line, err.column, err.text);
    }
    char def_masks[4096];
    if (!masks_dir || !masks_dir[0]) {
        snprintf(def_masks, sizeof def_masks, "%s", json);
        size_t n = strlen(def_masks);
        if (n > 5 && !strcmp(def_masks + n - 5, ".json")) def_masks[n - 5] = 0;
        masks_dir = def_masks;
    }
    atas_status st = load(s, root, json, images_dir, masks_dir, ce, max_images);
    json_decref(root);
    if (st != ATAS_OK) {
        atas_eval_set_free(s);
        return st;
    }
    return ATAS_OK;
}

void atas_eval_set_free(atas_eval_set *s) {
    for (int i = 0; s->im && i < s->nimages; i++) {
        free(s->im[i].file);
        free(s->im[i].mask_file);
        free(s->im[i].reg);
    }
    free(s->im);
    char keep[4096];
    memcpy(keep, s->json, sizeof keep);
    memset(s, 0, sizeof *s);
    memcpy(s->json, keep, sizeof keep);
}

atas_status atas_eval_read_segments(const char *png, int w, int h, unsigned **ids) {
    atas_image im = {0};
    char why[256] = "";
    *ids = NULL;
    if (atas_image_decode(png, ATAS_ALPHA_OVER_BLACK, &im, why, sizeof why) != ATAS_OK) {
        atas_error_clear();
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: cannot read the panoptic mask: %s", png, why);
    }
    atas_status st = ATAS_OK;
    if (im.w != w || im.h != h)
        st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: panoptic mask is %dx%d, the JSON says the image is %dx%d", png, im.w,
                      im.h, w, h);
    if (st == ATAS_OK) st = atas_host_alloc((void **)ids, (size_t)w * h * sizeof(unsigned), "panoptic ids");
    if (st == ATAS_OK)
        for (size_t p = 0; p < (size_t)w * h; p++) {
            const uint8_t *c = im.rgb + 3 * p;
            (*ids)[p] = c[0] + 256u * c[1] + 65536u * c[2];
        }
    atas_image_free(&im);
    return st;
}

int atas_eval_mask_box(const unsigned *ids, int w, int h, unsigned id, double box[4]) {
    int x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (ids[(size_t)y * w + x] == id) {
                if (x < x0) x0 = x;
                if (x > x1) x1 = x;
                if (y < y0) y0 = y;
                if (y > y1) y1 = y;
            }
    if (x1 < 0) return 0;
    /* CLIPSelf's mask2box: (min, max) of the pixel indices, so w = max - min */
    box[0] = x0; box[1] = y0; box[2] = x1 - x0; box[3] = y1 - y0;
    return 1;
}
