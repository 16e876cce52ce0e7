/* infer: region classification as CLIPSelf measures it (docs/eval.md,
 * EVAL-PROTOCOL): dense features pooled in ground-truth boxes (RoIAlign) and
 * masks, and the global embedding of box crops, classified against class
 * embeddings; mean per-class accuracy top-1/top-5, things and stuff apart. */
#ifndef ATAS_EVAL_H
#define ATAS_EVAL_H

#include "atas/classemb.h"
#include "atas/comm.h"
#include "atas/train.h"
#include "atas/vit.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { ATAS_EVAL_ROIS = 0, ATAS_EVAL_MASKPOOL, ATAS_EVAL_CROPS, ATAS_EVAL_NMETHODS };
extern const char *const atas_eval_method_names[ATAS_EVAL_NMETHODS]; /* "rois", "maskpool", "crops" */

#define ATAS_EVAL_MAX_SEGMENTS 100 /* per image: the first ones of the JSON, before the area limits */
#define ATAS_EVAL_MIN_BOX_AREA 64.0       /* 8^2 px, in the original image */
#define ATAS_EVAL_MAX_BOX_AREA 1048576.0  /* 1024^2 px */

/* ---------------------------------------------------------------- data */
typedef struct {
    double x, y, w, h; /* box in original pixels */
    int label;         /* row of the class-embedding file */
    int isthing;
    unsigned seg_id;   /* panoptic segment id (R + 256 G + 256^2 B), 0 for instances */
} atas_eval_region;

typedef struct {
    long long id;
    char *file;      /* image path */
    char *mask_file; /* panoptic PNG path, or NULL */
    int w, h;        /* from the JSON (checked against the decoded image) */
    int nreg;
    atas_eval_region *reg;
} atas_eval_image;

typedef struct {
    char json[4096];
    int panoptic;    /* annotations with segments_info + PNG masks */
    int nimages;
    atas_eval_image *im;
    long long skipped_small, skipped_large, skipped_over_max;
} atas_eval_set;

/* Load a COCO panoptic JSON (annotations[].segments_info) or instances JSON
 * (annotations[].bbox), detected from the content. Labels are rows of ce
 * (the category id's position among ce's ids). Images without an annotation
 * are kept only when they carry one region. masks: the panoptic PNG folder;
 * NULL = the JSON path without ".json" (COCO's layout). max_images > 0: the
 * first ones (by position in images[]). Errors name the file and the entry. */
atas_status atas_eval_set_load(atas_eval_set *s, const char *json, const char *images_dir,
                               const char *masks_dir, const atas_classemb *ce, int max_images);
void atas_eval_set_free(atas_eval_set *s);

/* Panoptic PNG -> segment ids [h*w] (R + 256 G + 256^2 B); *ids atas_host_alloc'ed. */
atas_status atas_eval_read_segments(const char *png, int w, int h, unsigned **ids);
/* The box of segment `id` in ids [h,w] as CLIPSelf's mask2box: x, y = the first
 * column/row, w, h = last - first (not + 1); 0 when it covers no pixel. */
int atas_eval_mask_box(const unsigned *ids, int w, int h, unsigned id, double box[4]);

/* ---------------------------------------------------------------- pooling */
/* torchvision roi_align, output 1x1, aligned=True, sampling_ratio=-1 (adaptive
 * ceil(roi size) samples per axis), on a channels-last map [H,W,C]; the box
 * (x0,y0,x1,y1) is in input pixels and scaled by spatial_scale. out [C]. */
void atas_roi_align_1x1(const float *map, int H, int W, int C, double spatial_scale, double x0,
                        double y0, double x1, double y1, float *out);
/* Mean of the map's rows where mask[h*W+w] != 0, out [C]; returns the token count. */
int atas_mask_pool(const float *map, int H, int W, int C, const unsigned char *mask, float *out);
/* Segment `id` of ids [ih,iw] -> token mask [G,G]: the 0/1 mask resized so its
 * longest side is G (sizes rounded half to even; bicubic a = -0.75 without
 * antialiasing, as torch's interpolate), padded with 0 at the bottom/right, > 0. */
