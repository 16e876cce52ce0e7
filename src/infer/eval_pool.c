/* Region features and the metric: RoIAlign 1x1 (torchvision semantics),
 * mask pooling, top-5 classification and mean per-class accuracy. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "atas/corpus.h"
#include "atas/eval.h"

const char *const atas_eval_method_names[ATAS_EVAL_NMETHODS] = {"rois", "maskpool", "crops"};

/* torchvision's bilinear_interpolate: 0 outside [-1, H] x [-1, W], clamped at the border */
static void bilinear_add(const float *map, int H, int W, int C, double y, double x, double *acc) {
    if (y < -1.0 || y > H || x < -1.0 || x > W) return;
    if (y <= 0) y = 0;
    if (x <= 0) x = 0;
    int y0 = (int)y, x0 = (int)x, y1, x1;
    if (y0 >= H - 1) { y1 = y0 = H - 1; y = y0; } else y1 = y0 + 1;
    if (x0 >= W - 1) { x1 = x0 = W - 1; x = x0; } else x1 = x0 + 1;
    const double ly = y - y0, lx = x - x0, hy = 1 - ly, hx = 1 - lx;
    const double w00 = hy * hx, w01 = hy * lx, w10 = ly * hx, w11 = ly * lx;
    const float *p00 = map + ((size_t)y0 * W + x0) * C, *p01 = map + ((size_t)y0 * W + x1) * C;
    const float *p10 = map + ((size_t)y1 * W + x0) * C, *p11 = map + ((size_t)y1 * W + x1) * C;
    for (int c = 0; c < C; c++) acc[c] += w00 * p00[c] + w01 * p01[c] + w10 * p10[c] + w11 * p11[c];
}

void atas_roi_align_1x1(const float *map, int H, int W, int C, double scale, double x0, double y0,
                        double x1, double y1, float *out) {
    /* aligned=True: pixel centres shift by half a pixel; no minimum roi size */
    const double sx = x0 * scale - 0.5, sy = y0 * scale - 0.5;
    const double rw = x1 * scale - 0.5 - sx, rh = y1 * scale - 0.5 - sy;
    const int gh = (int)ceil(rh), gw = (int)ceil(rw); /* sampling_ratio -1, one output bin */
    const int count = ATAS_MAX(gh * gw, 1);
    double *acc = calloc((size_t)C, sizeof *acc);
    if (!acc) { memset(out, 0, (size_t)C * sizeof *out); return; }
    for (int iy = 0; iy < gh; iy++) {
        const double y = sy + (iy + 0.5) * rh / gh;
        for (int ix = 0; ix < gw; ix++) bilinear_add(map, H, W, C, y, sx + (ix + 0.5) * rw / gw, acc);
    }
    for (int c = 0; c < C; c++) out[c] = (float)(acc[c] / count);
    free(acc);
}

int atas_mask_pool(const float *map, int H, int W, int C, const unsigned char *mask, float *out) {
    double *acc = calloc((size_t)C, sizeof *acc);
    int n = 0;
    for (int p = 0; p < H * W; p++) {
        if (!mask[p]) continue;
        n++;
        if (acc)
            for (int c = 0; c < C; c++) acc[c] += map[(size_t)p * C + c];
    }
    for (int c = 0; c < C; c++) out[c] = acc && n ? (float)(acc[c] / n) : 0.0f;
    free(acc);
    return n;
}

/* torch's cubic convolution (a = -0.75), as upsample_bicubic2d uses it */
static double cubic1(double x, double a) { return ((a + 2) * x - (a + 3)) * x * x + 1; }
static double cubic2(double x, double a) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; }

static void cubic_taps(double real, int n, int idx[4], double w[4]) {
    const double a = -0.75;
    const int i0 = (int)floor(real);
    const double t = real - i0;
    w[0] = cubic2(t + 1, a);
    w[1] = cubic1(t, a);
    w[2] = cubic1(1 - t, a);
    w[3] = cubic2(2 - t, a);
    for (int k = 0; k < 4; k++) idx[k] = ATAS_MIN(ATAS_MAX(i0 - 1 + k, 0), n - 1);
}

/* CLIPSelf resizes the float mask tensor with torchvision's bicubic resize, which
 * on tensors is interpolate(mode="bicubic", align_corners=False) without
 * antialiasing: every output samples the 4x4 pixels around its centre. */
