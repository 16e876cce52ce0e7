/* The device-resident step's ops (ops.def objective, grad_sumsq, step_guard,
 * clip_adamw_ema) on a backend (argv[1]: cpu (default), cpu-staged or cuda; a
 * backend this machine lacks exits 77) against independent host references:
 *  - objective: the host objective (atas_objective_group, double throughout) on
 *    random groups in every mode (3 poolings x 2 G2L forms x 2 L2L forms x 2 G2G
 *    forms, weights all on and each loss alone, two shapes: upsampling and
 *    downsampling L2L resampling). Bounds: losses 1e-12 relative (CPU; 1e-10 on a
 *    device, whose exp/log may differ by an ulp), gradients 1e-6 of the largest
 *    entry (float rounding of the same double). A non-finite input gives NaN
 *    losses and all-NaN gradients; results do not depend on the thread count.
 *  - grad_sumsq: a long-double sum, 1e-12; bitwise the same for 1 and 3 threads.
 *  - step_guard: the trainer's old host logic, exactly.
 *  - clip_adamw_ema: the old op sequence (scale, adamw, ema per tensor), bitwise on
 *    the CPU (2e-7 relative on a device); a skipped step changes nothing. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "atas/objective.h"
#include "test_util.h"

static const atas_backend *be;
static atas_rng rng;
static int on_device;

static void *dev(size_t bytes) {
    void *p = NULL;
    T_OK(be->alloc(be, &p, bytes ? bytes : 8, "test"));
    return p;
}
static void *host(size_t bytes) {
    void *p = NULL;
    T_OK(atas_host_calloc(&p, bytes ? bytes : 8, "test"));
    return p;
}
static void *up(const void *h, size_t bytes) {
    void *d = dev(bytes);
    T_OK(be->upload(be, d, h, bytes));
    return d;
}
static void fill(float *x, size_t n, float sc, float off) {
    for (size_t i = 0; i < n; i++) x[i] = off + sc * atas_rng_normal(&rng);
}
static double rel(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-300); }

typedef struct {
    int n, E, patch, hC, hT, m;
    int g[4];
} shape;

/* one group in one mode: the op against the host objective */
static void check_group(const shape *sh, const atas_loss_config *cfg, const char *label) {
    const int n = sh->n, E = sh->E, hC = sh->hC, hT = sh->hT, m = sh->m;
    const size_t ng = (size_t)n * E, nt = (size_t)n * hT * hT * E, nd = (size_t)m * hC * hC * E;
    float *tg = host(4 * ng), *td = host(4 * nt), *sg = host(4 * ng), *sd = host(4 * nd);
    fill(tg, ng, 1, 0);
    fill(td, nt, 1, 0);
    for (size_t i = 0; i < ng; i++) sg[i] = 0.5f * tg[i] + atas_rng_normal(&rng);
    fill(sd, nd, 1, 0.3f);
    atas_mosaic plans[4];
    for (int k = 0; k < m; k++) {
        plans[k].g = sh->g[k];
        plans[k].cell_px = hC * sh->patch / sh->g[k];
        for (int c = 0; c < sh->g[k] * sh->g[k]; c++) plans[k].image[c] = (int)atas_rng_below(&rng, (uint32_t)n);
    }
    const float scale = 0.37f;
    /* the reference */
    float *rg = host(4 * ng), *rd = host(4 * nd);
    atas_loss_values ref;
    T_OK(atas_objective_group(cfg, plans, m, n, E, sh->patch, tg, td, hT, hT, sg, sd, hC, hC, scale, rg, rd, &ref));
    /* the op */
    int ncells = 0, kmax = 0;
    T_OK(atas_objective_cells(plans, m, n, sh->patch, hC, hC, NULL, 0, &ncells, &kmax));
    int *cells = host(sizeof(int) * ATAS_OBJ_CELL_INTS * ncells);
    T_OK(atas_objective_cells(plans, m, n, sh->patch, hC, hC, cells, (size_t)ATAS_OBJ_CELL_INTS * ncells, &ncells,
                              &kmax));
    const atas_obj_params prm = atas_objective_params(cfg);
    float *dtg = up(tg, 4 * ng), *dtd = up(td, 4 * nt), *dsg = up(sg, 4 * ng), *dsd = up(sd, 4 * nd);
    int *dcells = up(cells, sizeof(int) * ATAS_OBJ_CELL_INTS * ncells);
    float *dg = dev(4 * ng), *dd = dev(4 * nd);
    double *dl = dev(4 * sizeof(double));
    void *ws = dev(be->objective_workspace_bytes(be, ncells, kmax, n, E, hT, hT, prm));
    T_OK(be->objective(be, dl, dg, dd, dtg, dtd, dsg, dsd, dcells, ncells, kmax, n, m, E, hT, hT, hC, hC, prm, scale,
                       ws));
    double l[4];
    float *og = host(4 * ng), *od = host(4 * nd);
    T_OK(be->download(be, l, dl, sizeof l));
    T_OK(be->download(be, og, dg, 4 * ng));
    T_OK(be->download(be, od, dd, 4 * nd));
    const double lb = on_device ? 1e-10 : 1e-12, gb = 1e-6;
    const double want[4] = {ref.g2l, ref.l2l, ref.g2g, ref.total};
    double le = 0;
    for (int k = 0; k < 4; k++) le = fmax(le, want[k] == 0 ? fabs(l[k]) : rel(l[k], want[k]));
    const double eg = t_rel_err(og, rg, ng, 1e-30), ed = t_rel_err(od, rd, nd, 1e-30);
    printf("  %-52s loss %.1e  ds_glob %.1e  ds_dense %.1e\n", label, le, eg, ed);
    T_ASSERT(le <= lb, "%s: losses (%.17g %.17g %.17g %.17g) vs host (%.17g %.17g %.17g %.17g): %.3e > %.0e", label,
             l[0], l[1], l[2], l[3], want[0], want[1], want[2], want[3], le, lb);
    T_ASSERT(eg <= gb && ed <= gb, "%s: gradients differ from the host objective (%.3e, %.3e > %.0e)", label, eg, ed,
             gb);

    /* thread-count independence (CPU twins), and a NaN input: NaN losses, NaN gradients */
    if (!on_device) {
        float *og1 = host(4 * ng), *od1 = host(4 * nd);
        const int th = omp_get_max_threads();
        omp_set_num_threads(1);
        T_OK(be->objective(be, dl, dg, dd, dtg, dtd, dsg, dsd, dcells, ncells, kmax, n, m, E, hT, hT, hC, hC, prm, scale,
                           ws));
        omp_set_num_threads(th > 1 ? th : 3);
        double l1[4];
        T_OK(be->download(be, l1, dl, sizeof l1));
        T_OK(be->download(be, og1, dg, 4 * ng));
        T_OK(be->download(be, od1, dd, 4 * nd));
        T_ASSERT(!memcmp(l1, l, sizeof l) && !memcmp(og1, og, 4 * ng) && !memcmp(od1, od, 4 * nd),
                 "%s: 1 thread and %d threads differ", label, th);
        omp_set_num_threads(th);
        atas_host_free(og1);
        atas_host_free(od1);
    }
    if (cfg->w_g2g > 0 || cfg->w_g2l > 0 || cfg->w_l2l > 0) {
        float nanv = NAN;
        float *victim = cfg->w_g2g > 0 ? dsg : dsd;
        T_OK(be->upload(be, victim + 3, &nanv, sizeof nanv));
        T_OK(be->objective(be, dl, dg, dd, dtg, dtd, dsg, dsd, dcells, ncells, kmax, n, m, E, hT, hT, hC, hC, prm, scale,
                           ws));
        T_OK(be->download(be, l, dl, sizeof l));
        T_OK(be->download(be, og, dg, 4 * ng));
        T_OK(be->download(be, od, dd, 4 * nd));
        int allnan = 1;
        for (size_t i = 0; i < ng && (cfg->w_g2g > 0); i++) allnan &= og[i] != og[i];
        for (size_t i = 0; i < nd && (cfg->w_g2l > 0 || cfg->w_l2l > 0); i++) allnan &= od[i] != od[i];
        T_ASSERT(l[3] != l[3] && allnan, "%s: a NaN input must give a NaN total (%g) and NaN gradients", label, l[3]);
    }
    void *hp[] = {tg, td, sg, sd, rg, rd, cells, og, od};
    for (size_t i = 0; i < sizeof hp / sizeof hp[0]; i++) atas_host_free(hp[i]);
    void *dp[] = {dtg, dtd, dsg, dsd, dcells, dg, dd, dl, ws};
    for (size_t i = 0; i < sizeof dp / sizeof dp[0]; i++) be->free(be, dp[i]);
}

