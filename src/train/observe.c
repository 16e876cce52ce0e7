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

atas_status atas_observe_setup(atas_trainer *t) {
    const int Bv = t->G_r * t->n, Bm = t->G_r * t->m;
    t->step_flops = Bv * vit_forward_flops(&t->mcfg, t->R);                  /* teacher: forward */
    if (t->need_sg) t->step_flops += 3.0 * Bv * vit_forward_flops(&t->mcfg, t->R); /* fwd + bwd ~ 3x */
    if (t->need_sm) t->step_flops += 3.0 * Bm * vit_forward_flops(&t->mcfg, t->C);
    char how[96] = "run.peak_tflops";
    t->peak_tflops = t->cfg.run.peak_tflops;
    if (t->peak_tflops <= 0) { /* the backend's dense GEMM rate at the run's precision */
        ATAS_CHECK(t->be->gemm_peak(t->be, &t->peak_tflops, t->be->host_addressable ? 1024 : 8192));
        snprintf(how, sizeof how, "%s GEMM measured now",
                 atas_precision_name((atas_precision)t->be->precision));
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
