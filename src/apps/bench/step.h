/* atas_bench's training-step table (atas_bench --step CONFIG): the whole ATAS step as
 * atas_mpi runs it, through the trainer object, on a synthetic corpus and random-init
 * weights. Part of the atas_bench program (src/apps/atas_bench.c). */
#ifndef ATAS_BENCH_STEP_H
#define ATAS_BENCH_STEP_H

#include "atas/backend.h"

typedef struct {
    const char *config;    /* the config file */
    const char *backend;   /* NULL: the config's run.backend */
    const char *precision; /* NULL: the config's run.precision ("auto": bf16 on cuda, fp32 on cpu) */
    int steps;             /* timed steps, after one warm-up step */
    int threads;           /* CPU threads (run.threads) */
    char **sets;           /* more key=value overrides, applied last */
    int nsets;
    int header;            /* print the column header before the row */
} bench_step_opts;

/* One row and its phase table on stdout (rank 0); 0 when done, 1 on an error (printed).
 * Initialises MPI on first use (a single process is a world of one; under mpirun every
 * rank takes part). */
int bench_step(const bench_step_opts *o);
/* Finalises MPI when bench_step initialised it. */
void bench_step_finish(void);

/* The backend's gemm_peak on n x n x n random operands at its precision (best of its own
 * timed calls after a warm-up; reps is kept for the callers), GFLOP/s: the peak every
 * atas_bench table is set against. */
atas_status bench_gemm_peak(const atas_backend *be, int n, int reps, double *gflops);

#endif
