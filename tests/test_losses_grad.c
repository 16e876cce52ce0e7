/* Finite-difference checks of the ATAS objective's gradients, every loss and mode,
 * plus argument checks, skipped losses, NaN reporting and thread-count independence.
 *
 * Group: n = 4 images, E = 8, patch 2, student maps 6 x 6 tokens, mosaics with
 * g = 1, 3, 2 (cells of 6, 2 and 3 tokens a side) against a 4 x 4 teacher map: the
 * L2L resampling is upsampling for one cell size and downsampling (integer and
 * non-integer ratio) for the others.
 *
 * Teacher-weighted pooling: the objective treats the pooling weights as constants
 * (stop-gradient). The FD reference freezes them: the weights the objective used at
 * the base point are captured (atas_objective_group_ex pool_w_out) and every
 * perturbed evaluation reuses them (pool_w_in), so the FD is of the function whose
 * gradient the objective claims to return. A second check shows that the FD of the
 * unfrozen function does differ, i.e. the frozen comparison is not vacuous. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "atas/objective.h"
#include "objective/losses_internal.h"
#include "test_util.h"

enum { N = 4, E = 8, P = 2, HC = 6, WC = 6, HT = 4, WT = 4, M = 3 };
#define NG (N * E)
#define ND (M * HC * WC * E)

static float t_glob[NG], t_dense[N * HT * WT * E], s_glob[NG], s_dense[ND];
static atas_mosaic plans[M];

static void make_inputs(uint64_t seed) {
    atas_rng r = atas_rng_stream(seed, 1, 2);
    for (int i = 0; i < NG; i++) t_glob[i] = atas_rng_normal(&r);
    for (int i = 0; i < N * HT * WT * E; i++) t_dense[i] = atas_rng_normal(&r);
    /* student near the teacher so losses are away from their trivial values */
    for (int i = 0; i < NG; i++) s_glob[i] = 0.5f * t_glob[i] + atas_rng_normal(&r);
    for (int i = 0; i < ND; i++) s_dense[i] = atas_rng_normal(&r) + 0.3f;
    const int gs[M] = {1, 3, 2};
    for (int k = 0; k < M; k++) {
        plans[k].g = gs[k];
        plans[k].cell_px = HC * P / gs[k];
        for (int c = 0; c < ATAS_MOSAIC_MAX_GRID * ATAS_MOSAIC_MAX_GRID; c++)
            plans[k].image[c] = c < gs[k] * gs[k] ? (int)((c * 3 + k) % N) : -1;
    }
}

static atas_loss_config cfg_only(int which, int mode) {
    atas_loss_config c;
    atas_loss_config_default(&c);
    c.w_g2l = which == 0 ? 1.0 : 0.0;
    c.w_l2l = which == 1 ? 1.0 : 0.0;
    c.w_g2g = which == 2 ? 1.0 : 0.0;
    c.pool_tau = 0.5;
    c.g2l_tau = 0.3;
    c.g2g_tau = 0.3;
    if (which == 0) {
        c.g2l_pool = (mode & 1) ? ATAS_G2L_POOL_TEACHER_WEIGHTED : ATAS_G2L_POOL_MEAN;
        c.g2l_form = (mode & 2) ? ATAS_FORM_INFONCE : ATAS_FORM_COSINE;
    } else if (which == 1) {
        c.l2l_form = mode ? ATAS_L2L_SIMILARITY : ATAS_L2L_COSINE;
    } else {
        c.g2g_form = mode ? ATAS_FORM_INFONCE : ATAS_FORM_COSINE;
    }
    return c;
}

static double eval_total(const atas_loss_config *c, const double *pool_w) {
    static float dg[NG], dd[ND];
    atas_loss_values v;
    T_OK(atas_objective_group_ex(c, plans, M, N, E, P, t_glob, t_dense, HT, WT, s_glob, s_dense, HC, WC,
                                 1.0f, dg, dd, &v, pool_w, NULL));
    return v.total;
}

