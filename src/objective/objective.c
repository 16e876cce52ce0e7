/* The ATAS objective of one group: argument checks, workspace, the per-cell loop
 * (OpenMP; each cell owns its tokens, so gradients are written without races) and
 * the fixed-order sums that make the result independent of the thread count. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "losses_internal.h"

/* ---------------------------------------------------------------- config */
void atas_loss_config_default(atas_loss_config *cfg) {
    cfg->w_g2l = 1.0;
    cfg->w_l2l = 1.0;
    cfg->w_g2g = 1.0;
    cfg->g2l_pool = ATAS_G2L_POOL_MEAN;
    cfg->g2l_form = ATAS_FORM_COSINE;
    cfg->l2l_form = ATAS_L2L_COSINE;
    cfg->g2g_form = ATAS_FORM_COSINE;
    cfg->pool_tau = 0.1;
    cfg->g2l_tau = 0.07;
    cfg->g2g_tau = 0.07;
}

static atas_status check_weight(double w, const char *key) {
    if (!isfinite(w) || w < 0)
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s = %g: a loss weight must be finite and >= 0", key, w);
    return ATAS_OK;
}

static atas_status check_tau(double t, const char *key) {
    if (!isfinite(t) || !(t > 0))
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s = %g: a temperature must be finite and > 0", key, t);
    return ATAS_OK;
}

atas_status atas_loss_config_check(const atas_loss_config *cfg) {
    ATAS_REQUIRE(cfg, "loss config: NULL");
    ATAS_CHECK(check_weight(cfg->w_g2l, "loss.w_g2l"));
    ATAS_CHECK(check_weight(cfg->w_l2l, "loss.w_l2l"));
    ATAS_CHECK(check_weight(cfg->w_g2g, "loss.w_g2g"));
    if (cfg->w_g2l == 0 && cfg->w_l2l == 0 && cfg->w_g2g == 0)
        return ATAS_ERR(ATAS_ERR_CONFIG, "loss.w_g2l, loss.w_l2l, loss.w_g2g are all 0: nothing to train");
    if ((unsigned)cfg->g2l_pool > ATAS_G2L_POOL_MEAN_RAW)
        return ATAS_ERR(ATAS_ERR_CONFIG, "loss.g2l.pool: bad value %d", (int)cfg->g2l_pool);
    if ((unsigned)cfg->g2l_form > ATAS_FORM_INFONCE)
        return ATAS_ERR(ATAS_ERR_CONFIG, "loss.g2l.form: bad value %d", (int)cfg->g2l_form);
    if ((unsigned)cfg->g2g_form > ATAS_FORM_INFONCE)
        return ATAS_ERR(ATAS_ERR_CONFIG, "loss.g2g.form: bad value %d", (int)cfg->g2g_form);
    if ((unsigned)cfg->l2l_form > ATAS_L2L_SIMILARITY)
        return ATAS_ERR(ATAS_ERR_CONFIG, "loss.l2l.form: bad value %d", (int)cfg->l2l_form);
    if (cfg->w_g2l > 0 && cfg->g2l_pool == ATAS_G2L_POOL_TEACHER_WEIGHTED)
        ATAS_CHECK(check_tau(cfg->pool_tau, "loss.g2l.pool_tau"));
    if (cfg->w_g2l > 0 && cfg->g2l_form == ATAS_FORM_INFONCE) ATAS_CHECK(check_tau(cfg->g2l_tau, "loss.g2l.tau"));
    if (cfg->w_g2g > 0 && cfg->g2g_form == ATAS_FORM_INFONCE) ATAS_CHECK(check_tau(cfg->g2g_tau, "loss.g2g.tau"));
    return ATAS_OK;
}

static const char *const pool_names[] = {"mean", "teacher_weighted", "mean_raw"};
static const char *const form_names[] = {"cosine", "infonce"};
static const char *const l2l_names[] = {"cosine", "similarity"};

static atas_status parse_enum(const char *s, const char *key, const char *const *names, int count,
                              int *out) {
    ATAS_REQUIRE(key, "loss config: key name is NULL");
    char expect[160] = "";
    for (int i = 0; i < count; i++) /* "a", "b" or "c" */
        snprintf(expect + strlen(expect), sizeof expect - strlen(expect), "%s\"%s\"",
                 i == 0 ? "" : i == count - 1 ? " or " : ", ", names[i]);
    if (!s) return ATAS_ERR(ATAS_ERR_CONFIG, "%s: missing (expected %s)", key, expect);
    for (int i = 0; i < count; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return ATAS_OK;
        }
    return ATAS_ERR(ATAS_ERR_CONFIG, "%s = \"%s\": expected %s", key, s, expect);
}

