/* Reading a checkpoint back into created models of the same shape (resume). */
#include <string.h>

#include "atas/checkpoint.h"
#include "checkpoint_internal.h"

static atas_status read_group(hid_t f, const char *path, const char *group, const atas_vit *m,
                              float *dst, int optional_missing, int need_checksums) {
    float *host = NULL, *buf = dst;
    if (!m->be->host_addressable) {
        ATAS_CHECK(atas_host_calloc((void **)&host, m->nparams * sizeof(float), "checkpoint staging"));
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
    ATAS_CHECK(st);
    return ATAS_OK;
}

static atas_status read_locked(const char *path, atas_vit *student, atas_vit *teacher, float *adam_m,
                           float *adam_v, atas_ckpt_state *st) {
    char why[512];
    if (!atas_ckpt_marker_ok(path, why, sizeof why))
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: damaged: %s", path, why);
    hid_t f;
    ATAS_CHECK(atas_h5_open_ro(path, &f));
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
    for (size_t i = 0; s == ATAS_OK && i < ATAS_CKPT_NDIMS; i++) {
        const int want = atas_ckpt_dim_get(c, i);
        s = atas_h5_attr_read_int(f, atas_ckpt_dims[i].name, &v, path);
        if (s == ATAS_OK && v != want)
            s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: checkpoint is of another model shape: %s = %lld, the config says %d",
                         path, atas_ckpt_dims[i].name, v, want);
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
    ATAS_CHECK(s);
    return ATAS_OK;
}

/* HDF5 is not thread-safe: the loader's I/O thread may be reading the corpus (the lock is recursive) */
atas_status atas_ckpt_read(const char *path, atas_vit *student, atas_vit *teacher, float *adam_m,
                           float *adam_v, atas_ckpt_state *st) {
    atas_h5_lock();
    atas_status r = read_locked(path, student, teacher, adam_m, adam_v, st);
    atas_h5_unlock();
    return r;
}
