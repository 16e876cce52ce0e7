/* Checkpoints: complete or absent, and verified before they are trusted. Written to an
 * unpredictable temporary name (every tensor with a Fletcher32 checksum), fsync'd,
 * renamed, then marked done with the file size and the CRC-32 of the whole file; the
 * last good one is never touched first. A full disk is an error, never a crash. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atas/h5file.h"
#include "atas/h5util.h"
#include "atas/safetensors.h"
#include "ckpt_verify.h"
#include "model_h5.h"
#include "atas/train.h"

static atas_status write_attrs(hid_t f, const atas_vit *m, const atas_ckpt_state *st,
                               const char *config, const char *pretrained) {
    CHECK(atas_h5_attr_write_str(f, "format", ATAS_CKPT_FORMAT));
    CHECK(atas_h5_attr_write_int(f, "format_version", ATAS_CKPT_VERSION));
    CHECK(atas_model_h5_write_config(f, &m->cfg));
    CHECK(atas_h5_attr_write_int(f, "step", st->step));
    CHECK(atas_h5_attr_write_int(f, "epoch", st->epoch));
    CHECK(atas_h5_attr_write_int(f, "step_in_epoch", st->step_in_epoch));
    CHECK(atas_h5_attr_write_int(f, "nonfinite_total", st->nonfinite_total));
    CHECK(atas_h5_attr_write_int(f, "nonfinite_in_row", st->nonfinite_in_row));
    CHECK(atas_h5_attr_write_int(f, "seed", st->seed));
    CHECK(atas_h5_attr_write_int(f, "world_size", st->world));
    CHECK(atas_h5_attr_write_double(f, "elapsed_s", st->elapsed_s));
    CHECK(atas_h5_attr_write_str(f, "config", config ? config : ""));
    CHECK(atas_h5_attr_write_str(f, "pretrained", pretrained ? pretrained : ""));
    return ATAS_OK;
}

atas_status atas_ckpt_write(const char *dir, const atas_vit *student, const atas_vit *teacher,
                            const float *adam_m, const float *adam_v, const atas_ckpt_state *st,
                            const char *resolved_config, const char *pretrained, char *out_path,
                            size_t out_cap) {
    char path[1200], done[1300];
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return ATAS_ERR(ATAS_ERR_IO, "%s: cannot create checkpoint directory: %s", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/ckpt-%08lld.h5", dir, st->step);
    snprintf(done, sizeof done, "%s.done", path);
    /* built in memory, then written by us: a full disk is an error, not an HDF5 crash */
    hid_t f;
    CHECK(atas_h5_create_mem(path, (size_t)4 * sizeof(float) * student->nparams, &f));
    atas_status s = write_attrs(f, student, st, resolved_config, pretrained);
    if (s == ATAS_OK) s = atas_model_h5_write_tensors(f, "student", student, student->params, 0);
    if (s == ATAS_OK) s = atas_model_h5_write_tensors(f, "teacher", teacher, teacher->params, 0);
    if (s == ATAS_OK && adam_m) s = atas_model_h5_write_tensors(f, "adam_m", student, adam_m, 1);
    if (s == ATAS_OK && adam_v) s = atas_model_h5_write_tensors(f, "adam_v", student, adam_v, 1);
    unsigned long crc = 0;
    long long size = 0;
    s = atas_h5_commit_mem(f, path, s, &size, &crc);
    if (s != ATAS_OK) {
        char why[1024];
        snprintf(why, sizeof why, "%s", atas_error_message());
        atas_error_clear();
        return ATAS_ERR(ATAS_ERR_IO, "checkpoint %s not written (the previous ones are kept): %s", path, why);
    }
    char line[64];
    int n = snprintf(line, sizeof line, "%lld %08lx\n", size, crc);
    CHECK(atas_write_file_atomic(done, line, (size_t)n));
    if (out_path) snprintf(out_path, out_cap, "%s", path);
    return ATAS_OK;
}

