/* config: the run configuration of `atas_mpi CONFIG [--set key=value ...]`.
 *
 * A libconfig file is parsed into atas_run_config through ONE schema table
 * (src/train/config_schema.c: key, type, default, range/enum, doc). The same
 * table drives loading, `--set` overrides, writing the resolved config and the
 * generated documentation (configs/README.md), so they cannot disagree.
 *
 * Every problem is an ATAS_ERR_CONFIG naming where it came from and the full
 * dotted key, e.g. `configs/x.cfg:12: optim.lr = -1: must be > 0` or
 * `--set: optim.lr = -1: must be > 0`. Unknown keys (anywhere, nested groups
 * included) are errors with a "did you mean" suggestion. An integer is accepted
 * where a float is expected; a float where an integer is expected is an error. */
#ifndef ATAS_CONFIG_H
#define ATAS_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "atas/core.h"
#include "atas/mosaic.h"
#include "atas/vit.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ATAS_CFG_NAME_LEN 128  /* run.name, model.preset */
#define ATAS_CFG_PATH_LEN 1024 /* every path-valued key */

typedef enum { ATAS_CFG_BACKEND_CPU = 0, ATAS_CFG_BACKEND_CUDA = 1, ATAS_CFG_BACKEND_CPU_STAGED = 2 } atas_cfg_backend;
/* run.precision: the math of GEMMs and attention; the values other than auto
 * are atas_precision's (atas/backend.h); auto = bf16 on cuda, fp32 on cpu */
typedef enum {
    ATAS_CFG_PRECISION_AUTO = -1,
    ATAS_CFG_PRECISION_FP32 = 0,
    ATAS_CFG_PRECISION_TF32 = 1,
    ATAS_CFG_PRECISION_BF16 = 2
} atas_cfg_precision;
/* dist.backend: how ranks reduce gradients and broadcast weights */
typedef enum { ATAS_CFG_DIST_AUTO = 0, ATAS_CFG_DIST_NCCL = 1, ATAS_CFG_DIST_MPI = 2 } atas_cfg_dist_backend;
typedef enum { ATAS_CFG_WEIGHTS_AUTO = 0, ATAS_CFG_WEIGHTS_OPENCLIP, ATAS_CFG_WEIGHTS_HF } atas_cfg_weights_format;
/* same values as atas_g2l_pool */
typedef enum { ATAS_CFG_POOL_MEAN = 0, ATAS_CFG_POOL_TEACHER_WEIGHTED, ATAS_CFG_POOL_MEAN_RAW } atas_cfg_pool;
/* loss forms: G2L and G2G take cosine | infonce, L2L takes cosine | similarity */
typedef enum { ATAS_CFG_FORM_COSINE = 0, ATAS_CFG_FORM_INFONCE, ATAS_CFG_FORM_SIMILARITY } atas_cfg_form;
typedef enum { ATAS_CFG_MOM_COSINE = 0, ATAS_CFG_MOM_CONSTANT } atas_cfg_mom_schedule;
typedef enum { ATAS_CFG_LR_LINEAR = 0, ATAS_CFG_LR_SQRT } atas_cfg_lr_rule;
#define ATAS_CFG_ACT_UNSET (-1) /* model.act = "": from the preset or the weights */