atas_status atas_eval_token_mask(const unsigned *ids, int iw, int ih, unsigned id, int G,
                                 unsigned char *mask);
void atas_l2_normalize_rows(float *x, size_t rows, int C);
/* Top-5 rows of cls [K,E] by dot product with f [E] (fewer when K < 5: -1 fills). */
void atas_eval_top5(const float *f, const float *cls, int K, int E, int top[5]);

/* ---------------------------------------------------------------- metric */
typedef struct {
    int K;
    double *n, *c1, *c5; /* [NMETHODS*K]: regions, correct@1, correct@5 per class */
} atas_eval_acc;

typedef struct {
    int have[ATAS_EVAL_NMETHODS];
    double macc[ATAS_EVAL_NMETHODS][2][2];     /* [method][0 thing, 1 stuff][0 top1, 1 top5]; NaN: none */
    long long regions[ATAS_EVAL_NMETHODS][2];  /* counted regions */
    int classes[ATAS_EVAL_NMETHODS][2];        /* classes that occur */
    long long images;
    int size, grid;
    double seconds;
} atas_eval_result;

atas_status atas_eval_acc_init(atas_eval_acc *a, int K);
void atas_eval_acc_free(atas_eval_acc *a);
void atas_eval_acc_add(atas_eval_acc *a, int method, int label, const int top[5]);
/* Sum over ranks (exact: integer counts in doubles) through the comm layer. */
atas_status atas_eval_acc_gather(atas_eval_acc *a, atas_comm *comm);
/* Mean over the classes that occur of each class's mean correctness. */
void atas_eval_acc_result(const atas_eval_acc *a, const int *isthing, atas_eval_result *r);
/* "rois.thing.macc1" ...: name of entry (method, stuff, top5). */
void atas_eval_metric_name(int method, int stuff, int top5, char *buf, size_t n);

/* ---------------------------------------------------------------- the run */
typedef struct {
    int size;        /* eval side (longest side, padded square); 0: 64 tokens * patch */
    int crops;       /* also the crop baseline (one global forward per region) */
    int crop_batch;  /* crops per forward; 0: 16 */
    int progress;    /* rank 0 prints images/s and ETA */
    int seg_images;  /* > 0: keep per-token labels of the first seg_images images */
    const char *seg_out; /* HDF5 for the segmentation picture (rank 0 writes) */
    const char *weights_label; /* free text written into seg_out */
} atas_eval_config;

/* Collective over comm: every rank evaluates a contiguous slice of the images
 * with model m (any backend), then the per-class counts are summed. */
atas_status atas_eval_run(const atas_eval_config *e, const atas_eval_set *set, const atas_classemb *ce,
                          const atas_vit *m, atas_comm *comm, atas_eval_result *res);

/* Rank 0 alone: the first n images segmented (every token -> its nearest class)
 * into an HDF5 for tools/plot_segmentation.py (layout: docs/eval.md). */
atas_status atas_eval_segment(const atas_eval_config *e, const atas_eval_set *set, const atas_classemb *ce,
                              const atas_vit *m, int n, const char *out, const char *label);

/* Fixed-width table (stdout style) and the JSON file (written via a temporary + rename). */
void atas_eval_print_table(FILE *f, const atas_eval_result *r);
atas_status atas_eval_write_json(const char *path, const atas_eval_result *r, const char *weights,
                                 const char *data, const char *classes);

/* The trainer's evaluator (src/infer/eval_train.c): region classification of the
 * student on the eval.* keys' data, for atas_train_args.evaluator. init allocates
 * its state; free releases it after the training. */
atas_status atas_eval_trainer_init(atas_train_evaluator *ev);
void atas_eval_trainer_free(atas_train_evaluator *ev);

#ifdef __cplusplus
}
#endif
#endif