/* central differences of total over every entry of x[len]; fd = scale * d total / dx */
static void fd_grad(const atas_loss_config *c, const double *pool_w, float *x, int len, float scale,
                    float *fd) {
    for (int i = 0; i < len; i++) {
        float x0 = x[i];
        float xp = x0 + 1e-3f, xm = x0 - 1e-3f;
        x[i] = xp;
        double fp = eval_total(c, pool_w);
        x[i] = xm;
        double fm = eval_total(c, pool_w);
        x[i] = x0;
        fd[i] = (float)(scale * (fp - fm) / ((double)xp - (double)xm));
    }
}

static float ag[NG], ad[ND], fg[NG], fdd[ND];
static double pool_w[M * HC * WC];

/* Analytic vs FD for one config; returns the larger relative error. */
static double check_config(const atas_loss_config *c, float scale, const char *name, int freeze) {
    atas_loss_values v;
    T_OK(atas_objective_group_ex(c, plans, M, N, E, P, t_glob, t_dense, HT, WT, s_glob, s_dense, HC, WC,
                                 scale, ag, ad, &v, NULL, pool_w));
    const double *pw = freeze ? pool_w : NULL;
    fd_grad(c, pw, s_glob, NG, scale, fg);
    fd_grad(c, pw, s_dense, ND, scale, fdd);
    double eg = t_rel_err(ag, fg, NG, 1e-6), ed = t_rel_err(ad, fdd, ND, 1e-6);
    double gmax = 0;
    for (int i = 0; i < ND; i++) gmax = fmax(gmax, fabs(fdd[i]));
    for (int i = 0; i < NG; i++) gmax = fmax(gmax, fabs(fg[i]));
    printf("%-34s g2l %.6f l2l %.6f g2g %.6f | rel err ds_glob %.2e ds_dense %.2e (max|g| %.2e)\n", name,
           v.g2l, v.l2l, v.g2g, eg, ed, gmax);
    T_ASSERT(gmax > 1e-4, "%s: gradient is (near) zero, the check would be vacuous", name);
    return fmax(eg, ed);
}

static void test_fd(void) {
    const double tol = 1e-5; /* observed ~1e-7; a wrong sign or missing term is O(1) */
    const char *g2l_names[6] = {"g2l mean cosine", "g2l teacher_weighted cosine", "g2l mean infonce",
                                "g2l teacher_weighted infonce", "g2l mean_raw cosine", "g2l mean_raw infonce"};
    for (int mode = 0; mode < 6; mode++) {
        atas_loss_config c = cfg_only(0, mode < 4 ? mode : (mode - 4) * 2);
        if (mode >= 4) c.g2l_pool = ATAS_G2L_POOL_MEAN_RAW;
        double e = check_config(&c, 1.0f, g2l_names[mode], 1);
        T_ASSERT(e < tol, "%s: FD rel err %.3e", g2l_names[mode], e);
        if (mode < 4 && (mode & 1)) { /* the stop-gradient matters: the unfrozen FD must disagree */
            double eu = check_config(&c, 1.0f, "  (unfrozen FD, must differ)", 0);
            T_ASSERT(eu > 50 * tol, "%s: unfrozen FD agrees (%.3e): weights have no effect?", g2l_names[mode], eu);
        }
    }
    const char *l2l_names[2] = {"l2l cosine", "l2l similarity"};
    for (int mode = 0; mode < 2; mode++) {
        atas_loss_config c = cfg_only(1, mode);
        double e = check_config(&c, 1.0f, l2l_names[mode], 0);
        T_ASSERT(e < tol, "%s: FD rel err %.3e", l2l_names[mode], e);
    }
    const char *g2g_names[2] = {"g2g cosine", "g2g infonce"};
    for (int mode = 0; mode < 2; mode++) {
        atas_loss_config c = cfg_only(2, mode);
        double e = check_config(&c, 1.0f, g2g_names[mode], 0);
        T_ASSERT(e < tol, "%s: FD rel err %.3e", g2g_names[mode], e);
    }
    /* everything on, unequal weights, grad_scale != 1 */
    atas_loss_config c = cfg_only(0, 3);
    c.w_g2l = 0.7;
    c.w_l2l = 1.3;
    c.w_g2g = 0.4;
    c.l2l_form = ATAS_L2L_SIMILARITY;
    c.g2g_form = ATAS_FORM_INFONCE;
    double e = check_config(&c, 0.25f, "all (0.7/1.3/0.4, scale 0.25)", 1);
    T_ASSERT(e < tol, "combined: FD rel err %.3e", e);
}

