/* What a run costs: FLOPs per step, the peak they are measured against (MFU), memory
 * high-water marks. docs/training.md explains the numbers. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trainer_internal.h"

/* forward FLOPs of one image through the ViT (ATAS-METHOD's formula with the model's own
 * MLP width: L*(8ND^2 + 4N*D*mlp + 4N^2*D) + patch embedding; = L*(24ND^2 + 4N^2D) at mlp 4D) */
static double vit_forward_flops(const atas_vit_config *m, int px) {
    const double g = px / m->patch, Np = g * g, N = Np + 1, D = m->width, L = m->layers;
    return L * (8 * N * D * D + 4 * N * D * m->mlp + 4 * N * N * D) + 2 * Np * 3.0 * m->patch * m->patch * D +
           2 * D * m->embed;
}

/* best of a few sgemms of n^3 on the run's backend and threads */
static atas_status measure_peak(const atas_backend *be, double *tflops) {
    const int n = be->host_addressable ? 1024 : 4096;
    const size_t bytes = (size_t)n * n * sizeof(float);
    float *a = NULL, *b = NULL, *c = NULL;
    atas_status s = be->alloc(be, (void **)&a, bytes, "peak sgemm");
    if (s == ATAS_OK) s = be->alloc(be, (void **)&b, bytes, "peak sgemm");
    if (s == ATAS_OK) s = be->alloc(be, (void **)&c, bytes, "peak sgemm");
    double best = 0;
    if (s == ATAS_OK) s = be->matmul_fwd(be, c, a, b, n, n, n); /* warm-up */
    if (s == ATAS_OK) s = be->sync(be);
    const double t_end = atas_now() + 0.3;
    for (int i = 0; s == ATAS_OK && (i < 2 || atas_now() < t_end) && i < 50; i++) {
        double t0 = atas_now();
        s = be->matmul_fwd(be, c, a, b, n, n, n);
        if (s == ATAS_OK) s = be->sync(be);
        double dt = atas_now() - t0;
        if (dt > 0 && 2.0 * n * n * n / dt > best) best = 2.0 * n * n * n / dt;
    }
    if (a) be->free(be, a);
    if (b) be->free(be, b);
    if (c) be->free(be, c);
    *tflops = best * 1e-12;
    return s;
}

atas_status atas_observe_setup(atas_trainer *t) {
    const int Bv = t->G_r * t->n, Bm = t->G_r * t->m;
    t->step_flops = Bv * vit_forward_flops(&t->mcfg, t->R);                  /* teacher: forward */
    if (t->need_sg) t->step_flops += 3.0 * Bv * vit_forward_flops(&t->mcfg, t->R); /* fwd + bwd ~ 3x */
    if (t->need_sm) t->step_flops += 3.0 * Bm * vit_forward_flops(&t->mcfg, t->C);
    const char *how = "run.peak_tflops";
    t->peak_tflops = t->cfg.run.peak_tflops;
    if (t->peak_tflops <= 0) {
        ATAS_CHECK(measure_peak(t->be, &t->peak_tflops));
        how = "sgemm measured now";
    }
    atas_info("MFU: %.3g GFLOP per step and rank (forward ~ L(24ND^2 + 4N^2D), backward 2x) against a peak of "
              "%.3g TFLOP/s per rank (%s)", t->step_flops * 1e-9, t->peak_tflops, how);
    return ATAS_OK;
}

static size_t device_used(const atas_trainer *t) { return t->be->mem_used(t->be); }

void atas_observe_step(atas_trainer *t, double step_s) {
    t->last_mfu = t->peak_tflops > 0 && step_s > 0 ? t->step_flops / step_s / (t->peak_tflops * 1e12) : 0;
    t->rss_peak = atas_rss_peak_bytes();
    size_t d = device_used(t);
    if (d > t->dev_peak) t->dev_peak = d;
}

void atas_wallclock_iso(char *buf, size_t n) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char s[32];
    strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, n, "%s.%03ldZ", s, ts.tv_nsec / 1000000);
}
