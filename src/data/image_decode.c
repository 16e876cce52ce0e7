/* JPEG (libjpeg-turbo) and PNG (libpng) decoding to 8-bit RGB for the packer.
 * Damage is an error, never a silently grey-filled image: libjpeg warnings
 * (premature end, corrupt data) reject the file. */
#include <errno.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>

#include "atas/corpus.h"

#define MAX_PIXELS (256ll * 1024 * 1024) /* refuse absurd dimensions before allocating */

void atas_image_free(atas_image *im) {
    if (im && im->rgb) atas_host_free(im->rgb);
    if (im) im->rgb = NULL;
}

static atas_status fail(char *why, size_t len, atas_status code, const char *fmt, const char *a) {
    if (why && len) snprintf(why, len, fmt, a);
    return code; /* reason goes to the pack report; the caller raises if it must */
}

/* ---------------------------------------------------------------- JPEG */
typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    int warned;
} jerr_t;

static void j_error_exit(j_common_ptr ci) {
    jerr_t *e = (jerr_t *)ci->err;
    (*ci->err->format_message)(ci, e->msg);
    longjmp(e->jb, 1);
}

static void j_emit(j_common_ptr ci, int level) {
    jerr_t *e = (jerr_t *)ci->err;
    if (level < 0 && !e->warned) { /* a warning: corrupt or truncated data */
        (*ci->err->format_message)(ci, e->msg);
        e->warned = 1;
    }
}