atas_status atas_eval_token_mask(const unsigned *ids, int iw, int ih, unsigned id, int G,
                                 unsigned char *mask) {
    const int L = ATAS_MAX(iw, ih);
    const double s = (double)G / L;
    const int mw = ATAS_MAX(1, (int)nearbyint(iw * s)), mh = ATAS_MAX(1, (int)nearbyint(ih * s));
    memset(mask, 0, (size_t)G * G);
    for (int y = 0; y < mh && y < G; y++) {
        int iy[4];
        double wy[4];
        cubic_taps((y + 0.5) * ih / mh - 0.5, ih, iy, wy);
        for (int x = 0; x < mw && x < G; x++) {
            int ix[4];
            double wx[4], v = 0;
            cubic_taps((x + 0.5) * iw / mw - 0.5, iw, ix, wx);
            for (int ky = 0; ky < 4; ky++) {
                double r = 0;
                for (int kx = 0; kx < 4; kx++) r += wx[kx] * (ids[(size_t)iy[ky] * iw + ix[kx]] == id);
                v += wy[ky] * r;
            }
            mask[y * G + x] = v > 0;
        }
    }
    return ATAS_OK;
}

void atas_l2_normalize_rows(float *x, size_t rows, int C) {
    for (size_t r = 0; r < rows; r++) {
        float *v = x + r * (size_t)C;
        double s = 0;
        for (int k = 0; k < C; k++) s += (double)v[k] * v[k];
        const float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
        for (int k = 0; k < C; k++) v[k] *= inv;
    }
}

/* ties go to the lower row, as a stable descending sort would order them */
void atas_eval_top5(const float *f, const float *cls, int K, int E, int top[5]) {
    double best[5];
    for (int j = 0; j < 5; j++) { top[j] = -1; best[j] = -INFINITY; }
    for (int k = 0; k < K; k++) {
        double s = 0;
        const float *c = cls + (size_t)k * E;
        for (int e = 0; e < E; e++) s += (double)f[e] * c[e];
        int j = 5;
        while (j > 0 && (top[j - 1] < 0 || s > best[j - 1])) j--;
        if (j == 5) continue;
        for (int q = 4; q > j; q--) { best[q] = best[q - 1]; top[q] = top[q - 1]; }
        best[j] = s;
        top[j] = k;
    }
}

atas_status atas_eval_acc_init(atas_eval_acc *a, int K) {
    memset(a, 0, sizeof *a);
    a->K = K;
    const size_t n = (size_t)ATAS_EVAL_NMETHODS * K;
    a->n = calloc(3 * n, sizeof(double));
    if (!a->n) return ATAS_ERR(ATAS_ERR_NOMEM, "eval: counts for %d classes", K);
    a->c1 = a->n + n;
    a->c5 = a->n + 2 * n;
    return ATAS_OK;
}

void atas_eval_acc_free(atas_eval_acc *a) {
    free(a->n);
    memset(a, 0, sizeof *a);
}

void atas_eval_acc_add(atas_eval_acc *a, int method, int label, const int top[5]) {
    const size_t i = (size_t)method * a->K + label;
    a->n[i] += 1;
    if (top[0] == label) a->c1[i] += 1;
    for (int j = 0; j < 5; j++)
        if (top[j] == label) { a->c5[i] += 1; break; }
}

atas_status atas_eval_acc_gather(atas_eval_acc *a, atas_comm *comm) {
    if (!comm || comm->world == 1) return ATAS_OK;
    const char *old = comm->phase;
    comm->phase = "eval gather";
    ATAS_CHECK(atas_comm_allreduce_sum_f64(comm, a->n, 3 * ATAS_EVAL_NMETHODS * a->K));
    comm->phase = old;
    return ATAS_OK;
}

void atas_eval_acc_result(const atas_eval_acc *a, const int *isthing, atas_eval_result *r) {
    for (int m = 0; m < ATAS_EVAL_NMETHODS; m++)
        for (int s = 0; s < 2; s++) {
            double sum1 = 0, sum5 = 0, regions = 0;
            int classes = 0;
            for (int k = 0; k < a->K; k++) {
                const size_t i = (size_t)m * a->K + k;
                if ((isthing[k] != 0) != (s == 0) || a->n[i] == 0) continue;
                classes++;
                regions += a->n[i];
                sum1 += a->c1[i] / a->n[i];
                sum5 += a->c5[i] / a->n[i];
            }
            r->classes[m][s] = classes;
            r->regions[m][s] = (long long)regions;
            r->macc[m][s][0] = classes ? 100.0 * sum1 / classes : NAN;
            r->macc[m][s][1] = classes ? 100.0 * sum5 / classes : NAN;
        }
}

void atas_eval_metric_name(int method, int stuff, int top5, char *buf, size_t n) {
    snprintf(buf, n, "%s.%s.macc%d", atas_eval_method_names[method], stuff ? "stuff" : "thing", top5 ? 5 : 1);
}