static void test_objective(void) {
    /* A: 4x4 teacher map into cells of 6, 2 and 3 tokens (up- and downsampling);
     * B: a 7x7 teacher map into cells of 4, 2 and 8 tokens, E not a multiple of 8 */
    const shape shapes[2] = {{4, 8, 2, 6, 4, 3, {1, 3, 2}}, {3, 33, 4, 8, 7, 3, {2, 4, 1}}};
    const char *pools[3] = {"mean", "teacher_weighted", "mean_raw"};
    for (int s = 0; s < 2; s++)
        for (int mode = 0; mode < 24; mode++)
            for (int w = 0; w < 4; w++) {
                /* weights all on for every mode; each loss alone for the first modes */
                if (w > 0 && mode >= 4 && (mode % 5) != 0) continue;
                atas_loss_config cfg;
                atas_loss_config_default(&cfg);
                cfg.g2l_pool = (atas_g2l_pool)(mode % 3);
                cfg.g2l_form = (atas_embed_form)((mode / 3) % 2);
                cfg.l2l_form = (atas_l2l_form)((mode / 6) % 2);
                cfg.g2g_form = (atas_embed_form)((mode / 12) % 2);
                cfg.w_g2l = w == 0 ? 0.7 : w == 1;
                cfg.w_l2l = w == 0 ? 1.3 : w == 2;
                cfg.w_g2g = w == 0 ? 0.5 : w == 3;
                cfg.pool_tau = 0.2;
                cfg.g2l_tau = 0.3;
                cfg.g2g_tau = 0.25;
                char label[128];
                snprintf(label, sizeof label, "%c %s g2l=%s/%s l2l=%s/%s g2g=%s/%s", 'A' + s,
                         w == 0 ? "all" : w == 1 ? "g2l" : w == 2 ? "l2l" : "g2g", pools[cfg.g2l_pool],
                         atas_loss_form_name(cfg.g2l_form), w == 0 || w == 2 ? "on" : "off",
                         atas_loss_l2l_name(cfg.l2l_form), w == 0 || w == 3 ? "on" : "off",
                         atas_loss_form_name(cfg.g2g_form));
                check_group(&shapes[s], &cfg, label);
            }
}

