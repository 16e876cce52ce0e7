/* Loader determinism and content.
 *   test_loader compare CORPUS [DUMP.h5]
 *     1 worker vs 3 workers (serial), 1 rank vs W ranks (rank r's groups equal
 *     the 1-rank run's groups r*G/W..), resume from a cursor, epoch crossing,
 *     mosaic cells equal the resized image; rank 0 dumps the serial batches for
 *     the independent Pillow check (tests/data/check_loader.py).
 *   test_loader expect-error CORPUS R C SUBSTRING
 *     opening or reading must fail with a message containing SUBSTRING. */
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "atas/corpus.h"
#include "atas/loader.h"
#include "test_util.h"

#define STEPS 5
static const int GRIDS[3] = {1, 2, 4};

typedef struct {
    float *views, *mosaics;
    atas_mosaic *plans;
    int64_t *img, *grp;
    atas_data_cursor cur[STEPS];
    int groups, n, m, R, C;
} run_t;

static atas_loader_config base(const char *path) {
    atas_loader_config c = {.path = path, .group_images = 3, .groups = 4, .mosaics = 2,
                            .grids = GRIDS, .ngrids = 3, .view_px = 24, .canvas_px = 32,
                            .seed = 11, .workers = 1, .prefetch = 1,
                            .repeat_images = 1 /* 3 images, grids up to 4 x 4: data-order tests */};
    return c;
}

static size_t vsz(const run_t *r) { return (size_t)r->groups * r->n * 3 * r->R * r->R; }
static size_t msz(const run_t *r) { return (size_t)r->groups * r->m * 3 * r->C * r->C; }

static void run(run_t *o, const atas_loader_config *c, MPI_Comm comm, int steps) {
    atas_loader *ld;
    T_OK(atas_loader_open(&ld, c, comm));
    memset(o, 0, sizeof *o);
    for (int s = 0; s < steps; s++) {
        atas_batch *b;
        T_OK(atas_loader_next(ld, &b));
        if (s == 0) {
            o->groups = b->groups; o->n = b->n; o->m = b->m; o->R = b->R; o->C = b->C;
            o->views = malloc(vsz(o) * sizeof(float) * steps);
            o->mosaics = malloc(msz(o) * sizeof(float) * steps);
            o->plans = malloc(sizeof(atas_mosaic) * o->groups * o->m * steps);
            o->img = malloc(sizeof(int64_t) * o->groups * o->n * steps);
            o->grp = malloc(sizeof(int64_t) * o->groups * steps);
        }
        memcpy(o->views + vsz(o) * s, b->views, vsz(o) * sizeof(float));
        memcpy(o->mosaics + msz(o) * s, b->mosaics, msz(o) * sizeof(float));
        memcpy(o->plans + (size_t)o->groups * o->m * s, b->plans, sizeof(atas_mosaic) * o->groups * o->m);
        memcpy(o->img + (size_t)o->groups * o->n * s, b->image_index, sizeof(int64_t) * o->groups * o->n);
        memcpy(o->grp + (size_t)o->groups * s, b->group_index, sizeof(int64_t) * o->groups);
        o->cur[s] = b->cursor;
        T_ASSERT(b->next.global_step == b->cursor.global_step + 1, "next cursor");
        T_ASSERT(b->wait_s >= 0, "wait");
        atas_loader_release(ld, b);
    }
    atas_loader_close(ld);
}

/* group k of step s of run a equals group k2 of step s2 of run b, bit for bit */
static int same_group(const run_t *a, int s, int k, const run_t *b, int s2, int k2) {
    size_t v = (size_t)a->n * 3 * a->R * a->R, m = (size_t)a->m * 3 * a->C * a->C;
    return !memcmp(a->views + vsz(a) * s + v * k, b->views + vsz(b) * s2 + v * k2, v * 4) &&
           !memcmp(a->mosaics + msz(a) * s + m * k, b->mosaics + msz(b) * s2 + m * k2, m * 4) &&
           !memcmp(a->plans + ((size_t)a->groups * s + k) * a->m, b->plans + ((size_t)b->groups * s2 + k2) * a->m,
                   sizeof(atas_mosaic) * a->m) &&
           !memcmp(a->img + ((size_t)a->groups * s + k) * a->n, b->img + ((size_t)b->groups * s2 + k2) * a->n,
                   sizeof(int64_t) * a->n);
}

