/* The loader: ONE I/O thread per rank reads the rank's images of each step
 * (HDF5 through MPI-IO, independent hyperslab reads; HDF5 is not thread-safe,
 * so no other thread calls it while the loader is open) into a ring of
 * `prefetch` slots; worker threads take (slot, group) tasks and build views and
 * mosaics into disjoint parts of the slot's batch. Each output element depends
 * only on its inputs, so results are bit-identical whatever the thread timing. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "atas/corpus.h"
#include "atas/loader.h"
#include "atas/h5util.h"
#include "atas/mpi_check.h"

const float atas_clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
const float atas_clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

enum { SLOT_FREE = 0, SLOT_READING, SLOT_RAW, SLOT_DONE, SLOT_OUT, SLOT_ERROR };

typedef struct {
    int state;
    int64_t seq;
    atas_batch b;
    uint8_t *raw;          /* [groups*n, S, S, 3] */
    int next_group, groups_done;
    atas_status err;
    char errmsg[1024];
} slot_t;

struct atas_loader {
    atas_loader_config cfg;
    int grids[ATAS_MOSAIC_MAX_GRID * 2];
    atas_corpus corpus;
    int rank, world, groups, S;
    int64_t N, spe, start_global;
    slot_t *slots;
    int P;
    pthread_t io;
    pthread_t *workers;
    int nworkers_started, io_started;
    pthread_mutex_t mu;
    pthread_cond_t cv_io, cv_work, cv_user;
    int64_t user_seq;
    _Atomic int stop; /* set by the caller, read by the I/O thread */
    uint32_t *perm;
    int64_t perm_epoch;
    size_t worker_floats;
};

int64_t atas_loader_steps_per_epoch(const atas_loader *ld) { return ld->spe; }
int64_t atas_loader_corpus_count(const atas_loader *ld) { return ld->N; }
int atas_loader_corpus_side(const atas_loader *ld) { return ld->S; }

static atas_data_cursor cursor_of(const atas_loader *ld, int64_t global) {
    atas_data_cursor c = {global / ld->spe, global % ld->spe, global};
    return c;
}

/* ---------------------------------------------------------------- I/O thread */
static atas_status read_step(atas_loader *ld, slot_t *s) {
    const atas_loader_config *c = &ld->cfg;
    atas_batch *b = &s->b;
    b->cursor = cursor_of(ld, ld->start_global + s->seq);
    b->next = cursor_of(ld, ld->start_global + s->seq + 1);
    if (b->cursor.epoch != ld->perm_epoch) {
        ATAS_CHECK(atas_sampler_permutation(ld->perm, ld->N, c->seed, (uint64_t)b->cursor.epoch));
        ld->perm_epoch = b->cursor.epoch;
    }
    ATAS_CHECK(atas_sampler_rank_slice(ld->perm, ld->N, b->cursor.step_in_epoch, c->groups,
                                  c->group_images, ld->rank, ld->world, b->image_index,
                                  b->group_index));
    for (int j = 0; j < ld->groups; j++)
        ATAS_CHECK(atas_mosaic_plan_ex(b->plans + (size_t)j * c->mosaics, c->mosaics, ld->grids, c->ngrids,
                                  c->group_images, c->canvas_px, c->repeat_images, c->seed,
                                  (uint64_t)b->cursor.global_step, (uint64_t)b->group_index[j]));
    const size_t img = (size_t)ld->S * ld->S * 3;
    for (int i = 0; i < ld->groups * c->group_images; i++) {
        if (ld->stop) return ATAS_OK;
        atas_h5_lock(); /* the main thread may be writing a checkpoint */
        atas_status rs = atas_corpus_read(&ld->corpus, b->image_index[i], s->raw + img * i);
        atas_h5_unlock();
        ATAS_CHECK(rs);
    }
    return ATAS_OK;
}