static void test_grad_sumsq(void) {
    const size_t sizes[] = {0, 1, 1000, ATAS_GN_CHUNK, 3 * ATAS_GN_CHUNK + 17};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const size_t n = sizes[k];
        float *x = host(4 * n);
        fill(x, n, 1, 0.1f);
        long double ref = 0;
        for (size_t i = 0; i < n; i++) ref += (long double)x[i] * x[i];
        float *dx = up(x, 4 * n);
        double *out = dev(sizeof(double));
        void *ws = dev(be->grad_sumsq_workspace_bytes(be, n));
        double a = -1, b = -2;
        const int th = omp_get_max_threads();
        omp_set_num_threads(1);
        T_OK(be->grad_sumsq(be, out, dx, n, ws));
        T_OK(be->download(be, &a, out, sizeof a));
        omp_set_num_threads(3);
        T_OK(be->grad_sumsq(be, out, dx, n, ws));
        T_OK(be->download(be, &b, out, sizeof b));
        omp_set_num_threads(th);
        printf("  grad_sumsq n=%-8zu %.17g (long double %.17Lg)\n", n, a, ref);
        T_ASSERT(a == b, "grad_sumsq n=%zu: not deterministic (%.17g vs %.17g)", n, a, b);
        T_ASSERT(n == 0 ? a == 0 : fabs(a - (double)ref) <= 1e-12 * (double)ref, "grad_sumsq n=%zu: %.17g vs %.17Lg", n,
                 a, ref);
        atas_host_free(x);
        be->free(be, dx);
        be->free(be, out);
        be->free(be, ws);
    }
}