/* What G2L pools, recomputed here from the definitions on one g = 1 mosaic (one cell
 * over the whole 6 x 6 map, holding image 1) whose tokens have very different norms:
 *   mean:             z = mean_p d_p/|d_p|                  (CLIPSelf: normalise, RoIAlign 1x1)
 *   teacher_weighted: z = sum_p w_p d_p/|d_p|, w = softmax_p(<t^, d^_p>/tau)
 *   mean_raw:         z = mean_p d_p
 * and G2L = 1 - cos(z, t_1). The three must differ from each other, so pooling the wrong
 * tokens cannot pass. */
static double g2l_by_hand(const float *sd, int K, int pool, double tau) {
    const float *t = t_glob + 1 * E;
    double tn = 0, z[E] = {0}, w[HC * WC], mx = -INFINITY, sum = 0;
    for (int e = 0; e < E; e++) tn += (double)t[e] * t[e];
    tn = sqrt(tn);
    for (int p = 0; p < K; p++) {
        double dn = 0, dot = 0;
        for (int e = 0; e < E; e++) dn += (double)sd[p * E + e] * sd[p * E + e], dot += (double)sd[p * E + e] * t[e];
        dn = sqrt(dn);
        w[p] = pool == ATAS_G2L_POOL_TEACHER_WEIGHTED ? dot / (dn * tn) / tau : 0;
        if (w[p] > mx) mx = w[p];
    }
    for (int p = 0; p < K; p++) sum += (w[p] = exp(w[p] - mx));
    for (int p = 0; p < K; p++) {
        double dn = 0;
        for (int e = 0; e < E; e++) dn += (double)sd[p * E + e] * sd[p * E + e];
        double f = pool == ATAS_G2L_POOL_MEAN_RAW ? 1.0 / K : w[p] / sum / sqrt(dn);
        for (int e = 0; e < E; e++) z[e] += f * sd[p * E + e];
    }
    double zn = 0, dot = 0;
    for (int e = 0; e < E; e++) zn += z[e] * z[e], dot += z[e] * t[e];
    return 1.0 - dot / (sqrt(zn) * tn);
}

static void test_g2l_pooled_tokens(void) {
    static float sd[HC * WC * E], dd[HC * WC * E];
    atas_mosaic p = {.g = 1, .cell_px = HC * P};
    for (int c = 0; c < 64; c++) p.image[c] = -1;
    p.image[0] = 1;
    atas_rng r = atas_rng_stream(11, 0, 0);
    for (int q = 0; q < HC * WC; q++) {
        /* a few high-norm tokens off the image's content (as in real ViTs), the rest on it */
        const int hi = q % 7 == 0;
        for (int e = 0; e < E; e++)
            sd[q * E + e] = hi ? 20.0f * atas_rng_normal(&r) : 0.5f * (atas_rng_normal(&r) + t_glob[E + e]);
    }
    double got[3];
    for (int pool = 0; pool < 3; pool++) {
        atas_loss_config c;
        atas_loss_config_default(&c);
        c.w_l2l = c.w_g2g = 0;
        c.g2l_pool = (atas_g2l_pool)pool;
        c.pool_tau = 0.5;
        atas_loss_values v;
        T_OK(atas_objective_group(&c, &p, 1, N, E, P, t_glob, NULL, 0, 0, NULL, sd, HC, WC, 1.0f, NULL, dd, &v));
        double want = g2l_by_hand(sd, HC * WC, pool, c.pool_tau);
        printf("g2l pool %-17s %.12f (by hand %.12f)\n", atas_loss_pool_name(c.g2l_pool), v.g2l, want);
        T_ASSERT(fabs(v.g2l - want) < 1e-9, "pool %s: G2L %.12f, by hand %.12f", atas_loss_pool_name(c.g2l_pool),
                 v.g2l, want);
        got[pool] = v.g2l;
    }
    T_ASSERT(fabs(got[0] - got[2]) > 1e-3 && fabs(got[0] - got[1]) > 1e-4,
             "the pooling modes give the same G2L (%.6f %.6f %.6f): the test would be vacuous", got[0], got[1],
             got[2]);
    atas_loss_config def;
    atas_loss_config_default(&def);
    T_ASSERT(def.g2l_pool == ATAS_G2L_POOL_MEAN, "the default pool is mean over normalised tokens");
}

