/* The C objective against the independent PyTorch reference
 * (tools/ref/atas_objective_ref.py, autograd in float64): every loss value and both
 * gradients, for every mode, at 1e-4 relative (gradients: max-abs error over the
 * tensor / max |reference|). Inputs go through HDF5 files written with the C API.
 * Exit 77 (skip) when $ATAS_PYTHON has no torch/h5py.
 *
 * Group: n = 5 images, E = 16, patch 4, student maps 12 x 12 tokens, mosaics with
 * g = 2, 3, 4, 1 (cells of 6, 4, 3, 12 tokens; g = 4 repeats images), teacher maps
 * 5 x 7 (non-square: catches swapped axes; up- and down-sampling both happen). */
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atas/objective.h"
#include "test_util.h"

enum { N = 5, E = 16, P = 4, HC = 12, WC = 12, HT = 5, WT = 7, M = 4, NCASE = 8 };
#define NG (N * E)
#define NTD (N * HT * WT * E)
#define ND (M * HC * WC * E)
#define CELLS (ATAS_MOSAIC_MAX_GRID * ATAS_MOSAIC_MAX_GRID)

typedef struct {
    float t_glob[NG], t_dense[NTD], s_glob[NG], s_dense[ND];
    atas_mosaic plans[M];
    atas_loss_config cfg;
    float grad_scale;
    float ds_glob[NG], ds_dense[ND];
    atas_loss_values v;
} test_case;

static test_case cases[NCASE];

static void make_case(test_case *t, int idx) {
    atas_rng r = atas_rng_stream(1234, (uint64_t)idx, 0);
    for (int i = 0; i < NG; i++) t->t_glob[i] = atas_rng_normal(&r);
    for (int i = 0; i < NTD; i++) t->t_dense[i] = atas_rng_normal(&r) + 0.2f;
    for (int i = 0; i < NG; i++) t->s_glob[i] = 0.6f * t->t_glob[i] + atas_rng_normal(&r);
    for (int i = 0; i < ND; i++) t->s_dense[i] = atas_rng_normal(&r) + 0.3f;
    const int gs[M] = {2, 3, 4, 1};
    for (int k = 0; k < M; k++) {
        t->plans[k].g = gs[k];
        t->plans[k].cell_px = HC * P / gs[k];
        for (int c = 0; c < CELLS; c++)
            t->plans[k].image[c] = c < gs[k] * gs[k] ? (int)atas_rng_below(&r, N) : -1;
    }
    atas_loss_config *c = &t->cfg;
    atas_loss_config_default(c);
    c->pool_tau = 0.2;
    c->g2l_tau = 0.1;
    c->g2g_tau = 0.15;
    t->grad_scale = 1.0f;
    switch (idx) {
    case 0: break; /* defaults: mean / cosine / cosine / cosine */
    case 1:
        c->g2l_form = ATAS_FORM_INFONCE;
        c->l2l_form = ATAS_L2L_SIMILARITY;
        c->g2g_form = ATAS_FORM_INFONCE;
        c->w_g2l = 0.5, c->w_l2l = 2.0, c->w_g2g = 0.3;
        t->grad_scale = 0.25f;
        break;
    case 2:
        c->g2l_pool = ATAS_G2L_POOL_TEACHER_WEIGHTED;
        c->l2l_form = ATAS_L2L_SIMILARITY;
        break;
    case 3:
        c->g2l_pool = ATAS_G2L_POOL_TEACHER_WEIGHTED;
        c->g2l_form = ATAS_FORM_INFONCE;
        c->g2g_form = ATAS_FORM_INFONCE;
        t->grad_scale = 0.5f;
        break;
    case 4: /* G2L only: the skipped losses must read 0 on both sides */
        c->g2l_pool = ATAS_G2L_POOL_TEACHER_WEIGHTED;
        c->g2l_form = ATAS_FORM_INFONCE;
        c->w_l2l = c->w_g2g = 0;
        break;
    case 5: /* L2L similarity + G2G, no G2L */
        c->w_g2l = 0;
        c->l2l_form = ATAS_L2L_SIMILARITY;
        c->g2g_form = ATAS_FORM_INFONCE;
        break;
    case 6: /* raw-token pooling (the option), cosine */
        c->g2l_pool = ATAS_G2L_POOL_MEAN_RAW;
        c->w_l2l = 0;
        break;
    case 7: /* raw-token pooling, InfoNCE */
        c->g2l_pool = ATAS_G2L_POOL_MEAN_RAW;
        c->g2l_form = ATAS_FORM_INFONCE;
        t->grad_scale = 0.5f;
        break;
    }
}

