/* Synthetic test images for the data tests: good JPEG/PNG photos-like gradients
 * of varied sizes plus deliberately bad inputs (truncated JPEG, grayscale PNG,
 * RGBA PNG, CMYK JPEG, a 4x4 image, a text file named .jpg). Written with libjpeg
 * and libpng so the packer reads what real tools write.
 *   make_test_images DIR [ngood] */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

static int write_png(const char *path, const uint8_t *px, int w, int h, int ch) {
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    if (setjmp(png_jmpbuf(p))) { fclose(f); return 1; }
    png_init_io(p, f);
    int type = ch == 1 ? PNG_COLOR_TYPE_GRAY : ch == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGBA;
    png_set_IHDR(p, info, w, h, 8, type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(p, info);
    for (int y = 0; y < h; y++) png_write_row(p, (png_bytep)(px + (size_t)y * w * ch));
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    fclose(f);
    return 0;
}

static int write_jpeg(const char *path, const uint8_t *px, int w, int h, int ch, int quality) {
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = w;
    c.image_height = h;
    c.input_components = ch;
    c.in_color_space = ch == 1 ? JCS_GRAYSCALE : ch == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&c);
    if (ch == 4) jpeg_set_colorspace(&c, JCS_CMYK); /* writes an Adobe marker */
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = (JSAMPROW)(px + (size_t)c.next_scanline * w * ch);
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    return 0;
}

/* a smooth pattern with some texture, distinct per image */
static uint8_t *pattern(int w, int h, int ch, int seed) {
    uint8_t *p = malloc((size_t)w * h * ch);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++) {
                int v = (x * (3 + seed % 5) + y * (2 + c) + seed * 37 + ((x / 7 + y / 5 + c) % 3) * 40) % 256;
                if (c == 3) v = (x * 255) / (w > 1 ? w - 1 : 1); /* alpha ramp */
                p[((size_t)y * w + x) * ch + c] = (uint8_t)v;
            }
    return p;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: make_test_images DIR [ngood]\n"); return 2; }
    const char *dir = argv[1];
    int ngood = argc > 2 ? atoi(argv[2]) : 20;
    char path[4096], sub[4096];
    mkdir(dir, 0755);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    mkdir(sub, 0755); /* recursion is exercised */
    int rc = 0;
    for (int i = 0; i < ngood; i++) {
        int w = 48 + (i * 37) % 150, h = 40 + (i * 53) % 130;
        uint8_t *p = pattern(w, h, 3, i);
        if (i % 2 == 0) {
            snprintf(path, sizeof path, "%s/%s/good_%03d.png", dir, i % 4 == 0 ? "sub" : ".", i);
            rc |= write_png(path, p, w, h, 3);
        } else {
            snprintf(path, sizeof path, "%s/good_%03d.jpg", dir, i);
            rc |= write_jpeg(path, p, w, h, 3, 92);
        }
        free(p);
    }
    /* convertible: grayscale PNG, RGBA PNG, grayscale JPEG, CMYK JPEG */
    uint8_t *g = pattern(70, 50, 1, 101);
    snprintf(path, sizeof path, "%s/gray.png", dir);
    rc |= write_png(path, g, 70, 50, 1);
    snprintf(path, sizeof path, "%s/gray.jpg", dir);
    rc |= write_jpeg(path, g, 70, 50, 1, 90);
    free(g);
    uint8_t *a = pattern(64, 80, 4, 102);
    snprintf(path, sizeof path, "%s/rgba.png", dir);
    rc |= write_png(path, a, 64, 80, 4);
    free(a);
    uint8_t *k = pattern(60, 60, 4, 103);
    for (int i = 0; i < 60 * 60; i++) k[4 * i + 3] = 255 - k[4 * i + 3] / 4; /* Adobe: inverted ink */
    snprintf(path, sizeof path, "%s/cmyk.jpg", dir);
    rc |= write_jpeg(path, k, 60, 60, 4, 90);
    free(k);
    /* bad: tiny, truncated JPEG, truncated PNG, text named .jpg, empty .png */
    uint8_t *t = pattern(4, 4, 3, 104);
    snprintf(path, sizeof path, "%s/tiny.png", dir);
    rc |= write_png(path, t, 4, 4, 3);
    free(t);
    uint8_t *b = pattern(120, 90, 3, 105);
    snprintf(path, sizeof path, "%s/truncated.jpg", dir);
    rc |= write_jpeg(path, b, 120, 90, 3, 90);
    struct stat sb;
    if (stat(path, &sb) == 0) truncate(path, sb.st_size * 2 / 3); /* cut inside the scan data */
    snprintf(path, sizeof path, "%s/truncated.png", dir);
    rc |= write_png(path, b, 120, 90, 3);
    truncate(path, 300);
    free(b);
    snprintf(path, sizeof path, "%s/text.jpg", dir);
    FILE *f = fopen(path, "w");
    if (f) { fputs("this is not an image\n", f); fclose(f); } else rc = 1;
    snprintf(path, sizeof path, "%s/empty.png", dir);
    f = fopen(path, "w");
    if (f) fclose(f); else rc = 1;
    if (rc) fprintf(stderr, "make_test_images: writing into %s failed\n", dir);
    return rc;
}
