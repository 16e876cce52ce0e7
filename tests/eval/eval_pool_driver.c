/* Test driver: the evaluation's pooling primitives on inputs from an HDF5 file,
 * results into another, for tests/eval/test_eval_pool.py (numpy reference).
 * IN:  /map [H,W,C], /boxes [n,4] (x0,y0,x1,y1), attr scale;
 *      /ids [ih,iw] i32, /seg [m] i32, /gmap [G,G,C];
 *      /img [3,h,w], /rbox [q,4], /rsize [q,3] (ow, oh, bicubic)
 * OUT: /roi [n,C], /tmask [m,G,G] i32, /mpool [m,C], /count [m] i32, /resized_<k> [3,oh,ow] */
#include <stdio.h>
#include <stdlib.h>

#include "atas/corpus.h"
#include "atas/eval.h"
#include "atas/h5util.h"

static atas_status read_all(hid_t f, const char *name, const char *path, float **d, int *nd, size_t *dims) {
    ATAS_CHECK(atas_h5_shape(f, name, nd, dims, path));
    size_t n = 1;
    for (int i = 0; i < *nd; i++) n *= dims[i];
    *d = malloc(n * sizeof(float));
    return atas_h5_read_f32(f, name, *d, n, path);
}

static atas_status run(const char *in, const char *out) {
    hid_t f, o;
    ATAS_CHECK(atas_h5_open_ro(in, &f));
    float *map, *boxes, *gmap, *img, *rbox, *rsize;
    int nd;
    size_t dm[8], db[8], dg[8], di[8], dr[8], ds[8], dids[8];
    ATAS_CHECK(read_all(f, "map", in, &map, &nd, dm));
    ATAS_CHECK(read_all(f, "boxes", in, &boxes, &nd, db));
    ATAS_CHECK(read_all(f, "gmap", in, &gmap, &nd, dg));
    ATAS_CHECK(read_all(f, "img", in, &img, &nd, di));
    ATAS_CHECK(read_all(f, "rbox", in, &rbox, &nd, dr));
    ATAS_CHECK(read_all(f, "rsize", in, &rsize, &nd, ds));
    ATAS_CHECK(atas_h5_shape(f, "ids", &nd, dids, in));
    int *ids32 = malloc(dids[0] * dids[1] * sizeof(int));
    ATAS_CHECK(atas_h5_read_i32(f, "ids", ids32, dids[0] * dids[1], in));
    size_t dseg[8];
    ATAS_CHECK(atas_h5_shape(f, "seg", &nd, dseg, in));
    int *seg = malloc(dseg[0] * sizeof(int));
    ATAS_CHECK(atas_h5_read_i32(f, "seg", seg, dseg[0], in));
    double scale;
    ATAS_CHECK(atas_h5_attr_read_double(f, "scale", &scale, in));
    H5Fclose(f);

    const int H = (int)dm[0], W = (int)dm[1], C = (int)dm[2], n = (int)db[0];
    float *roi = malloc((size_t)n * C * sizeof(float));
    for (int i = 0; i < n; i++)
        atas_roi_align_1x1(map, H, W, C, scale, boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3],
                           roi + (size_t)i * C);
    const int ih = (int)dids[0], iw = (int)dids[1], G = (int)dg[0], m = (int)dseg[0];
    unsigned *ids = malloc((size_t)ih * iw * sizeof(unsigned));
    for (size_t p = 0; p < (size_t)ih * iw; p++) ids[p] = (unsigned)ids32[p];
    int *tm = malloc((size_t)m * G * G * sizeof(int)), *cnt = malloc((size_t)m * sizeof(int));
    float *mp = malloc((size_t)m * C * sizeof(float));
    unsigned char *mask = malloc((size_t)G * G);
    for (int k = 0; k < m; k++) {
        ATAS_CHECK(atas_eval_token_mask(ids, iw, ih, (unsigned)seg[k], G, mask));
        for (int p = 0; p < G * G; p++) tm[(size_t)k * G * G + p] = mask[p];
        cnt[k] = atas_mask_pool(gmap, G, G, C, mask, mp + (size_t)k * C);
    }
    ATAS_CHECK(atas_h5_create(out, &o));
    size_t d2[2] = {(size_t)n, (size_t)C}, d3[3] = {(size_t)m, (size_t)G, (size_t)G}, d2m[2] = {(size_t)m, (size_t)C},
           d1[1] = {(size_t)m};
    ATAS_CHECK(atas_h5_write_f32(o, "roi", roi, 2, d2));
    ATAS_CHECK(atas_h5_write_i32(o, "tmask", tm, 3, d3));
    ATAS_CHECK(atas_h5_write_f32(o, "mpool", mp, 2, d2m));
    ATAS_CHECK(atas_h5_write_i32(o, "count", cnt, 1, d1));
    for (size_t q = 0; q < dr[0]; q++) {
        const int ow = (int)rsize[3 * q], oh = (int)rsize[3 * q + 1], bic = (int)rsize[3 * q + 2];
        float *r = malloc((size_t)3 * ow * oh * sizeof(float));
        ATAS_CHECK(atas_resize_f32_rect(r, ow, oh, img, 3, (int)di[2], (int)di[1], rbox[4 * q], rbox[4 * q + 1],
                                   rbox[4 * q + 2], rbox[4 * q + 3], bic));
        char name[32];
        snprintf(name, sizeof name, "resized_%zu", q);
        size_t d[3] = {3, (size_t)oh, (size_t)ow};
        ATAS_CHECK(atas_h5_write_f32(o, name, r, 3, d));
        free(r);
    }
    H5Fclose(o);
    (void)ds;
    return ATAS_OK;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: eval_pool_driver IN.h5 OUT.h5\n");
        return 2;
    }
    if (run(argv[1], argv[2]) != ATAS_OK) {
        atas_error_print(stderr);
        return 1;
    }
    return 0;
}
