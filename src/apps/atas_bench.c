/* atas_bench: speed of the engine on one backend (cpu or cuda), as fixed-width
 * tables with '#' header lines. Every figure is set against something measured in
 * the same run: the GEMM peak of this machine now (the backend's gemm_peak: OpenBLAS
 * sgemm 2048^3 on the CPU; on CUDA 8192^3 at the run's precision, bf16 operands on the
 * tensor cores for bf16), and on the CPU PyTorch
 * doing the same computation (tools/bench/). The training-step rows (--step, and the
 * shipped configs in the default CUDA run) are bench/step.c's. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <jansson.h>

#include "atas/op_cases.h"
#include "atas/vit.h"
#include "atas/version.h"
#include "bench/step.h"

typedef struct {
    int threads, reps, torch;
    int quick, ops_only;
    const char *python, *srcdir, *backend, *precision;
    const char *step_config; /* --step: that config's training-step row only */
    int steps;               /* timed steps of a step row */
    int backend_given, precision_given;
    char **sets;             /* --set key=value for the step rows */
    int nsets;
} bench_opts;

static double g_peak; /* GFLOP/s */
static const atas_backend *g_be;

/* ops return a status; the bench stops at the first failure */
#define OK(expr)                                                         \
    do {                                                                 \
        if ((expr) != ATAS_OK) { atas_error_print(NULL); exit(1); }      \
    } while (0)

static void reset_hwm(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) { fputs("5", f); fclose(f); }
}

static float *buf(size_t n, uint64_t seed) {
    float *x;
    if (atas_host_alloc((void **)&x, n * sizeof(float), "bench") != ATAS_OK) { atas_error_print(NULL); exit(1); }
    atas_rng r = atas_rng_stream(seed, 1, 2);
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * atas_rng_normal(&r);
    return x;
}

/* n floats of backend memory holding 0.5 N(0,1) values */
static float *bbuf(size_t n, uint64_t seed) {
    float *h = buf(n, seed), *d;
    OK(g_be->alloc(g_be, (void **)&d, n * sizeof(float), "bench"));
    OK(g_be->upload(g_be, d, h, n * sizeof(float)));
    atas_host_free(h);
    return d;
}

static double measure_sgemm_peak(int reps) {
    const int n = 2048;
    float *a = buf((size_t)n * n, 1), *b = buf((size_t)n * n, 2), *c = buf((size_t)n * n, 3);
    double best = 1e30;
    for (int r = 0; r < reps + 1; r++) {
        double t = atas_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        t = atas_now() - t;
        if (r > 0 && t < best) best = t;
    }
    atas_host_free(a); atas_host_free(b); atas_host_free(c);
    return 2.0 * n * n * (double)n / best / 1e9;
}

/* the device's GEMM rate at the backend's precision (the gemm_peak op: bf16 operands
 * on the tensor cores for bf16, FAST_TF32 for tf32, cublasSgemm for fp32) */
/* --quick: 1024^3, a smoke run's peak (an emulated device takes hours at 8192^3) */
static double measure_backend_peak(int n, int reps) {
    double gflops;
    OK(bench_gemm_peak(g_be, n, reps, &gflops));
    return gflops;
}

#define TIME_BEST(best, reps, stmt)                                      \
    do {                                                                 \
        best = 1e30;                                                     \
        for (int _r = 0; _r < (reps) + 1; _r++) {                        \
            OK(g_be->sync(g_be));                                            \
            double _t = atas_now();                                      \
            stmt;                                                        \
            OK(g_be->sync(g_be));                                            \
            _t = atas_now() - _t;                                        \
            if (_r > 0 && _t < best) best = _t;                          \
        }                                                                \
    } while (0)

/* PyTorch's times of the same ops (tools/bench/torch_ops_bench.py), ms by op name */
static json_t *g_torch_ops;

static void op_row(const char *op, const char *shape, double sec, double flops) {
    double gf = flops / sec / 1e9;
    char gfs[16] = "-", pk[16] = "-", tms[16] = "-", sp[16] = "-";
    if (flops > 0) {
        snprintf(gfs, sizeof gfs, "%.1f", gf);
        snprintf(pk, sizeof pk, "%.1f", 100 * gf / g_peak);
    }
    json_t *v = g_torch_ops ? json_object_get(g_torch_ops, op) : NULL;
    if (v && json_is_number(v)) {
        snprintf(tms, sizeof tms, "%.3f", json_number_value(v));
        snprintf(sp, sizeof sp, "%.2fx", json_number_value(v) / (sec * 1e3));
    }
    printf("%-22s %-28s %10.3f %9s %6s %9s %8s\n", op, shape, sec * 1e3, gfs, pk, tms, sp);
}

