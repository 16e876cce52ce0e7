/* The trainer object (include/train/atas/trainer.h) every run goes through, one rank
 * or many: set-up, then steps phase by phase: data -> teacher forward -> student
 * forward -> ATAS losses -> backward with bucketed allreduce -> clip + AdamW +
 * teacher EMA -> one small download and the ranks' agreement -> checkpoint -> metrics. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atas/h5util.h"
#include "atas/weights.h"
#include "rundir.h"
#include "signals.h"
#include "trainer_internal.h"
#include "step_device.h"

static atas_status mkdirs(const char *path) {
    char buf[1200];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return ATAS_ERR(ATAS_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return ATAS_ERR(ATAS_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
    return ATAS_OK;
}

static atas_status to_loss_config(const atas_run_config *c, atas_loss_config *l) {
    atas_loss_config_default(l);
    l->w_g2l = c->loss.g2l.weight;
    l->w_l2l = c->loss.l2l.weight;
    l->w_g2g = c->loss.g2g.weight;
    _Static_assert((int)ATAS_CFG_POOL_MEAN_RAW == (int)ATAS_G2L_POOL_MEAN_RAW, "pool enums differ");
    l->g2l_pool = (atas_g2l_pool)c->loss.g2l.pool; /* the two enums share their values */
    l->g2l_form = c->loss.g2l.form == ATAS_CFG_FORM_INFONCE ? ATAS_FORM_INFONCE : ATAS_FORM_COSINE;
    l->g2g_form = c->loss.g2g.form == ATAS_CFG_FORM_INFONCE ? ATAS_FORM_INFONCE : ATAS_FORM_COSINE;
    l->l2l_form = c->loss.l2l.form == ATAS_CFG_FORM_SIMILARITY ? ATAS_L2L_SIMILARITY : ATAS_L2L_COSINE;
    l->pool_tau = c->loss.g2l.pool_tau;
    l->g2l_tau = c->loss.g2l.tau;
    l->g2g_tau = c->loss.g2g.tau;
    ATAS_CHECK(atas_loss_config_check(l));
    return ATAS_OK;
}

static atas_status grads_ready_cb(void *ctx, size_t from) {
    return atas_buckets_ready((atas_grad_buckets *)ctx, from);
}

/* ---- staging for backends whose memory the CPU cannot read (CUDA): inputs go up,
 * MPI works on a host mirror (NCCL on the device). On the CPU backend these are
 * plain pointers and memcpy.
 * A batch's images go into slot k: copied into its pinned buffer, then uploaded on
 * the copy stream (upload_prefetch), beside whatever the compute stream runs. Step
 * N's batch sits in slot t->slot; step N+1's is uploaded into the other slot while
 * step N computes (prefetch_next), and upload_join orders step N+1's forward after
 * it. A slot is rewritten one step after its last use, when that step's closing
 * download has synchronised the compute stream. */
static atas_status upload_batch(atas_trainer *t, const atas_batch *b, int k) {
    const size_t nv = (size_t)t->G_r * t->n * 3 * t->R * t->R;
    const size_t nm = t->need_sm ? (size_t)t->G_r * t->m * 3 * t->C * t->C : 0;
    if (!t->h_pin[k])
        ATAS_CHECK(t->be->host_alloc(t->be, (void **)&t->h_pin[k], (nv + nm) * sizeof(float), "pinned batch staging"));
    float *h = t->h_pin[k];
    memcpy(h, b->views, nv * sizeof(float));
    if (nm) memcpy(h + nv, b->mosaics, nm * sizeof(float));
    ATAS_CHECK(t->be->upload_prefetch(t->be, t->d_views[k], h, nv * sizeof(float)));
    if (nm) ATAS_CHECK(t->be->upload_prefetch(t->be, t->d_mosaics[k], h + nv, nm * sizeof(float)));
    return ATAS_OK;
}

/* the step's inputs where the forward reads them; uploaded already when
 * prefetch_next took the batch during the step before */
static atas_status stage_batch(atas_trainer *t, const atas_batch *b, int uploaded, const float **views,
                               const float **mosaics) {
    *views = b->views;
    *mosaics = t->need_sm ? b->mosaics : NULL;
    if (t->be->host_addressable) return ATAS_OK;
    if (!uploaded) ATAS_CHECK(upload_batch(t, b, t->slot));
    ATAS_CHECK(t->be->upload_join(t->be));
    *views = t->d_views[t->slot];
    *mosaics = t->need_sm ? t->d_mosaics[t->slot] : NULL;
    return ATAS_OK;
}

static atas_status fetch(atas_trainer *t, float *host, const float *src, size_t n) {
    return t->be->download(t->be, host, src, n * sizeof(float));
}

static atas_status bcast_params(atas_trainer *t, float *p, size_t n) {
    if (t->buckets.coll) return atas_comm_coll_bcast(t->comm, t->be, p, n, 0); /* NCCL, on the device */
    if (t->be->host_addressable) return atas_comm_bcast(t->comm, p, n * sizeof(float), 0);
    ATAS_CHECK(fetch(t, t->h_stage, p, n));
    ATAS_CHECK(atas_comm_bcast(t->comm, t->h_stage, n * sizeof(float), 0));
    ATAS_CHECK(t->be->upload(t->be, p, t->h_stage, n * sizeof(float)));
    return ATAS_OK;
}

/* host memory: a hash of every byte; backend memory: a fingerprint taken on the
 * device (8 bytes come down, not the parameters) */
static atas_status params_agree(atas_trainer *t, const float *p, size_t n, const char *what) {
    if (t->be->host_addressable) return atas_comm_check_same(t->comm, p, n * sizeof(float), what);
    return atas_comm_check_same_device(t->comm, t->be, p, n, what);
}

