/* The trainer's evaluator (atas_train_evaluator, atas/train.h): CLIPSelf region
 * classification of the student on the eval.* data, rank-parallel, its numbers
 * for metrics.jsonl and the progress line (docs/eval.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "atas/eval.h"

typedef struct {
    atas_eval_set set;
    int have_set;
    atas_classemb ce;
    int have_ce;
    atas_eval_config ec;
    atas_eval_result last;
} eval_train;

static atas_status et_open(void *ctx, const atas_run_config *c, atas_comm *comm) {
    eval_train *h = ctx;
    h->ec = (atas_eval_config){.size = c->eval.size, .crops = c->eval.crops, .progress = 1};
    atas_status st = atas_classemb_read(c->eval.classes, &h->ce);
    h->have_ce = st == ATAS_OK;
    if (st == ATAS_OK) {
        st = atas_eval_set_load(&h->set, c->eval.data, c->eval.images, c->eval.masks[0] ? c->eval.masks : NULL,
                                &h->ce, c->eval.max_images);
        h->have_set = st == ATAS_OK;
    }
    if (st != ATAS_OK) atas_error_trace(st, __FILE__, __LINE__, "eval.data / eval.classes");
    /* every rank reads the files; one that cannot must not leave the others waiting */
    double bad = st != ATAS_OK;
    ATAS_CHECK(atas_comm_allreduce_sum_f64(comm, &bad, 1));
    ATAS_CHECK(st);
    /* not ATAS_ERR_INTERRUPTED: that one means "requeue me" to the trainer */
    if (bad > 0) return ATAS_ERR_PEER(ATAS_ERR_MPI, "eval setup (eval.data, eval.classes) failed on another rank");
    atas_info("eval: every %d steps on the student: %s (%d images, %s), %d classes", c->eval.every, c->eval.data,
              h->set.nimages, h->set.panoptic ? "boxes and masks" : "boxes", h->ce.K);
    return ATAS_OK;
}

static atas_status et_run(void *ctx, const atas_vit *student, atas_comm *comm, long long step) {
    eval_train *h = ctx;
    ATAS_CHECK(atas_eval_run(&h->ec, &h->set, &h->ce, student, comm, &h->last));
    const atas_eval_result *r = &h->last;
    atas_info("eval step %lld: rois thing@1 %.2f stuff@1 %.2f, maskpool thing@1 %.2f stuff@1 %.2f "
              "(%lld images, %.1f s)", step, r->macc[ATAS_EVAL_ROIS][0][0], r->macc[ATAS_EVAL_ROIS][1][0],
              r->macc[ATAS_EVAL_MASKPOOL][0][0], r->macc[ATAS_EVAL_MASKPOOL][1][0], r->images, r->seconds);
    return ATAS_OK;
}

static void et_json(void *ctx, FILE *f) {
    const eval_train *h = ctx;
    fprintf(f, ", \"eval\": {");
    int first = 1;
    char name[64];
    for (int m = 0; m < ATAS_EVAL_NMETHODS; m++) {
        if (!h->last.have[m]) continue;
        for (int s = 0; s < 2; s++)
            for (int k = 0; k < 2; k++) {
                const double v = h->last.macc[m][s][k];
                atas_eval_metric_name(m, s, k, name, sizeof name);
                if (isfinite(v)) fprintf(f, "%s\"%s\": %.6g", first ? "" : ", ", name, v);
                else fprintf(f, "%s\"%s\": null", first ? "" : ", ", name);
                first = 0;
            }
    }
    fprintf(f, "}");
}

static void et_summary(void *ctx, char *buf, size_t n) {
    const eval_train *h = ctx;
    char th[16] = "-", sf[16] = "-"; /* "-": no region of that kind */
    if (isfinite(h->last.macc[ATAS_EVAL_ROIS][0][0])) snprintf(th, sizeof th, "%.1f", h->last.macc[ATAS_EVAL_ROIS][0][0]);
    if (isfinite(h->last.macc[ATAS_EVAL_ROIS][1][0])) snprintf(sf, sizeof sf, "%.1f", h->last.macc[ATAS_EVAL_ROIS][1][0]);
    snprintf(buf, n, "rois thing@1 %s stuff@1 %s", th, sf);
}

static void et_close(void *ctx) {
    eval_train *h = ctx;
    if (h->have_set) atas_eval_set_free(&h->set);
    if (h->have_ce) atas_classemb_free(&h->ce);
    memset(h, 0, sizeof *h);
}

atas_status atas_eval_trainer_init(atas_train_evaluator *ev) {
    ATAS_REQUIRE(ev, "atas_eval_trainer_init: NULL evaluator");
    eval_train *h = calloc(1, sizeof *h);
    if (!h) return ATAS_ERR(ATAS_ERR_NOMEM, "eval during training");
    *ev = (atas_train_evaluator){.ctx = h, .open = et_open, .run = et_run, .json = et_json,
                                 .summary = et_summary, .close = et_close};
    return ATAS_OK;
}

void atas_eval_trainer_free(atas_train_evaluator *ev) {
    if (!ev || !ev->ctx) return;
    et_close(ev->ctx);
    free(ev->ctx);
    ev->ctx = NULL;
}
