/* train: schedules, checkpoints and the training loop that every run goes through,
 * one rank or many. */
#ifndef ATAS_TRAIN_H
#define ATAS_TRAIN_H

#include <stdio.h>

#include "atas/checkpoint.h"
#include "atas/config.h"
#include "atas/comm.h"
#include "atas/vit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Linear warmup from 0 over `warmup` steps, then cosine from peak to min_lr at `total`.
 * step counts from 0 (the first update uses step 0). */
double atas_lr_at(long long step, long long total, int warmup, double peak, double min_lr);
/* Teacher momentum: start -> end along a cosine over `total` steps (or constant start). */
double atas_momentum_at(long long step, long long total, double start, double end, int cosine);

/* Exit codes atas_mpi uses (docs/training.md). */
enum {
    ATAS_EXIT_OK = 0,
    ATAS_EXIT_ERROR = 1,
    ATAS_EXIT_USAGE = 2,
    ATAS_EXIT_REQUEUE = 3,   /* stopped by SIGUSR1/SIGTERM after a checkpoint: requeue me */
    ATAS_EXIT_TIMEOUT = 4,   /* a collective timed out: a peer died */
    ATAS_EXIT_NONFINITE = 5  /* too many non-finite steps in a row; last good state saved */
};

/* ---- checkpoints: atas/checkpoint.h (io layer) */

/* ---- evaluation during training (the eval.* keys): the trainer decides when (step 0,
 * every eval.every steps, the last step) and writes the result into metrics.jsonl and
 * the progress line; an evaluator from a higher layer does the work (the infer layer's
 * region classification: atas_eval_trainer_init in atas/eval.h, which atas_mpi passes). */
typedef struct atas_train_evaluator {
    void *ctx;
    /* once, on every rank; a failure on any rank fails all (collective) */
    atas_status (*open)(void *ctx, const atas_run_config *cfg, atas_comm *comm);
    /* evaluate the student now (collective); keeps the result for json/summary */
    atas_status (*run)(void *ctx, const atas_vit *student, atas_comm *comm, long long step);
    /* the last result as the fields of a metrics.jsonl record: `, "eval": {...}` */
    void (*json)(void *ctx, FILE *f);
    /* the last result for the progress line (short, no leading space) */
    void (*summary)(void *ctx, char *buf, size_t n);
    void (*close)(void *ctx);
} atas_train_evaluator;

/* ---- the loop */
typedef struct {
    const char *config_path;
    char **sets;
    int nsets;
    const char *resume;      /* overrides checkpoint.resume when non-NULL */
    long long dump_step;     /* -1: none */
    const char *dump_dir;
    long long stop_after;    /* > 0: stop (as if signalled) after this many steps of this run (tests) */
    int overwrite;           /* a fresh start may delete another run in its run directory */
    int allow_schedule_change; /* a resume may change the schedule (loud warning) */
    const atas_train_evaluator *evaluator; /* NULL: a config with eval.every > 0 is refused */
    int no_phase_table;      /* 1: atas_trainer_destroy prints no phase table (a caller that prints
                              * its own from atas_trainer_get_stats, e.g. atas_bench --step) */
} atas_train_args;


#ifdef __cplusplus
}
#endif
#endif