/* config, model shape, backend: everything that can be wrong is found before allocation */
static atas_status setup_config(atas_trainer *t, const atas_train_args *a) {
    ATAS_CHECK(atas_config_load(a->config_path, a->sets, a->nsets, &t->cfg));
    if (a->resume) snprintf(t->cfg.checkpoint.resume, sizeof t->cfg.checkpoint.resume, "%s", a->resume);
    const int groups_asked = t->cfg.batch.groups_per_rank > 0 ? 0 : t->cfg.batch.groups;
    ATAS_CHECK(atas_config_apply_world(&t->cfg, t->comm->world)); /* batch.groups_per_rank -> global batch */
    if (groups_asked && groups_asked != t->cfg.batch.groups)
        atas_info("batch.groups = %d rounded up to %d, a multiple of %d rank(s) (batch.round_up)", groups_asked,
                  t->cfg.batch.groups, t->comm->world);
    /* from here on every collective waits dist.timeout_s, not the start-up default */
    t->comm->timeout_s = t->cfg.dist.timeout_s;
    int complete = 0;
    ATAS_CHECK(atas_config_model(&t->cfg, &t->mcfg, &complete));
    if (!complete && t->cfg.model.weights[0]) {
        /* dims the config leaves open come from the weights' shapes */
        atas_vit_config w = t->mcfg;
        int have_act = 0;
        ATAS_CHECK(atas_weights_infer_config(t->cfg.model.weights, &w, &have_act));
        int *dst[] = {&t->mcfg.patch, &t->mcfg.width, &t->mcfg.layers, &t->mcfg.heads,
                      &t->mcfg.mlp, &t->mcfg.embed, &t->mcfg.grid};
        const int src[] = {w.patch, w.width, w.layers, w.heads, w.mlp, w.embed, w.grid};
        for (int i = 0; i < 7; i++)
            if (*dst[i] <= 0) *dst[i] = src[i];
        if (!t->cfg.model.preset[0]) { /* the block family and its epsilon come with the weights */
            t->mcfg.family = w.family;
            if (!(t->cfg.model.ln_eps > 0)) t->mcfg.ln_eps = w.ln_eps;
        }
        if (t->cfg.model.act == ATAS_CFG_ACT_UNSET) {
            if (!have_act) ATAS_CHECK(atas_weights_act_unknown(t->cfg.model.weights));
            t->mcfg.act = w.act;
        }
        complete = 1;
    }
    if (!complete)
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s: model dimensions are incomplete: give model.preset or every "
                        "model.* dimension", a->config_path);
    ATAS_CHECK(atas_config_check_model(&t->cfg, &t->mcfg));
    ATAS_CHECK(to_loss_config(&t->cfg, &t->loss));
    /* ranks must agree on the config (different files on different nodes) */
    size_t len = 0;
    FILE *f = open_memstream(&t->resolved, &len);
    if (!f) return ATAS_ERR(ATAS_ERR_NOMEM, "cannot buffer the resolved config");
    ATAS_CHECK(atas_config_write_resolved_file(&t->cfg, f));
    fclose(f);
    t->comm->phase = "config agreement";
    ATAS_CHECK(atas_comm_check_same(t->comm, t->resolved, len + 1, "the resolved config"));
    ATAS_CHECK(atas_config_run_dir(&t->cfg, t->run_dir, sizeof t->run_dir));
    snprintf(t->ckpt_dir, sizeof t->ckpt_dir, "%s/checkpoints", t->run_dir);
    return ATAS_OK;
}

/* One rank's outcome made every rank's (a set-up stage that can fail on some ranks only,
 * rank 0's write of a checkpoint, metrics.jsonl or the run directory): an allreduce of the
 * failure flag, so every rank stops at once instead of waiting in the next collective for
 * a rank that has left. The failing rank keeps its own error; the others raise `echo`, a
 * secondary error (atas_exit prints the failing rank's). `phase` names the allreduce in a
 * time-out message (NULL: the current one). A time-out itself returns at once: the peer
 * is dead, and the program stops every rank. */
static atas_status agree(atas_trainer *t, atas_status s, const char *phase, const char *echo) {
    if (s == ATAS_ERR_TIMEOUT) return atas_error_trace(s, __FILE__, __LINE__, __func__);
    int bad = s != ATAS_OK;
    const char *ph = t->comm->phase;
    if (phase) t->comm->phase = phase;
    const atas_status cs = atas_comm_allreduce_max_i32(t->comm, &bad, 1);
    t->comm->phase = ph;
    ATAS_CHECK(cs);
    if (s != ATAS_OK) return atas_error_trace(s, __FILE__, __LINE__, __func__);
    if (bad) return ATAS_ERR_PEER(ATAS_ERR_IO, "%s", echo);
    return ATAS_OK;
}

/* the backend of this rank (cuda: its GPU and context) */
static atas_status setup_backend(atas_trainer *t) {
    const char *bname = atas_config_enum_name("run.backend", t->cfg.run.backend);
    atas_backend_set_local_rank(t->comm->local_rank); /* one GPU per local rank */
    /* run.precision auto: bf16 on the GPU's tensor cores, exact fp32 on the CPU
     * (where bf16 is only an emulation, slower than fp32) */
    const int prec = t->cfg.run.precision != ATAS_CFG_PRECISION_AUTO ? t->cfg.run.precision
                     : t->cfg.run.backend == ATAS_CFG_BACKEND_CUDA ? ATAS_PREC_BF16
                                                                     : ATAS_PREC_FP32;
    ATAS_CHECK(atas_backend_get_precision(bname ? bname : "cpu", (atas_precision)prec, &t->be));
    if (t->comm->rank == 0)
        atas_info("backend %s, precision %s (GEMMs and attention)", t->be->name,
                 atas_precision_name((atas_precision)t->be->precision));
    return ATAS_OK;
}