static void dump(const char *path, const run_t *r, int steps) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    T_ASSERT(f >= 0, "cannot create %s", path);
    hsize_t dv[5] = {(hsize_t)steps * r->groups * r->n, 3, (hsize_t)r->R, (hsize_t)r->R};
    hsize_t dm[4] = {(hsize_t)steps * r->groups * r->m, 3, (hsize_t)r->C, (hsize_t)r->C};
    hsize_t di[1] = {(hsize_t)steps * r->groups * r->n};
    hsize_t dp[2] = {(hsize_t)steps * r->groups * r->m, 1 + ATAS_MOSAIC_MAX_GRID * ATAS_MOSAIC_MAX_GRID};
    int *pl = malloc(sizeof(int) * dp[0] * dp[1]);
    for (hsize_t i = 0; i < dp[0]; i++) {
        pl[i * dp[1]] = r->plans[i].g;
        memcpy(pl + i * dp[1] + 1, r->plans[i].image, sizeof(int) * (dp[1] - 1));
    }
    struct { const char *name; int rank; hsize_t *d; hid_t t; const void *p; } ds[4] = {
        {"views", 4, dv, H5T_NATIVE_FLOAT, r->views}, {"mosaics", 4, dm, H5T_NATIVE_FLOAT, r->mosaics},
        {"image_index", 1, di, H5T_NATIVE_INT64, r->img}, {"plans", 2, dp, H5T_NATIVE_INT, pl}};
    for (int i = 0; i < 4; i++) {
        hid_t sp = H5Screate_simple(ds[i].rank, ds[i].d, NULL);
        hid_t d = H5Dcreate2(f, ds[i].name, ds[i].t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        T_ASSERT(d >= 0 && H5Dwrite(d, ds[i].t, H5S_ALL, H5S_ALL, H5P_DEFAULT, ds[i].p) >= 0, "dump %s", ds[i].name);
        H5Dclose(d);
        H5Sclose(sp);
    }
    H5Fclose(f);
    free(pl);
}

