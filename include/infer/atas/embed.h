/* infer: embed images with a trained (or pretrained) encoder into an HDF5 file of
 * global embeddings [N,E] and dense maps [N,h,w,E] (layout: docs/embed.md). */
#ifndef ATAS_EMBED_H
#define ATAS_EMBED_H

#include <stdint.h>

#include "atas/comm.h"
#include "atas/vit.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *weights;     /* safetensors file/index/dir (OpenCLIP or HF) or atas checkpoint .h5 */
    const char *which;       /* checkpoint group: "student" (default) or "teacher" */
    const char *corpus;      /* an atas corpus .h5, or NULL */
    const char *images_list; /* a text file, one image path per line, or NULL */
    const char *out;         /* OUT.h5, written as OUT.h5.tmp then renamed */
    int resolution;          /* R (multiple of the patch); 0: grid * patch of the model */
    int batch;               /* images per forward (per rank); 0: 8 */
    int heads;               /* > 0: stated (safetensors without a config) */
    int have_act;            /* 1: act below is stated */
    atas_act act;
    int dense;               /* write /dense */
    int normalize;           /* L2-normalise each global vector and each dense vector */
    int progress;            /* rank 0 prints images/s and ETA */
    const char *backend;     /* backend by name (atas_backend_get); NULL or "": "cpu" */
    const char *precision;   /* GEMM/attention math: "fp32" (NULL or ""), "tf32", "bf16" */
} atas_embed_config;

typedef struct {
    int64_t n;
    int resolution, grid, embed;
    double seconds;
} atas_embed_result;

/* Load the model: config from the checkpoint root attributes or inferred from
 * the safetensors (heads/act as stated in e); a created CPU model. */
atas_status atas_embed_load_model(const atas_embed_config *e, atas_vit *m);

/* Collective on comm: every rank embeds a contiguous slice of the images and
 * writes its rows into the output through MPI-IO (independent hyperslab writes).
 * Any failure on any rank stops all ranks and leaves no output (the old OUT, if
 * any, is untouched). */
atas_status atas_embed_run(const atas_embed_config *e, atas_comm *comm, atas_embed_result *res);

#ifdef __cplusplus
}
#endif
#endif