/* student, teacher and AdamW state in backend memory, the student's initial weights */
static atas_status setup_params(atas_trainer *t) {
    /* CPU: the node's cores shared among its ranks unless run.threads says otherwise */
    const int cores = (int)sysconf(_SC_NPROCESSORS_ONLN), local = ATAS_MAX(1, t->comm->local_size);
    if (t->cfg.run.threads > 0) {
        atas_cpu_set_threads(t->cfg.run.threads);
        if (t->be->host_addressable && t->cfg.run.threads * local > cores)
            atas_warn("run.threads = %d x %d ranks on this node > %d cores: the ranks will fight for cores "
                      "(run.threads = 0 shares them)", t->cfg.run.threads, local, cores);
    } else if (getenv("OMP_NUM_THREADS")) {
        atas_cpu_set_threads(atoi(getenv("OMP_NUM_THREADS"))); /* the job script decided (Slurm) */
    } else {
        atas_cpu_set_threads(ATAS_MAX(1, cores / local));
    }
    ATAS_CHECK(atas_vit_create(&t->student, &t->mcfg, t->be, 1));
    ATAS_CHECK(atas_vit_create(&t->teacher, &t->mcfg, t->be, 0));
    if (t->comm->rank == 0 && atas_vit_bf16_storage(&t->student))
        atas_info("bf16 storage: the block GEMMs read their inputs (LayerNorm outputs, the MLP activation) as bf16 "
                  "and a bf16 copy of the weights (docs/backend.md; ATAS_BF16_STORAGE=0 turns it off)");
    atas_vit_set_trainable_blocks(&t->student, t->cfg.model.unlocked_blocks, t->cfg.model.train_embeddings,
                                  t->cfg.model.train_head);
    size_t bytes = t->student.nparams * sizeof(float);
    ATAS_CHECK(t->be->alloc(t->be, (void **)&t->adam_m, bytes, "AdamW m"));
    ATAS_CHECK(t->be->alloc(t->be, (void **)&t->adam_v, bytes, "AdamW v"));
    if (t->cfg.model.weights[0]) {
        if (t->comm->rank == 0) ATAS_CHECK(atas_weights_load(t->cfg.model.weights, &t->student, NULL));
    } else {
        ATAS_CHECK(atas_vit_init_random(&t->student, (uint64_t)t->cfg.run.seed));
    }
    if (!t->be->host_addressable)
        ATAS_CHECK(atas_host_alloc((void **)&t->h_stage, bytes, "host staging of parameters"));
    return ATAS_OK;
}

/* Each stage that can fail on some ranks only (no GPU, a shared GPU's memory, rank 0's
 * weights file) is agreed on before the next collective, so every rank stops at once. */
static atas_status setup_models(atas_trainer *t) {
    ATAS_CHECK(agree(t, setup_backend(t), NULL,
                     "another rank failed while starting its backend (its message says why)"));
    ATAS_CHECK(atas_comm_check_devices(t->comm, t->be, 0)); /* two ranks on one GPU only with ATAS_SHARE_GPU=1 */
    ATAS_CHECK(agree(t, setup_params(t), NULL,
                     "another rank failed while setting up the model (its message says why)"));
    /* rank 0's weights everywhere, teacher = student */
    t->comm->phase = "initial broadcast";
    ATAS_CHECK(bcast_params(t, t->student.params, t->student.nparams));
    ATAS_CHECK(t->be->copy(t->be, t->teacher.params, t->student.params, t->student.nparams * sizeof(float)));
    return ATAS_OK;
}

static atas_status setup_resume(atas_trainer *t) {
    memset(&t->st, 0, sizeof t->st);
    t->st.seed = t->cfg.run.seed;
    const char *r = t->cfg.checkpoint.resume;
    char path[1300] = "";
    if (!r[0]) return ATAS_OK;
    if (strcmp(r, "auto") == 0) {
        if (t->comm->rank == 0) ATAS_CHECK(atas_ckpt_find_latest(t->ckpt_dir, path, sizeof path));
        ATAS_CHECK(atas_comm_bcast(t->comm, path, sizeof path, 0));
        if (!path[0]) { atas_info("resume auto: no checkpoint in %s, starting fresh", t->ckpt_dir); return ATAS_OK; }
    } else {
        snprintf(path, sizeof path, "%s", r);
    }
    ATAS_CHECK(atas_ckpt_read(path, &t->student, &t->teacher, t->adam_m, t->adam_v, &t->st));
    snprintf(t->resumed_from, sizeof t->resumed_from, "%s", path);
    if (t->st.seed != t->cfg.run.seed)
        atas_warn("%s was written with run.seed %lld, the config says %lld; continuing with the checkpoint's data order",
                  path, t->st.seed, (long long)t->cfg.run.seed);
    atas_info("resumed from %s at step %lld (written by %d rank(s), now %d)", path, t->st.step, t->st.world,
              t->comm->world);
    return ATAS_OK;
}

