/* Zero-shot segmentation data for the picture (tools/plot_segmentation.py):
 * every token of the dense map labelled by its nearest class embedding, and the
 * ground-truth label of the pixel at the token's centre where masks are given. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atas/h5util.h"
#include "atas/loader.h"
#include "eval_internal.h"

static atas_status write_u8(hid_t f, const char *name, const uint8_t *d, int nd, const hsize_t *dims,
                            const char *path) {
    hid_t sp = H5Screate_simple(nd, dims, NULL);
    hid_t ds = H5Dcreate2(f, name, H5T_NATIVE_UINT8, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = ds >= 0 ? H5Dwrite(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, d) : -1;
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(sp);
    if (e < 0) return ATAS_ERR(ATAS_ERR_IO, "%s: cannot write dataset /%s", path, name);
    return ATAS_OK;
}

/* the ground-truth row of the pixel at each token's centre; -1: void, padding, or a
 * segment outside the evaluated regions */
static void gt_tokens(const atas_eval_image *im, const unsigned *ids, const worker_dense *d, int G, int patch,
                      int *gt) {
    for (int p = 0; p < G * G; p++) gt[p] = -1;
    if (!ids) return;
    for (int ty = 0; ty < G; ty++)
        for (int tx = 0; tx < G; tx++) {
            const double px = (tx + 0.5) * patch, py = (ty + 0.5) * patch;
            if (px >= d->nw || py >= d->nh) continue;
            const int ox = ATAS_MIN(im->w - 1, (int)(px / d->scale)), oy = ATAS_MIN(im->h - 1, (int)(py / d->scale));
            const unsigned id = ids[(size_t)oy * im->w + ox];
            for (int k = 0; k < im->nreg; k++)
                if (im->reg[k].seg_id == id) { gt[ty * G + tx] = im->reg[k].label; break; }
        }
}

