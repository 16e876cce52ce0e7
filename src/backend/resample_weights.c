/* 1-D resampling weights, exactly as torch.nn.functional.interpolate computes
 * them with align_corners=False and no antialias:
 *   src = (dst + 0.5) * in/out - 0.5
 *   bicubic (a = -0.75): taps floor(src)-1 .. floor(src)+2, clamped to the edge,
 *                        src is NOT clamped below 0;
 *   bilinear: src clamped to >= 0, taps i0 and min(i0+1, in-1). */
#include <math.h>

#include "atas/backend.h"

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