static atas_status setup_data(atas_trainer *t) {
    const atas_run_config *c = &t->cfg;
    atas_loader_config lc = {0};
    lc.path = c->data.corpus;
    lc.group_images = c->batch.group_images;
    lc.groups = c->batch.groups;
    lc.repeat_images = c->mosaic.repeat_images;
    t->need_sm = (c->loss.g2l.weight > 0 || c->loss.l2l.weight > 0) && c->mosaic.per_group > 0;
    lc.mosaics = t->need_sm ? c->mosaic.per_group : 0;
    lc.grids = c->mosaic.grids;
    lc.ngrids = c->mosaic.ngrids;
    lc.view_px = c->data.resolution;
    lc.canvas_px = c->mosaic.canvas;
    lc.seed = (uint64_t)c->run.seed;
    lc.workers = c->data.workers;
    lc.prefetch = c->data.prefetch;
    lc.view_key = "data.resolution";
    lc.canvas_key = "mosaic.canvas";
    /* the step count decides the cursor; the loader checks it against the corpus */
    ATAS_CHECK(atas_loader_open(&t->loader, &lc, t->comm->comm));
    t->steps_per_epoch = atas_loader_steps_per_epoch(t->loader);
    atas_loader_close(t->loader);
    t->loader = NULL;
    lc.start_epoch = t->st.step / t->steps_per_epoch;
    lc.start_step = t->st.step % t->steps_per_epoch;
    ATAS_CHECK(atas_loader_open(&t->loader, &lc, t->comm->comm));
    t->total_steps = atas_config_total_steps(c, atas_loader_corpus_count(t->loader));
    return ATAS_OK;
}

static atas_status setup_passes(atas_trainer *t) {
    const atas_run_config *c = &t->cfg;
    const atas_loss_config *l = &t->loss;
    t->G_r = c->batch.groups / t->comm->world;
    t->n = c->batch.group_images;
    t->m = t->need_sm ? c->mosaic.per_group : 0;
    t->R = c->data.resolution;
    t->C = c->mosaic.canvas;
    t->E = t->mcfg.embed;
    t->hT = t->R / t->mcfg.patch;
    t->hC = t->C / t->mcfg.patch;
    t->need_t_dense = l->w_l2l > 0 && t->need_sm;
    t->need_sg = l->w_g2g > 0;
    const int Bv = t->G_r * t->n, Bm = t->G_r * t->m;
    ATAS_CHECK(atas_vit_pass_create(&t->t_pass, &t->teacher, Bv, t->R, t->R,
                               ATAS_OUT_GLOBAL | (t->need_t_dense ? ATAS_OUT_DENSE : 0), 0));
    if (t->need_sg) ATAS_CHECK(atas_vit_pass_create(&t->sg_pass, &t->student, Bv, t->R, t->R, ATAS_OUT_GLOBAL, 1));
    if (t->need_sm) ATAS_CHECK(atas_vit_pass_create(&t->sm_pass, &t->student, Bm, t->C, t->C, ATAS_OUT_DENSE, 1));
    if (!t->be->host_addressable) {
        const int R = t->R, C = t->C;
        for (int k = 0; k < 2; k++) { /* two slots: one computed from, one being uploaded */
            ATAS_CHECK(t->be->alloc(t->be, (void **)&t->d_views[k], sizeof(float) * Bv * 3 * R * R, "views on device"));
            if (t->need_sm)
                ATAS_CHECK(t->be->alloc(t->be, (void **)&t->d_mosaics[k], sizeof(float) * Bm * 3 * C * C,
                                        "mosaics on device"));
        }
    }
    size_t mib = (2 * t->student.nparams * 4 + t->teacher.nparams * 4 + 2 * t->student.nparams * 4) >> 20;
    atas_info("model %dx%d, %d layers, %zu params (%zu trainable); per rank: %d groups = %d views at %d px, %d mosaics at %d px",
              t->mcfg.width, t->mcfg.patch, t->mcfg.layers, t->student.nparams,
              atas_vit_trainable_params(&t->student), t->G_r, Bv, t->R, Bm, t->C);
    atas_info("memory per rank: params+grads+teacher+AdamW %zu MiB, teacher pass %zu MiB, student passes %zu MiB",
              mib, atas_vit_pass_bytes(t->t_pass) >> 20,
              ((t->sg_pass ? atas_vit_pass_bytes(t->sg_pass) : 0) + (t->sm_pass ? atas_vit_pass_bytes(t->sm_pass) : 0)) >> 20);
    return ATAS_OK;
}

/* gradient buckets, and the NCCL communicator (collectives: after setup_passes has been
 * agreed on, so that no rank is still allocating - or gone - when the others bootstrap) */
static atas_status setup_comm(atas_trainer *t) {
    /* with MPI, device gradients are reduced through the host mirror */
    ATAS_CHECK(atas_buckets_create(&t->buckets, t->comm, t->be->host_addressable ? t->student.grads : t->h_stage,
                              t->student.nparams, (size_t)t->cfg.dist.bucket_mb << 20));
    /* dist.backend: device gradients averaged by NCCL ("auto" leaves a single rank alone) */
    if (atas_config_dist_nccl(&t->cfg) && (t->comm->world > 1 || t->cfg.dist.backend == ATAS_CFG_DIST_NCCL)) {
        ATAS_CHECK(atas_comm_coll_init(t->comm, t->be));
        atas_buckets_use_coll(&t->buckets, t->be, t->student.grads);
        atas_info("dist.backend = nccl: gradients and teacher broadcasts GPU to GPU");
    }
    return ATAS_OK;
}

static atas_status write_checkpoint(atas_trainer *t) {
    double t0 = atas_now();
    t->st.world = t->comm->world;
    t->st.epoch = t->st.step / t->steps_per_epoch;
    t->st.step_in_epoch = t->st.step % t->steps_per_epoch;
    t->st.elapsed_s = t->elapsed0 + atas_now() - t->t_start;
    atas_status s = ATAS_OK;
    if (t->comm->rank == 0) {
        char path[1300];
        atas_h5_lock(); /* the loader's I/O thread reads the corpus with HDF5 meanwhile */
        s = atas_ckpt_write(t->ckpt_dir, &t->student, &t->teacher, t->adam_m, t->adam_v, &t->st,
                            t->resolved, t->cfg.model.weights, path, sizeof path);
        /* pruning opens checkpoints with HDF5 too (usable()): still under the lock */
        if (s == ATAS_OK) s = atas_ckpt_prune(t->ckpt_dir, t->cfg.checkpoint.keep_last, t->cfg.checkpoint.keep_every);
        atas_h5_unlock();
        if (s == ATAS_OK) atas_info("checkpoint %s", path);
    }
    /* everyone learns whether rank 0 succeeded */
    ATAS_CHECK(agree(t, s, "checkpoint", "rank 0 failed to write a checkpoint"));
    t->phase[PH_CKPT] += atas_now() - t0;
    return ATAS_OK;
}

