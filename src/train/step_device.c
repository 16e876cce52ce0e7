/* The device-resident part of a training step (docs/step_device.md), for every
 * backend: the ATAS objective on the backend's own embeddings (ops.def
 * `objective`), the gradient norm reduced in backend memory (grad_sumsq), and one
 * fused clip + AdamW + teacher EMA over the contiguous trainable range that reads
 * the clip scale and the skip flag from backend memory (step_guard,
 * clip_adamw_ema). Per step the host uploads the mosaic cell tables (inputs, a
 * few hundred bytes) and downloads ONE small block after the update: the step state
 * and the group losses, which sit next to each other in backend memory (the dump
 * step alone fetches the losses before the update too); no embedding or gradient
 * crosses, and nothing waits for the device between the forward and the update. The host objective
 * (src/objective/objective.c) stays as the reference the ops are tested against. */
#include <math.h>
#include <string.h>

#include "step_device.h"

struct atas_step_dev {
    const atas_backend *be;
    int cap_cells;          /* cells per group the tables hold */
    int *nc, *at;           /* [G_r] cells of group j and where they start in the packed table */
    int *h_cells, *d_cells; /* [G_r][cap_cells][ATAS_OBJ_CELL_INTS] */
    double *h_state;             /* host copy of d_state: [ATAS_STEP_NSTATE] then [G_r][4] */
    double *d_losses;            /* [G_r][4]: inside d_state, after the step state */
    float *ds_glob, *ds_dense;   /* the objective's gradients (backend memory) */
    void *obj_ws;
    size_t obj_ws_bytes;
    size_t r0, r1; /* the trainable range of the parameter vector */
    int nseg;
    size_t *d_seg_end;
    int *d_seg_kind;
    double *d_sumsq, *d_state; /* [1], [ATAS_STEP_NSTATE + 4 G_r] */
    void *gn_ws;
    atas_plan plan; /* every backend buffer above but obj_ws (it grows), in one allocation */
};

/* the segment table of the trainable range, built on the host: *end / *kind (host
 * memory the caller frees after dev_open has uploaded it) */
static atas_status build_segments(atas_trainer *t, atas_step_dev *d, size_t **end_out, int **kind_out) {
    const atas_vit *s = &t->student;
    size_t r0 = (size_t)-1, r1 = 0;
    for (int i = 0; i < s->ntensors; i++) {
        if (!s->trainable[i]) continue;
        if (s->info[i].offset < r0) r0 = s->info[i].offset;
        if (s->info[i].offset + s->info[i].numel > r1) r1 = s->info[i].offset + s->info[i].numel;
    }
    if (r1 == 0) r0 = 0; /* nothing trainable: an empty range */
    /* every element of [r0, r1) gets the kind of the tensor that holds it, FROZEN
     * for frozen tensors and gaps; adjacent equal kinds merge */
    size_t *end = NULL;
    int *kind = NULL, ns = 0;
    ATAS_CHECK(atas_host_calloc((void **)&end, sizeof(size_t) * (2 * (size_t)s->ntensors + 2), "segments"));
    const atas_status sk = atas_host_calloc((void **)&kind, sizeof(int) * (2 * (size_t)s->ntensors + 2), "segments");
    if (sk != ATAS_OK) {
        atas_host_free(end);
        return atas_error_trace(sk, __FILE__, __LINE__, __func__);
    }
    size_t at = r0;
    while (at < r1) {
        int best = -1; /* the tensor starting lowest at or after `at` */
        for (int i = 0; i < s->ntensors; i++)
            if (s->info[i].offset >= at && s->info[i].numel > 0 &&
                (best < 0 || s->info[i].offset < s->info[best].offset))
                best = i;
        size_t from = best < 0 ? r1 : s->info[best].offset;
        if (from > r1) from = r1;
        int k;
        size_t to;
        if (from > at) { /* a gap */
            k = ATAS_SEG_FROZEN;
            to = from;
        } else {
            k = !s->trainable[best] ? ATAS_SEG_FROZEN : s->info[best].decay ? ATAS_SEG_DECAY : ATAS_SEG_NO_DECAY;
            to = s->info[best].offset + s->info[best].numel;
            if (to > r1) to = r1;
        }
        if (ns > 0 && kind[ns - 1] == k) end[ns - 1] = to - r0;
        else {
            end[ns] = to - r0;
            kind[ns++] = k;
        }
        at = to;
    }
    if (ns == 0) { /* empty range: one empty segment */
        end[0] = 0;
        kind[0] = ATAS_SEG_FROZEN;
        ns = 1;
    }
    d->r0 = r0;
    d->r1 = r1;
    d->nseg = ns;
    *end_out = end;
    *kind_out = kind;
    return ATAS_OK;
}