static atas_status read_group(hid_t f, const char *path, const char *group, const atas_vit *m,
                              float *dst, int optional_missing, int need_checksums) {
    float *host = NULL, *buf = dst;
    if (!m->be->host_addressable) {
        CHECK(atas_host_calloc((void **)&host, m->nparams * sizeof(float), "checkpoint staging"));
        buf = host;
    }
    atas_status st = ATAS_OK;
    for (int i = 0; i < m->ntensors && st == ATAS_OK; i++) {
        char name[192];
        snprintf(name, sizeof name, "%s/%s", group, m->info[i].name);
        if (optional_missing && !atas_h5_exists(f, name)) continue;
        if (need_checksums && atas_h5_exists(f, name) && !atas_h5_has_fletcher32(f, name)) {
            st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: dataset %s carries no Fletcher32 checksum", path, name);
            break;
        }
        int nd;
        size_t dims[8];
        st = atas_h5_shape(f, name, &nd, dims, path);
        if (st != ATAS_OK) break;
        int same = nd == m->info[i].ndim;
        for (int d = 0; same && d < nd; d++) same = dims[d] == (size_t)m->info[i].shape[d];
        if (!same) {
            char got[64] = "", want[64] = "";
            for (int d = 0; d < nd; d++) snprintf(got + strlen(got), sizeof got - strlen(got), "%s%zu", d ? "x" : "", dims[d]);
            for (int d = 0; d < m->info[i].ndim; d++)
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", d ? "x" : "", m->info[i].shape[d]);
            st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: %s has shape [%s], this model expects [%s]", path, name, got, want);
            break;
        }
        st = atas_h5_read_f32(f, name, buf + m->info[i].offset, m->info[i].numel, path);
    }
    if (st == ATAS_OK && host) st = m->be->upload(m->be, dst, host, m->nparams * sizeof(float));
    atas_host_free(host);
    CHECK(st);
    return ATAS_OK;
}

atas_status atas_ckpt_read(const char *path, atas_vit *student, atas_vit *teacher, float *adam_m,
                           float *adam_v, atas_ckpt_state *st) {
    char why[512];
    if (!atas_ckpt_marker_ok(path, why, sizeof why))
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: damaged: %s", path, why);
    hid_t f;
    CHECK(atas_h5_open_ro(path, &f));
    atas_status s = ATAS_OK;
    char fmt[64] = "";
    long long ver = 0, v;
    s = atas_h5_attr_read_str(f, "format", fmt, sizeof fmt, path);
    if (s == ATAS_OK && strcmp(fmt, ATAS_CKPT_FORMAT) != 0)
        s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: format \"%s\" is not an atas checkpoint", path, fmt);
    if (s == ATAS_OK) s = atas_h5_attr_read_int(f, "format_version", &ver, path);
    if (s == ATAS_OK && ver == 1)
        atas_warn("%s: a format version 1 checkpoint carries no checksums; its tensors cannot be verified", path);
    if (s == ATAS_OK && ver != ATAS_CKPT_VERSION && ver != 1)
        s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: checkpoint format version %lld, this build reads version %d",
                     path, ver, ATAS_CKPT_VERSION);
    const atas_vit_config *c = &student->cfg;
    const struct { const char *k; int want; } dims[] = {
        {"patch", c->patch}, {"width", c->width}, {"layers", c->layers}, {"heads", c->heads},
        {"mlp", c->mlp}, {"embed", c->embed}, {"grid", c->grid}};
    for (size_t i = 0; s == ATAS_OK && i < sizeof dims / sizeof dims[0]; i++) {
        s = atas_h5_attr_read_int(f, dims[i].k, &v, path);
        if (s == ATAS_OK && v != dims[i].want)
            s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: checkpoint is of another model shape: %s = %lld, the config says %d",
                         path, dims[i].k, v, dims[i].want);
    }
    if (s == ATAS_OK) {
        memset(st, 0, sizeof *st);
        struct { const char *k; long long *dst; } at[] = {
            {"step", &st->step}, {"epoch", &st->epoch}, {"step_in_epoch", &st->step_in_epoch},
            {"nonfinite_total", &st->nonfinite_total}, {"nonfinite_in_row", &st->nonfinite_in_row},
            {"seed", &st->seed}};
        for (size_t i = 0; s == ATAS_OK && i < sizeof at / sizeof at[0]; i++)
            s = atas_h5_attr_read_int(f, at[i].k, at[i].dst, path);
        if (s == ATAS_OK && atas_h5_attr_read_int(f, "world_size", &v, path) == ATAS_OK) st->world = (int)v;
        /* absent in checkpoints written before it: the resumed elapsed_s starts at 0 */
        if (s == ATAS_OK && H5Aexists(f, "elapsed_s") > 0) s = atas_h5_attr_read_double(f, "elapsed_s", &st->elapsed_s, path);
    }
    if (s == ATAS_OK && student) s = read_group(f, path, "student", student, student->params, 0, ver >= 2);
    if (s == ATAS_OK && teacher) s = read_group(f, path, "teacher", teacher, teacher->params, 0, ver >= 2);
    if (s == ATAS_OK && adam_m) s = read_group(f, path, "adam_m", student, adam_m, 1, ver >= 2);
    if (s == ATAS_OK && adam_v) s = read_group(f, path, "adam_v", student, adam_v, 1, ver >= 2);
    H5Fclose(f);
    CHECK(s);
    return ATAS_OK;
}