/* ---- one step, phase by phase: what a step carries from one phase to the next */
typedef struct {
    long long step; /* the step being taken (optimizer steps done before it) */
    double ts;      /* its start */
    atas_batch *b;
    float *dump_copy;
    const float *views, *mosaics;
    double loss4[5];
    int bad_loss;   /* this rank's objective was not finite */
    double red[7];  /* the step's one small allreduce: losses, stop and non-finite flags */
    int stop_req;
    double lr, mom, gnorm;
    int finite;
    int uploaded; /* b's images went up during the step before (prefetch_next) */
} step_state;

/* the batch (the loader prepared it ahead), and the dump's copy of it when due */
static atas_status phase_data(atas_trainer *t, step_state *s) {
    t->comm->phase = "data";
    if (t->next_b) { /* taken and uploaded during the step before: its slot is the other one */
        s->b = t->next_b;
        t->next_b = NULL;
        t->slot ^= 1;
        s->uploaded = 1;
    } else {
        ATAS_CHECK(atas_loader_next(t->loader, &s->b));
        t->phase[PH_DATA] = s->b->wait_s;
    }
    if (s->step == t->dump_step) {
        atas_h5_lock();
        atas_status ds = atas_dump_begin(t, t->dump_dir, s->step, s->b, &s->dump_copy);
        atas_h5_unlock();
        ATAS_CHECK(ds);
    }
    return ATAS_OK;
}

/* teacher and student forward passes; the objective reads their outputs in place */
static atas_status phase_forward(atas_trainer *t, step_state *s) {
    double t0 = atas_now();
    ATAS_CHECK(stage_batch(t, s->b, s->uploaded, &s->views, &s->mosaics));
    ATAS_CHECK(atas_vit_forward(t->t_pass, &t->teacher, s->views));
    t->phase[PH_TEACHER] = atas_now() - t0;
    t0 = atas_now();
    if (t->need_sg) ATAS_CHECK(atas_vit_forward(t->sg_pass, &t->student, s->views));
    if (t->need_sm) ATAS_CHECK(atas_vit_forward(t->sm_pass, &t->student, s->mosaics));
    t->phase[PH_STUDENT] = atas_now() - t0;
    return ATAS_OK;
}

/* the losses of every group of this rank on the device (step_device.c) and their
 * gradients w.r.t. the student's outputs, left there: the host does not wait */
static atas_status phase_objective(atas_trainer *t, step_state *s) {
    const double t0 = atas_now();
    ATAS_CHECK(atas_step_dev_objective(t, s->b));
    t->phase[PH_LOSS] = atas_now() - t0;
    return ATAS_OK;
}

/* a device backend: the next step's batch goes up on the copy stream while this
 * step's objective and backward run (the host has queued them, or is about to),
 * so the next forward finds its inputs in place. Not after the last step of the
 * run (nor of --stop-after), and not with data.prefetch = 1: the loader lends
 * that many batches at a time. A batch taken and then not used (a stop request)
 * costs nothing: a resumed run's cursor comes from the step count. */
static atas_status prefetch_next(atas_trainer *t, step_state *s) {
    if (t->be->host_addressable || t->cfg.data.prefetch < 2 || s->step + 1 >= t->total_steps) return ATAS_OK;
    if (t->stop_after > 0 && t->steps_this_run + 1 >= t->stop_after) return ATAS_OK;
    const double t0 = atas_now();
    t->comm->phase = "data";
    ATAS_CHECK(atas_loader_next(t->loader, &t->next_b));
    ATAS_CHECK(upload_batch(t, t->next_b, t->slot ^ 1));
    t->phase[PH_DATA] += atas_now() - t0;
    return ATAS_OK;
}

/* the student's backward; gradient buckets are reduced across ranks as the backward
 * finishes them (MPI on host memory, NCCL on the device), else after it */
static atas_status phase_backward(atas_trainer *t, step_state *s) {
    const double t0 = atas_now();
    t->comm->phase = "backward";
    ATAS_CHECK(atas_vit_zero_grads(&t->student));
    atas_buckets_begin(&t->buckets);
    const float *ds_glob = atas_step_dev_ds_glob(t); /* the device objective's outputs */
    const float *ds_dense = t->need_sm ? atas_step_dev_ds_dense(t) : NULL;
    atas_vit_pass *last = t->need_sm ? t->sm_pass : t->sg_pass;
    if (t->need_sg && t->need_sm) ATAS_CHECK(atas_vit_backward(t->sg_pass, &t->student, ds_glob, NULL));
    if (t->be->host_addressable || t->buckets.coll) {
        t->student.grad_ready = grads_ready_cb;
        t->student.grad_ready_ctx = &t->buckets;
    }
    atas_status bs = atas_vit_backward(last, &t->student, last == t->sg_pass ? ds_glob : NULL,
                                       last == t->sm_pass ? ds_dense : NULL);
    t->student.grad_ready = NULL;
    ATAS_CHECK(bs);
    const double t_bwd_end = atas_now();
    t->buckets.t_backward_end = t_bwd_end;
    t->phase[PH_BACKWARD] = t_bwd_end - t0 - t->buckets.t_busy;
    if (!t->be->host_addressable && t->comm->world > 1 && !t->buckets.coll) {
        /* MPI on device gradients: through the host mirror, after the backward */
        const double tc = atas_now();
        ATAS_CHECK(fetch(t, t->h_stage, t->student.grads, t->student.nparams));
        ATAS_CHECK(atas_buckets_finish(&t->buckets));
        ATAS_CHECK(t->be->upload(t->be, t->student.grads, t->h_stage, t->student.nparams * sizeof(float)));
        t->buckets.t_busy = atas_now() - tc;
    } else {
        ATAS_CHECK(atas_buckets_finish(&t->buckets));
    }
    t->phase[PH_COMM] = t->buckets.t_busy;
    return ATAS_OK;
}

