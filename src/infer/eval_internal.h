/* Shared between the evaluation run and the segmentation picture. */
#ifndef ATAS_EVAL_INTERNAL_H
#define ATAS_EVAL_INTERNAL_H

#include "atas/eval.h"

typedef struct eval_worker worker; /* the model's passes and the buffers for one image */

typedef struct {
    worker *w;
    const float *dense; /* [G,G,E], every token L2-normalised (the worker's buffer) */
    double scale;       /* eval size / longest side */
    int nw, nh;         /* the resized image inside the padded square */
} worker_dense;

atas_status atas_eval_worker_create(worker **w, const atas_vit *m, const atas_eval_config *e,
                                    const atas_eval_set *set);
void atas_eval_worker_destroy(worker *w);
int atas_eval_worker_grid(const worker *w);
int atas_eval_worker_size(const worker *w);
const float *atas_eval_worker_input(const worker *w); /* the last normalised input [3,S,S] */
/* decode, resize (longest side), pad, normalise; forward; normalised dense map */
atas_status atas_eval_dense(worker_dense *d, const atas_eval_image *im);
/* orig: planar [3,h,w] 0..255; img: padded normalised [3,S,S] */
atas_status atas_eval_image_prepare(const atas_eval_image *im, int S, float *orig, float *img, double *scale,
                                    int *nw, int *nh);

/* {"rois.thing.macc1": ..., ...} (NaN -> null) */
struct json_t;
struct json_t *atas_eval_metrics_json(const atas_eval_result *r);

#endif
