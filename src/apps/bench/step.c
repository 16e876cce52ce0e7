/* atas_bench --step CONFIG: the full ATAS training step of a config (teacher forward on
 * the views, student forward and backward on the views and the mosaics, the objective,
 * the gradient reduction, the fused update), timed through the trainer object itself,
 * so the row measures what atas_mpi runs and nothing else.
 *
 * The corpus is synthetic: random PNGs packed by the data layer's own packer
 * (atas_pack) into a temporary directory, exactly one global batch of images at the
 * smallest side the config accepts. Going through the packer rather than a special
 * data source keeps the loader's real path (HDF5 reads, checksums, resizing, mosaic
 * building on its threads) in the timed step, and adds no second writer of the
 * corpus format. Weights are random-init (model.weights = ""): the speed of a step
 * does not depend on them. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atas/corpus.h"
#include "atas/trainer.h"
#include "step.h"

static int g_mpi_ours; /* bench_step initialised MPI */
static atas_comm g_comm;

/* the backend's dense GEMM rate at its precision (the gemm_peak op: on cuda a bf16 run
 * is measured on bf16 operands, the tensor-core rate; on cpu OpenBLAS sgemm) */
atas_status bench_gemm_peak(const atas_backend *be, int n, int reps, double *gflops) {
    (void)reps; /* gemm_peak keeps the best of its own repetitions after a warm-up */
    double tf = 0;
    *gflops = 0;
    ATAS_CHECK(be->gemm_peak(be, &tf, n));
    *gflops = tf * 1e3;
    return ATAS_OK;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)st; (void)flag; (void)f;
    return remove(p);
}

/* N images of S x S: a colour gradient plus noise (any content does; the step's cost
 * does not depend on it), packed into dir/corpus.h5. Collective. */
static atas_status make_corpus(atas_comm *comm, const char *dir, int S, int N, char *out, size_t cap) {
    char imgs[1100];
    snprintf(imgs, sizeof imgs, "%s/images", dir);
    snprintf(out, cap, "%s/corpus.h5", dir);
    atas_status s = ATAS_OK;
    if (comm->rank == 0) {
        uint8_t *rgb = NULL;
        if (mkdir(imgs, 0700) != 0) s = ATAS_ERR(ATAS_ERR_IO, "%s: cannot create", imgs);
        if (s == ATAS_OK) s = atas_host_alloc((void **)&rgb, (size_t)S * S * 3, "bench image");
        for (int i = 0; s == ATAS_OK && i < N; i++) {
            atas_rng r = atas_rng_stream(11, (uint64_t)i, 0);
            int base[3], gx = (int)atas_rng_below(&r, 255), gy = (int)atas_rng_below(&r, 255);
            for (int c = 0; c < 3; c++) base[c] = (int)atas_rng_below(&r, 128);
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++)
                    for (int c = 0; c < 3; c++) {
                        int v = base[c] + (c == 1 ? gx * x : gy * y) / S + (int)(atas_rng_u32(&r) & 63);
                        rgb[((size_t)y * S + x) * 3 + c] = (uint8_t)(v > 255 ? 255 : v);
                    }
            char p[1200];
            snprintf(p, sizeof p, "%s/img%05d.png", imgs, i);
            s = atas_png_write(p, rgb, S, S);
        }
        atas_host_free(rgb);
    }
    int bad = s != ATAS_OK;
    ATAS_CHECK(atas_comm_allreduce_max_i32(comm, &bad, 1));
    if (bad) return s != ATAS_OK ? s : ATAS_ERR(ATAS_ERR_IO, "rank 0 could not write the bench images");
    const char *inputs[] = {imgs};
    atas_pack_config pc = {.inputs = inputs, .ninputs = 1, .out = out, .S = S, .min_side = S,
                           .alpha_bg = ATAS_ALPHA_OVER_WHITE, .files_per_round = 8, .progress = 0};
    atas_pack_result res;
    ATAS_CHECK(atas_pack(&pc, comm->comm, &res));
    if (res.packed != N) return ATAS_ERR(ATAS_ERR_IO, "%s: %lld of %d bench images packed", out, (long long)res.packed, N);
    return ATAS_OK;
}

static const char *base_name(const char *path, char *buf, size_t cap) {
    const char *b = strrchr(path, '/');
    snprintf(buf, cap, "%s", b ? b + 1 : path);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf) *dot = 0;
    return buf;
}

