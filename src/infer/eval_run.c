/* The region-classification run: each rank takes a contiguous slice of the
 * images, one image per round; after every round the ranks agree on success
 * (one bad image stops all of them), and at the end the per-class counts are
 * summed through the comm layer before the means. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "atas/corpus.h"
#include "atas/eval.h"
#include "atas/loader.h"
#include "eval_internal.h"

/* every rank passes its status; all return failure when any rank failed */
static atas_status agree(atas_comm *comm, atas_status st, double *done) {
    double v[2] = {st != ATAS_OK, done ? *done : 0};
    if (comm && comm->world > 1) {
        const char *old = comm->phase;
        comm->phase = "eval";
        atas_status cs = atas_comm_allreduce_sum_f64(comm, v, 2);
        comm->phase = old;
        if (cs != ATAS_OK) return cs;
    }
    if (done) *done = v[1];
    if (st != ATAS_OK) return st;
    if (v[0] > 0) return ATAS_ERR_PEER(ATAS_ERR_INTERRUPTED, "eval: stopped because another rank failed");
    return ATAS_OK;
}

atas_status atas_eval_image_prepare(const atas_eval_image *im, int S, float *orig, float *img, double *scale,
                                    int *nw, int *nh) {
    atas_image dec = {0};
    char why[256] = "";
    if (atas_image_decode(im->file, ATAS_ALPHA_OVER_WHITE, &dec, why, sizeof why) != ATAS_OK) {
        atas_error_clear();
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: cannot read the image (image id %lld): %s", im->file, im->id, why);
    }
    atas_status st = ATAS_OK;
    if (dec.w != im->w || dec.h != im->h)
        st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: the image is %dx%d, the JSON says %dx%d (image id %lld)", im->file,
                      dec.w, dec.h, im->w, im->h, im->id);
    const size_t hw = (size_t)im->w * im->h;
    if (st == ATAS_OK)
        for (size_t p = 0; p < hw; p++)
            for (int c = 0; c < 3; c++) orig[c * hw + p] = dec.rgb[3 * p + c];
    atas_image_free(&dec);
    ATAS_CHECK(st);
    /* CLIPSelf's ResizeLongest: sizes rounded half to even (Python's round), Pillow BICUBIC,
     * black padding at the bottom/right, then CLIP normalisation; boxes scale by the
     * smaller of the two realised factors */
    const double sl = (double)S / ATAS_MAX(im->w, im->h);
    *nw = ATAS_MAX(1, (int)nearbyint(im->w * sl));
    *nh = ATAS_MAX(1, (int)nearbyint(im->h * sl));
    *scale = fmin((double)*nw / im->w, (double)*nh / im->h);
    float *tmp = NULL;
    ATAS_CHECK(atas_host_alloc((void **)&tmp, (size_t)3 * *nw * *nh * sizeof(float), "eval resize"));
    st = atas_resize_f32_rect(tmp, *nw, *nh, orig, 3, im->w, im->h, 0, 0, im->w, im->h, 1);
    const size_t SS = (size_t)S * S;
    for (int c = 0; c < 3 && st == ATAS_OK; c++) {
        const float m = atas_clip_mean[c], is = 1.0f / atas_clip_std[c];
        float *ic = img + c * SS;
        for (size_t p = 0; p < SS; p++) ic[p] = (0.0f - m) * is;
        for (int y = 0; y < *nh; y++)
            for (int x = 0; x < *nw; x++) {
                const float v = fminf(255.0f, fmaxf(0.0f, tmp[((size_t)c * *nh + y) * *nw + x])); /* 8-bit range */
                ic[(size_t)y * S + x] = (v / 255.0f - m) * is;
            }
    }
    atas_host_free(tmp);
    return st;
}

/* The crop baseline as CLIPSelf cuts it: a thing's box enlarged 1.5x about its centre
 * (clipped), a stuff segment's mask box as is; PIL's crop (box rounded half to even),
 * then the CLIP preprocessing: short side to R (Pillow BICUBIC, the long side
 * truncated), centre crop R x R. tmp: 3 * im->w * im->h floats. */
