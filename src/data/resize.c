/* Antialiased resize: Pillow's BILINEAR (triangle filter, support scaled by the
 * reduction factor), reproduced so that packer and loader output can be checked
 * bit-exactly against Pillow. Coefficients follow Pillow's precompute_coeffs. */
#include <math.h>
#include <string.h>

#include "atas/corpus.h"

#define PRECISION_BITS (32 - 8 - 2)

static double triangle(double x) {
    if (x < 0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Pillow's BICUBIC filter (a = -0.5, support 2) */
static double bicubic(double x) {
    const double a = -0.5;
    if (x < 0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

/* filter and its support (triangle 1, bicubic 2); kk [out*ksize], bounds [out*2] =
 * (xmin, count); coeffs_size returns ksize */
static int coeffs_size_f(int in_size, double in0, double in1, int out_size, double fsupport) {
    double scale = (in1 - in0) / out_size;
    double fs = scale < 1.0 ? 1.0 : scale;
    return (int)ceil(fsupport * fs) * 2 + 1;
    (void)in_size;
}

static int coeffs_size(int in_size, double in0, double in1, int out_size) {
    return coeffs_size_f(in_size, in0, in1, out_size, 1.0);
}

static void coeffs_f(int in_size, double in0, double in1, int out_size, int ksize, int *bounds, double *kk,
                     double (*filter)(double), double fsupport) {
    double scale = (in1 - in0) / out_size;
    double fs = scale < 1.0 ? 1.0 : scale;
    double support = fsupport * fs, ss = 1.0 / fs;
    for (int xx = 0; xx < out_size; xx++) {
        double center = in0 + (xx + 0.5) * scale, ww = 0.0;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double *k = kk + (size_t)xx * ksize;
        int x = 0;
        for (; x < xmax; x++) {
            double w = filter((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        for (; x < ksize; x++) k[x] = 0;
        bounds[2 * xx] = xmin;
        bounds[2 * xx + 1] = xmax;
    }
}

static void coeffs(int in_size, double in0, double in1, int out_size, int ksize, int *bounds,
                   double *kk) {
    coeffs_f(in_size, in0, in1, out_size, ksize, bounds, kk, triangle, 1.0);
}

static inline uint8_t clip8(int v) {
    if (v >= (1 << PRECISION_BITS << 8)) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> PRECISION_BITS);
}

static void to_fixed(const double *kk, int *ik, size_t n) {
    for (size_t i = 0; i < n; i++)
        ik[i] = kk[i] < 0 ? (int)(-0.5 + kk[i] * (1 << PRECISION_BITS))
                          : (int)(0.5 + kk[i] * (1 << PRECISION_BITS));
}

atas_status atas_resize_u8_box(uint8_t *out, int osz, const uint8_t *in, int iw, int ih, double x0,
                               double y0, double side) {
    ATAS_REQUIRE(osz > 0 && iw > 0 && ih > 0 && side > 0, "resize: bad sizes out %d in %dx%d side %g",
            osz, iw, ih, side);
    int kx = coeffs_size(iw, x0, x0 + side, osz), ky = coeffs_size(ih, y0, y0 + side, osz);
    void *mem = NULL;
    size_t nkx = (size_t)osz * kx, nky = (size_t)osz * ky;
    ATAS_CHECK(atas_host_alloc(&mem, (nkx + nky) * (sizeof(double) + sizeof(int)) +
                                    4 * osz * sizeof(int), "resize coefficients"));
    double *kkx = mem, *kky = kkx + nkx;
    int *ikx = (int *)(kky + nky), *iky = ikx + nkx, *bx = iky + nky, *by = bx + 2 * osz;
    coeffs(iw, x0, x0 + side, osz, kx, bx, kkx);
    coeffs(ih, y0, y0 + side, osz, ky, by, kky);
    to_fixed(kkx, ikx, nkx);
    to_fixed(kky, iky, nky);
    /* horizontal pass over the rows the vertical pass needs, 8-bit intermediate */
    int yfirst = by[0], ylast = by[2 * (osz - 1)] + by[2 * (osz - 1) + 1];
    int rows = ylast - yfirst;
    void *tmpm = NULL;
    atas_status st = atas_host_alloc(&tmpm, (size_t)rows * osz * 3, "resize rows");
    if (st != ATAS_OK) { atas_host_free(mem); ATAS_CHECK(st); }
    uint8_t *tmp = tmpm;
    for (int y = 0; y < rows; y++) {
        const uint8_t *src = in + (size_t)(y + yfirst) * iw * 3;
        for (int xx = 0; xx < osz; xx++) {
            int xmin = bx[2 * xx], xn = bx[2 * xx + 1];
            const int *k = ikx + (size_t)xx * kx;
            int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
            for (int x = 0; x < xn; x++) {
                const uint8_t *p = src + (size_t)(x + xmin) * 3;
                s0 += p[0] * k[x];
                s1 += p[1] * k[x];
                s2 += p[2] * k[x];
            }
            uint8_t *d = tmp + ((size_t)y * osz + xx) * 3;
            d[0] = clip8(s0); d[1] = clip8(s1); d[2] = clip8(s2);
        }
    }
    for (int yy = 0; yy < osz; yy++) {
        int ymin = by[2 * yy] - yfirst, yn = by[2 * yy + 1];
        const int *k = iky + (size_t)yy * ky;
        for (int xx = 0; xx < osz; xx++) {
            int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
            for (int y = 0; y < yn; y++) {
                const uint8_t *p = tmp + ((size_t)(y + ymin) * osz + xx) * 3;
                s0 += p[0] * k[y];
                s1 += p[1] * k[y];
                s2 += p[2] * k[y];
            }
            uint8_t *d = out + ((size_t)yy * osz + xx) * 3;
            d[0] = clip8(s0); d[1] = clip8(s1); d[2] = clip8(s2);
        }
    }
    atas_host_free(tmpm);
    atas_host_free(mem);
    return ATAS_OK;
}

atas_status atas_resize_f32_square(float *out, int osz, const uint8_t *in, int S, float *tmp) {
    ATAS_REQUIRE(osz > 0 && S > 0, "resize: bad sizes %d -> %d", S, osz);
    int k = coeffs_size(S, 0, S, osz);
    size_t nk = (size_t)osz * k;
    void *mem = NULL;
    ATAS_CHECK(atas_host_alloc(&mem, nk * sizeof(double) + 2 * osz * sizeof(int), "resize coefficients"));
    double *kk = mem;
    int *b = (int *)(kk + nk);
    coeffs(S, 0, S, osz, k, b, kk); /* square: same weights on both axes */
    /* horizontal: tmp [3][S][osz], double accumulation stored as float (Pillow mode F) */
    for (int y = 0; y < S; y++) {
        const uint8_t *src = in + (size_t)y * S * 3;
        for (int xx = 0; xx < osz; xx++) {
            int xmin = b[2 * xx], xn = b[2 * xx + 1];
            const double *kx = kk + (size_t)xx * k;
            double s0 = 0, s1 = 0, s2 = 0;
            for (int x = 0; x < xn; x++) {
                const uint8_t *p = src + (size_t)(x + xmin) * 3;
                s0 += (float)p[0] * kx[x];
                s1 += (float)p[1] * kx[x];
                s2 += (float)p[2] * kx[x];
            }
            tmp[((size_t)0 * S + y) * osz + xx] = (float)s0;
            tmp[((size_t)1 * S + y) * osz + xx] = (float)s1;
            tmp[((size_t)2 * S + y) * osz + xx] = (float)s2;
        }
    }
    for (int c = 0; c < 3; c++) {
        const float *tc = tmp + (size_t)c * S * osz;
        float *oc = out + (size_t)c * osz * osz;
        for (int yy = 0; yy < osz; yy++) {
            int ymin = b[2 * yy], yn = b[2 * yy + 1];
            const double *ky = kk + (size_t)yy * k;
            for (int xx = 0; xx < osz; xx++) {
                double s = 0;
                for (int y = 0; y < yn; y++) s += tc[(size_t)(y + ymin) * osz + xx] * ky[y];
                oc[(size_t)yy * osz + xx] = (float)s;
            }
        }
    }
    atas_host_free(mem);
    return ATAS_OK;
}

atas_status atas_image_square(uint8_t *out, int S, const atas_image *im) {
    int side = im->w < im->h ? im->w : im->h;
    /* integer-aligned centre box of side x side, then one resize of that box to S */
    int x0 = (im->w - side) / 2, y0 = (im->h - side) / 2;
    ATAS_CHECK(atas_resize_u8_box(out, S, im->rgb, im->w, im->h, x0, y0, side));
    return ATAS_OK;
}

/* Rectangular variant for evaluation (longest-side resize, crops): planar float in
 * and out, Pillow mode "F" arithmetic, any box, BILINEAR or BICUBIC. */
atas_status atas_resize_f32_rect(float *out, int ow, int oh, const float *in, int C, int iw, int ih,
                                 double x0, double y0, double x1, double y1, int bicubic_filter) {
    ATAS_REQUIRE(ow > 0 && oh > 0 && iw > 0 && ih > 0 && C > 0 && x1 > x0 && y1 > y0,
            "resize: bad sizes %dx%d (box %g,%g,%g,%g) -> %dx%d", iw, ih, x0, y0, x1, y1, ow, oh);
    double (*filter)(double) = bicubic_filter ? bicubic : triangle;
    const double fsup = bicubic_filter ? 2.0 : 1.0;
    const int kx = coeffs_size_f(iw, x0, x1, ow, fsup), ky = coeffs_size_f(ih, y0, y1, oh, fsup);
    const size_t nkx = (size_t)ow * kx, nky = (size_t)oh * ky;
    void *mem = NULL;
    ATAS_CHECK(atas_host_alloc(&mem, (nkx + nky) * sizeof(double) + 2 * (size_t)(ow + oh) * sizeof(int) +
                                    (size_t)ih * ow * sizeof(float), "resize coefficients"));
    double *kkx = mem, *kky = kkx + nkx;
    int *bx = (int *)(kky + nky), *by = bx + 2 * ow;
    float *tmp = (float *)(by + 2 * oh);
    coeffs_f(iw, x0, x1, ow, kx, bx, kkx, filter, fsup);
    coeffs_f(ih, y0, y1, oh, ky, by, kky, filter, fsup);
    for (int c = 0; c < C; c++) {
        const float *ic = in + (size_t)c * iw * ih;
        for (int y = 0; y < ih; y++)
            for (int xx = 0; xx < ow; xx++) {
                const double *k = kkx + (size_t)xx * kx;
                const float *src = ic + (size_t)y * iw + bx[2 * xx];
                double s = 0;
                for (int x = 0; x < bx[2 * xx + 1]; x++) s += src[x] * k[x];
                tmp[(size_t)y * ow + xx] = (float)s;
            }
        float *oc = out + (size_t)c * ow * oh;
        for (int yy = 0; yy < oh; yy++) {
            const double *k = kky + (size_t)yy * ky;
            const int ymin = by[2 * yy], yn = by[2 * yy + 1];
            for (int xx = 0; xx < ow; xx++) {
                double s = 0;
                for (int y = 0; y < yn; y++) s += tmp[(size_t)(y + ymin) * ow + xx] * k[y];
                oc[(size_t)yy * ow + xx] = (float)s;
            }
        }
    }
    atas_host_free(mem);
    return ATAS_OK;
}