typedef struct {
    char backend[16], precision[8], model[160];
    int S, images; /* the synthetic corpus: side and count (one global batch) */
    int gpu;       /* the backend is "cuda" (not cpu, nor cpu-staged: the CPU's ops) */
    double peak_cfg; /* run.peak_tflops of the config (--set included): the MFU denominator, not measured */
} step_plan;

/* the GEMM the peak is measured on: the size that reaches the rate of each kind of backend */
static int peak_n(const step_plan *p) { return p->gpu ? 8192 : 2048; }
static int peak_reps(const step_plan *p) { return p->gpu ? 5 : 3; }

/* what the config asks for, at this world size: backend, precision, corpus geometry */
static atas_status plan_step(const bench_step_opts *o, int world, step_plan *p) {
    atas_run_config c;
    ATAS_CHECK(atas_config_load(o->config, o->sets, o->nsets, &c));
    ATAS_CHECK(atas_config_apply_world(&c, world));
    snprintf(p->backend, sizeof p->backend, "%s", o->backend ? o->backend : atas_config_enum_name("run.backend", c.run.backend));
    const char *prec = o->precision ? o->precision : atas_config_enum_name("run.precision", c.run.precision);
    if (strcmp(prec, "auto") == 0) prec = strcmp(p->backend, "cuda") == 0 ? "bf16" : "fp32";
    snprintf(p->precision, sizeof p->precision, "%s", prec);
    char b[64];
    snprintf(p->model, sizeof p->model, "%s", c.model.preset[0] ? c.model.preset : base_name(o->config, b, sizeof b));
    /* the smallest side the loader accepts: the views and the largest mosaic cell */
    int gmin = 0;
    for (int k = 0; k < c.mosaic.ngrids; k++)
        if (gmin == 0 || c.mosaic.grids[k] < gmin) gmin = c.mosaic.grids[k];
    const int cell = gmin > 0 && c.mosaic.per_group > 0 ? (c.mosaic.canvas + gmin - 1) / gmin : 0;
    p->S = c.data.resolution > cell ? c.data.resolution : cell;
    p->images = atas_config_images_per_step(&c);
    p->peak_cfg = c.run.peak_tflops;
    return ATAS_OK;
}

static void print_table(const bench_step_opts *o, const step_plan *p, int world, double peak_gflops,
                        const atas_trainer_stats *s0, const atas_trainer_stats *s1, const double *dt,
                        const unsigned long long *calls) {
    const int N = o->steps;
    double mean = 0;
    unsigned long long cmin = calls[0], cmax = calls[0];
    for (int i = 0; i < N; i++) {
        mean += dt[i] / N;
        if (calls[i] < cmin) cmin = calls[i];
        if (calls[i] > cmax) cmax = calls[i];
    }
    char gb[48], rb[48], oc[48], mem[16];
    snprintf(gb, sizeof gb, "%dv@%d+%dm@%d", s1->views * world, s1->view_px, s1->mosaics * world, s1->canvas_px);
    snprintf(rb, sizeof rb, "%dv+%dm", s1->views, s1->mosaics);
    if (cmin == cmax) snprintf(oc, sizeof oc, "%llu", cmin);
    else snprintf(oc, sizeof oc, "%llu-%llu", cmin, cmax);
    const int dev = s1->dev_peak > 0;
    snprintf(mem, sizeof mem, "%.0f", (double)(dev ? s1->dev_peak : s1->rss_peak) / 1048576.0);
    const double tflops = s1->step_flops / mean * 1e-12, mfu = tflops / (peak_gflops * 1e-3);
    printf("#\n# ATAS step of %s: backend %s, precision %s, %d rank(s), random init, synthetic corpus of %d "
           "images at %d px; 1 warm-up + %d timed steps\n", o->config, p->backend, p->precision, world, p->images,
           p->S, N);
    if (p->peak_cfg > 0)
        printf("# MFU against run.peak_tflops of the config (not measured): %.4g TFLOP/s per rank; step FLOPs "
               "%.4g per rank (docs/training.md)\n", peak_gflops * 1e-3, s1->step_flops);
    else
        printf("# MFU against the GEMM peak measured in this run (the backend's gemm_peak at %s, %d^3, best before "
               "and after the steps): %.4g TFLOP/s per rank; step FLOPs %.4g per rank (docs/training.md)\n",
               p->precision, peak_n(p), peak_gflops * 1e-3, s1->step_flops);
    if (o->header)
        printf("# %-12s %-5s %5s %-20s %-10s %10s %9s %9s %7s %9s %-3s %9s\n", "model", "prec", "ranks",
               "global_batch", "rank_batch", "step_ms", "images/s", "TFLOP/s", "MFU_%", "peak_MiB", "mem",
               "op_calls");
    printf("%-14s %-5s %5d %-20s %-10s %10.2f %9.1f %9.4g %7.2f %9s %-3s %9s\n", p->model, p->precision, world, gb,
           rb, mean * 1e3, s1->views * world / mean, tflops, 100 * mfu, mem, dev ? "dev" : "rss", oc);
    printf("# phases of the timed steps (rank 0; the trainer's phase table, docs/training.md)\n");
    printf("# %-14s %10s %7s\n", "phase", "ms/step", "share");
    double in_phases = 0;
    for (int k = 0; k < s1->nphases; k++) {
        const double ms = 1e3 * (s1->phase_s[k] - s0->phase_s[k]) / N;
        in_phases += ms;
        printf("  %-14s %10.2f %6.1f%%\n", s1->phase_name[k], ms, 100 * ms / (mean * 1e3));
    }
    const double other = mean * 1e3 - in_phases;
    printf("  %-14s %10.2f %6.1f%%\n", "other", other, 100 * other / (mean * 1e3));
    printf("  %-14s %10.2f %6.1f%%\n", "step", mean * 1e3, 100.0);
    fflush(stdout);
}

