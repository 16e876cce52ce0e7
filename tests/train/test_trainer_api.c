/* The trainer object driven from C (include/train/atas/trainer.h), on tiny.cfg with
 * the CPU backend and one rank:
 *  - the losses of every step equal, as metrics.jsonl prints them (%.9g), those that
 *    atas_mpi writes for the same config: the driver adds nothing to the API;
 *  - create -> 3 steps -> atas_trainer_checkpoint -> destroy -> create with resume ->
 *    the rest equals the uninterrupted run: losses, and the final checkpoint's student,
 *    teacher and AdamW moments bit for bit;
 *  - a missing config is a clear error (nothing created), and evaluate without an
 *    evaluator says so. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atas/trainer.h"
#include "test_util.h"

#define STEPS 6
static char g_dir[512], g_corpus[600];

static void sets_for(char sets[6][700], char **pp, const char *name) {
    snprintf(sets[0], 700, "run.dir=\"%s/runs\"", g_dir);
    snprintf(sets[1], 700, "run.name=\"%s\"", name);
    snprintf(sets[2], 700, "data.corpus=\"%s\"", g_corpus);
    snprintf(sets[3], 700, "run.threads=1");
    snprintf(sets[4], 700, "run.steps=%d", STEPS);
    snprintf(sets[5], 700, "optim.warmup_steps=2");
    for (int i = 0; i < 6; i++) pp[i] = sets[i];
}

/* the losses metrics.jsonl of run `name` holds, [STEPS][4] */
static int read_metrics(const char *name, double loss[STEPS][4]) {
    char p[800];
    snprintf(p, sizeof p, "%s/runs/%s/metrics.jsonl", g_dir, name);
    FILE *f = fopen(p, "r");
    if (!f) return 0;
    char line[8192];
    int n = 0;
    static const char *const keys[4] = {"g2l", "l2l", "g2g", "total"};
    while (fgets(line, sizeof line, f)) {
        json_t *o = json_loads(line, 0, NULL);
        if (!o) continue;
        const json_int_t step = json_integer_value(json_object_get(o, "step"));
        if (step >= 0 && step < STEPS && json_object_get(o, "g2l")) {
            for (int k = 0; k < 4; k++) loss[step][k] = json_number_value(json_object_get(o, keys[k]));
            n++;
        }
        json_decref(o);
    }
    fclose(f);
    return n;
}

/* equal as %.9g prints them (metrics.jsonl's precision) */
static int same9(double a, double b) {
    char x[64], y[64];
    snprintf(x, sizeof x, "%.9g", a);
    snprintf(y, sizeof y, "%.9g", b);
    return strcmp(x, y) == 0;
}

static atas_train_args args_for(const char *cfg, char **sets) {
    return (atas_train_args){.config_path = cfg, .sets = sets, .nsets = 6, .dump_step = -1};
}

/* student, teacher, m, v of a checkpoint, concatenated (host) */
static float *read_ckpt(const char *path, const atas_run_config *rc, size_t *n) {
    atas_vit_config mc;
    int complete = 0;
    T_OK(atas_config_model(rc, &mc, &complete));
    atas_vit s = {0}, t = {0};
    T_OK(atas_vit_create(&s, &mc, atas_backend_cpu(), 1));
    T_OK(atas_vit_create(&t, &mc, atas_backend_cpu(), 0));
    const size_t P = s.nparams;
    float *all = calloc(4 * P, sizeof(float)); /* moments of frozen tensors are not stored */
    if (!all) exit(1);
    atas_ckpt_state st;
    T_OK(atas_ckpt_read(path, &s, &t, all + 2 * P, all + 3 * P, &st));
    memcpy(all, s.params, P * sizeof(float));
    memcpy(all + P, t.params, P * sizeof(float));
    T_ASSERT(st.step == STEPS, "%s: step %lld", path, st.step);
    atas_vit_destroy(&s);
    atas_vit_destroy(&t);
    *n = 4 * P;
    return all;
}