static atas_status crop_input(const float *orig, const atas_eval_image *im, const atas_eval_region *r, int R,
                              float *out, float *tmp) {
    double x0 = r->x, y0 = r->y, x1 = r->x + r->w, y1 = r->y + r->h;
    if (r->isthing) {
        const double cx = r->x + r->w / 2, cy = r->y + r->h / 2, hw = 0.75 * r->w, hh = 0.75 * r->h;
        x0 = fmax(0, cx - hw), y0 = fmax(0, cy - hh), x1 = fmin(im->w, cx + hw), y1 = fmin(im->h, cy + hh);
    }
    const int ix0 = (int)nearbyint(x0), iy0 = (int)nearbyint(y0);
    const int cw = ATAS_MAX(1, (int)nearbyint(x1) - ix0), ch = ATAS_MAX(1, (int)nearbyint(y1) - iy0);
    const size_t hw = (size_t)im->w * im->h;
    for (int c = 0; c < 3; c++) /* the crop itself (pixels past the image: 0, as PIL pads) */
        for (int y = 0; y < ch; y++)
            for (int x = 0; x < cw; x++) {
                const int sx = ix0 + x, sy = iy0 + y;
                tmp[((size_t)c * ch + y) * cw + x] =
                    sx < im->w && sy < im->h ? orig[c * hw + (size_t)sy * im->w + sx] : 0.0f;
            }
    int nw = R, nh = R;
    if (cw <= ch) nh = (int)((long long)R * ch / cw);
    else nw = (int)((long long)R * cw / ch);
    float *rs = NULL;
    ATAS_CHECK(atas_host_alloc((void **)&rs, (size_t)3 * nw * nh * sizeof(float), "eval crop"));
    atas_status st = atas_resize_f32_rect(rs, nw, nh, tmp, 3, cw, ch, 0, 0, cw, ch, 1);
    const int top = (int)nearbyint((nh - R) / 2.0), left = (int)nearbyint((nw - R) / 2.0);
    const size_t RR = (size_t)R * R;
    for (int c = 0; c < 3 && st == ATAS_OK; c++) {
        const float m = atas_clip_mean[c], is = 1.0f / atas_clip_std[c];
        for (int y = 0; y < R; y++)
            for (int x = 0; x < R; x++) {
                const float v = fminf(255.0f, fmaxf(0.0f, rs[((size_t)c * nh + top + y) * nw + left + x]));
                out[c * RR + (size_t)y * R + x] = (v / 255.0f - m) * is;
            }
    }
    atas_host_free(rs);
    return st;
}

struct eval_worker {
    const atas_vit *m;
    atas_vit_pass *pass, *cpass;
    int S, G, R, CB, E;
    float *orig, *ctmp, *img, *dimg, *dense, *feat, *crops, *dcrops, *glob;
    unsigned char *tmask;
    int ncrop, crop_label[64];
};

static atas_status crops_flush(worker *w, const atas_classemb *ce, atas_eval_acc *acc) {
    if (w->ncrop == 0) return ATAS_OK;
    const size_t in = (size_t)3 * w->R * w->R;
    if (w->ncrop < w->CB) memset(w->crops + w->ncrop * in, 0, (size_t)(w->CB - w->ncrop) * in * sizeof(float));
    ATAS_CHECK(w->m->be->upload(w->m->be, w->dcrops, w->crops, (size_t)w->CB * in * sizeof(float)));
    ATAS_CHECK(atas_vit_forward(w->cpass, w->m, w->dcrops));
    ATAS_CHECK(w->m->be->download(w->m->be, w->glob, atas_vit_global(w->cpass), (size_t)w->ncrop * w->E * sizeof(float)));
    atas_l2_normalize_rows(w->glob, (size_t)w->ncrop, w->E);
    for (int k = 0; k < w->ncrop; k++) {
        int top[5];
        atas_eval_top5(w->glob + (size_t)k * w->E, ce->emb, ce->K, ce->E, top);
        atas_eval_acc_add(acc, ATAS_EVAL_CROPS, w->crop_label[k], top);
    }
    w->ncrop = 0;
    return ATAS_OK;
}

atas_status atas_eval_dense(worker_dense *d, const atas_eval_image *im) {
    worker *w = d->w;
    ATAS_CHECK(atas_eval_image_prepare(im, w->S, w->orig, w->img, &d->scale, &d->nw, &d->nh));
    ATAS_CHECK(w->m->be->upload(w->m->be, w->dimg, w->img, (size_t)3 * w->S * w->S * sizeof(float)));
    ATAS_CHECK(atas_vit_forward(w->pass, w->m, w->dimg));
    ATAS_CHECK(w->m->be->download(w->m->be, w->dense, atas_vit_dense(w->pass), (size_t)w->G * w->G * w->E * sizeof(float)));
    atas_l2_normalize_rows(w->dense, (size_t)w->G * w->G, w->E);
    d->dense = w->dense;
    return ATAS_OK;
}