static atas_status dev_open(atas_trainer *t) {
    const atas_backend *be = t->be;
    atas_step_dev *d = NULL;
    ATAS_CHECK(atas_host_calloc((void **)&d, sizeof *d, "device step"));
    t->dstep = d;
    d->be = be;
    const size_t G = (size_t)t->G_r, E = t->E;
    d->cap_cells = t->m * ATAS_MOSAIC_MAX_GRID * ATAS_MOSAIC_MAX_GRID;
    const size_t cell_ints = G * d->cap_cells * ATAS_OBJ_CELL_INTS;
    /* pinned: the tables go up asynchronously, and the host does not wait for the forward */
    ATAS_CHECK(be->host_alloc(be, (void **)&d->h_cells, sizeof(int) * (cell_ints ? cell_ints : 1), "cell tables"));
    ATAS_CHECK(atas_host_calloc((void **)&d->h_state, sizeof(double) * (ATAS_STEP_NSTATE + 4 * G), "step state"));
    ATAS_CHECK(atas_host_calloc((void **)&d->nc, sizeof(int) * 2 * G, "cell counts"));
    d->at = d->nc + G;
    size_t *seg_end = NULL;
    int *seg_kind = NULL;
    ATAS_CHECK(build_segments(t, d, &seg_end, &seg_kind));
    /* the backend buffers of the step: one plan, one allocation, one free */
    atas_plan *pl = &d->plan;
    atas_plan_init(pl, be, "device step");
    atas_plan_add(pl, &d->d_cells, sizeof(int) * (cell_ints ? cell_ints : 1), "cell tables");
    atas_plan_add(pl, &d->d_state, sizeof(double) * (ATAS_STEP_NSTATE + 4 * G), "step state and losses");
    atas_plan_add(pl, &d->d_sumsq, sizeof(double), "gradient sum of squares");
    atas_plan_add(pl, &d->ds_glob, sizeof(float) * G * t->n * E, "grad student global");
    atas_plan_add(pl, &d->ds_dense, t->need_sm ? sizeof(float) * G * t->m * t->hC * t->hC * E : 0,
                  "grad student dense");
    atas_plan_add(pl, &d->d_seg_end, sizeof(size_t) * d->nseg, "optimizer segments");
    atas_plan_add(pl, &d->d_seg_kind, sizeof(int) * d->nseg, "optimizer segment kinds");
    atas_plan_add(pl, &d->gn_ws, be->grad_sumsq_workspace_bytes(be, d->r1 - d->r0), "gradient norm partials");
    atas_status st = atas_plan_alloc(pl);
    if (st == ATAS_OK) {
        atas_plan_print(pl, ATAS_LOG_INFO);
        d->d_losses = d->d_state + ATAS_STEP_NSTATE;
        st = be->upload(be, d->d_seg_end, seg_end, sizeof(size_t) * d->nseg);
    }
    if (st == ATAS_OK) st = be->upload(be, d->d_seg_kind, seg_kind, sizeof(int) * d->nseg);
    atas_host_free(seg_end); /* the device holds the table from here on */
    atas_host_free(seg_kind);
    return st;
}

void atas_step_dev_close(atas_trainer *t) {
    atas_step_dev *d = t->dstep;
    if (!d) return;
    atas_plan_release(&d->plan);
    if (d->obj_ws) d->be->free(d->be, d->obj_ws);
    if (d->h_cells) d->be->host_free(d->be, d->h_cells);
    atas_host_free(d->h_state);
    atas_host_free(d->nc);
    atas_host_free(d);
    t->dstep = NULL;
}

const float *atas_step_dev_ds_glob(const atas_trainer *t) { return t->dstep ? t->dstep->ds_glob : NULL; }
const float *atas_step_dev_ds_dense(const atas_trainer *t) { return t->dstep ? t->dstep->ds_dense : NULL; }

atas_status atas_step_dev_objective(atas_trainer *t, const atas_batch *b) {
    if (!t->dstep) ATAS_CHECK(dev_open(t));
    atas_step_dev *d = t->dstep;
    const atas_backend *be = t->be;
    const size_t E = t->E, nT = (size_t)t->hT * t->hT * E, nC = (size_t)t->hC * t->hC * E;
    const atas_obj_params prm = atas_objective_params(&t->loss);
    const int dense = prm.w_g2l > 0 || prm.w_l2l > 0;
    /* the cell tables of every group, checked on the host, uploaded at once without
     * waiting (the step's closing download synchronises before they are rewritten) */
    int *nc = d->nc, *at = d->at, ncells_max = 0, kmax = 0, total = 0;
    for (int j = 0; j < t->G_r; j++) { /* packed: group j's cells start at cell at[j] */
        int km = 0;
        nc[j] = 0;
        at[j] = total;
        if (!dense) continue;
        ATAS_CHECK(atas_objective_cells(b->plans + (size_t)j * t->m, t->m, t->n, t->mcfg.patch, t->hC, t->hC,
                                   d->h_cells + (size_t)total * ATAS_OBJ_CELL_INTS,
                                   (size_t)d->cap_cells * ATAS_OBJ_CELL_INTS, &nc[j], &km));
        total += nc[j];
        if (nc[j] > ncells_max) ncells_max = nc[j];
        if (km > kmax) kmax = km;
    }
    if (total)
        ATAS_CHECK(be->upload_async(be, d->d_cells, d->h_cells, sizeof(int) * (size_t)total * ATAS_OBJ_CELL_INTS));
    const size_t ws = be->objective_workspace_bytes(be, ncells_max, kmax, t->n, t->E, t->hT, t->hT, prm);
    if (ws > d->obj_ws_bytes) { /* grows with the largest grids seen; rare */
        if (d->obj_ws) be->free(be, d->obj_ws);
        d->obj_ws = NULL;
        d->obj_ws_bytes = 0;
        ATAS_CHECK(be->alloc(be, &d->obj_ws, ws, "objective workspace"));
        d->obj_ws_bytes = ws;
    }
    const float *tg = atas_vit_global(t->t_pass), *td = t->need_t_dense ? atas_vit_dense(t->t_pass) : NULL;
    const float *sg = t->need_sg ? atas_vit_global(t->sg_pass) : NULL;
    const float *sd = t->need_sm ? atas_vit_dense(t->sm_pass) : NULL;
    for (int j = 0; j < t->G_r; j++) {
        const size_t gi = (size_t)j * t->n, mi = (size_t)j * t->m;
        ATAS_CHECK(be->objective(be, d->d_losses + 4 * (size_t)j, d->ds_glob + gi * E, d->ds_dense ? d->ds_dense + mi * nC : NULL,
                            tg + gi * E, td ? td + gi * nT : NULL, sg ? sg + gi * E : NULL, sd ? sd + mi * nC : NULL,
                            d->d_cells + (size_t)at[j] * ATAS_OBJ_CELL_INTS, nc[j], kmax, t->n, t->m,
                            t->E, t->hT, t->hT, t->hC, t->hC, prm, 1.0f / (float)t->G_r, d->obj_ws));
    }
    return ATAS_OK;
}