atas_status atas_eval_segment(const atas_eval_config *e, const atas_eval_set *set, const atas_classemb *ce,
                              const atas_vit *m, int n, const char *out, const char *label) {
    ATAS_REQUIRE(out && out[0], "eval: no output for the segmentation data");
    n = ATAS_MIN(n, set->nimages);
    ATAS_REQUIRE(n > 0, "%s: no image for the segmentation picture", set->json);
    ATAS_REQUIRE(m->cfg.embed == ce->E, "eval: the model's embedding width %d differs from the class embeddings' %d",
            m->cfg.embed, ce->E);
    atas_eval_config e1 = *e;
    e1.crops = 0;
    worker *w = NULL;
    uint8_t *img = NULL;
    int *pred = NULL, *gt = NULL, *valid = NULL, *iid = NULL;
    unsigned *ids = NULL;
    char *names = NULL, tmp[4200];
    hid_t f = -1;
    atas_status st = atas_eval_worker_create(&w, m, &e1, set);
    const int S = w ? atas_eval_worker_size(w) : 0, G = w ? atas_eval_worker_grid(w) : 0, patch = m->cfg.patch;
    const size_t SS = (size_t)S * S, GG = (size_t)G * G;
    if (st == ATAS_OK) st = atas_host_alloc((void **)&img, (size_t)n * SS * 3, "segmentation images");
    if (st == ATAS_OK) st = atas_host_alloc((void **)&pred, (size_t)n * GG * sizeof(int), "segmentation labels");
    if (st == ATAS_OK) st = atas_host_alloc((void **)&gt, (size_t)n * GG * sizeof(int), "segmentation labels");
    if (st == ATAS_OK) st = atas_host_calloc((void **)&valid, (size_t)n * 2 * sizeof(int), "segmentation sizes");
    if (st == ATAS_OK) st = atas_host_calloc((void **)&iid, (size_t)n * sizeof(int), "segmentation ids");
    for (int i = 0; i < n && st == ATAS_OK; i++) {
        const atas_eval_image *im = &set->im[i];
        worker_dense d = {.w = w};
        st = atas_eval_dense(&d, im);
        if (st != ATAS_OK) break;
        const float *x = atas_eval_worker_input(w);
        for (size_t p = 0; p < SS; p++)
            for (int c = 0; c < 3; c++) {
                const double v = (x[c * SS + p] * atas_clip_std[c] + atas_clip_mean[c]) * 255.0;
                img[(size_t)i * SS * 3 + 3 * p + c] = (uint8_t)fmin(255, fmax(0, lround(v)));
            }
        for (size_t p = 0; p < GG; p++) {
            int top[5];
            atas_eval_top5(d.dense + p * ce->E, ce->emb, ce->K, ce->E, top);
            pred[(size_t)i * GG + p] = top[0];
        }
        if (im->mask_file) st = atas_eval_read_segments(im->mask_file, im->w, im->h, &ids);
        if (st != ATAS_OK) break;
        gt_tokens(im, ids, &d, G, patch, gt + (size_t)i * GG);
        atas_host_free(ids);
        ids = NULL;
        valid[2 * i] = (d.nh + patch - 1) / patch;
        valid[2 * i + 1] = (d.nw + patch - 1) / patch;
        iid[i] = (int)im->id;
    }
    size_t len = 1;
    for (int k = 0; k < ce->K; k++) len += strlen(ce->names[k]) + 1;
    if (st == ATAS_OK && !(names = calloc(len, 1))) st = ATAS_ERR(ATAS_ERR_NOMEM, "class names");
    for (int k = 0; k < ce->K && st == ATAS_OK; k++) {
        strcat(names, ce->names[k]);
        if (k + 1 < ce->K) strcat(names, "\n");
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    if (st == ATAS_OK) {
        atas_h5_lock();
        st = atas_h5_create(tmp, &f);
        const hsize_t di[4] = {(hsize_t)n, (hsize_t)S, (hsize_t)S, 3};
        const size_t dl[3] = {(size_t)n, (size_t)G, (size_t)G}, dv[2] = {(size_t)n, 2}, dn[1] = {(size_t)n},
                     dc[1] = {(size_t)ce->K};
        if (st == ATAS_OK) st = write_u8(f, "image", img, 4, di, tmp);
        if (st == ATAS_OK) st = atas_h5_write_i32(f, "pred", pred, 3, dl);
        if (st == ATAS_OK) st = atas_h5_write_i32(f, "gt", gt, 3, dl);
        if (st == ATAS_OK) st = atas_h5_write_i32(f, "valid", valid, 2, dv);
        if (st == ATAS_OK) st = atas_h5_write_i32(f, "image_ids", iid, 1, dn);
        if (st == ATAS_OK) st = atas_h5_write_i32(f, "isthing", ce->isthing, 1, dc);
        if (st == ATAS_OK) st = atas_h5_attr_write_str(f, "format", "atas-segmentation");
        if (st == ATAS_OK) st = atas_h5_attr_write_int(f, "version", 1);
        if (st == ATAS_OK) st = atas_h5_attr_write_str(f, "label", label ? label : "");
        if (st == ATAS_OK) st = atas_h5_attr_write_str(f, "class_names", names);
        if (st == ATAS_OK) st = atas_h5_attr_write_int(f, "patch", patch);
        if (st == ATAS_OK) st = atas_h5_attr_write_int(f, "has_gt", set->panoptic);
        if (f >= 0) {
            atas_status cs = atas_h5_close(f, tmp);
            if (st == ATAS_OK) st = cs;
        }
        if (st == ATAS_OK && rename(tmp, out) != 0) st = ATAS_ERR(ATAS_ERR_IO, "%s: cannot rename to %s", tmp, out);
        if (st != ATAS_OK) remove(tmp);
        atas_h5_unlock();
    }
    atas_eval_worker_destroy(w);
    atas_host_free(img);
    atas_host_free(pred);
    atas_host_free(gt);
    atas_host_free(valid);
    atas_host_free(iid);
    atas_host_free(ids);
    free(names);
    return st;
}
