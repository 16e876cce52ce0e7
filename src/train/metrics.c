/* metrics.jsonl (one object per step), the progress line and the phase table:
 * rank 0 alone calls these. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trainer_internal.h"

const char *const atas_phase_names[PH_N] = {"data_wait", "teacher_fwd", "student_fwd", "loss",
                                            "backward", "comm", "optimizer", "checkpoint"};

/* A resumed run repeats the steps between its checkpoint and the stop (a hard kill
 * loses them): the records of those steps go, so every step is in the file once.
 * Records without a step (or torn last lines) are kept / dropped as they parse. */
static atas_status cut_to_step(const char *path, long long step, double *last_elapsed) {
    FILE *in = fopen(path, "r");
    if (!in) return ATAS_OK; /* nothing logged yet */
    char tmp[1400];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out) { fclose(in); return ATAS_ERR(ATAS_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno)); }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long long dropped = 0;
    while ((n = getline(&line, &cap, in)) > 0) {
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)n, 0, &je);
        json_t *js = o ? json_object_get(o, "step") : NULL;
        int keep = o && (!json_is_integer(js) || json_integer_value(js) < step);
        /* the eval-only record written after the last step describes the checkpointed state
         * itself (eval_hook.c), and a run resumed at its end does not write it again */
        if (o && !keep && json_integer_value(js) == step && json_object_size(o) == 2 &&
            json_object_get(o, "eval"))
            keep = 1;
        json_t *je_s = keep ? json_object_get(o, "elapsed_s") : NULL;
        if (json_is_number(je_s) && json_number_value(je_s) > *last_elapsed) *last_elapsed = json_number_value(je_s);
        json_decref(o);
        if (!keep) { dropped++; continue; }
        fputs(line, out);
        if (line[n - 1] != '\n') fputc('\n', out);
    }
    free(line);
    fclose(in);
    if (fflush(out) != 0 || fsync(fileno(out)) != 0 || fclose(out) != 0) {
        unlink(tmp);
        return ATAS_ERR(ATAS_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) != 0) return ATAS_ERR(ATAS_ERR_IO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    if (dropped) atas_info("metrics.jsonl: %lld record(s) of steps >= %lld (after the checkpoint) removed", dropped, step);
    return ATAS_OK;
}

atas_status atas_metrics_open(atas_trainer *t, int append) {
    char p[1300];
    snprintf(p, sizeof p, "%s/metrics.jsonl", t->run_dir);
    if (append) {
        /* the checkpoint's elapsed_s was taken before it was written; the kept records of
         * its steps were written after: elapsed_s goes on from the later of the two */
        double last = t->st.elapsed_s;
        ATAS_CHECK(cut_to_step(p, t->st.step, &last));
        t->st.elapsed_s = last;
    }
    t->metrics = fopen(p, append ? "a" : "w");
    if (!t->metrics) return ATAS_ERR(ATAS_ERR_IO, "%s: cannot open for writing: %s", p, strerror(errno));
    atas_backend_transfer_bytes(&t->xfer_h2d, &t->xfer_d2h);
    t->op_calls = atas_backend_op_calls();
    return ATAS_OK;
}

/* JSON has no NaN/Inf: write null */
static void num(FILE *f, const char *key, double v, int comma) {
    if (isfinite(v)) fprintf(f, "\"%s\": %.9g%s", key, v, comma ? ", " : "");
    else fprintf(f, "\"%s\": null%s", key, comma ? ", " : "");
}