static void *io_main(void *arg) {
    atas_loader *ld = arg;
    for (int64_t seq = 0;; seq++) {
        slot_t *s = &ld->slots[seq % ld->P];
        pthread_mutex_lock(&ld->mu);
        while (!ld->stop && s->state != SLOT_FREE) pthread_cond_wait(&ld->cv_io, &ld->mu);
        if (ld->stop) { pthread_mutex_unlock(&ld->mu); break; }
        s->state = SLOT_READING;
        s->seq = seq;
        pthread_mutex_unlock(&ld->mu);
        atas_status st = read_step(ld, s);
        pthread_mutex_lock(&ld->mu);
        if (st != ATAS_OK) {
            s->err = st;
            snprintf(s->errmsg, sizeof s->errmsg, "%s", atas_error_message());
            s->state = SLOT_ERROR;
            pthread_cond_broadcast(&ld->cv_user);
            pthread_mutex_unlock(&ld->mu);
            break; /* nothing after a failed step is delivered */
        }
        s->next_group = 0;
        s->groups_done = 0;
        s->state = SLOT_RAW;
        pthread_cond_broadcast(&ld->cv_work);
        pthread_mutex_unlock(&ld->mu);
    }
    return NULL;
}

/* ---------------------------------------------------------------- workers */
static void normalise(float *x, int hw) {
    for (int c = 0; c < 3; c++) {
        const float m = atas_clip_mean[c], is = 1.0f / atas_clip_std[c];
        float *p = x + (size_t)c * hw;
        for (int i = 0; i < hw; i++) p[i] = (p[i] * (1.0f / 255.0f) - m) * is;
    }
}

/* views and mosaics of group j of slot s; tmp: resize scratch, cells: n cached cells */
static atas_status build_group(atas_loader *ld, slot_t *s, int j, float *tmp, float *cells,
                               char *have) {
    const atas_loader_config *c = &ld->cfg;
    const int n = c->group_images, R = c->view_px, C = c->canvas_px, S = ld->S;
    const size_t img = (size_t)S * S * 3;
    const uint8_t *raw = s->raw + img * (size_t)j * n;
    for (int i = 0; i < n; i++) {
        float *v = s->b.views + ((size_t)j * n + i) * 3 * R * R;
        ATAS_CHECK(atas_resize_f32_square(v, R, raw + img * i, S, tmp));
        normalise(v, R * R);
    }
    /* one pass per grid size: each image is resized to that cell side at most once */
    for (int gi = 0; gi < c->ngrids; gi++) {
        const int g = ld->grids[gi];
        int dup = 0;
        for (int q = 0; q < gi; q++) dup |= ld->grids[q] == g;
        if (dup) continue;
        const int cell = C / g;
        memset(have, 0, (size_t)n);
        for (int k = 0; k < c->mosaics; k++) {
            const atas_mosaic *pl = &s->b.plans[(size_t)j * c->mosaics + k];
            if (pl->g != g) continue;
            float *mo = s->b.mosaics + ((size_t)j * c->mosaics + k) * 3 * C * C;
            for (int r = 0; r < g; r++)
                for (int q = 0; q < g; q++) {
                    int im = pl->image[r * g + q];
                    float *cl = cells + (size_t)im * 3 * cell * cell;
                    if (!have[im]) {
                        ATAS_CHECK(atas_resize_f32_square(cl, cell, raw + img * im, S, tmp));
                        normalise(cl, cell * cell);
                        have[im] = 1;
                    }
                    for (int ch = 0; ch < 3; ch++)
                        for (int y = 0; y < cell; y++)
                            memcpy(mo + ((size_t)ch * C + r * cell + y) * C + q * cell,
                                   cl + ((size_t)ch * cell + y) * cell, sizeof(float) * cell);
                }
        }
    }
    return ATAS_OK;
}