/* losses, the stop flag and non-finite flags of every rank: one small allreduce */
static atas_status phase_agree(atas_trainer *t, step_state *s) {
    double *red = s->red;
    for (int k = 0; k < 4; k++) red[k] = s->loss4[k];
    red[4] = atas_signals_stop_requested() != 0;
    red[5] = s->bad_loss;
    red[6] = 0;
    t->comm->phase = "metrics";
    ATAS_CHECK(atas_comm_allreduce_sum_f64(t->comm, red, 7));
    for (int k = 0; k < 4; k++) s->loss4[k] = red[k] / t->comm->world;
    s->stop_req = red[4] > 0 || (t->stop_after > 0 && t->steps_this_run + 1 >= t->stop_after);
    return ATAS_OK;
}

/* schedules, clip + AdamW + teacher EMA in backend memory (a non-finite step leaves
 * the parameters alone: the device decides), then the step's one small download (its
 * state and losses) and the ranks' agreement on them. The dump step fetches and
 * agrees on the losses first: the dump records them before the update. */
static atas_status phase_update(atas_trainer *t, step_state *s) {
    const atas_run_config *c = &t->cfg;
    const double t0 = atas_now();
    s->lr = atas_lr_at(s->step, t->total_steps, (int)atas_config_warmup_steps(c, t->total_steps), t->peak_lr,
                       c->optim.min_lr);
    s->mom = atas_momentum_at(s->step, t->total_steps, c->teacher.momentum_start, c->teacher.momentum_end,
                              c->teacher.momentum_schedule == ATAS_CFG_MOM_COSINE);
    const int dump = s->step == t->dump_step;
    if (dump) {
        ATAS_CHECK(atas_step_dev_losses(t, s->b, s->loss4, &s->bad_loss));
        ATAS_CHECK(phase_agree(t, s));
        atas_h5_lock();
        atas_status ds = atas_dump_end(t, t->dump_dir, s->step, s->loss4, s->dump_copy);
        atas_h5_unlock();
        ATAS_CHECK(ds);
    }
    ATAS_CHECK(atas_step_dev_optimize(t, s->b, s->lr, s->mom, &s->gnorm, &s->finite, dump ? NULL : s->loss4,
                                 &s->bad_loss));
    t->phase[PH_OPTIM] = atas_now() - t0;
    if (!dump) ATAS_CHECK(phase_agree(t, s));
    atas_loader_release(t->loader, s->b);
    s->b = NULL;
    if (!s->finite) {
        t->st.nonfinite_total++;
        t->st.nonfinite_in_row++;
        atas_warn("step %lld: non-finite %s (g2l %g, l2l %g, g2g %g, grad norm %g): step skipped (%lld in a row)",
                  s->step, s->red[5] > 0 ? "loss" : "gradient", s->loss4[0], s->loss4[1], s->loss4[2], s->gnorm,
                  t->st.nonfinite_in_row);
    } else {
        t->st.nonfinite_in_row = 0;
    }
    t->st.step++;
    t->steps_this_run++;
    if (t->comm->world > 1 && c->teacher.sync_every > 0 && t->st.step % c->teacher.sync_every == 0) {
        t->comm->phase = "teacher sync";
        ATAS_CHECK(bcast_params(t, t->teacher.params, t->teacher.nparams));
    }
    if (t->comm->world > 1 && c->dist.check_every > 0 && t->st.step % c->dist.check_every == 0) {
        t->comm->phase = "parameter agreement";
        ATAS_CHECK(params_agree(t, t->student.params, t->student.nparams, "the student parameters"));
    }
    return ATAS_OK;
}

/* checkpoint (before the metrics line, so that ms.checkpoint and ms.step include it),
 * the metrics record and progress line, and how the run goes on */
