/* The CPU twin of the device objective (ops.def `objective`): the arithmetic of
 * backend/objective_math.h, cells and views spread over OpenMP threads (each unit
 * owns its outputs and scratch, the sums are fixed-order: thread-count independent). */
#include "backend/cpu/cpu_internal.h"
#include "backend/objective_math.h"

static void ctx_init(obj_ctx *c, int ncells, int kmax, int n, int m, int E, int hT, int wT, int hC, int wC,
                     atas_obj_params prm) {
    memset(c, 0, sizeof *c);
    c->ncells = obj_dense(&prm) ? ncells : 0;
    c->kmax = kmax;
    c->n = n;
    c->m = m;
    c->E = E;
    c->hT = hT;
    c->wT = wT;
    c->hC = hC;
    c->wC = wC;
    c->prm = prm;
}

size_t atas_cpu_objective_workspace_bytes(const atas_backend *be, int ncells, int kmax, int n, int E, int hT, int wT,
                                          atas_obj_params prm) {
    obj_ctx c;
    ctx_init(&c, ncells, kmax, n, 0, E, hT, wT, 0, 0, prm);
    return obj_layout(&c, NULL);
}

atas_status atas_cpu_objective(const atas_backend *be, double *losses, float *ds_glob, float *ds_dense, const float *t_glob,
                               const float *t_dense, const float *s_glob, const float *s_dense,
                               const int *cells, int ncells, int kmax, int n, int m, int E, int hT, int wT,
                               int hC, int wC, atas_obj_params prm, float grad_scale, void *workspace) {
    obj_ctx c;
    ctx_init(&c, ncells, kmax, n, m, E, hT, wT, hC, wC, prm);
    c.tg = t_glob;
    c.td = t_dense;
    c.sg = s_glob;
    c.sd = s_dense;
    c.cells = cells;
    c.a_g2l = c.ncells ? (double)grad_scale * prm.w_g2l / c.ncells : 0;
    c.a_l2l = c.ncells ? (double)grad_scale * prm.w_l2l / c.ncells : 0;
    c.a_g2g = (double)grad_scale * prm.w_g2g / n;
    obj_layout(&c, (char *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63));
    const int dense = obj_dense(&prm);
    for (int i = 0; t_glob && i < n; i++) c.tg_inv[i] = obj_inv_norm(t_glob + (size_t)i * E, E);
    if (prm.w_l2l > 0) {
        const long ntok = (long)n * hT * wT;
#pragma omp parallel for schedule(static)
        for (long q = 0; q < ntok; q++) c.td_inv[q] = obj_inv_norm(t_dense + (size_t)q * E, E);
    }
    if (dense) {
#pragma omp parallel for schedule(dynamic, 1)
        for (int ci = 0; ci < ncells; ci++) obj_cell(&c, ds_dense, ci);
    } else if (ds_dense && m > 0) {
        memset(ds_dense, 0, sizeof(float) * (size_t)m * hC * wC * E);
    }
    if (prm.w_g2g > 0) {
#pragma omp parallel for schedule(static)
        for (int i = 0; i < n; i++) obj_g2g(&c, ds_glob, i);
    } else if (ds_glob) {
        memset(ds_glob, 0, sizeof(float) * (size_t)n * E);
    }
    if (obj_finish(&c, losses)) { /* a loss is not finite: so is every gradient */
        const size_t ng = ds_glob ? (size_t)n * E : 0, nd = ds_dense ? (size_t)m * hC * wC * E : 0;
        for (size_t i = 0; i < ng; i++) ds_glob[i] = NAN;
        for (size_t i = 0; i < nd; i++) ds_dense[i] = NAN;
    }
    return ATAS_OK;
}