static void *worker_main(void *arg) {
    atas_loader *ld = arg;
    const atas_loader_config *c = &ld->cfg;
    float *tmp = NULL, *cells = NULL;
    char *have = malloc((size_t)c->group_images);
    int gmin = 1 << 30;
    for (int i = 0; i < c->ngrids; i++) gmin = ATAS_MIN(gmin, ld->grids[i]);
    size_t cell = c->ngrids > 0 ? (size_t)(c->canvas_px / gmin) : 1;
    atas_status ast = atas_host_alloc((void **)&tmp, sizeof(float) * 3 * ld->S *
                                      ATAS_MAX((size_t)c->view_px, cell), "loader worker scratch");
    if (ast == ATAS_OK)
        ast = atas_host_alloc((void **)&cells, sizeof(float) * 3 * cell * cell * c->group_images,
                              "loader mosaic cells");
    for (;;) {
        pthread_mutex_lock(&ld->mu);
        slot_t *s = NULL;
        int j = -1;
        while (!ld->stop) {
            /* oldest step first, so the consumer's next batch finishes soonest */
            for (int64_t q = ld->user_seq; q < ld->user_seq + ld->P && !s; q++) {
                slot_t *t = &ld->slots[q % ld->P];
                if (t->state == SLOT_RAW && t->seq == q && t->next_group < ld->groups) {
                    s = t;
                    j = t->next_group++;
                }
            }
            if (s) break;
            pthread_cond_wait(&ld->cv_work, &ld->mu);
        }
        pthread_mutex_unlock(&ld->mu);
        if (!s) break;
        atas_status st = ast != ATAS_OK || !have ? ATAS_ERR_NOMEM : build_group(ld, s, j, tmp, cells, have);
        pthread_mutex_lock(&ld->mu);
        if (st != ATAS_OK && s->state != SLOT_ERROR) {
            s->err = st;
            snprintf(s->errmsg, sizeof s->errmsg, "loader worker: %s", atas_error_message());
            s->state = SLOT_ERROR;
            pthread_cond_broadcast(&ld->cv_user);
        } else if (st == ATAS_OK && ++s->groups_done == ld->groups && s->state == SLOT_RAW) {
            s->state = SLOT_DONE;
            pthread_cond_broadcast(&ld->cv_user);
        }
        pthread_mutex_unlock(&ld->mu);
    }
    free(have);
    atas_host_free(tmp);
    atas_host_free(cells);
    return NULL;
}

/* ---------------------------------------------------------------- API */
atas_status atas_loader_next(atas_loader *ld, atas_batch **out) {
    *out = NULL;
    double t0 = atas_now();
    pthread_mutex_lock(&ld->mu);
    slot_t *s = &ld->slots[ld->user_seq % ld->P];
    while (!(s->seq == ld->user_seq && (s->state == SLOT_DONE || s->state == SLOT_ERROR)) &&
           !(s->state == SLOT_OUT))
        pthread_cond_wait(&ld->cv_user, &ld->mu);
    if (s->state == SLOT_OUT) { /* every slot is held by the caller */
        pthread_mutex_unlock(&ld->mu);
        return ATAS_ERR(ATAS_ERR_INVALID, "loader: all %d prefetch slots are held; release a batch "
                        "before asking for the next", ld->P);
    }
    if (s->state == SLOT_ERROR) {
        atas_status code = s->err;
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", s->errmsg);
        pthread_mutex_unlock(&ld->mu);
        return ATAS_ERR(code, "loader (step %lld of the run): %s", (long long)ld->user_seq, msg);
    }
    s->state = SLOT_OUT;
    ld->user_seq++;
    pthread_mutex_unlock(&ld->mu);
    s->b.wait_s = atas_now() - t0;
    *out = &s->b;
    return ATAS_OK;
}

void atas_loader_release(atas_loader *ld, atas_batch *b) {
    if (!ld || !b) return;
    pthread_mutex_lock(&ld->mu);
    for (int i = 0; i < ld->P; i++)
        if (&ld->slots[i].b == b && ld->slots[i].state == SLOT_OUT) {
            ld->slots[i].state = SLOT_FREE;
            pthread_cond_broadcast(&ld->cv_io);
        }
    pthread_mutex_unlock(&ld->mu);
}

void atas_loader_close(atas_loader *ld) {
    if (!ld) return;
    pthread_mutex_lock(&ld->mu);
    ld->stop = 1;
    pthread_cond_broadcast(&ld->cv_io);
    pthread_cond_broadcast(&ld->cv_work);
    pthread_cond_broadcast(&ld->cv_user);
    pthread_mutex_unlock(&ld->mu);
    if (ld->io_started) pthread_join(ld->io, NULL);
    for (int i = 0; i < ld->nworkers_started; i++) pthread_join(ld->workers[i], NULL);
    if (ld->corpus.hid_file >= 0) atas_corpus_close(&ld->corpus); /* HDF5 only after the join */
    for (int i = 0; ld->slots && i < ld->P; i++) {
        slot_t *s = &ld->slots[i];
        atas_host_free(s->raw);
        atas_host_free(s->b.views);
        atas_host_free(s->b.mosaics);
        atas_host_free(s->b.plans);
        atas_host_free(s->b.group_index);
        atas_host_free(s->b.image_index);
    }
    free(ld->slots);
    free(ld->workers);
    atas_host_free(ld->perm);
    pthread_mutex_destroy(&ld->mu);
    pthread_cond_destroy(&ld->cv_io);
    pthread_cond_destroy(&ld->cv_work);
    pthread_cond_destroy(&ld->cv_user);
    free(ld);
}