static void load_torch_ops(const bench_opts *o, int B, int T, int D, int H, int Hm) {
    if (!o->torch || !g_be->host_addressable) return; /* the torch side is a CPU run */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "OMP_NUM_THREADS=%d %s %s/tools/bench/torch_ops_bench.py --B %d --T %d --D %d --H %d --M %d "
             "--reps %d --threads %d",
             o->threads, o->python, o->srcdir, B, T, D, H, Hm, o->reps, o->threads);
    FILE *f = popen(cmd, "r");
    if (!f) return;
    char line[4096];
    while (fgets(line, sizeof line, f))
        if (line[0] == '{') g_torch_ops = json_loads(line, 0, NULL);
    pclose(f);
}

/* The benchmark rows of the op registry's case list (src/backend/op_cases.c):
 * OPC_BENCH cases (the ops of one ViT-B/16 block at batch 8, 224 px, T = 197),
 * or OPC_BENCH_QUICK ones with --quick. FLOPs are the registry's counts of the
 * calls each case makes; rows are "<label>_fwd" / "<label>_bwd", the names the
 * PyTorch side (tools/bench/torch_ops_bench.py) times under. */
static void bench_ops(const bench_opts *o, int B, int T, int D, int H, int Hm) {
    const atas_backend *be = g_be;
    const unsigned mode = o->quick ? OPC_BENCH_QUICK : OPC_BENCH;
    printf("#\n# ops of one transformer block (width %d, MLP %d), batch %d, T = %d tokens, fp32 storage, "
           "precision %s\n", D, Hm, B, T, atas_precision_name((atas_precision)be->precision));
    load_torch_ops(o, B, T, D, H, Hm);
    printf("# %-20s %-28s %10s %9s %6s %9s %8s\n", "op", "shape", "ms", "GFLOP/s", "%peak", "torch_ms",
           "speedup");
    for (int ci = 0; ci < atas_op_ncases; ci++) {
        const opc_case *c = &atas_op_cases[ci];
        const opc_family *f = atas_op_family(c->family);
        if (!(c->modes & mode) || !f) continue;
        opc_tensor ts[OPC_MAXT];
        float *t[OPC_MAXT];
        const int nt = f->tensors(c, ts);
        for (int k = 0; k < nt; k++) t[k] = bbuf(ts[k].n ? ts[k].n : 1, 10 + (uint64_t)k);
        void *ws = NULL;
        if (f->workspace) OK(be->alloc(be, &ws, f->workspace(be, c), "ws"));
        char shape[64] = "", row[64];
        for (int k = 0, len = 0; k < 8 && f->pnames[k] && len < (int)sizeof shape; k++)
            len += snprintf(shape + len, sizeof shape - len, "%s%s%d", k ? " " : "", f->pnames[k], c->p[k]);
        atas_op_cost cf = {0, 0}, cb = {0, 0};
        OK(f->fwd(be, c, t, ws, &cf)); /* also fills what the backward reads */
        double sec;
        TIME_BEST(sec, o->reps, OK(f->fwd(be, c, t, ws, NULL)));
        snprintf(row, sizeof row, "%s_fwd", c->label);
        op_row(row, shape, sec, cf.flops);
        if (f->bwd) {
            OK(f->bwd(be, c, t, ws, &cb));
            TIME_BEST(sec, o->reps, OK(f->bwd(be, c, t, ws, NULL)));
            snprintf(row, sizeof row, "%s_bwd", c->label);
            op_row(row, shape, sec, cb.flops);
        }
        be->free(be, ws);
        for (int k = 0; k < nt; k++) be->free(be, t[k]);
    }
}

/* On cuda at bf16: linear_fwd's GEMM at the models' shapes on fp32 buffers (FAST_16BF, what
 * runs without bf16 storage and for out_proj) next to linear_fwd_h on bf16 buffers (what bf16
 * storage runs for qkv, fc1 and fc2), both against the bf16 peak: the gain of that storage. */
