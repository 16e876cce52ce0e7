/* Run-directory protection and the resume schedule check (see rundir.h). */
#include "rundir.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atas/h5util.h"
#include "atas/train.h"

static int is_ckpt_file(const char *name) { return strncmp(name, "ckpt-", 5) == 0; }

/* what of an earlier run the directory holds, as words for the message; 0 when nothing */
static int describe_run(const char *run_dir, const char *ckpt_dir, char *what, size_t cap) {
    char p[1300];
    struct stat sb;
    int metrics = 0, nck = 0;
    snprintf(p, sizeof p, "%s/metrics.jsonl", run_dir);
    if (stat(p, &sb) == 0 && sb.st_size > 0) metrics = 1;
    DIR *d = opendir(ckpt_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (is_ckpt_file(e->d_name) && strstr(e->d_name, ".h5") && !strstr(e->d_name, ".done")) nck++;
        closedir(d);
    }
    snprintf(what, cap, "%s%s%d checkpoint file(s)", metrics ? "metrics.jsonl" : "", metrics ? ", " : "", nck);
    return metrics || nck;
}

static atas_status delete_run(const char *run_dir, const char *ckpt_dir) {
    char p[1300];
    DIR *d = opendir(ckpt_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!is_ckpt_file(e->d_name)) continue; /* only what atas wrote */
            snprintf(p, sizeof p, "%s/%s", ckpt_dir, e->d_name);
            if (unlink(p) != 0 && errno != ENOENT) {
                closedir(d);
                return ATAS_ERR(ATAS_ERR_IO, "%s: cannot delete (--overwrite): %s", p, strerror(errno));
            }
        }
        closedir(d);
    }
    const char *files[] = {"metrics.jsonl", "config.cfg"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s", run_dir, files[i]);
        if (unlink(p) != 0 && errno != ENOENT)
            return ATAS_ERR(ATAS_ERR_IO, "%s: cannot delete (--overwrite): %s", p, strerror(errno));
    }
    return ATAS_OK;
}

atas_status atas_rundir_guard(atas_comm *comm, const char *run_dir, const char *ckpt_dir, int resuming,
                              int overwrite) {
    char msg[1600] = "";
    if (comm->rank == 0 && !resuming) {
        char what[128];
        if (describe_run(run_dir, ckpt_dir, what, sizeof what)) {
            if (!overwrite) {
                snprintf(msg, sizeof msg,
                         "%s holds another run (%s): a fresh start would mix with it. Pass --resume auto to "
                         "continue it, or --overwrite to delete its checkpoints and metrics and start again",
                         run_dir, what);
            } else if (delete_run(run_dir, ckpt_dir) != ATAS_OK) {
                snprintf(msg, sizeof msg, "%s", atas_error_message());
            } else {
                atas_info("--overwrite: deleted the previous run in %s (%s)", run_dir, what);
            }
        }
    }
    comm->phase = "run directory check";
    ATAS_CHECK(atas_comm_bcast(comm, msg, sizeof msg, 0));
    if (msg[0]) return ATAS_ERR(ATAS_ERR_CONFIG, "%s", msg);
    return ATAS_OK;
}

/* ------------------------------------------------------------- schedule on resume */

static atas_status load_ckpt_config(const char *ckpt_path, atas_run_config *old, int *have) {
    *have = 0;
    hid_t f;
    atas_h5_lock();
    atas_status s = atas_h5_open_ro(ckpt_path, &f);
    const size_t cap = 1 << 20;
    char *text = malloc(cap);
    if (s == ATAS_OK) {
        if (!text) s = ATAS_ERR(ATAS_ERR_NOMEM, "config text of %s", ckpt_path);
        else s = atas_h5_attr_read_str(f, "config", text, cap, ckpt_path);
        H5Fclose(f);
    }
    atas_h5_unlock();
    if (s != ATAS_OK || !text[0]) { free(text); return s; }
    char tmp[] = "/tmp/atas-ckpt-config-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0) { free(text); return ATAS_ERR(ATAS_ERR_IO, "cannot create a temporary file: %s", strerror(errno)); }
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    close(fd);
    free(text);
    if (w != (ssize_t)n) { unlink(tmp); return ATAS_ERR(ATAS_ERR_IO, "%s: short write", tmp); }
    s = atas_config_load(tmp, NULL, 0, old);
    unlink(tmp);
    if (s == ATAS_OK) *have = 1;
    return s;
}

static void differ_d(char *buf, size_t cap, const char *what, double a, double b) {
    if (a == b || (fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b)))) return;
    size_t l = strlen(buf);
    snprintf(buf + l, cap - l, "%s%s %.6g in the checkpoint, %.6g now", l ? "; " : "", what, a, b);
}

atas_status atas_resume_check_schedule(const char *ckpt_path, const atas_run_config *now, long long corpus_images,
                                       int allow, int rank) {
    atas_run_config *old = calloc(1, sizeof *old);
    if (!old) return ATAS_ERR(ATAS_ERR_NOMEM, "resume schedule check");
    int have = 0;
    if (load_ckpt_config(ckpt_path, old, &have) != ATAS_OK || !have) {
        /* an older or foreign checkpoint: nothing to compare with, say so */
        if (rank == 0)
            atas_warn("%s: its config cannot be read back (%s); the schedule is not checked against it", ckpt_path,
                      atas_error_message()[0] ? atas_error_message() : "none stored");
        atas_error_clear();
        free(old);
        return ATAS_OK;
    }
    char d[1200] = "";
    long long ts_old = (long long)atas_config_total_steps(old, corpus_images);
    long long ts_now = (long long)atas_config_total_steps(now, corpus_images);
    if (ts_old != ts_now) {
        snprintf(d, sizeof d, "total steps %lld in the checkpoint, %lld now (run.steps %d -> %d, run.epochs %d -> %d)",
                 ts_old, ts_now, old->run.steps, now->run.steps, old->run.epochs, now->run.epochs);
    }
    differ_d(d, sizeof d, "peak lr (optim.lr, scaled by the batch)", atas_config_peak_lr(old), atas_config_peak_lr(now));
    differ_d(d, sizeof d, "optim.warmup_steps", old->optim.warmup_steps, now->optim.warmup_steps);
    differ_d(d, sizeof d, "optim.min_lr", old->optim.min_lr, now->optim.min_lr);
    differ_d(d, sizeof d, "teacher.momentum_start", old->teacher.momentum_start, now->teacher.momentum_start);
    differ_d(d, sizeof d, "teacher.momentum_end", old->teacher.momentum_end, now->teacher.momentum_end);
    differ_d(d, sizeof d, "teacher.momentum_schedule", old->teacher.momentum_schedule, now->teacher.momentum_schedule);
    free(old);
    if (!d[0]) return ATAS_OK;
    if (!allow)
        return ATAS_ERR(ATAS_ERR_CONFIG,
                        "%s: resuming would change the schedule mid-run: %s. Resume with the config the run "
                        "started with, or pass --allow-schedule-change to continue on the new schedule",
                        ckpt_path, d);
    if (rank == 0)
        atas_warn("\n"
                  "********************************************************************************\n"
                  "SCHEDULE CHANGED on resume (--allow-schedule-change) from %s:\n  %s\n"
                  "The learning rate and teacher momentum follow the new schedule from here on.\n"
                  "********************************************************************************",
                  ckpt_path, d);
    return ATAS_OK;
}