static atas_status check_config(const atas_loader_config *c, int world) {
    if (!c->path) return ATAS_ERR(ATAS_ERR_CONFIG, "loader: no corpus path");
    if (c->group_images < 1 || c->group_images > 256)
        return ATAS_ERR(ATAS_ERR_CONFIG, "loader: batch.group_images = %d, expected 1..256", c->group_images);
    if (c->groups < 1 || c->groups % world != 0)
        return ATAS_ERR(ATAS_ERR_CONFIG, "loader: batch.groups (groups per global batch) = %d must be a positive "
                        "multiple of the number of ranks %d", c->groups, world);
    if (c->mosaics < 0) return ATAS_ERR(ATAS_ERR_CONFIG, "loader: mosaic.per_group = %d < 0", c->mosaics);
    if (c->ngrids < 1 || c->ngrids > 2 * ATAS_MOSAIC_MAX_GRID || !c->grids)
        return ATAS_ERR(ATAS_ERR_CONFIG, "loader: mosaic.grids needs 1..%d grid sizes (got %d)",
                        2 * ATAS_MOSAIC_MAX_GRID, c->ngrids);
    if (c->view_px < 1 || c->canvas_px < 1)
        return ATAS_ERR(ATAS_ERR_CONFIG, "loader: %s = %d / %s = %d px must be positive",
                        c->view_key ? c->view_key : "data.resolution", c->view_px,
                        c->canvas_key ? c->canvas_key : "mosaic.canvas", c->canvas_px);
    for (int i = 0; i < c->ngrids; i++)
        if (c->grids[i] < 1 || c->grids[i] > ATAS_MOSAIC_MAX_GRID || c->canvas_px % c->grids[i])
            return ATAS_ERR(ATAS_ERR_CONFIG, "loader: mosaic.grids[%d] = %d must be in 1..%d and divide %s = %d",
                            i, c->grids[i], ATAS_MOSAIC_MAX_GRID,
                            c->canvas_key ? c->canvas_key : "mosaic.canvas", c->canvas_px);
    if (c->mosaics > 0)
        ATAS_CHECK(atas_mosaic_check_images(c->grids, c->ngrids, c->group_images, c->repeat_images, "loader: grids",
                                       "group_images"));
    if (c->workers < 1 || c->prefetch < 1)
        return ATAS_ERR(ATAS_ERR_CONFIG, "loader: data.workers = %d and data.prefetch = %d must be >= 1",
                        c->workers, c->prefetch);
    if (c->start_epoch < 0 || c->start_step < 0)
        return ATAS_ERR(ATAS_ERR_CONFIG, "loader: negative start cursor (%lld, %lld)",
                        (long long)c->start_epoch, (long long)c->start_step);
    return ATAS_OK;
}