/* A skipped loss reports 0 and contributes nothing; the parts add up to the whole. */
static void test_skip_and_linearity(void) {
    atas_loss_config all;
    atas_loss_config_default(&all);
    all.w_g2l = 0.5;
    all.w_l2l = 2.0;
    all.w_g2g = 1.5;
    static float g_all[NG], d_all[ND], g_sum[NG], d_sum[ND], g1[NG], d1[ND];
    atas_loss_values va, v1;
    T_OK(atas_objective_group(&all, plans, M, N, E, P, t_glob, t_dense, HT, WT, s_glob, s_dense, HC, WC, 0.5f,
                              g_all, d_all, &va));
    memset(g_sum, 0, sizeof g_sum);
    memset(d_sum, 0, sizeof d_sum);
    double parts = 0;
    for (int which = 0; which < 3; which++) {
        atas_loss_config c = all;
        if (which != 0) c.w_g2l = 0;
        if (which != 1) c.w_l2l = 0;
        if (which != 2) c.w_g2g = 0;
        memset(g1, 0x7f, sizeof g1); /* garbage: must be overwritten */
        memset(d1, 0x7f, sizeof d1);
        T_OK(atas_objective_group(&c, plans, M, N, E, P, t_glob, t_dense, HT, WT, s_glob, s_dense, HC, WC, 0.5f,
                                  g1, d1, &v1));
        double vals[3] = {v1.g2l, v1.l2l, v1.g2g};
        for (int o = 0; o < 3; o++)
            if (o != which) T_ASSERT(vals[o] == 0, "skipped loss %d reports %g, expected 0", o, vals[o]);
        parts += v1.total;
        for (int i = 0; i < NG; i++) g_sum[i] += g1[i];
        for (int i = 0; i < ND; i++) d_sum[i] += d1[i];
        if (which == 2) {
            for (int i = 0; i < ND; i++) T_ASSERT(d1[i] == 0, "G2G only: ds_dense[%d] = %g", i, d1[i]);
        } else {
            for (int i = 0; i < NG; i++) T_ASSERT(g1[i] == 0, "no G2G: ds_glob[%d] = %g", i, g1[i]);
        }
    }
    T_ASSERT(fabs(parts - va.total) < 1e-12 * fmax(1, fabs(va.total)), "parts %.15g != total %.15g", parts,
             va.total);
    T_ASSERT(t_rel_err(g_all, g_sum, NG, 1e-12) < 1e-6, "ds_glob is not the sum of its parts");
    T_ASSERT(t_rel_err(d_all, d_sum, ND, 1e-12) < 1e-6, "ds_dense is not the sum of its parts");

    /* ds_glob may be NULL when G2G is off; dense buffers may be NULL when only G2G is on */
    atas_loss_config c = all;
    c.w_g2g = 0;
    T_OK(atas_objective_group(&c, plans, M, N, E, P, t_glob, t_dense, HT, WT, s_glob, s_dense, HC, WC, 1.0f,
                              NULL, d1, &v1));
    c = all;
    c.w_g2l = c.w_l2l = 0;
    T_OK(atas_objective_group(&c, NULL, 0, N, E, P, t_glob, NULL, 0, 0, s_glob, NULL, 0, 0, 1.0f, g1, NULL,
                              &v1));
    T_ASSERT(fabs(v1.total - all.w_g2g * va.g2g) < 1e-12, "G2G alone %.15g vs %.15g", v1.total,
             all.w_g2g * va.g2g);
}

