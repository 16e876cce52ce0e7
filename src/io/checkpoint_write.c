/* Checkpoints: complete or absent. Written to an unpredictable temporary name (every
 * tensor with a Fletcher32 checksum), fsync'd, renamed, then marked done with the file
 * size and the CRC-32 of the whole file; the last good one is never touched first. A
 * full disk is an error, never a crash. (Reading: checkpoint_read.c; trusting one:
 * checkpoint_verify.c; finding and pruning: checkpoint_files.c.) */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "atas/checkpoint.h"
#include "atas/safetensors.h" /* atas_write_file_atomic */
#include "atas/h5file.h"

static atas_status write_attrs(hid_t f, const atas_vit *m, const atas_ckpt_state *st,
                               const char *config, const char *pretrained) {
    ATAS_CHECK(atas_h5_attr_write_str(f, "format", ATAS_CKPT_FORMAT));
    ATAS_CHECK(atas_h5_attr_write_int(f, "format_version", ATAS_CKPT_VERSION));
    ATAS_CHECK(atas_model_h5_write_config(f, &m->cfg));
    ATAS_CHECK(atas_h5_attr_write_int(f, "step", st->step));
    ATAS_CHECK(atas_h5_attr_write_int(f, "epoch", st->epoch));
    ATAS_CHECK(atas_h5_attr_write_int(f, "step_in_epoch", st->step_in_epoch));
    ATAS_CHECK(atas_h5_attr_write_int(f, "nonfinite_total", st->nonfinite_total));
    ATAS_CHECK(atas_h5_attr_write_int(f, "nonfinite_in_row", st->nonfinite_in_row));
    ATAS_CHECK(atas_h5_attr_write_int(f, "seed", st->seed));
    ATAS_CHECK(atas_h5_attr_write_int(f, "world_size", st->world));
    ATAS_CHECK(atas_h5_attr_write_double(f, "elapsed_s", st->elapsed_s));
    ATAS_CHECK(atas_h5_attr_write_str(f, "config", config ? config : ""));
    ATAS_CHECK(atas_h5_attr_write_str(f, "pretrained", pretrained ? pretrained : ""));
    return ATAS_OK;
}

static atas_status write_locked(const char *dir, const atas_vit *student, const atas_vit *teacher,
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
    ATAS_CHECK(atas_h5_create_mem(path, (size_t)4 * sizeof(float) * student->nparams, &f));
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
    ATAS_CHECK(atas_write_file_atomic(done, line, (size_t)n));
    if (out_path) snprintf(out_path, out_cap, "%s", path);
    return ATAS_OK;
}

/* HDF5 is not thread-safe: the loader's I/O thread may be reading the corpus (the lock is recursive) */
atas_status atas_ckpt_write(const char *dir, const atas_vit *student, const atas_vit *teacher,
                            const float *adam_m, const float *adam_v, const atas_ckpt_state *st,
                            const char *resolved_config, const char *pretrained, char *out_path,
                            size_t out_cap) {
    atas_h5_lock();
    atas_status r = write_locked(dir, student, teacher, adam_m, adam_v, st, resolved_config, pretrained, out_path, out_cap);
    atas_h5_unlock();
    return r;
}