typedef struct {
    struct {
        char name[ATAS_CFG_NAME_LEN]; /* run directory is dir/name */
        char dir[ATAS_CFG_PATH_LEN];
        int64_t seed;
        int steps;     /* total optimizer steps; 0 = derive from epochs */
        int epochs;
        int log_every;
        int backend;   /* atas_cfg_backend */
        int precision; /* atas_cfg_precision */
        int threads;   /* 0 = auto */
        int dump_step; /* -1 = never */
        char dump_dir[ATAS_CFG_PATH_LEN]; /* "" = <run dir>/dump */
        double peak_tflops; /* per rank, for MFU; 0 = measured (sgemm) at start */
    } run;
    struct {
        char preset[ATAS_CFG_NAME_LEN]; /* "" or an atas_vit_preset name */
        int patch, width, layers, heads, mlp, embed, grid; /* 0 = from preset / weights */
        int act;       /* ATAS_CFG_ACT_UNSET or an atas_act */
        double ln_eps;
        char weights[ATAS_CFG_PATH_LEN]; /* "" = random init */
        int weights_format; /* atas_cfg_weights_format */
        int unlocked_blocks; /* 0 = every block trains */
        int train_embeddings;
        int train_head;
    } model;
    struct {
        char corpus[ATAS_CFG_PATH_LEN];
        int resolution; /* R: side of the global views */
        int workers;
        int prefetch;
    } data;
    struct {
        int groups;       /* global groups per step */
        int group_images; /* n images per group */
        int groups_per_rank; /* > 0: groups = this * world (atas_config_apply_world); 0 = use groups */
        int round_up;        /* groups not a multiple of the ranks: 1 = round up to one, 0 = error */
    } batch;
    struct {
        int canvas; /* C */
        int ngrids;
        int grids[ATAS_MOSAIC_MAX_GRID];
        int per_group; /* m mosaics per group */
        int repeat_images; /* opt-in: a mosaic may repeat images when g*g > group_images */
    } mosaic;
    struct {
        struct { double weight; int pool; double pool_tau; int form; double tau; } g2l;
        struct { double weight; int form; } l2l;
        struct { double weight; int form; double tau; } g2g;
    } loss;
    struct {
        double lr;
        double betas[2];
        double eps;
        double weight_decay;
        int warmup_steps;
        double min_lr;
        double clip_grad_norm;      /* 0 = off */
        double lr_scale_ref_images; /* 0 = off */
        int lr_scale_rule;          /* atas_cfg_lr_rule: linear | sqrt */
        double warmup_fraction;     /* > 0: warm-up = round(fraction * total steps), replaces warmup_steps */
    } optim;
    struct {
        double momentum_start;
        double momentum_end;
        int momentum_schedule; /* atas_cfg_mom_schedule */
        int sync_every;
    } teacher;
    struct {
        int every;
        int keep_last;
        int keep_every;
        char resume[ATAS_CFG_PATH_LEN]; /* "", "auto" or a checkpoint path */
    } checkpoint;
    struct {
        int bucket_mb;
        int timeout_s;
        int check_every;
        int backend; /* atas_cfg_dist_backend */
    } dist;
    struct {
        int max_nonfinite_in_row;
    } faults;
    struct {
        int every;                          /* 0 = off; else at step 0 and every N steps */
        char data[ATAS_CFG_PATH_LEN];       /* COCO panoptic or instances JSON */
        char images[ATAS_CFG_PATH_LEN];
        char masks[ATAS_CFG_PATH_LEN];      /* "" = the JSON path without .json */
        char classes[ATAS_CFG_PATH_LEN];    /* class embeddings (HDF5) */
        int size;                           /* 0 = 64 tokens * patch */
        int max_images;                     /* 0 = all */
        int crops;
    } eval;
} atas_run_config;

/* Defaults for every key (no required-key checks). */
void atas_config_defaults(atas_run_config *out);

/* Parse `path`, apply `sets` ("key=value", nsets of them, in order), then run
 * every check that needs only the config (including the model/resolution/mosaic
 * geometry when the model dims are known without reading weights).
 * `@include "x.cfg"` resolves relative to the directory of `path`. */
atas_status atas_config_load(const char *path, char **sets, int nsets, atas_run_config *out);

/* One "key=value" override with the same checks as the file (no cross-key checks). */
atas_status atas_config_set(atas_run_config *c, const char *assignment);

/* The cross-key checks (atas_config_load runs them). */
atas_status atas_config_check(const atas_run_config *c);

/* batch.groups must be a multiple of the number of ranks (after atas_config_apply_world,
 * which rounds it up when batch.round_up is set). */
atas_status atas_config_check_world(const atas_run_config *c, int world);

/* Write every key with its resolved value (libconfig syntax, via a temporary
 * file and rename); atas_config_load on it gives an identical struct. */
atas_status atas_config_write_resolved(const atas_run_config *c, const char *path);
atas_status atas_config_write_resolved_file(const atas_run_config *c, FILE *f);

/* 1 when every key has the same value (the test of a round trip). */
int atas_config_equal(const atas_run_config *a, const atas_run_config *b);