/* ---------------------------------------------------------------- HDF5 helpers */
static int h5_write(hid_t f, const char *name, int rank, const hsize_t *dims, hid_t mem, hid_t file_t,
                    const void *data) {
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, name, file_t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = d < 0 ? -1 : H5Dwrite(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    return e < 0 ? -1 : 0;
}

static int h5_attr_d(hid_t f, const char *name, double v) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_DOUBLE, &v);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return e < 0 ? -1 : 0;
}

static int h5_attr_s(hid_t f, const char *name, const char *v) {
    hid_t ty = H5Tcopy(H5T_C_S1);
    H5Tset_size(ty, strlen(v));
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, ty, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, ty, v);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(ty);
    return e < 0 ? -1 : 0;
}

static int write_input(const test_case *t, const char *path) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return -1;
    int e = 0;
    hsize_t dg[2] = {N, E}, dtd[4] = {N, HT, WT, E}, dsd[4] = {M, HC, WC, E}, dm[1] = {M}, dpi[2] = {M, CELLS};
    e |= h5_write(f, "t_glob", 2, dg, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, t->t_glob);
    e |= h5_write(f, "t_dense", 4, dtd, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, t->t_dense);
    e |= h5_write(f, "s_glob", 2, dg, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, t->s_glob);
    e |= h5_write(f, "s_dense", 4, dsd, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, t->s_dense);
    int pg[M], pi[M * CELLS];
    for (int k = 0; k < M; k++) {
        pg[k] = t->plans[k].g;
        memcpy(pi + k * CELLS, t->plans[k].image, sizeof(int) * CELLS);
    }
    e |= h5_write(f, "plan_g", 1, dm, H5T_NATIVE_INT, H5T_STD_I32LE, pg);
    e |= h5_write(f, "plan_image", 2, dpi, H5T_NATIVE_INT, H5T_STD_I32LE, pi);
    const atas_loss_config *c = &t->cfg;
    e |= h5_attr_d(f, "w_g2l", c->w_g2l) | h5_attr_d(f, "w_l2l", c->w_l2l) | h5_attr_d(f, "w_g2g", c->w_g2g);
    e |= h5_attr_d(f, "pool_tau", c->pool_tau) | h5_attr_d(f, "g2l_tau", c->g2l_tau);
    e |= h5_attr_d(f, "g2g_tau", c->g2g_tau) | h5_attr_d(f, "grad_scale", t->grad_scale);
    e |= h5_attr_s(f, "g2l_pool", atas_loss_pool_name(c->g2l_pool));
    e |= h5_attr_s(f, "g2l_form", atas_loss_form_name(c->g2l_form));
    e |= h5_attr_s(f, "l2l_form", atas_loss_l2l_name(c->l2l_form));
    e |= h5_attr_s(f, "g2g_form", atas_loss_form_name(c->g2g_form));
    H5Fclose(f);
    return e;
}

static int read_attr(hid_t f, const char *name, double *v) {
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0) return -1;
    herr_t e = H5Aread(a, H5T_NATIVE_DOUBLE, v);
    H5Aclose(a);
    return e < 0 ? -1 : 0;
}

static int read_data(hid_t f, const char *name, double *buf, hssize_t expect) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t sp = H5Dget_space(d);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    herr_t e = np == expect ? H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : -1;
    H5Dclose(d);
    return e < 0 ? -1 : 0;
}

/* max |a - b| / max(max |b|, floor) */
static double rel_err_d(const float *a, const double *b, size_t n, double floor_) {
    double md = 0, mr = floor_;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= md)) md = isnan(d) ? INFINITY : d;
        if (fabs(b[i]) > mr) mr = fabs(b[i]);
    }
    return md / mr;
}