static int cmp_desc(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static int list_steps(const char *dir, long long *steps, int cap) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < cap) {
        long long s;
        char tail[16];
        if (sscanf(e->d_name, "ckpt-%lld.h5%15s", &s, tail) == 1 && strlen(e->d_name) == 16) steps[n++] = s;
    }
    closedir(d);
    qsort(steps, n, sizeof *steps, cmp_desc);
    return n;
}

/* complete = marker present, size and CRC-32 equal to the marker's, and every dataset
 * reads back with its checksum (atas_ckpt_verify) */
static int usable(const char *dir, long long step, char *why, size_t cap) {
    char path[1200];
    snprintf(path, sizeof path, "%s/ckpt-%08lld.h5", dir, step);
    return atas_ckpt_verify(path, why, cap);
}

atas_status atas_ckpt_find_latest(const char *dir, char *path, size_t cap) {
    long long steps[4096];
    int n = list_steps(dir, steps, 4096);
    path[0] = 0;
    for (int i = 0; i < n; i++) {
        char why[512];
        if (usable(dir, steps[i], why, sizeof why)) {
            snprintf(path, cap, "%s/ckpt-%08lld.h5", dir, steps[i]);
            return ATAS_OK;
        }
        atas_warn("checkpoint %s/ckpt-%08lld.h5 is damaged (%s); trying the previous one", dir, steps[i], why);
    }
    return ATAS_OK;
}

atas_status atas_ckpt_prune(const char *dir, int keep_last, int keep_every) {
    /* temporaries of writes that were killed (SIGKILL, node loss): rank 0 is the only
     * writer and its write has finished, so every ".ckpt-*.h5.XXXXXX" here is debris */
    DIR *dd = opendir(dir);
    struct dirent *de;
    while (dd && (de = readdir(dd))) {
        long long s;
        char rest[16];
        if (sscanf(de->d_name, ".ckpt-%lld.h5.%15s", &s, rest) == 2 && strlen(rest) == 6) {
            char p[1200];
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            unlink(p);
        }
    }
    if (dd) closedir(dd);
    long long steps[4096];
    int n = list_steps(dir, steps, 4096), kept = 0;
    for (int i = 0; i < n; i++) { /* newest first */
        if (keep_every > 0 && steps[i] % keep_every == 0) continue;
        if (kept < keep_last) { /* keep until keep_last good ones are kept */
            char why[256];
            if (usable(dir, steps[i], why, sizeof why)) kept++;
            continue;
        }
        char p[1200];
        snprintf(p, sizeof p, "%s/ckpt-%08lld.h5.done", dir, steps[i]);
        unlink(p); /* marker first: a half-deleted checkpoint reads as incomplete */
        snprintf(p, sizeof p, "%s/ckpt-%08lld.h5", dir, steps[i]);
        unlink(p);
    }
    return ATAS_OK;
}
