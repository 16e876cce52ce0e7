/* train: the trainer object. Every run goes through it, one rank or many: atas_mpi is
 * a thin driver of it, and C tests drive steps directly (docs/training.md "Driving
 * the trainer from C").
 *
 *   atas_trainer *t;
 *   ATAS_CHECK(atas_trainer_create(&comm, &args, &t));   config, models, resume, data
 *   atas_step_result r = {0};
 *   atas_status s = ATAS_OK;
 *   while (s == ATAS_OK && !r.done) s = atas_trainer_step(t, &r);
 *   atas_trainer_destroy(t);                              phase table (rank 0), frees
 *   return atas_train_exit_code(s);
 *
 * Every call is collective: all ranks of `comm` make the same calls. */
#ifndef ATAS_TRAINER_H
#define ATAS_TRAINER_H

#include "atas/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct atas_trainer atas_trainer;

enum { ATAS_TRAIN_RUNNING = 0, ATAS_TRAIN_DONE = 1, ATAS_TRAIN_STOPPED = 2 };

/* What one atas_trainer_step did (means over the ranks). */
typedef struct {
    long long step;    /* optimizer steps completed after the call */
    double loss[4];    /* g2l, l2l, g2g and their weighted total */
    double lr, gnorm, momentum;
    double img_s, step_s;
    int skipped;       /* a non-finite loss or gradient: the update was skipped */
    int done;          /* ATAS_TRAIN_DONE: every step taken (final checkpoint and evaluation
                        * written); ATAS_TRAIN_STOPPED: stopped on a signal or stop_after after
                        * a checkpoint (the call returned ATAS_ERR_INTERRUPTED) */
} atas_step_result;

/* Loads and checks the config, creates the models (pretrained weights or random
 * init, rank 0's broadcast), resumes from a checkpoint when asked, opens the corpus,
 * creates the passes and the run directory (refusing another run's directory unless
 * args->overwrite or a resume), and prints the recipe. Nothing is left behind on
 * failure. */
atas_status atas_trainer_create(atas_comm *comm, const atas_train_args *args, atas_trainer **out);
/* One optimizer step with its checkpoint, metrics record and progress line as the
 * config says; after the last step, the final evaluation (out->done = DONE). Returns
 * ATAS_ERR_INTERRUPTED when a stop was requested (checkpointed: resume with
 * --resume auto), ATAS_ERR_NUMERIC after faults.max_nonfinite_in_row non-finite steps
 * (the last good state checkpointed). Called after DONE it does nothing. */
atas_status atas_trainer_step(atas_trainer *t, atas_step_result *out);
/* Runs the evaluator (args->evaluator) on the student now; an error when there is
 * none or eval.every = 0. The result goes into the next metrics record. */
atas_status atas_trainer_evaluate(atas_trainer *t);
/* Writes a checkpoint of the current state now (and prunes as configured). */
atas_status atas_trainer_checkpoint(atas_trainer *t);
long long atas_trainer_steps_done(const atas_trainer *t);
long long atas_trainer_total_steps(const atas_trainer *t);
const char *atas_trainer_run_dir(const atas_trainer *t);
const atas_run_config *atas_trainer_config(const atas_trainer *t); /* resolved for the world size */
/* What the run has measured so far, this rank's view: for a caller that prints its own
 * tables (atas_bench --step takes two snapshots and prints the differences). */
#define ATAS_TRAIN_MAX_PHASES 16
typedef struct {
    int nphases;
    const char *phase_name[ATAS_TRAIN_MAX_PHASES]; /* the phase table's rows */
    double phase_s[ATAS_TRAIN_MAX_PHASES];         /* seconds, summed over the steps of this run */
    long long steps;     /* steps taken by this run */
    double step_flops;   /* model FLOPs of one step of this rank (docs/training.md "MFU and memory") */
    double peak_tflops;  /* the MFU denominator per rank: run.peak_tflops, or measured at start */
    size_t rss_peak;     /* peak resident set of the process so far (VmHWM), bytes */
    size_t dev_peak;     /* device memory in use, the highest value seen at a step's end or now; 0 on cpu */
    int groups, views, mosaics; /* this rank's batch: groups, views (one per image), mosaics */
    int view_px, canvas_px;     /* R and C */
} atas_trainer_stats;
void atas_trainer_get_stats(const atas_trainer *t, atas_trainer_stats *out);
/* Prints the phase table (rank 0, when steps were taken, unless args->no_phase_table)
 * and frees everything. NULL is fine. */
void atas_trainer_destroy(atas_trainer *t);
/* The process exit code for a trainer status (docs/training.md): 0, 1, 3 (requeue),
 * 4 (ATAS_ERR_TIMEOUT: a collective timed out, a peer is dead or stuck; the caller
 * should stop every rank, atas_comm_abort, without tearing down: that could wait on
 * the dead peer), 5. */
int atas_train_exit_code(atas_status s);

#ifdef __cplusplus
}
#endif
#endif