/* Markdown documentation of every key (configs/README.md is this output). */
void atas_config_print_docs(FILE *f);

/* The model: preset (if any), then every non-zero override (patch..grid, act),
 * ln_eps always from the config. Without preset and weights every dim is required
 * (grid defaults to data.resolution / patch). With weights and no preset, dims
 * the config does not give stay 0 (act ATAS_CFG_ACT_UNSET -> QuickGELU placeholder
 * flagged by *complete = 0) for the caller to fill from the checkpoint.
 * `complete` (may be NULL) says whether every dim is known. */
atas_status atas_config_model(const atas_run_config *c, atas_vit_config *out, int *complete);

/* Geometry checks of a complete model against the config: atas_vit_config_check,
 * data.resolution a multiple of the patch, mosaic cells aligned to the token
 * grid, unlocked_blocks <= layers. Call again after filling dims from weights. */
atas_status atas_config_check_model(const atas_run_config *c, const atas_vit_config *m);

/* Name of an enum value of a key ("run.backend", ATAS_CFG_BACKEND_CUDA) -> "cuda". */
const char *atas_config_enum_name(const char *key, int value);

/* dist.backend resolved: 1 = NCCL, 0 = MPI. "auto" is NCCL when run.backend is
 * "cuda", the build has CUDA and the ranks do not share GPUs (ATAS_SHARE_GPU=1
 * asks for sharing, which NCCL cannot do); the trainer then uses it only with more
 * than one rank. "nccl" with another backend is refused when the config is loaded. */
int atas_config_dist_nccl(const atas_run_config *c);

/* Small derived quantities the trainer needs. */
static inline int atas_config_images_per_step(const atas_run_config *c) {
    return c->batch.groups * c->batch.group_images;
}
/* optim.lr, scaled linearly by images/step / lr_scale_ref_images when that is > 0 */
double atas_config_peak_lr(const atas_run_config *c);
/* run.steps, or ceil(epochs * corpus_images / images per step) when run.steps = 0 */
int64_t atas_config_total_steps(const atas_run_config *c, int64_t corpus_images);
/* ---- the recipe at a world size (src/train/recipe.c; docs/training.md) */
/* Resolve the batch for `world` ranks: with batch.groups_per_rank > 0, batch.groups =
 * groups_per_rank * world and groups_per_rank becomes 0 (the global batch is fixed from
 * here on); with batch.round_up, a global batch.groups that is not a multiple of world
 * is rounded up to the next multiple; then atas_config_check_world. */
atas_status atas_config_apply_world(atas_run_config *c, int world);
/* Warm-up in steps: round(optim.warmup_fraction * total) (>= 1) when the fraction is > 0,
 * else optim.warmup_steps. */
int64_t atas_config_warmup_steps(const atas_run_config *c, int64_t total_steps);

typedef struct {
    int world, groups, groups_per_rank, per_rank_given, images_per_step;
    int groups_asked;       /* batch.groups before batch.round_up rounded it (== groups when not) */
    int64_t corpus_images;  /* 0 = unknown */
    int64_t total_steps;    /* 0 = unknown (run.steps = 0 and no corpus size) */
    double epochs;          /* passes over the corpus (0 when unknown) */
    double peak_lr;
    int64_t warmup_steps;
    double warmup_share;    /* warmup_steps / total_steps (0 when unknown) */
} atas_recipe;
/* The derived numbers of `c` on `world` ranks (c is not changed); corpus_images <= 0 = unknown. */
atas_status atas_recipe_derive(const atas_run_config *c, int world, int64_t corpus_images, atas_recipe *r);
/* Lines "recipe ...: ..." (global batch, steps and epochs, peak lr, warm-up) into buf. */
void atas_recipe_format(const atas_recipe *r, const atas_run_config *c, char *buf, size_t n);
/* The same lines through atas_info (rank 0 prints): the trainer's start-up report. */
atas_status atas_recipe_log(const atas_run_config *c, int world, int64_t corpus_images);

/* "dir/name" into buf; ATAS_ERR_CONFIG when it does not fit */
atas_status atas_config_run_dir(const atas_run_config *c, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