static atas_status eval_image(worker *w, const atas_eval_config *e, const atas_eval_image *im,
                              const atas_classemb *ce, atas_eval_acc *acc, long long skipped[2]) {
    if (im->nreg == 0) return ATAS_OK;
    worker_dense d = {.w = w};
    ATAS_CHECK(atas_eval_dense(&d, im));
    unsigned *ids = NULL;
    if (im->mask_file) ATAS_CHECK(atas_eval_read_segments(im->mask_file, im->w, im->h, &ids));
    atas_status st = ATAS_OK;
    const int patch = w->m->cfg.patch, E = w->E;
    for (int k = 0; k < im->nreg && st == ATAS_OK; k++) {
        atas_eval_region r = im->reg[k];
        if (ids && !r.isthing) { /* stuff: the tight box of its mask */
            double b[4];
            if (!atas_eval_mask_box(ids, im->w, im->h, r.seg_id, b)) {
                st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: segment %u (of image id %lld in the JSON) has no pixel",
                              im->mask_file, r.seg_id, im->id);
                break;
            }
            r.x = b[0]; r.y = b[1]; r.w = b[2]; r.h = b[3];
            if (r.w * r.h < ATAS_EVAL_MIN_BOX_AREA) { skipped[0]++; continue; }
            if (r.w * r.h > ATAS_EVAL_MAX_BOX_AREA) { skipped[1]++; continue; }
        }
        int top[5];
        atas_roi_align_1x1(w->dense, w->G, w->G, E, d.scale / patch, r.x, r.y, r.x + r.w, r.y + r.h, w->feat);
        atas_l2_normalize_rows(w->feat, 1, E);
        atas_eval_top5(w->feat, ce->emb, ce->K, ce->E, top);
        atas_eval_acc_add(acc, ATAS_EVAL_ROIS, r.label, top);
        if (ids) {
            st = atas_eval_token_mask(ids, im->w, im->h, r.seg_id, w->G, w->tmask);
            if (st != ATAS_OK) break;
            if (atas_mask_pool(w->dense, w->G, w->G, E, w->tmask, w->feat) > 0) {
                atas_l2_normalize_rows(w->feat, 1, E);
                atas_eval_top5(w->feat, ce->emb, ce->K, ce->E, top);
            } else {
                for (int j = 0; j < 5; j++) top[j] = -1; /* no token: counted as wrong */
            }
            atas_eval_acc_add(acc, ATAS_EVAL_MASKPOOL, r.label, top);
        }
        if (e->crops) {
            st = crop_input(w->orig, im, &r, w->R, w->crops + (size_t)w->ncrop * 3 * w->R * w->R, w->ctmp);
            if (st != ATAS_OK) break;
            w->crop_label[w->ncrop++] = r.label;
            if (w->ncrop == w->CB) st = crops_flush(w, ce, acc);
        }
    }
    if (st == ATAS_OK) st = crops_flush(w, ce, acc);
    atas_host_free(ids);
    return st;
}

atas_status atas_eval_worker_create(worker **out, const atas_vit *m, const atas_eval_config *e,
                                    const atas_eval_set *set) {
    worker *w = calloc(1, sizeof *w);
    if (!w) return ATAS_ERR(ATAS_ERR_NOMEM, "eval worker");
    *out = w;
    const atas_vit_config *c = &m->cfg;
    w->m = m;
    w->S = e->size > 0 ? e->size : 64 * c->patch;
    w->R = c->grid * c->patch;
    w->CB = e->crop_batch > 0 ? ATAS_MIN(e->crop_batch, 64) : 16;
    w->E = c->embed;
    if (w->S % c->patch) return ATAS_ERR(ATAS_ERR_INVALID, "eval size (--size, eval.size) %d: not a multiple of the patch %d", w->S, c->patch);
    ATAS_CHECK(atas_vit_check_resolution(c, w->S, w->S, "eval size (--size, eval.size)"));
    w->G = w->S / c->patch;
    int maxw = 1, maxh = 1;
    for (int i = 0; set && i < set->nimages; i++) {
        maxw = ATAS_MAX(maxw, set->im[i].w);
        maxh = ATAS_MAX(maxh, set->im[i].h);
    }
    const size_t SS = (size_t)w->S * w->S, GG = (size_t)w->G * w->G;
    ATAS_CHECK(atas_vit_pass_create(&w->pass, m, 1, w->S, w->S, ATAS_OUT_DENSE, 0));
    ATAS_CHECK(atas_host_alloc((void **)&w->orig, (size_t)3 * maxw * maxh * sizeof(float), "eval image"));
    if (e->crops) ATAS_CHECK(atas_host_alloc((void **)&w->ctmp, (size_t)3 * maxw * maxh * sizeof(float), "eval crop"));
    ATAS_CHECK(atas_host_alloc((void **)&w->img, 3 * SS * sizeof(float), "eval input"));
    ATAS_CHECK(m->be->alloc(m->be, (void **)&w->dimg, 3 * SS * sizeof(float), "eval input"));
    ATAS_CHECK(atas_host_alloc((void **)&w->dense, GG * w->E * sizeof(float), "eval dense"));
    ATAS_CHECK(atas_host_alloc((void **)&w->feat, (size_t)w->E * sizeof(float), "eval feature"));
    ATAS_CHECK(atas_host_alloc((void **)&w->tmask, GG, "eval token mask"));
    if (e->crops) {
        const size_t in = (size_t)3 * w->R * w->R * w->CB;
        ATAS_CHECK(atas_vit_pass_create(&w->cpass, m, w->CB, w->R, w->R, ATAS_OUT_GLOBAL, 0));
        ATAS_CHECK(atas_host_alloc((void **)&w->crops, in * sizeof(float), "eval crops"));
        ATAS_CHECK(m->be->alloc(m->be, (void **)&w->dcrops, in * sizeof(float), "eval crops"));
        ATAS_CHECK(atas_host_alloc((void **)&w->glob, (size_t)w->CB * w->E * sizeof(float), "eval crop embeddings"));
    }
    return ATAS_OK;
}