/* A student that reproduces the teacher map exactly (g = 1 cell, k = hT: the
 * resampling is the identity) has zero L2L in both forms, whatever the scale. */
static void test_l2l_identity(void) {
    static float sd[HT * WT * E], dd[HT * WT * E];
    atas_mosaic p = {.g = 1, .cell_px = HT * P};
    for (int c = 0; c < 64; c++) p.image[c] = -1;
    p.image[0] = 2;
    for (int q = 0; q < HT * WT; q++)
        for (int e = 0; e < E; e++) sd[q * E + e] = (1.0f + q) * t_dense[((size_t)2 * HT * WT + q) * E + e];
    for (int form = 0; form < 2; form++) {
        atas_loss_config c;
        atas_loss_config_default(&c);
        c.w_g2l = c.w_g2g = 0;
        c.l2l_form = form ? ATAS_L2L_SIMILARITY : ATAS_L2L_COSINE;
        atas_loss_values v;
        T_OK(atas_objective_group(&c, &p, 1, N, E, P, t_glob, t_dense, HT, WT, s_glob, sd, HT, WT, 1.0f, NULL,
                                  dd, &v));
        T_ASSERT(fabs(v.l2l) < 1e-12, "L2L %s of the teacher itself = %.3e", form ? "similarity" : "cosine",
                 v.l2l);
        double gm = 0;
        for (int i = 0; i < HT * WT * E; i++) gm = fmax(gm, fabs(dd[i]));
        T_ASSERT(gm < 1e-7, "L2L gradient at the optimum: max %.3e", gm);
    }
}

static void test_threads(void) {
    atas_loss_config c = cfg_only(0, 1);
    c.w_l2l = 1;
    c.l2l_form = ATAS_L2L_SIMILARITY;
    c.w_g2g = 1;
    static float g1[NG], d1[ND], g2[NG], d2[ND];
    atas_loss_values v1, v2;
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    T_OK(atas_objective_group(&c, plans, M, N, E, P, t_glob, t_dense, HT, WT, s_glob, s_dense, HC, WC, 1.0f, g1,
                              d1, &v1));
    omp_set_num_threads(3);
    T_OK(atas_objective_group(&c, plans, M, N, E, P, t_glob, t_dense, HT, WT, s_glob, s_dense, HC, WC, 1.0f, g2,
                              d2, &v2));
    omp_set_num_threads(saved);
    T_ASSERT(v1.total == v2.total && v1.g2l == v2.g2l && v1.l2l == v2.l2l, "losses depend on the thread count");
    T_ASSERT(!memcmp(g1, g2, sizeof g1) && !memcmp(d1, d2, sizeof d1), "gradients depend on the thread count");
}

#define EXPECT_ERR(code, substr, expr)                                                          \
    do {                                                                                        \
        atas_error_clear();                                                                     \
        atas_status _s = (expr);                                                                \
        T_ASSERT(_s == (code), "%s returned %s, expected %s", #expr, atas_status_str(_s),      \
                 atas_status_str(code));                                                        \
        T_ASSERT(strstr(atas_error_message(), (substr)) != NULL, "message '%s' lacks '%s'",    \
                 atas_error_message(), (substr));                                               \
    } while (0)