atas_status atas_loss_parse_pool(const char *s, const char *key, atas_g2l_pool *out) {
    int v = 0;
    ATAS_CHECK(parse_enum(s, key, pool_names, 3, &v));
    *out = (atas_g2l_pool)v;
    return ATAS_OK;
}
atas_status atas_loss_parse_form(const char *s, const char *key, atas_embed_form *out) {
    int v = 0;
    ATAS_CHECK(parse_enum(s, key, form_names, 2, &v));
    *out = (atas_embed_form)v;
    return ATAS_OK;
}
atas_status atas_loss_parse_l2l(const char *s, const char *key, atas_l2l_form *out) {
    int v = 0;
    ATAS_CHECK(parse_enum(s, key, l2l_names, 2, &v));
    *out = (atas_l2l_form)v;
    return ATAS_OK;
}
const char *atas_loss_pool_name(atas_g2l_pool p) { return (unsigned)p < 3 ? pool_names[p] : "?"; }
const char *atas_loss_form_name(atas_embed_form f) { return (unsigned)f < 2 ? form_names[f] : "?"; }
const char *atas_loss_l2l_name(atas_l2l_form f) { return (unsigned)f < 2 ? l2l_names[f] : "?"; }

/* ---------------------------------------------------------------- workspace */
typedef struct {
    double *tg, *td, *cell_g2l, *cell_l2l, *g2g_buf;
    atas_cell *cells;
    atas_loss_scratch *scr; /* [threads] */
} workspace;

/* Bump allocator over one block; with base == NULL it only counts bytes. */
static void *carve(char *base, size_t *off, size_t bytes) {
    size_t at = (*off + 63) & ~(size_t)63;
    *off = at + bytes;
    return base ? base + at : NULL;
}

static size_t layout(const atas_loss_config *cfg, int n, int E, int hT, int wT, int ncells, int kmax,
                     int threads, char *base, workspace *w) {
    const int dense = cfg->w_g2l > 0 || cfg->w_l2l > 0, l2l = cfg->w_l2l > 0;
    const int sim = l2l && cfg->l2l_form == ATAS_L2L_SIMILARITY;
    const size_t K = (size_t)kmax * kmax, D = sizeof(double);
    size_t off = 0;
    workspace tmp;
    if (!w) w = &tmp;
    w->tg = carve(base, &off, D * n * E);
    w->td = l2l ? carve(base, &off, D * n * hT * wT * E) : NULL;
    w->g2g_buf = carve(base, &off, D * (3 * (size_t)E + n));
    w->cells = carve(base, &off, sizeof(atas_cell) * ncells);
    w->cell_g2l = carve(base, &off, D * ncells);
    w->cell_l2l = carve(base, &off, D * ncells);
    w->scr = carve(base, &off, sizeof(atas_loss_scratch) * threads);
    if (!dense) return off;
    for (int t = 0; t < threads; t++) {
        atas_loss_scratch s = {0};
        s.dh = carve(base, &off, D * K * E);
        s.dn = carve(base, &off, D * K);
        s.gacc = carve(base, &off, D * K * E);
        s.gh = l2l ? carve(base, &off, D * K * E) : NULL;
        s.tp = l2l ? carve(base, &off, D * K * E) : NULL;
        s.ss = sim ? carve(base, &off, D * K * K) : NULL;
        s.st = sim ? carve(base, &off, D * K * K) : NULL;
        s.w = carve(base, &off, D * K);
        s.vec = carve(base, &off, D * 3 * E);
        s.prob = carve(base, &off, D * n);
        s.taps = carve(base, &off, sizeof(int) * 8 * kmax);
        s.wts = carve(base, &off, sizeof(float) * 8 * kmax);
        if (base) w->scr[t] = s;
    }
    return off;
}

/* Cells of all mosaics, mosaic-major then row-major; returns -1 on a bad plan. */
static int count_cells(const atas_mosaic *plans, int m, int patch, int *kmax) {
    int total = 0;
    *kmax = 0;
    for (int k = 0; k < m; k++) {
        if (plans[k].g < 1 || plans[k].g > ATAS_MOSAIC_MAX_GRID || patch <= 0) return -1;
        total += plans[k].g * plans[k].g;
        int kk = plans[k].cell_px / patch;
        if (kk > *kmax) *kmax = kk;
    }
    return total;
}

size_t atas_objective_workspace_bytes(const atas_loss_config *cfg, const atas_mosaic *plans, int m,
                                      int n, int E, int hT, int wT, int patch, int threads) {
    int kmax = 0, ncells = 0;
    if (cfg->w_g2l > 0 || cfg->w_l2l > 0) ncells = count_cells(plans, m, patch, &kmax);
    if (ncells < 0) ncells = 0;
    if (threads <= 0) threads = omp_get_max_threads();
    return layout(cfg, n, E, hT, wT, ncells, kmax, threads, NULL, NULL) + 64;
}