static atas_status decode_jpeg(FILE *f, atas_image *out, char *why, size_t len) {
    struct jpeg_decompress_struct ci;
    jerr_t je;
    memset(&je, 0, sizeof je);
    ci.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = j_error_exit;
    je.pub.emit_message = j_emit;
    uint8_t *volatile pix = NULL;
    uint8_t *volatile row = NULL;
    if (setjmp(je.jb)) {
        jpeg_destroy_decompress(&ci);
        if (pix) atas_host_free(pix);
        if (row) atas_host_free(row);
        return fail(why, len, ATAS_ERR_FORMAT, "corrupt JPEG: %s", je.msg);
    }
    jpeg_create_decompress(&ci);
    jpeg_stdio_src(&ci, f);
    jpeg_read_header(&ci, TRUE);
    int cmyk = ci.jpeg_color_space == JCS_CMYK || ci.jpeg_color_space == JCS_YCCK;
    ci.out_color_space = cmyk ? JCS_CMYK : JCS_RGB; /* gray -> RGB is done by libjpeg */
    jpeg_start_decompress(&ci);
    long long w = ci.output_width, h = ci.output_height;
    if (w * h > MAX_PIXELS) {
        jpeg_destroy_decompress(&ci);
        return fail(why, len, ATAS_ERR_FORMAT, "%s", "image too large (> 256 Mpixel)");
    }
    void *p = NULL, *r = NULL;
    if (atas_host_alloc(&p, (size_t)(w * h * 3), "decoded image") != ATAS_OK ||
        atas_host_alloc(&r, (size_t)w * 4, "jpeg row") != ATAS_OK) {
        if (p) atas_host_free(p);
        jpeg_destroy_decompress(&ci);
        return fail(why, len, ATAS_ERR_NOMEM, "%s", "out of memory");
    }
    pix = p;
    row = r;
    /* Adobe CMYK JPEGs store inverted ink values (0 = full ink) */
    int inverted = ci.saw_Adobe_marker;
    while (ci.output_scanline < ci.output_height) {
        uint8_t *dst = pix + (size_t)ci.output_scanline * w * 3;
        JSAMPROW rp = cmyk ? (JSAMPROW)row : (JSAMPROW)dst;
        jpeg_read_scanlines(&ci, &rp, 1);
        if (cmyk) {
            for (long long x = 0; x < w; x++) {
                int c = row[4 * x], m = row[4 * x + 1], y = row[4 * x + 2], k = row[4 * x + 3];
                if (!inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
                dst[3 * x] = (uint8_t)((c * k + 127) / 255);
                dst[3 * x + 1] = (uint8_t)((m * k + 127) / 255);
                dst[3 * x + 2] = (uint8_t)((y * k + 127) / 255);
            }
        }
    }
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    atas_host_free(row);
    if (je.warned) {
        atas_host_free(pix);
        return fail(why, len, ATAS_ERR_FORMAT, "corrupt JPEG: %s", je.msg);
    }
    out->w = (int)w;
    out->h = (int)h;
    out->rgb = pix;
    return ATAS_OK;
}

/* ---------------------------------------------------------------- PNG */
typedef struct {
    jmp_buf jb;
    char msg[256];
} perr_t;

static void p_error(png_structp png, png_const_charp msg) {
    perr_t *e = (perr_t *)png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    longjmp(e->jb, 1);
}
static void p_warn(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static atas_status decode_png(FILE *f, atas_alpha_bg bg, atas_image *out, char *why, size_t len) {
    perr_t pe;
    memset(&pe, 0, sizeof pe);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &pe, p_error, p_warn);
    if (!png) return fail(why, len, ATAS_ERR_NOMEM, "%s", "libpng: cannot create reader");
    png_infop info = png_create_info_struct(png);
    uint8_t *volatile rgba = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(pe.jb)) {
        png_destroy_read_struct(&png, &info, NULL);
        if (rgba) atas_host_free(rgba);
        if (rows) atas_host_free(rows);
        return fail(why, len, ATAS_ERR_FORMAT, "corrupt PNG: %s", pe.msg);
    }
    png_init_io(png, f);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if ((long long)w * h > MAX_PIXELS) {
        png_destroy_read_struct(&png, &info, NULL);
        return fail(why, len, ATAS_ERR_FORMAT, "%s", "image too large (> 256 Mpixel)");
    }
    /* everything to 8-bit RGBA: palette/gray expanded, 16-bit scaled, alpha added */
    png_set_expand(png);
    png_set_scale_16(png);
    png_set_gray_to_rgb(png);
    png_set_add_alpha(png, 0xFF, PNG_FILLER_AFTER);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    void *p = NULL, *r = NULL;
    if (atas_host_alloc(&p, (size_t)w * h * 4, "png rgba") != ATAS_OK ||
        atas_host_alloc(&r, sizeof(png_bytep) * h, "png rows") != ATAS_OK) {
        if (p) atas_host_free(p);
        png_destroy_read_struct(&png, &info, NULL);
        return fail(why, len, ATAS_ERR_NOMEM, "%s", "out of memory");
    }
    rgba = p;
    rows = r;
    for (png_uint_32 y = 0; y < h; y++) rows[y] = rgba + (size_t)y * w * 4;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    atas_host_free(rows);
    /* composite over the background in place: rgb = (a*c + (255-a)*bg) / 255, rounded */
    const int b = bg == ATAS_ALPHA_OVER_BLACK ? 0 : 255;
    size_t np = (size_t)w * h;
    for (size_t i = 0; i < np; i++) {
        int a = rgba[4 * i + 3];
        for (int c = 0; c < 3; c++)
            rgba[3 * i + c] = (uint8_t)((a * rgba[4 * i + c] + (255 - a) * b + 127) / 255);
    }
    out->w = (int)w;
    out->h = (int)h;
    out->rgb = rgba; /* first 3*w*h bytes now hold RGB */
    return ATAS_OK;
}

atas_status atas_image_decode(const char *path, atas_alpha_bg bg, atas_image *out, char *why,
                              size_t why_len) {
    out->w = out->h = 0;
    out->rgb = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) return fail(why, why_len, ATAS_ERR_IO, "cannot open: %s", strerror(errno));
    if (!S_ISREG(sb.st_mode)) /* a FIFO would block the open */
        return fail(why, why_len, ATAS_ERR_FORMAT, "%s", "not a regular file (FIFO, device or directory)");
    FILE *f = fopen(path, "rb");
    if (!f) return fail(why, why_len, ATAS_ERR_IO, "cannot open: %s", strerror(errno));
    unsigned char magic[8] = {0};
    size_t got = fread(magic, 1, 8, f);
    rewind(f);
    atas_status st;
    if (got >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF)
        st = decode_jpeg(f, out, why, why_len);
    else if (got == 8 && png_sig_cmp(magic, 0, 8) == 0)
        st = decode_png(f, bg, out, why, why_len);
    else
        st = fail(why, why_len, ATAS_ERR_FORMAT, "%s",
                  got == 0 ? "empty file" : "not a JPEG or PNG (unknown magic bytes)");
    fclose(f);
    return st;
}