atas_status atas_metrics_step(atas_trainer *t, long long step, const double *l, double lr, double gnorm,
                              double mom, double img_s, int skipped, double step_s) {
    FILE *f = t->metrics;
    if (!f) return ATAS_OK;
    atas_observe_step(t, step_s);
    char when[40];
    atas_wallclock_iso(when, sizeof when);
    fprintf(f, "{\"step\": %lld, \"epoch\": %lld, \"time\": \"%s\", \"elapsed_s\": %.3f, ", step,
            t->steps_per_epoch > 0 ? step / t->steps_per_epoch : 0, when, t->elapsed0 + atas_now() - t->t_start);
    num(f, "g2l", l[0], 1); num(f, "l2l", l[1], 1); num(f, "g2g", l[2], 1); num(f, "total", l[3], 1);
    num(f, "lr", lr, 1); num(f, "grad_norm", gnorm, 1); num(f, "teacher_momentum", mom, 1);
    num(f, "images_per_s", img_s, 1);
    fprintf(f, "\"skipped\": %s, \"ms\": {", skipped ? "true" : "false");
    for (int k = 0; k < PH_N; k++) fprintf(f, "\"%s\": %.3f, ", atas_phase_names[k], t->phase[k] * 1e3);
    fprintf(f, "\"step\": %.3f}, ", step_s * 1e3);
    const atas_grad_buckets *b = &t->buckets;
    double hidden = 0;
    if (b->bytes && b->t_done > b->t_launch_first) {
        double span = b->t_done - b->t_launch_first;
        double after = b->t_done - (b->t_backward_end > 0 ? b->t_backward_end : b->t_done);
        hidden = span > 0 ? fmax(0, 1 - after / span) : 0;
    }
    fprintf(f, "\"comm_bytes\": %zu, \"comm_buckets_in_backward\": %d, \"comm_hidden_frac\": %.3f, ",
            b->bytes, b->launched_during_backward, hidden);
    /* NCCL: the collectives' time on the device (events), first start to last end */
    if (b->coll) fprintf(f, "\"comm_device_ms\": %.3f, ", b->t_device * 1e3);
    /* rank 0's: MFU against run.peak_tflops or the sgemm peak measured at start (observe.c) */
    fprintf(f, "\"mfu\": %.5f, \"rss_peak_mib\": %.1f", t->last_mfu, t->rss_peak / 1048576.0);
    if (t->dev_peak) fprintf(f, ", \"device_mem_peak_mib\": %.1f", t->dev_peak / 1048576.0);
    /* host <-> backend bytes since the previous line: this step, its checkpoint included */
    unsigned long long h2d = 0, d2h = 0;
    atas_backend_transfer_bytes(&h2d, &d2h);
    fprintf(f, ", \"bytes_h2d\": %llu, \"bytes_d2h\": %llu", h2d - t->xfer_h2d, d2h - t->xfer_d2h);
    t->xfer_h2d = h2d;
    t->xfer_d2h = d2h;
    /* backend op calls since the previous line (a lower bound on device launches) */
    const unsigned long long calls = atas_backend_op_calls();
    fprintf(f, ", \"op_calls\": %llu", calls - t->op_calls);
    t->op_calls = calls;
    atas_eval_hook_json(t, f, step);
    fputs("}\n", f);
    /* a full disk (ENOSPC, EDQUOT, EIO) shows at the flush, or earlier when a line
     * overran the buffer: either way the stream's error flag is set */
    errno = 0;
    int flushed = fflush(f) == 0;
    int e = errno;
    if (!flushed || ferror(f))
        return ATAS_ERR(ATAS_ERR_IO, "%s/metrics.jsonl: cannot write the record of step %lld: %s", t->run_dir, step,
                        e ? strerror(e) : "write error");
    return ATAS_OK;
}

static void fmt_eta(double s, char *buf, size_t n) {
    if (!isfinite(s) || s < 0) { snprintf(buf, n, "?"); return; }
    long long x = (long long)(s + 0.5);
    if (x >= 3600) snprintf(buf, n, "%lldh%02lldm", x / 3600, (x / 60) % 60);
    else if (x >= 60) snprintf(buf, n, "%lldm%02llds", x / 60, x % 60);
    else snprintf(buf, n, "%llds", x);
}

void atas_progress_line(atas_trainer *t, long long step, const double *l, double lr, double img_s) {
    char eta[32];
    double steps_per_s = img_s / atas_config_images_per_step(&t->cfg);
    fmt_eta((double)(t->total_steps - step) / steps_per_s, eta, sizeof eta);
    char ev[96];
    atas_eval_hook_summary(t, ev, sizeof ev);
    char mem[64];
    int k = snprintf(mem, sizeof mem, "mem %.0f MiB", t->rss_peak / 1048576.0);
    if (t->dev_peak) snprintf(mem + k, sizeof mem - k, " + dev %.0f MiB", t->dev_peak / 1048576.0);
    atas_info("step %6lld/%lld  epoch %lld  g2l %.4f  l2l %.4f  g2g %.4f  total %.4f  lr %.2e  %7.1f img/s  "
              "MFU %.1f%%  %s  ETA %s%s",
              step, t->total_steps, t->steps_per_epoch > 0 ? (step - 1) / t->steps_per_epoch : 0, l[0], l[1], l[2],
              l[3], lr, img_s, 100 * t->last_mfu, mem, eta, ev);
}

void atas_phase_table(atas_trainer *t) {
    double total = 0;
    for (int k = 0; k < PH_N; k++) total += t->phase_total[k];
    if (total <= 0) return;
    double wall = atas_now() - t->t_start;
    printf("# phase times over %lld steps (rank 0)\n# %-14s %12s %10s %8s\n", t->steps_this_run, "phase",
           "total_s", "ms/step", "share");
    for (int k = 0; k < PH_N; k++)
        printf("  %-14s %12.3f %10.2f %7.1f%%\n", atas_phase_names[k], t->phase_total[k],
               1e3 * t->phase_total[k] / t->steps_this_run, 100 * t->phase_total[k] / total);
    printf("  %-14s %12.3f %10.2f\n", "wall", wall, 1e3 * wall / t->steps_this_run);
    fflush(stdout);
}