/* ---------------------------------------------------------------- checks */
static atas_status check_args(const atas_loss_config *cfg, const atas_mosaic *plans, int m, int n,
                              int E, int patch, const float *t_glob, const float *t_dense, int hT,
                              int wT, const float *s_glob, const float *s_dense, int hC, int wC,
                              float grad_scale, const float *ds_glob, const float *ds_dense,
                              const atas_loss_values *out) {
    ATAS_CHECK(atas_loss_config_check(cfg));
    ATAS_REQUIRE(out, "atas_objective_group: out is NULL");
    ATAS_REQUIRE(n >= 1 && E >= 1, "atas_objective_group: n = %d images, E = %d: both must be >= 1", n, E);
    ATAS_REQUIRE(isfinite(grad_scale), "atas_objective_group: grad_scale = %g is not finite", (double)grad_scale);
    if (cfg->w_g2l > 0 || cfg->w_g2g > 0) ATAS_REQUIRE(t_glob, "atas_objective_group: t_glob is NULL");
    if (cfg->w_g2g > 0)
        ATAS_REQUIRE(s_glob && ds_glob, "atas_objective_group: G2G is on (w_g2g = %g) but s_glob or ds_glob is NULL",
                cfg->w_g2g);
    if (cfg->w_g2l == 0 && cfg->w_l2l == 0) return ATAS_OK;
    ATAS_REQUIRE(m >= 1 && plans, "atas_objective_group: G2L/L2L are on but there are %d mosaics (plans %s)", m,
            plans ? "given" : "NULL");
    ATAS_REQUIRE(s_dense && ds_dense, "atas_objective_group: G2L/L2L are on but s_dense or ds_dense is NULL");
    ATAS_REQUIRE(patch >= 1 && hC >= 1 && wC >= 1, "atas_objective_group: patch %d, student map %d x %d", patch, hC, wC);
    if (cfg->w_l2l > 0)
        ATAS_REQUIRE(t_dense && hT >= 1 && wT >= 1, "atas_objective_group: L2L is on but the teacher map is %s (%d x %d)",
                t_dense ? "given" : "NULL", hT, wT);
    /* the plans' own checks (grid, cell size, tiling, image indices): the cell-table builder's */
    int ncells = 0, kmax = 0;
    ATAS_CHECK(atas_objective_cells(plans, m, n, patch, hC, wC, NULL, 0, &ncells, &kmax));
    return ATAS_OK;
}

static atas_status check_finite(double v, const char *name) {
    if (isfinite(v)) return ATAS_OK;
    return ATAS_ERR(ATAS_ERR_NUMERIC, "loss %s is %s", name, isnan(v) ? "NaN" : "Inf");
}