static void compare(const test_case *t, int idx, const char *path) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    T_ASSERT(f >= 0, "case %d: cannot open %s", idx, path);
    if (f < 0) return;
    static double rg[NG], rd[ND];
    double ref[4];
    const char *names[4] = {"g2l", "l2l", "g2g", "total"};
    const double mine[4] = {t->v.g2l, t->v.l2l, t->v.g2g, t->v.total};
    for (int q = 0; q < 4; q++) {
        T_ASSERT(read_attr(f, names[q], &ref[q]) == 0, "case %d: attribute %s missing", idx, names[q]);
        double err = fabs(mine[q] - ref[q]) / fmax(fabs(ref[q]), 1e-6);
        T_ASSERT(err < 1e-4, "case %d: %s C %.9g torch %.9g (rel %.2e)", idx, names[q], mine[q], ref[q], err);
    }
    T_ASSERT(read_data(f, "ds_glob", rg, NG) == 0, "case %d: ds_glob missing or wrong size", idx);
    T_ASSERT(read_data(f, "ds_dense", rd, ND) == 0, "case %d: ds_dense missing or wrong size", idx);
    H5Fclose(f);
    double eg = rel_err_d(t->ds_glob, rg, NG, 1e-12), ed = rel_err_d(t->ds_dense, rd, ND, 1e-12);
    printf("case %d (%s/%s, l2l %s, g2g %s, w %.1f/%.1f/%.1f, scale %.2f): g2l %.6f l2l %.6f g2g %.6f | "
           "grad rel err glob %.1e dense %.1e\n",
           idx, atas_loss_pool_name(t->cfg.g2l_pool), atas_loss_form_name(t->cfg.g2l_form),
           atas_loss_l2l_name(t->cfg.l2l_form), atas_loss_form_name(t->cfg.g2g_form), t->cfg.w_g2l,
           t->cfg.w_l2l, t->cfg.w_g2g, t->grad_scale, ref[0], ref[1], ref[2], eg, ed);
    T_ASSERT(eg < 1e-4, "case %d: ds_glob rel err %.3e", idx, eg);
    T_ASSERT(ed < 1e-4, "case %d: ds_dense rel err %.3e", idx, ed);
}

int main(void) {
    const char *py = getenv("ATAS_PYTHON"), *src = getenv("ATAS_SOURCE_DIR");
    if (!py) py = "python3";
    if (!src) src = ".";
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "\"%s\" -c \"import torch, h5py\" >/dev/null 2>&1", py);
    if (system(cmd) != 0) {
        printf("test_losses_torch: %s lacks torch or h5py: skipped\n", py);
        return 77;
    }
    const char *dir = "test_losses_torch.d";
    mkdir(dir, 0755);
    int len = snprintf(cmd, sizeof cmd, "\"%s\" \"%s/tools/ref/atas_objective_ref.py\"", py, src);
    char in[NCASE][256], out[NCASE][256];
    for (int i = 0; i < NCASE; i++) {
        test_case *t = &cases[i];
        make_case(t, i);
        snprintf(in[i], sizeof in[i], "%s/in%d.h5", dir, i);
        snprintf(out[i], sizeof out[i], "%s/out%d.h5", dir, i);
        remove(out[i]);
        T_ASSERT(write_input(t, in[i]) == 0, "case %d: writing %s failed", i, in[i]);
        T_OK(atas_objective_group(&t->cfg, t->plans, M, N, E, P, t->t_glob, t->t_dense, HT, WT, t->s_glob,
                                  t->s_dense, HC, WC, t->grad_scale, t->ds_glob, t->ds_dense, &t->v));
        len += snprintf(cmd + len, sizeof cmd - len, " %s %s", in[i], out[i]);
    }
    int rc = system(cmd);
    T_ASSERT(rc == 0, "reference failed (%d): %s", rc, cmd);
    if (rc == 0)
        for (int i = 0; i < NCASE; i++) compare(&cases[i], i, out[i]);
    return t_finish("test_losses_torch");
}
