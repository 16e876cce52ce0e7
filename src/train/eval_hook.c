/* Evaluation during training (eval.* keys, docs/eval.md): at step 0 (before the
 * first update: the starting weights), every eval.every steps and after the last
 * step, the evaluator the program passed (atas_train_args.evaluator; the infer
 * layer's region classification in atas_mpi) runs on the STUDENT, rank-parallel;
 * the result goes into that step's metrics.jsonl record ("eval": {...}) and the
 * progress line. The trainer decides when; it does not know what is measured. */
#include <stdlib.h>

#include "trainer_internal.h"

struct atas_eval_hook {
    const atas_train_evaluator *ev;
    long long last_step; /* step of the evaluator's last result, -1: none */
};

atas_status atas_eval_hook_open(atas_trainer *t) {
    const atas_run_config *c = &t->cfg;
    if (c->eval.every <= 0) return ATAS_OK;
    const atas_train_evaluator *ev = t->evaluator;
    if (!ev || !ev->open || !ev->run)
        return ATAS_ERR(ATAS_ERR_CONFIG, "eval.every = %d: this program trains without an evaluator "
                        "(atas_mpi has one; a C driver passes atas_train_args.evaluator)", c->eval.every);
    atas_eval_hook *h = calloc(1, sizeof *h);
    if (!h) return ATAS_ERR(ATAS_ERR_NOMEM, "eval hook");
    h->ev = ev;
    h->last_step = -1;
    t->eval = h;
    const char *phase = t->comm->phase;
    t->comm->phase = "eval setup";
    ATAS_CHECK(ev->open(ev->ctx, c, t->comm));
    t->comm->phase = phase;
    return ATAS_OK;
}

static atas_status run_now(atas_trainer *t, long long step) {
    atas_eval_hook *h = t->eval;
    const char *phase = t->comm->phase;
    t->comm->phase = "eval";
    atas_status st = h->ev->run(h->ev->ctx, &t->student, t->comm, step);
    if (st == ATAS_ERR_INTERRUPTED) /* another rank failed: an error here, not a requeue request */
        return ATAS_ERR_PEER(ATAS_ERR_MPI, "eval at step %lld: stopped because another rank failed", step);
    ATAS_CHECK(st);
    t->comm->phase = phase;
    h->last_step = step;
    return ATAS_OK;
}

atas_status atas_eval_hook_step(atas_trainer *t, long long step) {
    if (!t->eval || step % t->cfg.eval.every != 0) return ATAS_OK;
    return run_now(t, step);
}

atas_status atas_eval_hook_now(atas_trainer *t) {
    if (!t->eval)
        return ATAS_ERR(ATAS_ERR_INVALID, "evaluate: no evaluator runs in this training (eval.every = %d, "
                        "evaluator %s)", t->cfg.eval.every, t->evaluator ? "given" : "none");
    return run_now(t, t->st.step);
}

atas_status atas_eval_hook_final(atas_trainer *t) {
    /* resumed at the end: the previous run wrote this record already */
    if (!t->eval || t->st.step % t->cfg.eval.every != 0 || t->steps_this_run == 0) return ATAS_OK;
    ATAS_CHECK(run_now(t, t->st.step));
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
    if (!h || h->last_step != step || !h->ev->json) return;
    h->ev->json(h->ev->ctx, f);
}

void atas_eval_hook_summary(const atas_trainer *t, char *buf, size_t n) {
    buf[0] = 0;
    const atas_eval_hook *h = t->eval;
    if (!h || h->last_step < 0 || !h->ev->summary) return;
    char s[160] = "";
    h->ev->summary(h->ev->ctx, s, sizeof s);
    snprintf(buf, n, "  eval@%lld %s", h->last_step, s);
}

void atas_eval_hook_close(atas_trainer *t) {
    atas_eval_hook *h = t->eval;
    if (!h) return;
    if (h->ev->close) h->ev->close(h->ev->ctx);
    free(h);
    t->eval = NULL;
}