/* ---------------------------------------------------------------- the objective */
atas_status atas_objective_group_ex(const atas_loss_config *cfg, const atas_mosaic *plans, int m,
                                    int n, int E, int patch, const float *t_glob,
                                    const float *t_dense, int hT, int wT, const float *s_glob,
                                    const float *s_dense, int hC, int wC, float grad_scale,
                                    float *ds_glob, float *ds_dense, atas_loss_values *out,
                                    const double *pool_w_in, double *pool_w_out) {
    ATAS_CHECK(check_args(cfg, plans, m, n, E, patch, t_glob, t_dense, hT, wT, s_glob, s_dense, hC, wC,
                     grad_scale, ds_glob, ds_dense, out));
    const int do_g2l = cfg->w_g2l > 0, do_l2l = cfg->w_l2l > 0, do_g2g = cfg->w_g2g > 0;
    const int dense = do_g2l || do_l2l;
    int kmax = 0, ncells = dense ? count_cells(plans, m, patch, &kmax) : 0;
    const int threads = omp_get_max_threads();

    size_t bytes = layout(cfg, n, E, hT, wT, ncells, kmax, threads, NULL, NULL);
    void *block = NULL;
    ATAS_CHECK(atas_host_alloc(&block, bytes, "objective workspace"));
    workspace ws;
    layout(cfg, n, E, hT, wT, ncells, kmax, threads, block, &ws);

    /* teacher side, normalised once */
    for (int i = 0; t_glob && i < n; i++) {
        double *y = ws.tg + (size_t)i * E;
        for (int e = 0; e < E; e++) y[e] = t_glob[(size_t)i * E + e];
        atas_l2n(y, E, y);
    }
    if (do_l2l) {
        const long ntok = (long)n * hT * wT;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (long q = 0; q < ntok; q++) {
            double *y = ws.td + (size_t)q * E;
            for (int e = 0; e < E; e++) y[e] = t_dense[(size_t)q * E + e];
            atas_l2n(y, E, y);
        }
    }

    double g2l = 0, l2l = 0, g2g = 0;
    if (dense) {
        int nc = 0;
        for (int k = 0; k < m; k++) {
            const int g = plans[k].g, kk = plans[k].cell_px / patch;
            for (int c = 0; c < g * g; c++)
                ws.cells[nc++] = (atas_cell){.mosaic = k, .image = plans[k].image[c], .k = kk,
                                             .r0 = (c / g) * kk, .c0 = (c % g) * kk};
        }
        const atas_loss_ctx ctx = {.cfg = cfg, .n = n, .E = E, .hT = hT, .wT = wT, .hC = hC, .wC = wC,
                                   .tg = ws.tg, .td = ws.td, .s_dense = s_dense};
        const double a_g2l = (double)grad_scale * cfg->w_g2l / ncells;
        const double a_l2l = (double)grad_scale * cfg->w_l2l / ncells;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
        for (int ci = 0; ci < ncells; ci++) {
            const atas_cell *cell = &ws.cells[ci];
            atas_loss_scratch *s = &ws.scr[omp_get_thread_num()];
            const int K = cell->k * cell->k;
            atas_cell_load(&ctx, cell, s);
            memset(s->gacc, 0, sizeof(double) * K * E);
            ws.cell_g2l[ci] = ws.cell_l2l[ci] = 0;
            if (do_g2l) {
                if (pool_w_in) {
                    for (int p = 0; p < K; p++)
                        s->w[p] = pool_w_in[((size_t)cell->mosaic * hC + cell->r0 + p / cell->k) * wC +
                                            cell->c0 + p % cell->k];
                } else {
                    atas_g2l_pool_weights(&ctx, cell, s, s->w);
                }
                if (pool_w_out)
                    for (int p = 0; p < K; p++)
                        pool_w_out[((size_t)cell->mosaic * hC + cell->r0 + p / cell->k) * wC + cell->c0 +
                                   p % cell->k] = s->w[p];
                ws.cell_g2l[ci] = atas_g2l_cell(&ctx, cell, s, s->w, a_g2l);
            }
            if (do_l2l) ws.cell_l2l[ci] = atas_l2l_cell(&ctx, cell, s, a_l2l);
            /* the cells tile the map, so every token of ds_dense is written exactly once */
            for (int p = 0; p < K; p++) {
                float *dst = ds_dense + (((size_t)cell->mosaic * hC + cell->r0 + p / cell->k) * wC + cell->c0 +
                                         p % cell->k) * E;
                const double *g = s->gacc + (size_t)p * E;
                for (int e = 0; e < E; e++) dst[e] = (float)g[e];
            }
        }
        for (int ci = 0; ci < ncells; ci++) { /* fixed order: thread-count independent */
            g2l += ws.cell_g2l[ci];
            l2l += ws.cell_l2l[ci];
        }
        g2l /= ncells;
        l2l /= ncells;
    } else if (ds_dense && m > 0 && hC > 0 && wC > 0) {
        memset(ds_dense, 0, sizeof(float) * (size_t)m * hC * wC * E);
    }

    if (do_g2g) {
        g2g = atas_g2g(cfg, n, E, ws.tg, s_glob, (double)grad_scale * cfg->w_g2g / n, ds_glob, ws.g2g_buf);
    } else if (ds_glob) {
        memset(ds_glob, 0, sizeof(float) * (size_t)n * E);
    }
    atas_host_free(block);

    ATAS_CHECK(check_finite(g2l, "g2l"));
    ATAS_CHECK(check_finite(l2l, "l2l"));
    ATAS_CHECK(check_finite(g2g, "g2g"));
    out->g2l = g2l;
    out->l2l = l2l;
    out->g2g = g2g;
    out->total = cfg->w_g2l * g2l + cfg->w_l2l * l2l + cfg->w_g2g * g2g;
    ATAS_CHECK(check_finite(out->total, "total"));
    return ATAS_OK;
}

atas_status atas_objective_group(const atas_loss_config *cfg, const atas_mosaic *plans, int m,
                                 int n, int E, int patch, const float *t_glob,
                                 const float *t_dense, int hT, int wT, const float *s_glob,
                                 const float *s_dense, int hC, int wC, float grad_scale,
                                 float *ds_glob, float *ds_dense, atas_loss_values *out) {
    ATAS_CHECK(atas_objective_group_ex(cfg, plans, m, n, E, patch, t_glob, t_dense, hT, wT, s_glob, s_dense, hC,
                                  wC, grad_scale, ds_glob, ds_dense, out, NULL, NULL));
    return ATAS_OK;
}