/* the group losses downloaded into h (ATAS_STEP_NSTATE + 4 G_r doubles, losses after the
 * state) -> their means; a non-finite one is named and makes them all NaN */
static void read_losses(atas_trainer *t, const atas_batch *b, const double *h, double *loss4, int *bad) {
    memset(loss4, 0, 4 * sizeof(double));
    *bad = 0;
    for (int j = 0; j < t->G_r; j++) {
        const double *v = h + ATAS_STEP_NSTATE + 4 * (size_t)j;
        static const char *const names[4] = {"g2l", "l2l", "g2g", "total"};
        for (int k = 0; k < 4; k++)
            if (!isfinite(v[k])) {
                atas_warn("step %lld, group %lld: loss %s is %s", t->st.step, (long long)b->group_index[j], names[k],
                          isnan(v[k]) ? "NaN" : "Inf");
                *bad = 1;
                break;
            }
        for (int k = 0; k < 4; k++) loss4[k] += v[k] / t->G_r;
    }
    if (*bad) loss4[0] = loss4[1] = loss4[2] = loss4[3] = NAN; /* as the host objective reported it */
}

atas_status atas_step_dev_losses(atas_trainer *t, const atas_batch *b, double *loss4, int *bad) {
    atas_step_dev *d = t->dstep;
    ATAS_CHECK(t->be->download(t->be, d->h_state + ATAS_STEP_NSTATE, d->d_losses, sizeof(double) * 4 * t->G_r));
    read_losses(t, b, d->h_state, loss4, bad);
    return ATAS_OK;
}

atas_status atas_step_dev_optimize(atas_trainer *t, const atas_batch *b, double lr, double mom, double *gnorm_out,
                                   int *finite, double *loss4, int *bad) {
    if (!t->dstep) ATAS_CHECK(dev_open(t));
    atas_step_dev *d = t->dstep;
    const atas_backend *be = t->be;
    const atas_vit *s = &t->student;
    const size_t r0 = d->r0, n = d->r1 - d->r0;
    ATAS_CHECK(be->grad_sumsq(be, d->d_sumsq, s->grads + r0, n, d->gn_ws));
    ATAS_CHECK(be->step_guard(be, d->d_state, d->d_sumsq, d->d_losses, 4 * t->G_r, t->cfg.optim.clip_grad_norm));
    const int step1 = (int)(t->st.step - t->st.nonfinite_total + 1); /* AdamW's t counts real updates */
    ATAS_CHECK(be->clip_adamw_ema(be, s->params + r0, s->grads + r0, t->adam_m + r0, t->adam_v + r0, t->teacher.params + r0,
                             n, d->d_seg_end, d->d_seg_kind, d->nseg, d->d_state, (float)lr,
                             (float)t->cfg.optim.betas[0], (float)t->cfg.optim.betas[1], (float)t->cfg.optim.eps,
                             (float)t->cfg.optim.weight_decay, step1, (float)mom));
    /* the step's one small copy: its state and, when asked, the group losses beside it */
    const size_t nd = ATAS_STEP_NSTATE + (loss4 ? 4 * (size_t)t->G_r : 0);
    ATAS_CHECK(be->download(be, d->h_state, d->d_state, sizeof(double) * nd));
    *gnorm_out = d->h_state[ATAS_STEP_GNORM];
    *finite = d->h_state[ATAS_STEP_SKIP] == 0;
    if (loss4) read_losses(t, b, d->h_state, loss4, bad);
    return ATAS_OK;
}
