/* Private state of one training run, shared by the loop, metrics and dump files. */
#ifndef ATAS_TRAINER_INTERNAL_H
#define ATAS_TRAINER_INTERNAL_H

#include <stdio.h>

#include "atas/loader.h"
#include "atas/objective.h"
#include "atas/train.h"
#include "atas/trainer.h"

enum { PH_DATA, PH_TEACHER, PH_STUDENT, PH_LOSS, PH_BACKWARD, PH_COMM, PH_OPTIM, PH_CKPT, PH_N };
extern const char *const atas_phase_names[PH_N];

typedef struct atas_step_dev atas_step_dev;

struct atas_trainer {
    atas_comm *comm;
    atas_run_config cfg;
    atas_vit_config mcfg;
    atas_loss_config loss;
    const atas_backend *be;
    char run_dir[1100], ckpt_dir[1200];
    char *resolved;        /* the resolved config text */
    atas_vit student, teacher;
    float *adam_m, *adam_v;
    atas_vit_pass *t_pass, *sg_pass, *sm_pass;
    atas_loader *loader;
    atas_grad_buckets buckets;
    int G_r, n, m, R, C, E, hT, hC;
    int need_t_dense, need_sg, need_sm;
    /* non-host backends: two slots of the batch's images, pinned on the host and in
     * backend memory, used in turn: step N computes from slot `slot` while step N+1's
     * batch goes up into the other on the copy stream (trainer.c, prefetch_next) */
    float *d_views[2], *d_mosaics[2];
    float *h_pin[2];
    int slot;
    atas_batch *next_b;          /* step N+1's batch, already uploaded into slot ^ 1; or NULL */
    float *h_stage; /* host mirror of a parameter-sized buffer, for MPI on device memory */
    long long total_steps, steps_per_epoch;
    atas_ckpt_state st;
    double phase[PH_N], phase_total[PH_N];
    FILE *metrics;
    double t_start;
    double elapsed0; /* training seconds of the runs before this one (from the checkpoint) */
    long long steps_this_run;
    struct atas_eval_hook *eval; /* eval_hook.c; NULL when eval.every = 0 */
    const atas_train_evaluator *evaluator; /* from atas_train_args */
    char resumed_from[1300]; /* the checkpoint this run resumed from, "" when fresh */
    /* observe.c: FLOPs of one step of this rank, the peak MFU is measured against, and
     * the last logged step's MFU and memory high-water marks */
    double step_flops, peak_tflops, last_mfu;
    size_t rss_peak, dev_peak;
    struct atas_step_dev *dstep;  /* step_device.c: the device-resident objective and update */
    unsigned long long xfer_h2d, xfer_d2h; /* transfer counters at the last metrics line */
    unsigned long long op_calls;           /* the backend's op-call counter at the last metrics line */
    int no_phase_table;                    /* atas_train_args.no_phase_table */
    /* what every step needs (set at the end of the set-up) */
    double peak_lr, ema_rate;
    int img_per_step;
    long long stop_after, dump_step;
    char dump_dir[1300];
    int finished; /* the final checkpoint and evaluation are done */
};

/* metrics.c */
atas_status atas_metrics_open(atas_trainer *t, int append);
atas_status atas_metrics_step(atas_trainer *t, long long step, const double *loss4, double lr, double gnorm,
                              double mom, double img_s, int skipped, double step_s);
void atas_progress_line(atas_trainer *t, long long step, const double *loss4, double lr, double img_s);
void atas_phase_table(atas_trainer *t);

/* eval_hook.c: region classification of the student at step 0 and every eval.every steps */
typedef struct atas_eval_hook atas_eval_hook;
atas_status atas_eval_hook_open(atas_trainer *t);
atas_status atas_eval_hook_step(atas_trainer *t, long long step);  /* before the step's update, when due */
atas_status atas_eval_hook_final(atas_trainer *t);                 /* after the last step, when due */
atas_status atas_eval_hook_now(atas_trainer *t);                   /* now, at the current step */
void atas_eval_hook_json(atas_trainer *t, FILE *f, long long step); /* `, "eval": {...}` for that step's record */
void atas_eval_hook_summary(const atas_trainer *t, char *buf, size_t n); /* for the progress line */
void atas_eval_hook_close(atas_trainer *t);
/* observe.c */
atas_status atas_observe_setup(atas_trainer *t);
void atas_observe_step(atas_trainer *t, double step_s); /* MFU and memory of the step just done */
void atas_wallclock_iso(char *buf, size_t n);           /* "2026-01-31T12:34:56.789Z" (UTC) */

/* dump.c */
atas_status atas_dump_begin(atas_trainer *t, const char *dir, long long step, const atas_batch *b,
                            float **student_copy);
atas_status atas_dump_end(atas_trainer *t, const char *dir, long long step, const double *loss4,
                          float *student_copy);

#endif