static void bench_gemm_buffers(const bench_opts *o) {
    static const struct { const char *model, *gemm; int M, K, N; } full[] = {
        {"ViT-B/16", "qkv", 3601, 768, 2304},  {"ViT-B/16", "proj", 3601, 768, 768},
        {"ViT-B/16", "fc1", 3601, 768, 3072},  {"ViT-B/16", "fc2", 3601, 3072, 768},
        {"ViT-L/14", "qkv", 4097, 1024, 3072}, {"ViT-L/14", "proj", 4097, 1024, 1024},
        {"ViT-L/14", "fc1", 4097, 1024, 4096}, {"ViT-L/14", "fc2", 4097, 4096, 1024},
    }, quick[] = {{"tiny", "fc1", 34, 64, 128}, {"tiny", "fc2", 34, 128, 64}};
    const int n = o->quick ? 2 : 8;
    printf("#\n# linear_fwd's GEMM on fp32 buffers (linear_fwd with its bias: cuBLASLt FAST_16BF; the model's "
           "proj, and every GEMM with ATAS_BF16_STORAGE=0) and on bf16 buffers (linear_fwd_h with its bias: bf16 "
           "storage, the model's qkv, fc1, fc2), TFLOP/s and %% of the bf16 peak above; M = one mosaic's tokens\n");
    printf("# %-9s %-5s %5s %5s %5s %11s %11s %10s %10s %9s\n", "model", "gemm", "M", "K", "N", "fp32_TFLOPs",
           "bf16_TFLOPs", "fp32_%peak", "bf16_%peak", "bf16/fp32");
    for (int i = 0; i < n; i++) {
        const int M = o->quick ? quick[i].M : full[i].M, K = o->quick ? quick[i].K : full[i].K,
                  N = o->quick ? quick[i].N : full[i].N;
        double a = 0, b = 0;
        OK(g_be->gemm_rate(g_be, &a, M, K, N, 0));
        OK(g_be->gemm_rate(g_be, &b, M, K, N, 1));
        const double pk = g_peak * 1e-3; /* GFLOP/s -> TFLOP/s */
        printf("  %-9s %-5s %5d %5d %5d %11.4g %11.4g %10.1f %10.1f %9.2f\n", o->quick ? quick[i].model : full[i].model,
               o->quick ? quick[i].gemm : full[i].gemm, M, K, N, a, b, pk > 0 ? 100 * a / pk : 0,
               pk > 0 ? 100 * b / pk : 0, a > 0 ? b / a : 0);
    }
    fflush(stdout);
}

typedef struct { double ms, mib; int ok; } torch_result;

static torch_result run_torch(const bench_opts *o, const atas_vit_config *c, int res, int B, int dense) {
    torch_result r = {0, 0, 0};
    if (!o->torch || g_be->host_addressable == 0) return r; /* the torch side is a CPU run */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "OMP_NUM_THREADS=%d %s %s/tools/bench/torch_vit_bench.py --patch %d --width %d --layers %d "
             "--heads %d --mlp %d --embed %d --grid %d --res %d --batch %d --reps %d --threads %d %s%s",
             o->threads, o->python, o->srcdir, c->patch, c->width, c->layers, c->heads, c->mlp, c->embed,
             c->grid, res, B, o->reps, o->threads, dense ? "--dense" : "",
             c->family == ATAS_VIT_EVA02 ? " --eva" : "");
    FILE *f = popen(cmd, "r");
    if (!f) return r;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "{\"ms\": %lf, \"mib\": %lf}", &r.ms, &r.mib) == 2) r.ok = 1;
    if (pclose(f) != 0) r.ok = 0;
    return r;
}