atas_status atas_loader_open(atas_loader **out, const atas_loader_config *cfg, MPI_Comm comm) {
    *out = NULL;
    int world, rank, thr = 0;
    ATAS_MPI_CHECK(MPI_Comm_size(comm, &world));
    ATAS_MPI_CHECK(MPI_Comm_rank(comm, &rank));
    ATAS_MPI_CHECK(MPI_Query_thread(&thr));
    if (thr < MPI_THREAD_MULTIPLE)
        return ATAS_ERR(ATAS_ERR_MPI, "loader: MPI must be initialised with MPI_THREAD_MULTIPLE "
                        "(the I/O thread reads through MPI-IO while the caller communicates)");
    ATAS_CHECK(check_config(cfg, world));
    atas_loader *ld = calloc(1, sizeof *ld);
    if (!ld) return ATAS_ERR(ATAS_ERR_NOMEM, "loader");
    ld->cfg = *cfg;
    memcpy(ld->grids, cfg->grids, sizeof(int) * cfg->ngrids);
    ld->cfg.grids = ld->grids;
    ld->corpus.hid_file = -1;
    ld->rank = rank;
    ld->world = world;
    ld->groups = cfg->groups / world;
    ld->perm_epoch = -1;
    ld->P = cfg->prefetch;
    pthread_mutex_init(&ld->mu, NULL);
    pthread_cond_init(&ld->cv_io, NULL);
    pthread_cond_init(&ld->cv_work, NULL);
    pthread_cond_init(&ld->cv_user, NULL);
    atas_status st;
    ATAS_CHECK_GOTO(st, atas_corpus_open(&ld->corpus, cfg->path, comm), fail);
    ld->S = ld->corpus.S;
    ld->N = ld->corpus.N;
    if (ld->N == 0) {
        st = ATAS_ERR(ATAS_ERR_FORMAT, "corpus %s is empty (0 images)", cfg->path);
        goto fail;
    }
    ld->spe = atas_sampler_steps_per_epoch(ld->N, cfg->groups, cfg->group_images);
    if (ld->spe < 1) {
        st = ATAS_ERR(ATAS_ERR_CONFIG, "corpus %s has %lld images, fewer than one global batch of "
                      "G*n = %d*%d = %d", cfg->path, (long long)ld->N, cfg->groups,
                      cfg->group_images, cfg->groups * cfg->group_images);
        goto fail;
    }
    ATAS_CHECK_GOTO(st, atas_corpus_check_sizes(cfg->path, ld->S, cfg->view_px, cfg->canvas_px, cfg->grids,
                                           cfg->ngrids, cfg->view_key ? cfg->view_key : "view_px",
                                           cfg->canvas_key ? cfg->canvas_key : "canvas_px"), fail);
    if (cfg->start_step >= ld->spe) {
        st = ATAS_ERR(ATAS_ERR_CONFIG, "loader: start step %lld is outside an epoch of %lld steps "
                      "(corpus %s)", (long long)cfg->start_step, (long long)ld->spe, cfg->path);
        goto fail;
    }
    ld->start_global = cfg->start_epoch * ld->spe + cfg->start_step;
    ATAS_CHECK_GOTO(st, atas_host_alloc((void **)&ld->perm, sizeof(uint32_t) * ld->N, "epoch permutation"), fail);
    ld->slots = calloc(ld->P, sizeof *ld->slots);
    ld->workers = calloc(cfg->workers, sizeof(pthread_t));
    if (!ld->slots || !ld->workers) { st = ATAS_ERR(ATAS_ERR_NOMEM, "loader slots"); goto fail; }
    const int n = cfg->group_images, g = ld->groups, m = cfg->mosaics, R = cfg->view_px, C = cfg->canvas_px;
    for (int i = 0; i < ld->P; i++) {
        slot_t *s = &ld->slots[i];
        s->seq = -1;
        atas_batch *b = &s->b;
        b->groups = g; b->n = n; b->m = m; b->R = R; b->C = C;
        ATAS_CHECK_GOTO(st, atas_host_alloc((void **)&s->raw, (size_t)g * n * ld->S * ld->S * 3, "loader raw images"), fail);
        ATAS_CHECK_GOTO(st, atas_host_alloc((void **)&b->views, sizeof(float) * g * n * 3 * R * R, "loader views"), fail);
        ATAS_CHECK_GOTO(st, atas_host_alloc((void **)&b->mosaics, sizeof(float) * ATAS_MAX(1, g * m) * 3 * C * C, "loader mosaics"), fail);
        ATAS_CHECK_GOTO(st, atas_host_alloc((void **)&b->plans, sizeof(atas_mosaic) * ATAS_MAX(1, g * m), "loader plans"), fail);
        ATAS_CHECK_GOTO(st, atas_host_alloc((void **)&b->group_index, sizeof(int64_t) * g, "loader groups"), fail);
        ATAS_CHECK_GOTO(st, atas_host_alloc((void **)&b->image_index, sizeof(int64_t) * g * n, "loader indices"), fail);
    }
    if (pthread_create(&ld->io, NULL, io_main, ld) != 0) {
        st = ATAS_ERR(ATAS_ERR_INTERNAL, "loader: cannot start the I/O thread");
        goto fail;
    }
    ld->io_started = 1;
    for (int i = 0; i < cfg->workers; i++) {
        if (pthread_create(&ld->workers[i], NULL, worker_main, ld) != 0) {
            st = ATAS_ERR(ATAS_ERR_INTERNAL, "loader: cannot start worker %d", i);
            goto fail;
        }
        ld->nworkers_started++;
    }
    *out = ld;
    return ATAS_OK;
fail:
    atas_loader_close(ld);
    return st;
}
