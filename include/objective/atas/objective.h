/* atas: the ATAS objective of ONE sample group (n images + m mosaics of them),
 * forward and backward, on host memory. docs/objective.md has the exact formulas.
 *
 * Inputs are RAW model outputs (not normalised); every embedding a loss uses is
 * L2-normalised here (F.normalize semantics, eps 1e-12) and the gradient passes
 * through that normalisation. The teacher gets no gradient. */
#ifndef ATAS_OBJECTIVE_H
#define ATAS_OBJECTIVE_H

#include "atas/backend.h"
#include "atas/core.h"
#include "atas/mosaic.h"

#ifdef __cplusplus
extern "C" {
#endif

/* loss.g2l.pool: how a cell's student tokens become one embedding */
typedef enum {
    ATAS_G2L_POOL_MEAN = 0,         /* mean of the L2-normalised tokens (CLIPSelf: normalise, RoIAlign 1x1) */
    ATAS_G2L_POOL_TEACHER_WEIGHTED, /* softmax_p(<t^_i, d^_p>/pool_tau)-weighted sum of the normalised
                                       tokens; the weights are stop-gradient */
    ATAS_G2L_POOL_MEAN_RAW          /* mean of the RAW tokens (high-norm tokens dominate; option) */
} atas_g2l_pool;

/* loss.g2l.form and loss.g2g.form */
typedef enum {
    ATAS_FORM_COSINE = 0, /* 1 - cos(student, teacher of the same image) */
    ATAS_FORM_INFONCE     /* cross-entropy over the group's n teacher globals, target = own image */
} atas_embed_form;

/* loss.l2l.form */
typedef enum {
    ATAS_L2L_COSINE = 0,   /* mean over cell tokens of 1 - cos(d_p, T'_p) */
    ATAS_L2L_SIMILARITY    /* MSE between the K x K cosine-similarity matrices */
} atas_l2l_form;

typedef struct {
    double w_g2l, w_l2l, w_g2g; /* >= 0; a weight of 0 skips that loss entirely */
    atas_g2l_pool g2l_pool;
    atas_embed_form g2l_form;
    atas_l2l_form l2l_form;
    atas_embed_form g2g_form;
    double pool_tau; /* teacher_weighted pooling temperature (> 0 when used) */
    double g2l_tau;  /* G2L InfoNCE temperature */
    double g2g_tau;  /* G2G InfoNCE temperature */
} atas_loss_config;

/* Per-group loss values (unweighted, not multiplied by grad_scale). A skipped loss
 * (weight 0) reports 0. total = w_g2l*g2l + w_l2l*l2l + w_g2g*g2g. */
typedef struct {
    double g2l, l2l, g2g, total;
} atas_loss_values;

/* This project's defaults (docs/objective.md): weights 1/1/1, mean pool, cosine
 * forms, pool_tau 0.1, InfoNCE temperatures 0.07. */
void atas_loss_config_default(atas_loss_config *cfg);

/* Config-time check: weights finite and >= 0, not all zero, temperatures > 0
 * where the chosen forms use them. Errors name the key (loss.w_g2l, loss.g2l.tau, ...). */
atas_status atas_loss_config_check(const atas_loss_config *cfg);

/* String <-> enum for the config keys; `key` names the key in the error message. */
atas_status atas_loss_parse_pool(const char *s, const char *key, atas_g2l_pool *out);  /* mean | teacher_weighted | mean_raw */
atas_status atas_loss_parse_form(const char *s, const char *key, atas_embed_form *out); /* cosine | infonce */
atas_status atas_loss_parse_l2l(const char *s, const char *key, atas_l2l_form *out);   /* cosine | similarity */
const char *atas_loss_pool_name(atas_g2l_pool p);
const char *atas_loss_form_name(atas_embed_form f);
const char *atas_loss_l2l_name(atas_l2l_form f);

/* The group's losses and their gradients w.r.t. the student outputs.
 *   plans[m]   mosaic plans (g, cell_px, cell -> image); cell_px % patch == 0 and
 *              g * cell_px / patch == hC == wC for every mosaic.
 *   t_glob  [n,E]          teacher global embeddings of the n global views
 *   t_dense [n,hT,wT,E]    teacher dense maps of the same views
 *   s_glob  [n,E]          student global embeddings of the same views
 *   s_dense [m,hC,wC,E]    student dense maps of the mosaics
 *   grad_scale             multiplies every gradient (e.g. 1/groups_per_rank)
 *   ds_glob  [n,E]         overwritten with grad_scale * d total / d s_glob;
 *                          may be NULL when w_g2g == 0 (zeroed when given)
 *   ds_dense [m,hC,wC,E]   overwritten with grad_scale * d total / d s_dense;
 *                          may be NULL (and s_dense, t_dense too) when w_g2l == w_l2l == 0
 * Workspace: allocated once per call with atas_host_alloc and freed before returning;
 * its size is atas_objective_workspace_bytes(). Threads: OpenMP over the cells.
 * Results are bitwise independent of the thread count.
 * Errors: ATAS_ERR_INVALID for bad shapes/plans/config, ATAS_ERR_NOMEM,
 * ATAS_ERR_NUMERIC "loss g2l is NaN" (or Inf) when a loss is not finite. */
atas_status atas_objective_group(const atas_loss_config *cfg, const atas_mosaic *plans, int m,
                                 int n, int E, int patch, const float *t_glob,
                                 const float *t_dense, int hT, int wT, const float *s_glob,
                                 const float *s_dense, int hC, int wC, float grad_scale,
                                 float *ds_glob, float *ds_dense, atas_loss_values *out);

/* Bytes of host workspace one atas_objective_group call allocates for these shapes
 * with `threads` OpenMP threads (0 = omp_get_max_threads()). For memory planning. */
size_t atas_objective_workspace_bytes(const atas_loss_config *cfg, const atas_mosaic *plans, int m,
                                      int n, int E, int hT, int wT, int patch, int threads);

/* The device objective (ops.def `objective`, docs/step_device.md): its parameters
 * from a loss config, and the cell table of a group's mosaic plans:
 * cells[c * ATAS_OBJ_CELL_INTS + 0..4] = mosaic, image, k, r0, c0, mosaic-major then
 * row-major (the host objective's order). The plans are checked as
 * atas_objective_group checks them. cells may be NULL (counting only); cap is the
 * number of ints cells holds. */
atas_obj_params atas_objective_params(const atas_loss_config *cfg);
atas_status atas_objective_cells(const atas_mosaic *plans, int m, int n, int patch, int hC, int wC, int *cells,
                                 size_t cap, int *ncells, int *kmax);

#ifdef __cplusplus
}
#endif
#endif