/* Full forward+backward of the model (all tensors trainable), global or dense output. */
static void bench_model(const bench_opts *o, const char *name, const atas_vit_config *c, int res,
                        int B, int dense) {
    const atas_backend *be = g_be;
    reset_hwm();
    size_t rss0 = atas_rss_now_bytes();
    atas_vit m;
    atas_vit_pass *p;
    if (atas_vit_create(&m, c, be, 1) != ATAS_OK || atas_vit_init_random(&m, 3) != ATAS_OK ||
        atas_vit_pass_create(&p, &m, B, res, res, dense ? ATAS_OUT_DENSE : ATAS_OUT_GLOBAL, 1) != ATAS_OK) {
        atas_error_print(NULL);
        exit(1);
    }
    const int g = res / c->patch;
    size_t nout = dense ? (size_t)B * g * g * c->embed : (size_t)B * c->embed;
    float *img = bbuf((size_t)B * 3 * res * res, 4), *hout = buf(nout, 5), *dout;
    for (size_t i = 0; i < nout; i++) hout[i] = 1.0f; /* d(sum(out)), as the torch side */
    OK(be->alloc(be, (void **)&dout, nout * sizeof(float), "bench dout"));
    OK(be->upload(be, dout, hout, nout * sizeof(float)));
    atas_host_free(hout);
    double t;
    TIME_BEST(t, o->reps, {
        OK(atas_vit_zero_grads(&m));
        OK(atas_vit_forward(p, &m, img));
        OK(atas_vit_backward(p, &m, dense ? NULL : dout, dense ? dout : NULL));
    });
    /* host: peak RSS growth; device: what the model and the pass hold there */
    double mib = be->host_addressable
                     ? (double)(atas_rss_peak_bytes() - rss0) / 1048576.0
                     : (double)(2 * m.nparams * sizeof(float) + atas_vit_pass_bytes(p)) / 1048576.0;
    double flops = 3.0 * B * atas_vit_flops_forward(c, res, res);
    atas_vit_pass_destroy(p);
    atas_vit_destroy(&m);
    be->free(be, img);
    be->free(be, dout);
    torch_result tr = run_torch(o, c, res, B, dense);
    double gf = flops / t / 1e9;
    char tms[16] = "-", sp[16] = "-", tmib[16] = "-";
    if (tr.ok) {
        snprintf(tms, sizeof tms, "%.1f", tr.ms);
        snprintf(sp, sizeof sp, "%.2fx", tr.ms / (t * 1e3));
        snprintf(tmib, sizeof tmib, "%.0f", tr.mib);
    }
    printf("%-10s %4d %5d %-7s %9.1f %9s %8s %8.1f %6.1f %9.0f %9s\n", name, res, B,
           dense ? "dense" : "global", t * 1e3, tms, sp, gf, 100 * gf / g_peak, mib, tmib);
    fflush(stdout);
}

static void usage(void) {
    printf("usage: atas_bench [--backend cpu|cuda] [--precision fp32|tf32|bf16] [--threads N] [--reps N]\n"
           "                  [--no-torch] [--quick] [--ops-only]\n"
           "       atas_bench --step CONFIG [--steps N] [--backend cpu|cuda] [--precision P] [--set k=v ...]\n"
           "  Prints the sgemm peak, per-op timings of a ViT-B/16 block and full\n"
           "  forward+backward of ViT-B/16 at 224 (batch 8) and 448 (batch 2), each next\n"
           "  to PyTorch doing the same computation in the same run; then EVA02-B/16 and\n"
           "  ViT-L/14 / EVA02-L/14 rows.\n"
           "  --backend cuda  the same tables on the GPU (peak = gemm_peak 8192^3 at --precision\n"
           "                  (1024^3 with --quick: a smoke run's, below the device's rate),\n"
           "                  memory = device bytes of model + pass, no torch column)\n"
           "  --precision  math of GEMMs and attention (default fp32; on cpu tf32/bf16 are\n"
           "               an emulation that rounds GEMM inputs: slower, for accuracy, not speed)\n"
           "  --quick   a tiny model only (a smoke run for tests)\n"
           "  --ops-only  the per-op table only (no model rows)\n"
           "  --step CONFIG  only the full ATAS training step of CONFIG (trainer, random init,\n"
           "               synthetic corpus): step ms, images/s, TFLOP/s, MFU against the backend's\n"
           "               GEMM peak at the run's precision (run.peak_tflops instead, where the\n"
           "               config or --set gives one), peak memory, op calls per step, and\n"
           "               the phase table. Backend and precision: the config's unless given.\n"
           "               The default --backend cuda run ends with these rows for\n"
           "               configs/vitb16.cfg and configs/vitl14.cfg.\n"
           "  --steps N   timed steps of a step row, after one warm-up step (default 5)\n"
           "  --set key=value  a config override for the step rows (repeatable)\n"
           "  --version, --help\n");
}

static int bench_all(bench_opts o);
static int bench_main(bench_opts *o, int argc);