static void test_step_guard(void) {
    const double cases[][4] = {/* sumsq, clip, loss, expected skip */
                               {4.0, 1.0, 0.5, 0}, {0.25, 1.0, 0.5, 0}, {4.0, 0.0, 0.5, 0},
                               {NAN, 1.0, 0.5, 1}, {INFINITY, 1.0, 0.5, 1}, {4.0, 1.0, NAN, 1}};
    double *d = dev(8 * sizeof(double));
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        double in[2] = {cases[k][0], cases[k][2]}, st[ATAS_STEP_NSTATE];
        T_OK(be->upload(be, d, in, sizeof in));
        T_OK(be->step_guard(be, d + 2, d, d + 1, 1, cases[k][1]));
        T_OK(be->download(be, st, d + 2, sizeof st));
        const double gn = sqrt(cases[k][0]), clip = cases[k][1];
        const double sc = (cases[k][3] == 0 && clip > 0 && gn > clip) ? (double)(float)(clip / (gn + 1e-6)) : 1.0;
        T_ASSERT(st[ATAS_STEP_SKIP] == cases[k][3], "step_guard case %zu: skip %g, expected %g", k, st[ATAS_STEP_SKIP],
                 cases[k][3]);
        T_ASSERT(st[ATAS_STEP_CLIP_SCALE] == sc, "step_guard case %zu: scale %.17g, expected %.17g", k,
                 st[ATAS_STEP_CLIP_SCALE], sc);
        T_ASSERT(isnan(gn) ? isnan(st[ATAS_STEP_GNORM]) : st[ATAS_STEP_GNORM] == gn, "step_guard case %zu: |g| %g vs %g",
                 k, st[ATAS_STEP_GNORM], gn);
    }
    be->free(be, d);
}

