/* PNG writing, for atas_inspect --png and debugging dumps. */
#include <errno.h>
#include <png.h>
#include <string.h>

#include "atas/corpus.h"

atas_status atas_png_write(const char *path, const uint8_t *rgb, int w, int h) {
    FILE *f = fopen(path, "wb");
    if (!f) return ATAS_ERR(ATAS_ERR_IO, "cannot write %s (%s)", path, strerror(errno));
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = p ? png_create_info_struct(p) : NULL;
    if (!p || !info || setjmp(png_jmpbuf(p))) {
        if (p) png_destroy_write_struct(&p, &info);
        fclose(f);
        return ATAS_ERR(ATAS_ERR_IO, "libpng failed writing %s", path);
    }
    png_init_io(p, f);
    png_set_IHDR(p, info, w, h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(p, info);
    for (int y = 0; y < h; y++) png_write_row(p, (png_bytep)(rgb + (size_t)y * w * 3));
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    if (fclose(f) != 0) return ATAS_ERR(ATAS_ERR_IO, "cannot write %s (%s)", path, strerror(errno));
    return ATAS_OK;
}