int main(int argc, char **argv) {
    bench_opts o = {.threads = 0, .reps = 3, .torch = 1, .quick = 0, .backend = "cpu", .precision = "fp32",
                    .steps = 5};
    o.sets = calloc((size_t)argc + 1, sizeof *o.sets);
    o.python = getenv("ATAS_PYTHON") ? getenv("ATAS_PYTHON") : "/usr/bin/python3";
    o.srcdir = getenv("ATAS_SOURCE_DIR") ? getenv("ATAS_SOURCE_DIR") : ATAS_SOURCE_DIR_DEFAULT;
    static const struct option lo[] = {{"threads", required_argument, 0, 't'},
                                       {"backend", required_argument, 0, 'b'},
                                       {"reps", required_argument, 0, 'r'},
                                       {"precision", required_argument, 0, 'p'},
                                       {"no-torch", no_argument, 0, 'n'},
                                       {"quick", no_argument, 0, 'q'},
                                       {"ops-only", no_argument, 0, 'o'},
                                       {"step", required_argument, 0, 'S'},
                                       {"steps", required_argument, 0, 'N'},
                                       {"set", required_argument, 0, 's'},
                                       {"help", no_argument, 0, 'h'},
                                       {"version", no_argument, 0, 'V'},
                                       {0, 0, 0, 0}};
    int ch, rc = -1; /* >= 0: an exit status the options decided */
    while (rc < 0 && (ch = getopt_long(argc, argv, "t:b:r:p:nqoh", lo, NULL)) != -1) {
        switch (ch) {
        case 't': o.threads = atoi(optarg); break;
        case 'r': o.reps = atoi(optarg); break;
        case 'b': o.backend = optarg; o.backend_given = 1; break;
        case 'p': o.precision = optarg; o.precision_given = 1; break;
        case 'S': o.step_config = optarg; break;
        case 'N': o.steps = atoi(optarg); break;
        case 's': o.sets[o.nsets++] = optarg; break;
        case 'n': o.torch = 0; break;
        case 'q': o.quick = 1; break;
        case 'o': o.ops_only = 1; break;
        case 'h': usage(); rc = 0; break;
        case 'V': atas_print_version("atas_bench"); rc = 0; break;
        default: usage(); rc = 2; break;
        }
    }
    if (rc < 0) rc = bench_main(&o, argc);
    free(o.sets); /* on every path: the sanitizer build counts a leak as a failure */
    return rc;
}

/* everything after the options */
static int bench_main(bench_opts *op, int argc) {
    bench_opts o = *op;
    if (o.reps < 1) { fprintf(stderr, "atas_bench: --reps must be >= 1\n"); return 2; }
    if (o.steps < 1) { fprintf(stderr, "atas_bench: --steps must be >= 1\n"); return 2; }
    if (optind != argc) { usage(); return 2; }
    atas_cpu_set_threads(o.threads);
    o.threads = atas_cpu_threads();
    atas_precision prec;
    if (atas_precision_parse(o.precision, &prec) != ATAS_OK) {
        fprintf(stderr, "atas_bench: --precision %s: expected fp32, tf32 or bf16\n", o.precision);
        return 2;
    }
    if (o.step_config) { /* the step row alone: its backend and precision are the run's */
        const int rc = bench_step(&(bench_step_opts){.config = o.step_config,
                                                     .backend = o.backend_given ? o.backend : NULL,
                                                     .precision = o.precision_given ? o.precision : NULL,
                                                     .steps = o.steps, .threads = o.threads, .sets = o.sets,
                                                     .nsets = o.nsets, .header = 1});
        bench_step_finish();
        return rc;
    }
    if (atas_backend_get_precision(o.backend, prec, &g_be) != ATAS_OK) {
        atas_error_print(NULL);
        return 1;
    }
    const int rc = bench_all(o);
    atas_backend_release(g_be); /* streams and handles of a device backend */
    bench_step_finish();
    return rc;
}

/* The full training step of the shipped ViT-B/16 and ViT-L/14 configs (bf16 on cuda
 * unless --precision says otherwise). Last: the trainer releases the device backend
 * when it is destroyed. */
static int bench_shipped_steps(const bench_opts *o) {
    static const char *const cfgs[] = {"configs/vitb16.cfg", "configs/vitl14.cfg"};
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", o->srcdir, cfgs[i]);
        rc = bench_step(&(bench_step_opts){.config = path, .backend = o->backend,
                                           .precision = o->precision_given ? o->precision : NULL,
                                           .steps = o->steps, .threads = o->threads, .sets = o->sets,
                                           .nsets = o->nsets, .header = i == 0});
    }
    return rc;
}