static atas_status phase_record(atas_trainer *t, step_state *s, atas_step_result *out) {
    const atas_run_config *c = &t->cfg;
    const int nonfinite_stop = t->st.nonfinite_in_row >= c->faults.max_nonfinite_in_row;
    const int done = t->st.step >= t->total_steps;
    const int stop = s->stop_req && !done; /* a stop request on the last step is just the end */
    if (nonfinite_stop || stop || done || (c->checkpoint.every > 0 && t->st.step % c->checkpoint.every == 0))
        ATAS_CHECK(write_checkpoint(t)); /* skipped steps left the parameters alone: the last good state */
    const double step_s = atas_now() - s->ts;
    const double img_s = t->img_per_step / step_s;
    t->ema_rate = t->ema_rate > 0 ? 0.8 * t->ema_rate + 0.2 * img_s : img_s;
    for (int k = 0; k < PH_N; k++) t->phase_total[k] += t->phase[k];
    atas_status ms = ATAS_OK;
    if (t->comm->rank == 0) {
        ms = atas_metrics_step(t, s->step, s->loss4, s->lr, s->gnorm, s->mom, img_s, !s->finite, step_s);
        if (ms == ATAS_OK && c->run.log_every > 0 &&
            (t->st.step % c->run.log_every == 0 || done || t->steps_this_run == 1))
            atas_progress_line(t, t->st.step, s->loss4, s->lr, t->ema_rate);
    }
    ATAS_CHECK(agree(t, ms, "metrics", "rank 0 failed to write metrics.jsonl")); /* a full disk: exit 1 everywhere */
    *out = (atas_step_result){.step = t->st.step, .lr = s->lr, .gnorm = s->gnorm, .momentum = s->mom,
                              .img_s = img_s, .step_s = step_s, .skipped = !s->finite};
    memcpy(out->loss, s->loss4, sizeof out->loss);
    if (nonfinite_stop)
        return ATAS_ERR(ATAS_ERR_NUMERIC, "step %lld: %lld non-finite steps in a row (faults.max_nonfinite_in_row); "
                        "last good state checkpointed", s->step, t->st.nonfinite_in_row);
    if (stop) {
        out->done = ATAS_TRAIN_STOPPED;
        atas_info("stopping at step %lld on request (%s); resume with --resume auto", t->st.step,
                  atas_signals_name(atas_signals_stop_requested()));
        return ATAS_ERR_INTERRUPTED;
    }
    return ATAS_OK;
}

/* after the last step: the final evaluation; a run resumed at its end writes its
 * final checkpoint again */
static atas_status finish(atas_trainer *t, atas_step_result *out) {
    t->finished = 1;
    if (t->steps_this_run == 0) ATAS_CHECK(write_checkpoint(t));
    ATAS_CHECK(atas_eval_hook_final(t));
    out->step = t->st.step;
    out->done = ATAS_TRAIN_DONE;
    return ATAS_OK;
}

atas_status atas_trainer_step(atas_trainer *t, atas_step_result *out) {
    ATAS_REQUIRE(t && out, "atas_trainer_step: NULL argument");
    memset(out, 0, sizeof *out);
    if (t->finished) {
        out->step = t->st.step;
        out->done = ATAS_TRAIN_DONE;
        return ATAS_OK;
    }
    if (t->st.step >= t->total_steps) return finish(t, out);
    step_state s = {.step = t->st.step};
    t->comm->step = s.step;
    ATAS_CHECK(atas_eval_hook_step(t, s.step)); /* outside the step's timing */
    s.ts = atas_now();
    memset(t->phase, 0, sizeof t->phase);
    atas_status st = phase_data(t, &s);
    if (st == ATAS_OK) st = phase_forward(t, &s);
    if (st == ATAS_OK) st = phase_objective(t, &s);
    if (st == ATAS_OK) st = prefetch_next(t, &s);
    if (st == ATAS_OK) st = phase_backward(t, &s);
    if (st == ATAS_OK) st = phase_update(t, &s);
    if (st != ATAS_OK) {
        if (s.b) atas_loader_release(t->loader, s.b);
        free(s.dump_copy);
        return atas_error_trace(st, __FILE__, __LINE__, __func__);
    }
    ATAS_CHECK(phase_record(t, &s, out));
    if (t->st.step >= t->total_steps) ATAS_CHECK(finish(t, out));
    return ATAS_OK;
}

atas_status atas_trainer_evaluate(atas_trainer *t) {
    ATAS_REQUIRE(t, "atas_trainer_evaluate: NULL trainer");
    return atas_eval_hook_now(t);
}

atas_status atas_trainer_checkpoint(atas_trainer *t) {
    ATAS_REQUIRE(t, "atas_trainer_checkpoint: NULL trainer");
    return write_checkpoint(t);
}

long long atas_trainer_steps_done(const atas_trainer *t) { return t->st.step; }
long long atas_trainer_total_steps(const atas_trainer *t) { return t->total_steps; }
const char *atas_trainer_run_dir(const atas_trainer *t) { return t->run_dir; }
const atas_run_config *atas_trainer_config(const atas_trainer *t) { return &t->cfg; }

void atas_trainer_get_stats(const atas_trainer *t, atas_trainer_stats *o) {
    memset(o, 0, sizeof *o);
    _Static_assert(PH_N <= ATAS_TRAIN_MAX_PHASES, "ATAS_TRAIN_MAX_PHASES too small");
    o->nphases = PH_N;
    for (int k = 0; k < PH_N; k++) {
        o->phase_name[k] = atas_phase_names[k];
        o->phase_s[k] = t->phase_total[k];
    }
    o->steps = t->steps_this_run;
    o->step_flops = t->step_flops;
    o->peak_tflops = t->peak_tflops;
    o->rss_peak = atas_rss_peak_bytes();
    const size_t d = t->be->mem_used(t->be); /* no op allocates: the memory in use now is the step's */
    o->dev_peak = d > t->dev_peak ? d : t->dev_peak;
    o->groups = t->G_r;
    o->views = t->G_r * t->n;
    o->mosaics = t->G_r * t->m;
    o->view_px = t->R;
    o->canvas_px = t->C;
}