void atas_eval_worker_destroy(worker *w) {
    if (!w) return;
    atas_vit_pass_destroy(w->pass);
    atas_vit_pass_destroy(w->cpass);
    if (w->dimg) w->m->be->free(w->m->be, w->dimg);
    if (w->dcrops) w->m->be->free(w->m->be, w->dcrops);
    float *h[] = {w->orig, w->ctmp, w->img, w->dense, w->feat, w->crops, w->glob};
    for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) atas_host_free(h[i]);
    atas_host_free(w->tmask);
    free(w);
}

int atas_eval_worker_grid(const worker *w) { return w->G; }
int atas_eval_worker_size(const worker *w) { return w->S; }
const float *atas_eval_worker_input(const worker *w) { return w->img; }

atas_status atas_eval_run(const atas_eval_config *e, const atas_eval_set *set, const atas_classemb *ce,
                          const atas_vit *m, atas_comm *comm, atas_eval_result *res) {
    const double t0 = atas_now();
    const int rank = comm ? comm->rank : 0, world = comm ? comm->world : 1;
    memset(res, 0, sizeof *res);
    worker *w = NULL;
    atas_eval_acc acc = {0};
    atas_status st = ATAS_OK;
    if (m->cfg.embed != ce->E)
        st = ATAS_ERR(ATAS_ERR_INVALID, "eval: the model's embedding width %d differs from the class embeddings' %d",
                      m->cfg.embed, ce->E);
    if (st == ATAS_OK) st = atas_eval_worker_create(&w, m, e, set);
    if (st == ATAS_OK) st = atas_eval_acc_init(&acc, ce->K);
    ATAS_CHECK_GOTO(st, agree(comm, st, NULL), done);

    const int N = set->nimages;
    const int lo = (int)((long long)N * rank / world), hi = (int)((long long)N * (rank + 1) / world);
    const int rounds = (N + world - 1) / world;
    long long skipped[2] = {0, 0};
    double last = atas_now();
    for (int r = 0; r < rounds; r++) {
        const int i = lo + r;
        if (i < hi) st = eval_image(w, e, &set->im[i], ce, &acc, skipped);
        double done_all = st == ATAS_OK ? ATAS_MIN(r + 1, hi - lo) : 0;
        ATAS_CHECK_GOTO(st, agree(comm, st, &done_all), done);
        const double now = atas_now();
        if (e->progress && rank == 0 && (now - last > 2.0 || r + 1 == rounds)) {
            const double rate = done_all / fmax(now - t0, 1e-9);
            atas_info("eval: %.0f/%d images, %.2f images/s, ETA %.0f s", done_all, N, rate,
                      rate > 0 ? (N - done_all) / rate : 0.0);
            last = now;
        }
    }
    ATAS_CHECK_GOTO(st, atas_eval_acc_gather(&acc, comm), done);
    atas_eval_acc_result(&acc, ce->isthing, res);
    res->have[ATAS_EVAL_ROIS] = 1;
    res->have[ATAS_EVAL_MASKPOOL] = set->panoptic;
    res->have[ATAS_EVAL_CROPS] = e->crops != 0;
    res->images = N;
    res->size = w->S;
    res->grid = w->G;
    if (res->regions[ATAS_EVAL_ROIS][0] + res->regions[ATAS_EVAL_ROIS][1] == 0)
        st = ATAS_ERR(ATAS_ERR_INVALID, "%s: no region left to evaluate in %d image(s) (after the box-area "
                      "limits %g..%g px^2)", set->json, N, ATAS_EVAL_MIN_BOX_AREA, ATAS_EVAL_MAX_BOX_AREA);
    res->seconds = atas_now() - t0;
done:
    atas_eval_worker_destroy(w);
    atas_eval_acc_free(&acc);
    return st;
}
