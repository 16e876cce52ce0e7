/* data: the sampler (per-epoch permutation, world-size invariant) and the loader
 * (one HDF5 I/O thread + worker threads building views and mosaics).
 *
 * Global order: epoch e uses the permutation P_e of [0, N) drawn from
 * (seed, e). Step s of the epoch covers positions [s*G*n, (s+1)*G*n); group j
 * (0 <= j < G) holds positions s*G*n + j*n .. + n; rank r of W serves groups
 * [r*G/W, (r+1)*G/W). Drop-last: steps per epoch = floor(N / (G*n)). Nothing
 * depends on W or on thread timing. */
#ifndef ATAS_LOADER_H
#define ATAS_LOADER_H

#include <mpi.h>
#include <stdint.h>

#include "atas/core.h"
#include "atas/mosaic.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- sampler */
/* P_e: a uniform permutation of [0, N) (Fisher-Yates on atas_rng_stream). N < 2^32. */
atas_status atas_sampler_permutation(uint32_t *perm, int64_t N, uint64_t seed, uint64_t epoch);
/* floor(N / (G*n)) */
int64_t atas_sampler_steps_per_epoch(int64_t N, int groups, int group_images);
/* Corpus indices of rank r's groups at a step: image_index [(G/W)*n] (group-major)
 * and group_index [G/W] (the global group index j in 0..G-1). */
atas_status atas_sampler_rank_slice(const uint32_t *perm, int64_t N, int64_t step_in_epoch,
                                    int groups, int group_images, int rank, int world,
                                    int64_t *image_index, int64_t *group_index);

/* ---------------------------------------------------------------- loader */
typedef struct {
    int64_t epoch;         /* epochs completed before this batch */
    int64_t step_in_epoch; /* 0 .. steps_per_epoch-1 */
    int64_t global_step;   /* epoch * steps_per_epoch + step_in_epoch */
} atas_data_cursor;

typedef struct {
    const char *path;      /* corpus file */
    int group_images;      /* n: images per group */
    int groups;            /* G: groups per GLOBAL batch (G % world == 0) */
    int mosaics;           /* m: mosaics per group (0 allowed) */
    const int *grids;      /* mosaic grid sides (copied) */
    int ngrids;
    int view_px;           /* R: global view side */
    int canvas_px;         /* C: mosaic canvas side (C % g == 0 for every grid) */
    uint64_t seed;         /* permutation and mosaic plans */
    int workers;           /* worker threads building views/mosaics (>= 1) */
    int prefetch;          /* steps in flight (>= 1) */
    int64_t start_epoch;   /* start cursor (from a checkpoint; 0, 0 for a fresh run) */
    int64_t start_step;    /* step in epoch, < steps_per_epoch */
    const char *view_key;   /* config key names used in error messages (NULL: "view_px") */
    const char *canvas_key; /* (NULL: "canvas_px") */
    int repeat_images;     /* 1: a mosaic may repeat images (g*g > n); 0: cells hold distinct images */
} atas_loader_config;

typedef struct {
    int groups;               /* this rank's groups: G / world */
    int n, m, R, C;
    float *views;             /* [groups*n, 3, R, R], CLIP-normalised */
    float *mosaics;           /* [groups*m, 3, C, C], CLIP-normalised */
    atas_mosaic *plans;       /* [groups*m]: plans[j*m + k] built mosaics[j*m + k] */
    int64_t *group_index;     /* [groups]: global group index j (0..G-1) within the step */
    int64_t *image_index;     /* [groups*n]: corpus index of each view */
    atas_data_cursor cursor;  /* where this batch sits */
    atas_data_cursor next;    /* cursor after it: save this in a checkpoint */
    double wait_s;            /* seconds atas_loader_next blocked for it */
} atas_batch;

typedef struct atas_loader atas_loader;

/* Collective on comm (opens the corpus through MPI-IO). Needs MPI initialised with
 * MPI_THREAD_MULTIPLE (the I/O thread does MPI-IO while the caller communicates).
 * Validates everything: corpus format, N >= G*n, S >= max(R, C/min(grids)),
 * G % world, C % g, start cursor. */
atas_status atas_loader_open(atas_loader **ld, const atas_loader_config *cfg, MPI_Comm comm);
/* Blocks until the next step's batch is ready. Errors of the I/O thread
 * (checksum failure naming the image index, ...) are returned here. The batch
 * stays valid until atas_loader_release; at most `prefetch` may be held. */
atas_status atas_loader_next(atas_loader *ld, atas_batch **b);
void atas_loader_release(atas_loader *ld, atas_batch *b);
void atas_loader_close(atas_loader *ld);
int64_t atas_loader_steps_per_epoch(const atas_loader *ld);
int64_t atas_loader_corpus_count(const atas_loader *ld);
int atas_loader_corpus_side(const atas_loader *ld);

/* CLIP normalisation applied to views and mosaics: (x/255 - mean) / std */
extern const float atas_clip_mean[3];
extern const float atas_clip_std[3];

#ifdef __cplusplus
}
#endif
#endif