static int compare(const char *path, const char *dump_path) {
    int rank, W;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &W);
    atas_loader_config c = base(path);
    run_t ref, many, par, res;
    run(&ref, &c, MPI_COMM_SELF, STEPS);
    T_ASSERT(ref.cur[2].epoch == 1 && ref.cur[2].step_in_epoch == 0 && ref.cur[4].global_step == 4,
             "24 images / (4*3) = 2 steps per epoch: cursor of step 2 is (1, 0), got (%lld, %lld)",
             (long long)ref.cur[2].epoch, (long long)ref.cur[2].step_in_epoch);
    /* the two epochs use different orders, each a subset of distinct images */
    T_ASSERT(memcmp(ref.img, ref.img + 2 * 12, sizeof(int64_t) * 24) != 0, "epochs 0 and 1 in the same order");
    /* 3 workers, deeper prefetch: identical */
    c.workers = 3;
    c.prefetch = 3;
    run(&many, &c, MPI_COMM_SELF, STEPS);
    for (int s = 0; s < STEPS; s++)
        for (int k = 0; k < ref.groups; k++)
            T_ASSERT(same_group(&ref, s, k, &many, s, k), "3 workers differ at step %d group %d", s, k);
    /* W ranks: rank r holds groups r*G/W .. */
    c.workers = 2;
    run(&par, &c, MPI_COMM_WORLD, STEPS);
    for (int s = 0; s < STEPS; s++)
        for (int k = 0; k < par.groups; k++)
            T_ASSERT(same_group(&ref, s, rank * par.groups + k, &par, s, k) && par.grp[s * par.groups + k] == rank * par.groups + k,
                     "rank %d of %d: step %d group %d differs from the 1-rank run", rank, W, s, k);
    /* resume at cursor (1, 1) = global step 3 */
    c.start_epoch = 1;
    c.start_step = 1;
    run(&res, &c, MPI_COMM_SELF, 2);
    for (int k = 0; k < ref.groups; k++)
        T_ASSERT(same_group(&ref, 3, k, &res, 0, k) && same_group(&ref, 4, k, &res, 1, k), "resume differs, group %d", k);
    T_ASSERT(res.cur[0].global_step == 3, "resumed cursor");
    /* mosaic cells hold the image resized to the cell (loader's own resize, re-run here) */
    atas_corpus cp;
    T_OK(atas_corpus_open(&cp, path, MPI_COMM_SELF));
    int S = cp.S, C = ref.C;
    uint8_t *im = malloc((size_t)S * S * 3);
    float *cell = malloc(sizeof(float) * 3 * C * C), *tmp = malloc(sizeof(float) * 3 * S * C);
    int checked = 0;
    for (int s = 0; s < STEPS; s++)
        for (int k = 0; k < ref.groups * ref.m; k++) {
            const atas_mosaic *p = &ref.plans[(size_t)s * ref.groups * ref.m + k];
            int grp = k / ref.m, cp_px = C / p->g;
            T_ASSERT(p->cell_px == cp_px, "cell size");
            const float *mo = ref.mosaics + msz(&ref) * s + (size_t)k * 3 * C * C;
            for (int r = 0; r < p->g; r++)
                for (int q = 0; q < p->g; q++) {
                    int64_t idx = ref.img[((size_t)s * ref.groups + grp) * ref.n + p->image[r * p->g + q]];
                    T_OK(atas_corpus_read(&cp, idx, im));
                    T_OK(atas_resize_f32_square(cell, cp_px, im, S, tmp));
                    for (int ch = 0; ch < 3; ch++)
                        for (int y = 0; y < cp_px; y++)
                            for (int x = 0; x < cp_px; x++) {
                                float want = (cell[((size_t)ch * cp_px + y) * cp_px + x] / 255.0f - atas_clip_mean[ch]) / atas_clip_std[ch];
                                float got = mo[((size_t)ch * C + r * cp_px + y) * C + q * cp_px + x];
                                if (!(fabsf(want - got) <= 1e-5f)) {
                                    T_ASSERT(0, "step %d mosaic %d cell (%d,%d) ch %d (%d,%d): %g vs %g", s, k, r, q, ch, y, x, got, want);
                                    ch = 3; y = x = cp_px; r = q = p->g;
                                }
                            }
                    checked++;
                }
        }
    atas_corpus_close(&cp);
    T_ASSERT(checked > 20, "only %d cells checked", checked);
    if (rank == 0 && dump_path) dump(dump_path, &ref, STEPS);
    free(im); free(cell); free(tmp);
    return 0;
}

static int expect_error(const char *path, int R, int C, const char *want) {
    atas_loader_config c = base(path);
    c.view_px = R;
    c.canvas_px = C;
    atas_loader *ld = NULL;
    atas_status st = atas_loader_open(&ld, &c, MPI_COMM_WORLD);
    for (int s = 0; st == ATAS_OK && s < 4; s++) {
        atas_batch *b;
        st = atas_loader_next(ld, &b);
        if (st == ATAS_OK) atas_loader_release(ld, b);
    }
    if (ld) atas_loader_close(ld);
    const char *msg = atas_error_message();
    printf("error: %s\n", msg);
    T_ASSERT(st != ATAS_OK, "expected a failure containing \"%s\"", want);
    T_ASSERT(strstr(msg, want) != NULL, "message \"%s\" lacks \"%s\"", msg, want);
    T_ASSERT(strstr(msg, path) != NULL, "message \"%s\" does not name the file", msg);
    return 0;
}

int main(int argc, char **argv) {
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    int rank, W;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &W);
    atas_log_set_rank(rank, W);
    if (argc >= 3 && !strcmp(argv[1], "compare")) compare(argv[2], argc > 3 ? argv[3] : NULL);
    else if (argc == 6 && !strcmp(argv[1], "expect-error")) expect_error(argv[2], atoi(argv[3]), atoi(argv[4]), argv[5]);
    else { fprintf(stderr, "usage: test_loader compare CORPUS [DUMP] | expect-error CORPUS R C SUBSTRING\n"); t_failures++; }
    int rc = t_finish("test_loader");
    MPI_Finalize();
    return rc;
}
