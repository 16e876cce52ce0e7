/* --dump-step N DIR: one step, as HDF5, so the whole loss stack can be checked
 * against an independent implementation (docs/dump.md, tools/ref/check_dump.py). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "atas/h5util.h"
#include "atas/checkpoint.h"
#include "trainer_internal.h"

static void dump_path(const char *dir, long long step, char *p, size_t n) {
    snprintf(p, n, "%s/step-%08lld.h5", dir, step);
}

atas_status atas_dump_begin(atas_trainer *t, const char *dir, long long step, const atas_batch *b,
                            float **student_copy) {
    *student_copy = NULL;
    if (t->comm->rank != 0) return ATAS_OK;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return ATAS_ERR(ATAS_ERR_IO, "%s: cannot create dump directory: %s", dir, strerror(errno));
    char p[1400];
    dump_path(dir, step, p, sizeof p);
    hid_t f;
    ATAS_CHECK(atas_h5_create(p, &f));
    const atas_vit_config *c = &t->mcfg;
    const atas_loss_config *l = &t->loss;
    atas_status s = ATAS_OK;
#define TRY(x) do { if (s == ATAS_OK) s = (x); } while (0)
    TRY(atas_h5_attr_write_int(f, "step", step));
    TRY(atas_h5_attr_write_int(f, "world_size", t->comm->world));
    TRY(atas_h5_attr_write_int(f, "groups", t->G_r));
    TRY(atas_h5_attr_write_int(f, "group_images", t->n));
    TRY(atas_h5_attr_write_int(f, "mosaics_per_group", t->m));
    TRY(atas_model_h5_write_config(f, c));
    TRY(atas_h5_attr_write_double(f, "w_g2l", l->w_g2l));
    TRY(atas_h5_attr_write_double(f, "w_l2l", l->w_l2l));
    TRY(atas_h5_attr_write_double(f, "w_g2g", l->w_g2g));
    TRY(atas_h5_attr_write_double(f, "pool_tau", l->pool_tau));
    TRY(atas_h5_attr_write_double(f, "g2l_tau", l->g2l_tau));
    TRY(atas_h5_attr_write_double(f, "g2g_tau", l->g2g_tau));
    TRY(atas_h5_attr_write_double(f, "grad_scale", 1.0 / t->G_r));
    TRY(atas_h5_attr_write_str(f, "g2l_pool", atas_loss_pool_name(l->g2l_pool)));
    TRY(atas_h5_attr_write_str(f, "g2l_form", atas_loss_form_name(l->g2l_form)));
    TRY(atas_h5_attr_write_str(f, "l2l_form", atas_loss_l2l_name(l->l2l_form)));
    TRY(atas_h5_attr_write_str(f, "g2g_form", atas_loss_form_name(l->g2g_form)));
    TRY(atas_model_h5_write_tensors(f, "student", &t->student, t->student.params, 0));
    TRY(atas_model_h5_write_tensors(f, "teacher", &t->teacher, t->teacher.params, 0));
    const size_t Bv = (size_t)t->G_r * t->n, Bm = (size_t)t->G_r * t->m;
    TRY(atas_h5_write_f32(f, "inputs/views", b->views, 4, (size_t[]){Bv, 3, (size_t)t->R, (size_t)t->R}));
    if (Bm) {
        const int MAXC = ATAS_MOSAIC_MAX_GRID * ATAS_MOSAIC_MAX_GRID;
        int *g = NULL, *img = NULL, *box = NULL, *grp = NULL;
        TRY(atas_host_calloc((void **)&g, sizeof(int) * Bm, "dump"));
        TRY(atas_host_calloc((void **)&grp, sizeof(int) * Bm, "dump"));
        TRY(atas_host_calloc((void **)&img, sizeof(int) * Bm * MAXC, "dump"));
        TRY(atas_host_calloc((void **)&box, sizeof(int) * Bm * MAXC * 4, "dump"));
        if (s == ATAS_OK) {
            for (size_t k = 0; k < Bm; k++) {
                const atas_mosaic *mo = &b->plans[k];
                int kk = mo->cell_px / c->patch;
                g[k] = mo->g;
                grp[k] = (int)(k / t->m);
                for (int cidx = 0; cidx < MAXC; cidx++) {
                    int *bx = box + (k * MAXC + cidx) * 4;
                    img[k * MAXC + cidx] = cidx < mo->g * mo->g ? mo->image[cidx] : -1;
                    if (cidx < mo->g * mo->g) {
                        bx[0] = (cidx / mo->g) * kk; bx[1] = (cidx % mo->g) * kk; bx[2] = kk; bx[3] = kk;
                    } else {
                        bx[0] = bx[1] = bx[2] = bx[3] = -1;
                    }
                }
            }
        }
        TRY(atas_h5_write_f32(f, "inputs/mosaics", b->mosaics, 4,
                              (size_t[]){Bm, 3, (size_t)t->C, (size_t)t->C}));
        TRY(atas_h5_write_i32(f, "inputs/plan_g", g, 1, (size_t[]){Bm}));
        TRY(atas_h5_write_i32(f, "inputs/plan_image", img, 2, (size_t[]){Bm, (size_t)MAXC}));
        TRY(atas_h5_write_i32(f, "inputs/cell_box_tokens", box, 3, (size_t[]){Bm, (size_t)MAXC, 4}));
        TRY(atas_h5_write_i32(f, "inputs/mosaic_group", grp, 1, (size_t[]){Bm}));
        atas_host_free(g); atas_host_free(img); atas_host_free(box); atas_host_free(grp);
    }
    int gidx[4096];
    for (int j = 0; j < t->G_r && j < 4096; j++) gidx[j] = (int)b->group_index[j];
    TRY(atas_h5_write_i32(f, "inputs/group_index", gidx, 1, (size_t[]){(size_t)t->G_r}));
#undef TRY
    H5Fclose(f);
    ATAS_CHECK(s);
    return ATAS_OK;
}

atas_status atas_dump_end(atas_trainer *t, const char *dir, long long step, const double *l,
                          float *student_copy) {
    (void)student_copy;
    if (t->comm->rank != 0) return ATAS_OK;
    char p[1400];
    dump_path(dir, step, p, sizeof p);
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return ATAS_ERR(ATAS_ERR_IO, "%s: cannot reopen the dump", p);
    atas_status s = atas_h5_attr_write_double(f, "loss_g2l", l[0]);
    if (s == ATAS_OK) s = atas_h5_attr_write_double(f, "loss_l2l", l[1]);
    if (s == ATAS_OK) s = atas_h5_attr_write_double(f, "loss_g2g", l[2]);
    if (s == ATAS_OK) s = atas_h5_attr_write_double(f, "loss_total", l[3]);
    if (s == ATAS_OK) s = atas_model_h5_write_tensors(f, "grads", &t->student, t->student.grads, 1);
    H5Fclose(f);
    ATAS_CHECK(s);
    atas_info("dumped step %lld to %s", step, p);
    return ATAS_OK;
}