static void teardown(atas_trainer *t) {
    if (t->be && !t->be->host_addressable) { /* nothing may still read the pinned buffers */
        (void)t->be->upload_join(t->be);
        (void)t->be->sync(t->be);
    }
    if (t->next_b) atas_loader_release(t->loader, t->next_b);
    t->next_b = NULL;
    if (t->loader) atas_loader_close(t->loader);
    atas_vit_pass_destroy(t->t_pass);
    atas_vit_pass_destroy(t->sg_pass);
    atas_vit_pass_destroy(t->sm_pass);
    if (t->buckets.lo) atas_buckets_destroy(&t->buckets);
    if (t->be) {
        float *dev[] = {t->adam_m, t->adam_v, t->d_views[0], t->d_views[1], t->d_mosaics[0], t->d_mosaics[1]};
        for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
            if (dev[i]) t->be->free(t->be, dev[i]);
        for (int k = 0; k < 2; k++)
            if (t->h_pin[k]) t->be->host_free(t->be, t->h_pin[k]);
    }
    atas_step_dev_close(t);
    atas_host_free(t->h_stage);
    atas_vit_destroy(&t->student);
    atas_vit_destroy(&t->teacher);
    atas_eval_hook_close(t);
    if (t->metrics) fclose(t->metrics);
    free(t->resolved);
    atas_backend_release(t->be); /* last: streams, handles, NCCL communicator */
}

static atas_status write_run_dir(atas_trainer *t) {
    ATAS_CHECK(mkdirs(t->ckpt_dir));
    char p[1300];
    snprintf(p, sizeof p, "%s/config.cfg", t->run_dir);
    ATAS_CHECK(atas_config_write_resolved(&t->cfg, p));
    return ATAS_OK;
}

static atas_status setup(atas_trainer *t, const atas_train_args *a) {
    ATAS_CHECK(setup_config(t, a));
    ATAS_CHECK(atas_rundir_guard(t->comm, t->run_dir, t->ckpt_dir, t->cfg.checkpoint.resume[0] != 0, a->overwrite));
    ATAS_CHECK(setup_models(t));
    ATAS_CHECK(setup_resume(t));
    ATAS_CHECK(setup_data(t));
    if (t->resumed_from[0])
        ATAS_CHECK(atas_resume_check_schedule(t->resumed_from, &t->cfg, atas_loader_corpus_count(t->loader),
                                         a->allow_schedule_change, t->comm->rank));
    /* the last big allocation: a device too small says so here */
    ATAS_CHECK(agree(t, setup_passes(t), NULL,
                     "another rank failed while allocating the passes (its message says why)"));
    ATAS_CHECK(setup_comm(t));
    /* the run directory is written once nothing in the set-up has refused the run (a
     * resume that fails leaves it as it was); rank 0 writes, every rank learns whether it could */
    ATAS_CHECK(agree(t, t->comm->rank == 0 ? write_run_dir(t) : ATAS_OK, NULL,
                     "another rank failed while writing the run directory (its message says why)"));
    ATAS_CHECK(atas_eval_hook_open(t));
    ATAS_CHECK(atas_observe_setup(t));
    ATAS_CHECK(agree(t, t->comm->rank == 0 ? atas_metrics_open(t, t->st.step > 0) : ATAS_OK, "metrics",
                     "rank 0 failed to write metrics.jsonl"));
    ATAS_CHECK(atas_recipe_log(&t->cfg, t->comm->world, atas_loader_corpus_count(t->loader)));
    atas_info("training %lld steps (%lld per epoch, %d images per step on %d rank(s)); run directory %s",
              t->total_steps, t->steps_per_epoch, atas_config_images_per_step(&t->cfg), t->comm->world, t->run_dir);
    /* what every step needs from the arguments and the config */
    const atas_run_config *c = &t->cfg;
    t->peak_lr = atas_config_peak_lr(c);
    t->img_per_step = atas_config_images_per_step(c);
    t->stop_after = a->stop_after;
    t->dump_step = a->dump_step >= 0 ? a->dump_step : c->run.dump_step;
    snprintf(t->dump_dir, sizeof t->dump_dir, "%s", a->dump_dir ? a->dump_dir : c->run.dump_dir[0] ? c->run.dump_dir : "");
    if (!t->dump_dir[0]) snprintf(t->dump_dir, sizeof t->dump_dir, "%s/dump", t->run_dir);
    atas_signals_install();
    t->t_start = atas_now();
    t->elapsed0 = t->st.elapsed_s; /* metrics elapsed_s goes on across resumes */
    return ATAS_OK;
}

atas_status atas_trainer_create(atas_comm *comm, const atas_train_args *args, atas_trainer **out) {
    ATAS_REQUIRE(comm && args && out, "atas_trainer_create: NULL argument");
    ATAS_REQUIRE(args->config_path, "atas_trainer_create: no config path");
    *out = NULL;
    atas_trainer *t = calloc(1, sizeof *t);
    if (!t) return ATAS_ERR(ATAS_ERR_NOMEM, "trainer");
    t->comm = comm;
    t->evaluator = args->evaluator;
    t->no_phase_table = args->no_phase_table;
    const atas_status s = setup(t, args);
    if (s != ATAS_OK) {
        /* a dead peer (time-out): tearing down could wait on it; the program stops */
        if (s != ATAS_ERR_TIMEOUT) {
            teardown(t);
            free(t);
        }
        return atas_error_trace(s, __FILE__, __LINE__, __func__);
    }
    *out = t;
    return ATAS_OK;
}

void atas_trainer_destroy(atas_trainer *t) {
    if (!t) return;
    if (t->comm->rank == 0 && t->steps_this_run > 0 && !t->no_phase_table) atas_phase_table(t);
    teardown(t);
    free(t);
}

int atas_train_exit_code(atas_status s) {
    /* the message stays pending: atas_exit prints it once (include/comm/atas/exit.h) */
    if (s == ATAS_OK) return ATAS_EXIT_OK;
    if (s == ATAS_ERR_INTERRUPTED) {
        atas_error_clear();
        return ATAS_EXIT_REQUEUE;
    }
    if (s == ATAS_ERR_NUMERIC) return ATAS_EXIT_NONFINITE;
    if (s == ATAS_ERR_TIMEOUT) return ATAS_EXIT_TIMEOUT;
    return ATAS_EXIT_ERROR;
}
