/* 1-D resampling weights, exactly as torch.nn.functional.interpolate computes
 * them with align_corners=False and no antialias:
 *   src = (dst + 0.5) * in/out - 0.5
 *   bicubic (a = -0.75): taps floor(src)-1 .. floor(src)+2, clamped to the edge,
 *                        src is NOT clamped below 0;
 *   bilinear: src clamped to >= 0, taps i0 and min(i0+1, in-1). */
#include <math.h>
#include <string.h>

#include "atas/backend.h"
#include "backend/resample_plan.h"

static float cubic_near(float x, float a) { return ((a + 2) * x - (a + 3)) * x * x + 1; } /* |x|<=1 */
static float cubic_far(float x, float a) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; } /* 1<|x|<2 */

void atas_resample_weights(int in, int out, atas_resample kind, int *taps, float *wts) {
    const float scale = (float)in / (float)out;
    for (int o = 0; o < out; o++) {
        float src = scale * ((float)o + 0.5f) - 0.5f;
        int *tp = taps + 4 * o;
        float *wp = wts + 4 * o;
        if (kind == ATAS_RESAMPLE_BICUBIC) {
            const float a = -0.75f;
            int i0 = (int)floorf(src);
            float t = src - (float)i0;
            wp[0] = cubic_far(t + 1, a);
            wp[1] = cubic_near(t, a);
            wp[2] = cubic_near(1 - t, a);
            wp[3] = cubic_far(2 - t, a);
            for (int k = 0; k < 4; k++) {
                int i = i0 - 1 + k;
                tp[k] = i < 0 ? 0 : (i > in - 1 ? in - 1 : i);
            }
        } else {
            if (src < 0) src = 0;
            int i0 = (int)src;
            if (i0 > in - 1) i0 = in - 1;
            float l1 = src - (float)i0;
            tp[0] = i0;
            tp[1] = i0 < in - 1 ? i0 + 1 : i0;
            wp[0] = 1 - l1;
            wp[1] = l1;
            tp[2] = tp[3] = i0;
            wp[2] = wp[3] = 0;
        }
    }
}

/* ---- plans (resample_plan.h) */
static size_t up16(size_t b) { return (b + 15) & ~(size_t)15; }

/* byte offsets of the arrays, in the order of atas_resample_tabs */
static void plan_offsets(int ih, int iw, int oh, int ow, size_t off[11]) {
    const size_t sz[10] = {4 * (size_t)oh, 4 * (size_t)ow, 4 * (size_t)oh, 4 * (size_t)ow, (size_t)ih + 1,
                           (size_t)iw + 1,  4 * (size_t)oh, 4 * (size_t)ow, 4 * (size_t)oh, 4 * (size_t)ow};
    off[0] = up16(sizeof(atas_resample_plan_head));
    for (int k = 0; k < 10; k++) off[k + 1] = off[k] + up16(sz[k] * 4);
}

size_t atas_resample_plan_size(int ih, int iw, int oh, int ow) {
    size_t off[11];
    plan_offsets(ih, iw, oh, ow, off);
    return off[10];
}

void atas_resample_plan_view(const void *plan, int ih, int iw, int oh, int ow, atas_resample_tabs *t) {
    size_t off[11];
    plan_offsets(ih, iw, oh, ow, off);
    const char *b = (const char *)plan;
    t->ty = (const int *)(b + off[0]);
    t->tx = (const int *)(b + off[1]);
    t->wy = (const float *)(b + off[2]);
    t->wx = (const float *)(b + off[3]);
    t->yoff = (const int *)(b + off[4]);
    t->xoff = (const int *)(b + off[5]);
    t->yo = (const int *)(b + off[6]);
    t->xo = (const int *)(b + off[7]);
    t->yw = (const float *)(b + off[8]);
    t->xw = (const float *)(b + off[9]);
}

/* CSR of the transposed 1-D map: for input i, the (output, weight) pairs that read it,
 * in output order */
static void invert(int in, int out, int ntap, const int *taps, const float *wts, int *off, int *oidx,
                   float *ow) {
    for (int i = 0; i <= in; i++) off[i] = 0;
    for (int o = 0; o < out; o++)
        for (int k = 0; k < ntap; k++) off[taps[4 * o + k] + 1]++;
    for (int i = 0; i < in; i++) off[i + 1] += off[i];
    for (int o = 0; o < out; o++) /* off[i] is input i's next free entry while filling */
        for (int k = 0; k < ntap; k++) {
            const int e = off[taps[4 * o + k]]++;
            oidx[e] = o;
            ow[e] = wts[4 * o + k];
        }
    for (int i = in; i > 0; i--) off[i] = off[i - 1]; /* back to the starts */
    off[0] = 0;
}

void atas_resample_plan_fill(void *plan, int ih, int iw, int oh, int ow, atas_resample kind) {
    memset(plan, 0, atas_resample_plan_size(ih, iw, oh, ow));
    atas_resample_plan_head *h = (atas_resample_plan_head *)plan;
    const int ntap = kind == ATAS_RESAMPLE_BICUBIC ? 4 : 2;
    *h = (atas_resample_plan_head){ATAS_RESAMPLE_PLAN_MAGIC, ih, iw, oh, ow, (int)kind, ntap, 0};
    atas_resample_tabs t;
    atas_resample_plan_view(plan, ih, iw, oh, ow, &t);
    int *ty = (int *)t.ty, *tx = (int *)t.tx;
    float *wy = (float *)t.wy, *wx = (float *)t.wx;
    atas_resample_weights(ih, oh, kind, ty, wy);
    atas_resample_weights(iw, ow, kind, tx, wx);
    invert(ih, oh, ntap, ty, wy, (int *)t.yoff, (int *)t.yo, (float *)t.yw);
    invert(iw, ow, ntap, tx, wx, (int *)t.xoff, (int *)t.xo, (float *)t.xw);
}
