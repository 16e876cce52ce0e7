/* A run directory belongs to one run: fresh starts do not mix with an old run, and a
 * resume does not silently change the schedule it was started with. */
#ifndef ATAS_TRAIN_RUNDIR_H
#define ATAS_TRAIN_RUNDIR_H

#include "atas/config.h"
#include "atas/comm.h"

/* Before anything is written. A fresh start (resuming = 0) in a run directory that holds
 * another run (metrics.jsonl or checkpoints) fails with ATAS_ERR_CONFIG naming the
 * directory, --resume and --overwrite; with overwrite = 1 that run's checkpoints,
 * metrics.jsonl and config.cfg are deleted instead. Rank 0 looks, every rank gets the
 * same verdict. */
atas_status atas_rundir_guard(atas_comm *comm, const char *run_dir, const char *ckpt_dir, int resuming,
                              int overwrite);

/* The checkpoint's resolved config against the current one: total steps, peak lr, warmup,
 * min lr and teacher momentum must be the same, or the schedule would jump mid-run.
 * A difference fails with ATAS_ERR_CONFIG naming both values, or with allow = 1 is a loud
 * warning (printed by rank 0). Every rank computes the same verdict from the same file. */
atas_status atas_resume_check_schedule(const char *ckpt_path, const atas_run_config *now, long long corpus_images,
                                       int allow, int rank);

#endif
