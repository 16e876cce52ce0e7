/* Region classification of the STUDENT during training (eval.* keys, docs/eval.md):
 * at step 0 (before the first update: the starting weights) and every eval.every
 * steps, rank-parallel through src/infer; the result goes into that step's
 * metrics.jsonl record ("eval": {...}) and the progress line. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "atas/eval.h"
#include "trainer_internal.h"

struct atas_eval_hook {
    atas_eval_set set;
    atas_classemb ce;
    int have_ce;
    atas_eval_config ec;
    atas_eval_result last;
    long long last_step; /* step of `last`, -1: none */
};

atas_status atas_eval_hook_open(atas_trainer *t) {
    const atas_run_config *c = &t->cfg;
    if (c->eval.every <= 0) return ATAS_OK;
    atas_eval_hook *h = calloc(1, sizeof *h);
    if (!h) return ATAS_ERR(ATAS_ERR_NOMEM, "eval hook");
    t->eval = h;
    h->last_step = -1;
    h->ec = (atas_eval_config){.size = c->eval.size, .crops = c->eval.crops, .progress = 1};
    atas_status st = atas_classemb_read(c->eval.classes, &h->ce);
    h->have_ce = st == ATAS_OK;
    if (st == ATAS_OK)
        st = atas_eval_set_load(&h->set, c->eval.data, c->eval.images, c->eval.masks[0] ? c->eval.masks : NULL, &h->ce,
                                c->eval.max_images);
    if (st != ATAS_OK) atas_error_trace(st, __FILE__, __LINE__, "eval.data / eval.classes");
    /* every rank reads the files; one that cannot must not leave the others waiting */
    double bad = st != ATAS_OK;
    t->comm->phase = "eval setup";
    CHECK(atas_comm_allreduce_sum_f64(t->comm, &bad, 1));
    CHECK(st);
    /* not ATAS_ERR_INTERRUPTED: that one means "requeue me" to the trainer */
    if (bad > 0) return ATAS_ERR(ATAS_ERR_MPI, "eval setup (eval.data, eval.classes) failed on another rank");
    atas_info("eval: every %d steps on the student: %s (%d images, %s), %d classes", c->eval.every, c->eval.data,
              h->set.nimages, h->set.panoptic ? "boxes and masks" : "boxes", h->ce.K);
    return ATAS_OK;
}

static atas_status run_now(atas_trainer *t, long long step) {
    atas_eval_hook *h = t->eval;
    const char *phase = t->comm->phase;
    t->comm->phase = "eval";
    atas_status st = atas_eval_run(&h->ec, &h->set, &h->ce, &t->student, t->comm, &h->last);
    if (st == ATAS_ERR_INTERRUPTED) /* another rank failed: an error here, not a requeue request */
        return ATAS_ERR(ATAS_ERR_MPI, "eval at step %lld: stopped because another rank failed", step);
    CHECK(st);
    t->comm->phase = phase;
    h->last_step = step;
    const atas_eval_result *r = &h->last;
    atas_info("eval step %lld: rois thing@1 %.2f stuff@1 %.2f, maskpool thing@1 %.2f stuff@1 %.2f "
              "(%lld images, %.1f s)", step, r->macc[ATAS_EVAL_ROIS][0][0], r->macc[ATAS_EVAL_ROIS][1][0],
              r->macc[ATAS_EVAL_MASKPOOL][0][0], r->macc[ATAS_EVAL_MASKPOOL][1][0], r->images, r->seconds);
    return ATAS_OK;
}

atas_status atas_eval_hook_step(atas_trainer *t, long long step) {
    if (!t->eval || step % t->cfg.eval.every != 0) return ATAS_OK;
    return run_now(t, step);
}

atas_status atas_eval_hook_final(atas_trainer *t) {
    /* resumed at the end: the previous run wrote this record already */
    if (!t->eval || t->st.step % t->cfg.eval.every != 0 || t->steps_this_run == 0) return ATAS_OK;
    CHECK(run_now(t, t->st.step));
    /* no training record exists for the final step: an eval-only one */
    if (t->comm->rank == 0 && t->metrics) {
        fprintf(t->metrics, "{\"step\": %lld", t->st.step);
        atas_eval_hook_json(t, t->metrics, t->st.step);
        fprintf(t->metrics, "}\n");
        fflush(t->metrics);
    }
    return ATAS_OK;
}

void atas_eval_hook_json(atas_trainer *t, FILE *f, long long step) {
    const atas_eval_hook *h = t->eval;
    if (!h || h->last_step != step) return;
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

void atas_eval_hook_summary(const atas_trainer *t, char *buf, size_t n) {
    buf[0] = 0;
    const atas_eval_hook *h = t->eval;
    if (!h || h->last_step < 0) return;
    char th[16] = "-", sf[16] = "-"; /* "-": no region of that kind */
    if (isfinite(h->last.macc[ATAS_EVAL_ROIS][0][0])) snprintf(th, sizeof th, "%.1f", h->last.macc[ATAS_EVAL_ROIS][0][0]);
    if (isfinite(h->last.macc[ATAS_EVAL_ROIS][1][0])) snprintf(sf, sizeof sf, "%.1f", h->last.macc[ATAS_EVAL_ROIS][1][0]);
    snprintf(buf, n, "  eval@%lld rois thing@1 %s stuff@1 %s", h->last_step, th, sf);
}

void atas_eval_hook_close(atas_trainer *t) {
    atas_eval_hook *h = t->eval;
    if (!h) return;
    atas_eval_set_free(&h->set);
    if (h->have_ce) atas_classemb_free(&h->ce);
    free(h);
    t->eval = NULL;
}