/* the fused op against the old per-tensor sequence, run on the CPU backend */
static void test_fused(void) {
    const atas_backend *cpu = atas_backend_cpu();
    const size_t seg_end[5] = {1000, 1300, 1301, 5000, 70000};
    const int kind[5] = {ATAS_SEG_DECAY, ATAS_SEG_NO_DECAY, ATAS_SEG_FROZEN, ATAS_SEG_DECAY, ATAS_SEG_NO_DECAY};
    const size_t n = 70000;
    float *p = host(4 * n), *g = host(4 * n), *m = host(4 * n), *v = host(4 * n), *te = host(4 * n);
    fill(p, n, 1, 0);
    fill(g, n, 0.3f, 0);
    fill(m, n, 0.01f, 0);
    for (size_t i = 0; i < n; i++) v[i] = 1e-3f * fabsf(atas_rng_normal(&rng));
    fill(te, n, 1, 0);
    const float lr = 3e-3f, b1 = 0.9f, b2 = 0.98f, eps = 1e-6f, wd = 0.05f, mom = 0.996f;
    for (int clipped = 0; clipped < 2; clipped++) {
        const double state[4] = {2.5, clipped ? (double)(float)(1.0 / (2.5 + 1e-6)) : 1.0, 0, 0};
        /* reference */
        float *rp = host(4 * n), *rg = host(4 * n), *rm = host(4 * n), *rv = host(4 * n), *rt = host(4 * n);
        memcpy(rp, p, 4 * n); memcpy(rg, g, 4 * n); memcpy(rm, m, 4 * n); memcpy(rv, v, 4 * n); memcpy(rt, te, 4 * n);
        size_t from = 0;
        for (int s = 0; s < 5; s++) {
            const size_t cnt = seg_end[s] - from;
            if (kind[s] != ATAS_SEG_FROZEN) {
                if (clipped) T_OK(cpu->scale(cpu, rg + from, (float)state[1], cnt));
                T_OK(cpu->adamw(cpu, rp + from, rg + from, rm + from, rv + from, cnt, lr, b1, b2, eps,
                                kind[s] == ATAS_SEG_DECAY ? wd : 0.0f, 7));
                T_OK(cpu->ema(cpu, rt + from, rp + from, cnt, mom));
            }
            from = seg_end[s];
        }
        /* the op */
        float *dp = up(p, 4 * n), *dg = up(g, 4 * n), *dm = up(m, 4 * n), *dv = up(v, 4 * n), *dt = up(te, 4 * n);
        size_t *dse = up(seg_end, sizeof seg_end);
        int *dk = up(kind, sizeof kind);
        double *dst = up(state, sizeof state);
        T_OK(be->clip_adamw_ema(be, dp, dg, dm, dv, dt, n, dse, dk, 5, dst, lr, b1, b2, eps, wd, 7, mom));
        float *op = host(4 * n), *om = host(4 * n), *ov = host(4 * n), *ot = host(4 * n);
        T_OK(be->download(be, op, dp, 4 * n));
        T_OK(be->download(be, om, dm, 4 * n));
        T_OK(be->download(be, ov, dv, 4 * n));
        T_OK(be->download(be, ot, dt, 4 * n));
        const double b = on_device ? 2e-7 : 0;
        const double e = fmax(fmax(t_rel_err(op, rp, n, 1e-30), t_rel_err(om, rm, n, 1e-30)),
                              fmax(t_rel_err(ov, rv, n, 1e-30), t_rel_err(ot, rt, n, 1e-30)));
        printf("  clip_adamw_ema %s: %.1e against scale+adamw+ema (bound %.0e)\n", clipped ? "clipped" : "unclipped", e,
               b);
        T_ASSERT(e <= b, "clip_adamw_ema (%s) differs from the op sequence: %.3e", clipped ? "clipped" : "unclipped", e);
        T_ASSERT(!memcmp(op + 1300, p + 1300, 4) && !memcmp(ot + 1300, te + 1300, 4), "frozen element changed");
        /* a skipped step leaves everything alone */
        const double skip[4] = {NAN, 1, 1, 0};
        T_OK(be->upload(be, dst, skip, sizeof skip));
        T_OK(be->clip_adamw_ema(be, dp, dg, dm, dv, dt, n, dse, dk, 5, dst, lr, b1, b2, eps, wd, 8, mom));
        float *op2 = host(4 * n);
        T_OK(be->download(be, op2, dp, 4 * n));
        T_ASSERT(!memcmp(op2, op, 4 * n), "a skipped step changed the parameters");
        void *hp[] = {rp, rg, rm, rv, rt, op, om, ov, ot, op2};
        for (size_t i = 0; i < sizeof hp / sizeof hp[0]; i++) atas_host_free(hp[i]);
        void *dd[] = {dp, dg, dm, dv, dt, dse, dk, dst};
        for (size_t i = 0; i < sizeof dd / sizeof dd[0]; i++) be->free(be, dd[i]);
    }
    void *hp[] = {p, g, m, v, te};
    for (size_t i = 0; i < sizeof hp / sizeof hp[0]; i++) atas_host_free(hp[i]);
}

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "cpu";
    atas_status s = atas_backend_get(name, &be);
    if (s == ATAS_ERR_UNSUPPORTED) {
        printf("backend %s not available here: %s (skipped)\n", name, atas_error_message());
        return 77;
    }
    T_OK(s);
    on_device = strcmp(name, "cuda") == 0;
    rng = atas_rng_stream(11, 3, 5);
    test_objective();
    test_grad_sumsq();
    test_step_guard();
    test_fused();
    return t_finish("test_objective_device");
}