/* the trainer on the synthetic corpus: 1 warm-up step, then o->steps timed ones */
static atas_status run_steps(atas_comm *comm, const bench_step_opts *o, const step_plan *p, const char *dir,
                             const atas_backend *be, double peak_gflops) {
    char corpus[1200];
    ATAS_CHECK(make_corpus(comm, dir, p->S, p->images, corpus, sizeof corpus));
    enum { NFIXED = 12 };
    char fixed[NFIXED][1300];
    int k = 0;
    snprintf(fixed[k++], sizeof fixed[0], "run.dir=\"%s\"", dir);
    snprintf(fixed[k++], sizeof fixed[0], "run.name=\"run\"");
    snprintf(fixed[k++], sizeof fixed[0], "data.corpus=\"%s\"", corpus);
    snprintf(fixed[k++], sizeof fixed[0], "model.weights=\"\"");
    snprintf(fixed[k++], sizeof fixed[0], "run.backend=\"%s\"", p->backend);
    snprintf(fixed[k++], sizeof fixed[0], "run.precision=\"%s\"", p->precision);
    snprintf(fixed[k++], sizeof fixed[0], "run.threads=%d", o->threads);
    snprintf(fixed[k++], sizeof fixed[0], "run.peak_tflops=%.9g", peak_gflops * 1e-3);
    /* far more steps than taken: the last timed step is not the run's last (no final
     * checkpoint or evaluation in the timing), and any optim.warmup_steps fits */
    snprintf(fixed[k++], sizeof fixed[0], "run.steps=%d", o->steps + 1000000);
    snprintf(fixed[k++], sizeof fixed[0], "checkpoint.every=0");
    snprintf(fixed[k++], sizeof fixed[0], "checkpoint.resume=\"\"");
    snprintf(fixed[k++], sizeof fixed[0], "eval.every=0");
    char **sets = calloc((size_t)(NFIXED + o->nsets), sizeof *sets);
    double *dt = calloc((size_t)o->steps, sizeof *dt);
    unsigned long long *calls = calloc((size_t)o->steps, sizeof *calls);
    if (!sets || !dt || !calls) {
        free(sets); free(dt); free(calls);
        return ATAS_ERR(ATAS_ERR_NOMEM, "bench step");
    }
    for (int i = 0; i < NFIXED; i++) sets[i] = fixed[i];
    for (int i = 0; i < o->nsets; i++) sets[NFIXED + i] = o->sets[i]; /* the user's, last */
    atas_train_args a = {.config_path = o->config, .sets = sets, .nsets = NFIXED + o->nsets, .dump_step = -1,
                         .no_phase_table = 1};
    atas_trainer *t = NULL;
    atas_step_result r;
    atas_trainer_stats s0, s1;
    atas_status s = atas_trainer_create(comm, &a, &t);
    if (s == ATAS_OK) s = atas_trainer_step(t, &r); /* warm-up: first-touch, cuBLAS heuristics, loader start */
    if (s == ATAS_OK) atas_trainer_get_stats(t, &s0);
    for (int i = 0; s == ATAS_OK && i < o->steps; i++) {
        const unsigned long long c0 = atas_backend_op_calls();
        const double t0 = atas_now();
        s = atas_trainer_step(t, &r);
        dt[i] = atas_now() - t0;
        calls[i] = atas_backend_op_calls() - c0;
    }
    if (s == ATAS_OK) atas_trainer_get_stats(t, &s1); /* its memory peaks before the second GEMM measurement */
    if (s == ATAS_OK && p->peak_cfg <= 0) {
        /* the peak again, on the trainer's backend (the same instance): a node that was busy
         * while one was taken does not make the MFU */
        double again = 0;
        s = bench_gemm_peak(be, peak_n(p), peak_reps(p), &again);
        if (again > peak_gflops) peak_gflops = again;
    }
    if (s == ATAS_OK && comm->rank == 0) print_table(o, p, comm->world, peak_gflops, &s0, &s1, dt, calls);
    atas_trainer_destroy(t);
    free(sets); free(dt); free(calls);
    return s;
}