static void test_bad_inputs(void) {
    static float g[NG], d[ND];
    atas_loss_values v;
    atas_loss_config c;
    atas_loss_config_default(&c);
#define CALL(cfg, pl, hc) \
    atas_objective_group(&(cfg), (pl), M, N, E, P, t_glob, t_dense, HT, WT, s_glob, s_dense, (hc), (hc), 1.0f, g, d, &v)
    atas_mosaic bad[M];
    memcpy(bad, plans, sizeof bad);
    bad[1].image[4] = N;
    EXPECT_ERR(ATAS_ERR_INVALID, "mosaic 1 cell 4: image 4", CALL(c, bad, HC));
    memcpy(bad, plans, sizeof bad);
    bad[2].cell_px = 5;
    EXPECT_ERR(ATAS_ERR_INVALID, "not a positive multiple of the patch", CALL(c, bad, HC));
    EXPECT_ERR(ATAS_ERR_INVALID, "do not tile", CALL(c, plans, HC + 2));
    atas_loss_config b = c;
    b.w_l2l = -1;
    EXPECT_ERR(ATAS_ERR_CONFIG, "loss.w_l2l", CALL(b, plans, HC));
    b = c;
    b.w_g2l = b.w_l2l = b.w_g2g = 0;
    EXPECT_ERR(ATAS_ERR_CONFIG, "all 0", CALL(b, plans, HC));
    b = c;
    b.g2g_form = ATAS_FORM_INFONCE;
    b.g2g_tau = 0;
    EXPECT_ERR(ATAS_ERR_CONFIG, "loss.g2g.tau", CALL(b, plans, HC));
    b = c;
    b.g2l_pool = ATAS_G2L_POOL_TEACHER_WEIGHTED;
    b.pool_tau = NAN;
    EXPECT_ERR(ATAS_ERR_CONFIG, "loss.g2l.pool_tau", CALL(b, plans, HC));
    EXPECT_ERR(ATAS_ERR_INVALID, "ds_glob is NULL",
               atas_objective_group(&c, plans, M, N, E, P, t_glob, t_dense, HT, WT, s_glob, s_dense, HC, WC, 1.0f,
                                    NULL, d, &v));
    /* non-finite losses are named */
    float keep = s_dense[5];
    s_dense[5] = NAN;
    EXPECT_ERR(ATAS_ERR_NUMERIC, "loss g2l is NaN", CALL(c, plans, HC));
    b = c;
    b.w_g2l = 0;
    EXPECT_ERR(ATAS_ERR_NUMERIC, "loss l2l is NaN", CALL(b, plans, HC));
    s_dense[5] = keep;
    keep = s_glob[3];
    s_glob[3] = INFINITY;
    EXPECT_ERR(ATAS_ERR_NUMERIC, "loss g2g is NaN", CALL(c, plans, HC));
    s_glob[3] = keep;
    T_OK(CALL(c, plans, HC));
    /* config strings */
    atas_g2l_pool pool;
    atas_embed_form form;
    atas_l2l_form lf;
    T_OK(atas_loss_parse_pool("teacher_weighted", "loss.g2l.pool", &pool));
    T_ASSERT(pool == ATAS_G2L_POOL_TEACHER_WEIGHTED, "parse teacher_weighted");
    T_OK(atas_loss_parse_form("infonce", "loss.g2g.form", &form));
    T_ASSERT(form == ATAS_FORM_INFONCE, "parse infonce");
    T_OK(atas_loss_parse_l2l("similarity", "loss.l2l.form", &lf));
    T_ASSERT(lf == ATAS_L2L_SIMILARITY, "parse similarity");
    EXPECT_ERR(ATAS_ERR_CONFIG, "loss.l2l.form = \"cos\"", atas_loss_parse_l2l("cos", "loss.l2l.form", &lf));
    T_ASSERT(!strcmp(atas_loss_pool_name(ATAS_G2L_POOL_MEAN), "mean"), "pool name");
    T_OK(atas_loss_parse_pool("mean_raw", "loss.g2l.pool", &pool));
    T_ASSERT(pool == ATAS_G2L_POOL_MEAN_RAW && !strcmp(atas_loss_pool_name(pool), "mean_raw"), "parse mean_raw");
    EXPECT_ERR(ATAS_ERR_CONFIG, "\"mean\", \"teacher_weighted\" or \"mean_raw\"",
               atas_loss_parse_pool("max", "loss.g2l.pool", &pool));
#undef CALL
}

int main(void) {
    make_inputs(7);
    test_fd();
    test_g2l_pooled_tokens();
    test_skip_and_linearity();
    test_l2l_identity();
    test_threads();
    test_bad_inputs();
    return t_finish("test_losses_grad");
}
