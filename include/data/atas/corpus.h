/* data: the HDF5 image corpus (format version 1, see docs/corpus.md), image
 * decoding for the packer, and the antialiased resize shared by packer and loader. */
#ifndef ATAS_CORPUS_H
#define ATAS_CORPUS_H

#include <mpi.h>
#include <stdint.h>

#include "atas/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ATAS_CORPUS_FORMAT "atas-corpus"
#define ATAS_CORPUS_VERSION 1
#define ATAS_CORPUS_MAX_SIDE 8192                /* pixels (docs/limits.md) */
#define ATAS_CORPUS_MAX_COUNT 4294967295LL       /* images: the sampler's uint32 indices */
#define ATAS_CORPUS_IMAGES "images" /* uint8 [N, S, S, 3], chunk [1, S, S, 3], Fletcher32 */
#define ATAS_CORPUS_NAMES "names"   /* fixed-length strings [N]: source path of each image */

/* ---------------------------------------------------------------- decoding
 * A decoded image: 8-bit RGB, row-major HWC, atas_host_alloc'ed. */
typedef struct {
    int w, h;
    uint8_t *rgb;
} atas_image;

typedef enum { ATAS_ALPHA_OVER_WHITE = 0, ATAS_ALPHA_OVER_BLACK = 1 } atas_alpha_bg;

/* Decode a JPEG or PNG (chosen by magic bytes, not by the name) to RGB.
 * Grayscale -> RGB, alpha composited over white/black, CMYK/YCCK JPEG -> RGB,
 * 16-bit PNG -> 8-bit. Any libjpeg warning (truncated or corrupt data) is an
 * error. On failure returns ATAS_ERR_FORMAT/IO and writes a one-line reason
 * (no file name) into `why` (why may be NULL). Thread-safe. */
atas_status atas_image_decode(const char *path, atas_alpha_bg bg, atas_image *out, char *why,
                              size_t why_len);
void atas_image_free(atas_image *im);

/* Write 8-bit RGB HWC as a PNG file. */
atas_status atas_png_write(const char *path, const uint8_t *rgb, int w, int h);

/* ---------------------------------------------------------------- resize
 * The filter is PIL's BILINEAR resize (Pillow >= 7 Image.resize with a box):
 * a separable triangle filter whose support is scaled by the reduction factor
 * (antialiased when shrinking, plain bilinear when enlarging), horizontal pass
 * first. Two variants, each bit-identical to Pillow:
 *  - u8: 8-bit path, 22-bit fixed-point weights and an 8-bit intermediate (mode "RGB");
 *  - f32: double weights and accumulation, float intermediate/result (mode "F").
 * (x0, y0, x0+side, y0+side) is the source box, in source pixels. */
atas_status atas_resize_u8_box(uint8_t *out, int osz, const uint8_t *in, int iw, int ih, double x0,
                               double y0, double side);
/* Square uint8 HWC image [S,S,3] -> float planar [3, osz, osz] (values 0..255),
 * the whole image as the box. tmp: at least 3*S*osz floats. */
atas_status atas_resize_f32_square(float *out, int osz, const uint8_t *in, int S, float *tmp);

/* Planar float [C,ih,iw] -> [C,oh,ow], source box (x0,y0)-(x1,y1) in pixels
 * (Pillow mode "F" resize with a box, BILINEAR or, bicubic = 1, BICUBIC):
 * evaluation's longest-side resize and crops. */
atas_status atas_resize_f32_rect(float *out, int ow, int oh, const float *in, int C, int iw, int ih,
                                 double x0, double y0, double x1, double y1, int bicubic);

/* Short side to S, centre crop (the pack policy): out [S,S,3]. */
atas_status atas_image_square(uint8_t *out, int S, const atas_image *im);

/* ---------------------------------------------------------------- corpus */
typedef struct {
    char path[1024];
    int64_t hid_file, hid_images, hid_space; /* hid_t, kept opaque here */
    int S;
    int64_t N;
    int version;
    int parallel; /* opened through the MPI-IO driver */
    int raw_fd;   /* the same file for direct chunk reads (-1: use H5Dread) */
} atas_corpus;

/* Open and validate a corpus. comm == MPI_COMM_NULL opens it with the serial
 * (sec2) driver; otherwise through MPI-IO on comm (collective). Errors name the
 * file and what was expected: not HDF5/truncated, foreign (no format attribute),
 * wrong version, bad shape/type, attributes disagreeing with the dataset. */
atas_status atas_corpus_open(atas_corpus *c, const char *path, MPI_Comm comm);
/* Read image idx into dst [S,S,3]; a checksum failure is ATAS_ERR_FORMAT naming
 * the file and the image index. Independent I/O. */
atas_status atas_corpus_read(atas_corpus *c, int64_t idx, uint8_t *dst);
/* Source name of image idx (serial reads only; buf gets "" when absent). */
atas_status atas_corpus_name(atas_corpus *c, int64_t idx, char *buf, size_t len);
/* A string attribute of the root ("" when absent). */
atas_status atas_corpus_attr_str(atas_corpus *c, const char *name, char *buf, size_t len);
void atas_corpus_close(atas_corpus *c);

/* Config-time check: the corpus side S must cover the largest view the loader
 * makes: S >= R (global views) and S >= C / min(grids) (the largest mosaic cell).
 * The error names the corpus file, S and the key that needs more. */
atas_status atas_corpus_check_sizes(const char *path, int S, int R, int C, const int *grids,
                                    int ngrids, const char *view_key, const char *canvas_key);

/* ---------------------------------------------------------------- packing */
typedef struct {
    const char *const *inputs; /* directories (recursive), image files, or list files */
    int ninputs;
    const char *out;           /* out.h5; written as out.h5.tmp then renamed */
    int S;
    int min_side;              /* short side below this: skipped as too small */
    atas_alpha_bg alpha_bg;
    int files_per_round;       /* per rank, per collective write round */
    int progress;              /* print a progress line (rank 0) */
} atas_pack_config;

typedef struct {
    int64_t files, packed, skipped;
    double seconds;
} atas_pack_result;

/* Collective on comm: decode, resize, write one corpus. One bad input file never
 * fails the pack; it is listed in out.h5.report.txt with its reason. */
atas_status atas_pack(const atas_pack_config *cfg, MPI_Comm comm, atas_pack_result *res);

#ifdef __cplusplus
}
#endif
#endif