int bench_step(const bench_step_opts *o) {
    if (!g_mpi_ours) {
        if (atas_comm_init(&g_comm, NULL, NULL, 300) != ATAS_OK) {
            atas_error_print(NULL);
            return 1;
        }
        g_mpi_ours = 1;
    }
    atas_comm *comm = &g_comm;
    step_plan p;
    atas_status s = plan_step(o, comm->world, &p);
    /* the peak first, on the backend and precision of the run: this also says at once
     * when the backend cannot be had (no CUDA device) */
    const atas_backend *be = NULL;
    atas_precision prec = ATAS_PREC_FP32;
    if (s == ATAS_OK) s = atas_precision_parse(p.precision, &prec);
    if (s == ATAS_OK) s = atas_backend_get_precision(p.backend, prec, &be);
    double peak = 0;
    if (s == ATAS_OK) {
        p.gpu = strcmp(p.backend, "cuda") == 0;
        if (p.peak_cfg > 0) peak = p.peak_cfg * 1e3; /* the user's figure (an emulated device: hours at 8192^3) */
        else s = bench_gemm_peak(be, peak_n(&p), peak_reps(&p), &peak);
    }
    /* the process's peak RSS from here on: the trainer's, not the peak measurement's */
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) { fputs("5", f); fclose(f); }
    char dir[1024] = "";
    if (s == ATAS_OK && comm->rank == 0) {
        const char *tmp = getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp";
        snprintf(dir, sizeof dir, "%s/atas_bench_step.XXXXXX", tmp);
        if (!mkdtemp(dir)) s = ATAS_ERR(ATAS_ERR_IO, "%s: cannot create a temporary directory", dir);
    }
    int bad = s != ATAS_OK;
    if (atas_comm_allreduce_max_i32(comm, &bad, 1) != ATAS_OK) bad = 1;
    if (!bad && atas_comm_bcast(comm, dir, sizeof dir, 0) != ATAS_OK) bad = 1;
    /* rank 0's peak for everyone: run.peak_tflops is part of the config the ranks agree on */
    if (!bad && atas_comm_bcast(comm, &peak, sizeof peak, 0) != ATAS_OK) bad = 1;
    if (!bad) {
        atas_log_set_level(ATAS_LOG_WARN); /* the trainer's set-up lines would split the table */
        s = run_steps(comm, o, &p, dir, be, peak);
        atas_log_set_level(ATAS_LOG_INFO);
        atas_comm_barrier(comm);
    }
    if (comm->rank == 0 && dir[0] && nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "atas_bench: could not remove %s\n", dir);
    if (s != ATAS_OK) {
        atas_error_print(NULL);
        return 1;
    }
    return bad ? 1 : 0;
}

void bench_step_finish(void) {
    if (g_mpi_ours) atas_comm_finalize(&g_comm);
    g_mpi_ours = 0;
}