/* everything after the backend is chosen (the tables below) */
static int bench_all(bench_opts o) {
    if (g_be->host_addressable) {
        g_peak = measure_sgemm_peak(o.quick ? 1 : 5);
        printf("# atas_bench: backend %s, precision %s, %d threads (OpenMP + OpenBLAS %s)\n", g_be->name,
               atas_precision_name((atas_precision)g_be->precision), o.threads, "openmp build");
        printf("# sgemm peak measured now (2048^3, best of runs): %.1f GFLOP/s\n", g_peak);
    } else {
        const int n = o.quick ? 1024 : 8192;
        g_peak = measure_backend_peak(n, o.quick ? 1 : 5);
        const int store = atas_vit_bf16_storage_default(g_be);
        printf("# atas_bench: backend %s, precision %s of GEMMs and attention; the op rows on fp32 buffers, the "
               "model and step rows with %s storage\n", g_be->name, atas_precision_name((atas_precision)g_be->precision),
               store ? "bf16 (docs/backend.md)" : "fp32");
        printf("# GEMM peak measured now (the backend's gemm_peak %d^3 at precision %s, best of runs): "
               "%.1f GFLOP/s\n", n, atas_precision_name((atas_precision)g_be->precision), g_peak);
    }
    if (o.quick) {
        atas_vit_config c = {8, 64, 2, 4, 128, 32, 4, ATAS_ACT_QUICKGELU, 1e-5f, ATAS_VIT_CLIP};
        bench_ops(&o, 2, 17, 64, 4, 128);
        if (strcmp(g_be->name, "cuda") == 0 && g_be->precision == ATAS_PREC_BF16) bench_gemm_buffers(&o);
        if (o.ops_only) return 0;
        printf("#\n# %-8s %4s %5s %-7s %9s %9s %8s %8s %6s %9s %9s\n", "model", "res", "batch", "output",
               "atas_ms", "torch_ms", "speedup", "GFLOP/s", "%peak", "atas_MiB", "torch_MiB");
        bench_model(&o, "tiny", &c, 32, 2, 0);
        bench_model(&o, "tiny", &c, 48, 2, 1);
        atas_vit_config ce = {8, 64, 2, 4, 96, 32, 4, ATAS_ACT_GELU, 1e-6f, ATAS_VIT_EVA02};
        bench_model(&o, "tiny-eva", &ce, 32, 2, 0);
        bench_model(&o, "tiny-eva", &ce, 48, 2, 1);
        return 0;
    }
    bench_ops(&o, 8, 197, 768, 12, 3072);
    if (strcmp(g_be->name, "cuda") == 0 && g_be->precision == ATAS_PREC_BF16) bench_gemm_buffers(&o);
    if (o.ops_only) return 0;
    atas_vit_config b16;
    atas_vit_preset("ViT-B-16", &b16);
    printf("#\n# ViT-B/16 forward+backward, every tensor trainable; FLOPs = 3 x forward "
           "(docs/method.md); memory = peak RSS growth from model creation\n");
    printf("# %-8s %4s %5s %-7s %9s %9s %8s %8s %6s %9s %9s\n", "model", "res", "batch", "output",
           "atas_ms", "torch_ms", "speedup", "GFLOP/s", "%peak", "atas_MiB", "torch_MiB");
    bench_model(&o, "ViT-B/16", &b16, 224, 8, 0);
    bench_model(&o, "ViT-B/16", &b16, 448, 2, 0);
    bench_model(&o, "ViT-B/16", &b16, 448, 2, 1);
    /* EVA02-CLIP next to the CLIP ViT of the same size (docs/eva02.md) */
    atas_vit_config eb16, l14, el14;
    atas_vit_preset("EVA02-B-16", &eb16);
    atas_vit_preset("ViT-L-14", &l14);
    atas_vit_preset("EVA02-L-14", &el14);
    bench_model(&o, "EVA02-B/16", &eb16, 224, 8, 0);
    bench_model(&o, "EVA02-B/16", &eb16, 448, 2, 1);
    bench_model(&o, "ViT-L/14", &l14, 224, 2, 0);
    bench_model(&o, "EVA02-L/14", &el14, 224, 2, 0);
    /* the whole ATAS step on a device; on the CPU only when asked (--step: minutes a step) */
    if (strcmp(g_be->name, "cuda") == 0) return bench_shipped_steps(&o);
    return 0;
}