int main(int argc, char **argv) {
    atas_comm comm;
    T_OK(atas_comm_init(&comm, &argc, &argv, 120));
    const char *src = getenv("ATAS_SOURCE_DIR"), *bin = getenv("ATAS_BINARY_DIR");
    if (!src || !bin) {
        fprintf(stderr, "set ATAS_SOURCE_DIR and ATAS_BINARY_DIR\n");
        return 1;
    }
    snprintf(g_dir, sizeof g_dir, "/tmp/atas_trainer_api_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    snprintf(g_corpus, sizeof g_corpus, "%s/c.h5", g_dir);
    char cmd[4096], cfg[600];
    snprintf(cfg, sizeof cfg, "%s/configs/tiny.cfg", src);
    snprintf(cmd, sizeof cmd, "bash '%s/tests/make_test_corpus.sh' '%s' 64", src, g_corpus);
    T_ASSERT(system(cmd) == 0, "%s", cmd);

    /* the reference: atas_mpi itself */
    char sets[6][700], *pp[6];
    sets_for(sets, pp, "ref");
    snprintf(cmd, sizeof cmd, "'%s/atas_mpi' '%s'", bin, cfg);
    for (int i = 0; i < 6; i++) {
        char q[800];
        snprintf(q, sizeof q, " --set '%.700s'", sets[i]);
        strncat(cmd, q, sizeof cmd - strlen(cmd) - 1);
    }
    strncat(cmd, " > /dev/null 2>&1", sizeof cmd - strlen(cmd) - 1);
    T_ASSERT(system(cmd) == 0, "atas_mpi failed: %s", cmd);
    double ref[STEPS][4] = {{0}};
    T_ASSERT(read_metrics("ref", ref) == STEPS, "atas_mpi's metrics.jsonl lacks steps");

    /* (a) the API, step by step */
    sets_for(sets, pp, "api");
    atas_train_args a = args_for(cfg, pp);
    atas_trainer *t = NULL;
    T_OK(atas_trainer_create(&comm, &a, &t));
    T_ASSERT(atas_trainer_total_steps(t) == STEPS && atas_trainer_steps_done(t) == 0, "schedule");
    atas_step_result r = {0};
    int k = 0;
    while (!r.done) {
        T_OK(atas_trainer_step(t, &r));
        T_ASSERT(r.step == k + 1, "step %lld after call %d", r.step, k);
        for (int j = 0; j < 4; j++)
            T_ASSERT(same9(r.loss[j], ref[k][j]), "step %d loss %d: API %.9g, atas_mpi %.9g", k, j, r.loss[j],
                     ref[k][j]);
        k++;
        if (k > STEPS) break;
    }
    T_ASSERT(k == STEPS && r.done == ATAS_TRAIN_DONE, "%d steps, done %d", k, r.done);
    atas_step_result again;
    T_OK(atas_trainer_step(t, &again));
    T_ASSERT(again.done == ATAS_TRAIN_DONE && again.step == STEPS, "a step after the end does nothing");
    /* no evaluator in this run: evaluate says so */
    T_ASSERT(atas_trainer_evaluate(t) == ATAS_ERR_INVALID && strstr(atas_error_message(), "no evaluator"),
             "evaluate without an evaluator: %s", atas_error_message());
    atas_error_clear();
    atas_run_config rc = *atas_trainer_config(t);
    atas_trainer_destroy(t);

    /* (b) 3 steps, a checkpoint, destroy; resume; the rest */
    sets_for(sets, pp, "res");
    a = args_for(cfg, pp);
    T_OK(atas_trainer_create(&comm, &a, &t));
    for (int i = 0; i < 3; i++) T_OK(atas_trainer_step(t, &r));
    T_OK(atas_trainer_checkpoint(t));
    atas_trainer_destroy(t);
    a.resume = "auto";
    T_OK(atas_trainer_create(&comm, &a, &t));
    T_ASSERT(atas_trainer_steps_done(t) == 3, "resumed at step %lld", atas_trainer_steps_done(t));
    for (k = 3; k < STEPS; k++) {
        T_OK(atas_trainer_step(t, &r));
        for (int j = 0; j < 4; j++)
            T_ASSERT(same9(r.loss[j], ref[k][j]), "resumed step %d loss %d: %.9g vs %.9g", k, j, r.loss[j], ref[k][j]);
    }
    T_ASSERT(r.done == ATAS_TRAIN_DONE, "resumed run done");
    atas_trainer_destroy(t);
    char p1[900], p2[900];
    snprintf(p1, sizeof p1, "%s/runs/ref/checkpoints/ckpt-%08d.h5", g_dir, STEPS);
    snprintf(p2, sizeof p2, "%s/runs/res/checkpoints/ckpt-%08d.h5", g_dir, STEPS);
    size_t n1 = 0, n2 = 0;
    float *w1 = read_ckpt(p1, &rc, &n1), *w2 = read_ckpt(p2, &rc, &n2);
    T_ASSERT(n1 == n2 && memcmp(w1, w2, n1 * sizeof(float)) == 0,
             "the resumed run's final student/teacher/AdamW differ from atas_mpi's uninterrupted run");
    free(w1);
    free(w2);

    /* (c) a missing config: an error naming it, nothing created */
    char missing[700];
    snprintf(missing, sizeof missing, "%s/nope.cfg", g_dir);
    a = args_for(missing, pp);
    t = (atas_trainer *)&a; /* must be reset to NULL */
    T_ASSERT(atas_trainer_create(&comm, &a, &t) != ATAS_OK && t == NULL, "a missing config was accepted");
    T_ASSERT(strstr(atas_error_message(), missing) != NULL, "message does not name %s: %s", missing,
             atas_error_message());
    atas_error_clear();

    if (t_failures == 0) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    }
    atas_comm_finalize(&comm);
    return t_finish("test_trainer_api");
}
