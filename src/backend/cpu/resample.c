/* Separable bicubic / bilinear resampling of a channels-last grid, torch
 * interpolate semantics (align_corners=False). The forward applies the 2-D
 * tensor product of the 1-D weights directly (at most 4x4 taps per output), so
 * no intermediate grid is needed; the backward scatters the same weights,
 * parallel over channel blocks so that no two threads touch one value. */
#include "backend/cpu/cpu_internal.h"
#include "backend/resample_plan.h"

size_t atas_cpu_resample_plan_bytes(const atas_backend *be, int ih, int iw, int oh, int ow) {
    return atas_resample_plan_size(ih, iw, oh, ow);
}

atas_status atas_cpu_resample_plan(const atas_backend *be, void *plan, int ih, int iw, int oh, int ow,
                                   atas_resample kind) {
    atas_resample_plan_fill(plan, ih, iw, oh, ow, kind);
    return ATAS_OK;
}

/* the call's tables: the caller's plan (checked against the call's shape), else one
 * built now into *own (freed by the caller) */
static atas_status tables(const char *op, const void *plan, int ih, int iw, int oh, int ow, atas_resample kind,
                          void **own, atas_resample_tabs *t) {
    *own = NULL;
    if (plan) {
        const atas_resample_plan_head *h = (const atas_resample_plan_head *)plan;
        ATAS_REQUIRE(h->magic == ATAS_RESAMPLE_PLAN_MAGIC && h->ih == ih && h->iw == iw && h->oh == oh &&
                         h->ow == ow && h->kind == (int)kind,
                     "%s: the plan is for in %dx%d out %dx%d kind %d, the call for in %dx%d out %dx%d kind %d", op,
                     h->ih, h->iw, h->oh, h->ow, h->kind, ih, iw, oh, ow, (int)kind);
    } else {
        ATAS_CHECK(atas_host_alloc(own, atas_resample_plan_size(ih, iw, oh, ow), "resample tables"));
        atas_resample_plan_fill(*own, ih, iw, oh, ow, kind);
        plan = *own;
    }
    atas_resample_plan_view(plan, ih, iw, oh, ow, t);
    return ATAS_OK;
}

atas_status atas_cpu_resample_fwd(const atas_backend *be, float *out, const float *in, int ih, int iw, int oh, int ow,
                                  int C, atas_resample kind, const void *plan) {
    void *own;
    atas_resample_tabs t;
    ATAS_CHECK(tables("resample_fwd", plan, ih, iw, oh, ow, kind, &own, &t));
    const int *ty = t.ty, *tx = t.tx;
    const float *wy = t.wy, *wx = t.wx;
    const int ntap = kind == ATAS_RESAMPLE_BICUBIC ? 4 : 2;
#pragma omp parallel for schedule(static) if ((size_t)oh * ow * C * ntap * ntap > ATAS_CPU_PAR_MIN)
    for (int oy = 0; oy < oh; oy++) {
        for (int ox = 0; ox < ow; ox++) {
            float *o = out + ((size_t)oy * ow + ox) * C;
            for (int c = 0; c < C; c++) o[c] = 0.0f;
            for (int ky = 0; ky < ntap; ky++) {
                const float *row = in + (size_t)ty[4 * oy + ky] * iw * C;
                for (int kx = 0; kx < ntap; kx++) {
                    const float w = wy[4 * oy + ky] * wx[4 * ox + kx];
                    const float *src = row + (size_t)tx[4 * ox + kx] * C;
                    for (int c = 0; c < C; c++) o[c] += w * src[c];
                }
            }
        }
    }
    atas_host_free(own);
    return ATAS_OK;
}

atas_status atas_cpu_resample_bwd(const atas_backend *be, float *din, const float *dout, int ih, int iw, int oh, int ow,
                                  int C, atas_resample kind, const void *plan) {
    void *own;
    atas_resample_tabs t;
    ATAS_CHECK(tables("resample_bwd", plan, ih, iw, oh, ow, kind, &own, &t));
    const int *ty = t.ty, *tx = t.tx;
    const float *wy = t.wy, *wx = t.wx;
    const int ntap = kind == ATAS_RESAMPLE_BICUBIC ? 4 : 2;
    const int CB = 32;
    const int nblk = (C + CB - 1) / CB;
#pragma omp parallel for schedule(static) if (nblk > 1 && (size_t)oh * ow * C * ntap * ntap > ATAS_CPU_PAR_MIN)
    for (int blk = 0; blk < nblk; blk++) {
        const int c0 = blk * CB, c1 = ATAS_MIN(C, c0 + CB);
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                const float *g = dout + ((size_t)oy * ow + ox) * C;
                for (int ky = 0; ky < ntap; ky++) {
                    float *row = din + (size_t)ty[4 * oy + ky] * iw * C;
                    for (int kx = 0; kx < ntap; kx++) {
                        const float w = wy[4 * oy + ky] * wx[4 * ox + kx];
                        float *dst = row + (size_t)tx[4 * ox + kx] * C;
                        for (int c = c0; c < c1; c++) dst[c] += w * g[c];
                    }
                }
            }
        }
    }
    atas_host_free(own);
    return ATAS_OK;
}
