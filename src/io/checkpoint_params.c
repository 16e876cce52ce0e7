/* Reading the model part of an atas checkpoint without a created model (HDF5,
 * "atas-checkpoint" v1 and v2): root attributes give the config, /student and
 * /teacher one float32 dataset per tensor named by its OpenCLIP name. Used by
 * atas_convert and the embed pipeline. */
#include <hdf5.h>
#include <string.h>

#include "atas/checkpoint.h"
#include "checkpoint_internal.h"
#include "atas/fileio.h"

static atas_status attr_string(hid_t f, const char *path, const char *name, char *out, size_t cap) {
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0) return ATAS_ERR(ATAS_ERR_FORMAT, "%s: root attribute '%s' missing", path, name);
    hid_t ft = H5Aget_type(a);
    atas_status s = ATAS_OK;
    if (H5Tget_class(ft) != H5T_STRING) {
        s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: root attribute '%s' is not a string", path, name);
    } else if (H5Tis_variable_str(ft) > 0) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(ft));
        char *v = NULL;
        if (H5Aread(a, mt, &v) < 0) s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: cannot read attribute '%s'", path, name);
        else snprintf(out, cap, "%s", v ? v : "");
        if (v) H5free_memory(v);
        H5Tclose(mt);
    } else {
        size_t n = H5Tget_size(ft);
        char buf[4096] = {0};
        if (n >= sizeof buf) {
            s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: attribute '%s' is longer than %zu bytes", path, name,
                         sizeof buf - 1);
        } else {
            hid_t mt = H5Tcopy(ft);
            if (H5Aread(a, mt, buf) < 0)
                s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: cannot read attribute '%s'", path, name);
            else snprintf(out, cap, "%.*s", (int)n, buf);
            H5Tclose(mt);
        }
    }
    H5Tclose(ft);
    H5Aclose(a);
    return s;
}

static atas_status attr_num(hid_t f, const char *path, const char *name, hid_t mtype, void *out) {
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0) return ATAS_ERR(ATAS_ERR_FORMAT, "%s: root attribute '%s' missing", path, name);
    hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
    H5T_class_t cl = H5Tget_class(ft);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    atas_status s = ATAS_OK;
    if ((cl != H5T_INTEGER && cl != H5T_FLOAT) || np != 1 || H5Aread(a, mtype, out) < 0)
        s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: root attribute '%s' is not a number", path, name);
    H5Sclose(sp);
    H5Tclose(ft);
    H5Aclose(a);
    return s;
}

static atas_status open_ckpt(const char *path, hid_t *f) {
    ATAS_CHECK(atas_require_regular_file(path, "checkpoint"));
    ATAS_CHECK(atas_h5_open_ro(path, f));
    char fmt[64];
    atas_status s = attr_string(*f, path, "format", fmt, sizeof fmt);
    if (s == ATAS_OK && strcmp(fmt, ATAS_CKPT_FORMAT) != 0)
        s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: attribute format = \"%s\", expected \"" ATAS_CKPT_FORMAT "\"",
                     path, fmt);
    int ver = 0;
    if (s == ATAS_OK) s = attr_num(*f, path, "format_version", H5T_NATIVE_INT, &ver);
    if (s == ATAS_OK && ver != 1 && ver != ATAS_CKPT_VERSION) /* 1: the same without checksums */
        s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: format_version = %d, this build reads 1 and %d", path, ver,
                     ATAS_CKPT_VERSION);
    if (s != ATAS_OK) H5Fclose(*f);
    return s;
}

static atas_status read_model_locked(const char *path, atas_vit_config *c, char *pretrained, size_t cap) {
    atas_h5_quiet_state q;
    atas_h5_quiet_begin(&q);
    hid_t f;
    atas_status s = open_ckpt(path, &f);
    if (s != ATAS_OK) { atas_h5_quiet_end(&q); ATAS_CHECK(s); }
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < ATAS_CKPT_NDIMS && s == ATAS_OK; i++)
        s = attr_num(f, path, atas_ckpt_dims[i].name, H5T_NATIVE_INT, atas_ckpt_dim_at(c, i));
    char act[32] = "";
    double eps = 0;
    if (s == ATAS_OK) s = attr_string(f, path, "act", act, sizeof act);
    if (s == ATAS_OK) s = attr_num(f, path, "ln_eps", H5T_NATIVE_DOUBLE, &eps);
    if (s == ATAS_OK) {
        if (strcmp(act, "quickgelu") == 0) c->act = ATAS_ACT_QUICKGELU;
        else if (strcmp(act, "gelu") == 0) c->act = ATAS_ACT_GELU;
        else s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: attribute act = \"%s\", expected quickgelu or gelu", path, act);
        c->ln_eps = (float)eps;
    }
    if (s == ATAS_OK && H5Aexists(f, "family") > 0) { /* absent in checkpoints before EVA02: CLIP */
        char fam[32] = "";
        s = attr_string(f, path, "family", fam, sizeof fam);
        if (s == ATAS_OK && strcmp(fam, "eva02") == 0) c->family = ATAS_VIT_EVA02;
        else if (s == ATAS_OK && strcmp(fam, "clip") != 0)
            s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: attribute family = \"%s\", expected clip or eva02", path, fam);
    }
    if (s == ATAS_OK && pretrained) {
        pretrained[0] = 0;
        if (H5Aexists(f, "pretrained") > 0) s = attr_string(f, path, "pretrained", pretrained, cap);
    }
    H5Fclose(f);
    atas_h5_quiet_end(&q);
    ATAS_CHECK(s);
    ATAS_CHECK(atas_vit_config_check(c, path));
    return ATAS_OK;
}

static atas_status read_params_locked(const char *path, const char *group, const atas_param_info *info,
                                  int n, float *host) {
    atas_h5_quiet_state q;
    atas_h5_quiet_begin(&q);
    hid_t f;
    atas_status s = open_ckpt(path, &f);
    if (s != ATAS_OK) { atas_h5_quiet_end(&q); ATAS_CHECK(s); }
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    if (g < 0) s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: group /%s missing", path, group);
    for (int i = 0; i < n && s == ATAS_OK; i++) {
        const atas_param_info *t = &info[i];
        hid_t d = H5Dopen2(g, t->name, H5P_DEFAULT);
        if (d < 0) { s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: dataset /%s/%s missing", path, group, t->name); break; }
        hid_t sp = H5Dget_space(d);
        hsize_t dims[8] = {0};
        int nd = H5Sget_simple_extent_ndims(sp);
        int ok = nd == t->ndim && nd <= 8;
        if (ok) H5Sget_simple_extent_dims(sp, dims, NULL);
        for (int k = 0; ok && k < nd; k++) ok = dims[k] == (hsize_t)t->shape[k];
        if (!ok) {
            char e[96] = "", g2[96] = "";
            size_t a = 0, b = 0;
            for (int k = 0; k < t->ndim; k++) a += (size_t)snprintf(e + a, sizeof e - a, "%s%d", k ? "," : "", t->shape[k]);
            for (int k = 0; k < nd && k < 8; k++) b += (size_t)snprintf(g2 + b, sizeof g2 - b, "%s%llu", k ? "," : "", (unsigned long long)dims[k]);
            s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: dataset /%s/%s: expected shape [%s], found [%s]", path,
                         group, t->name, e, g2);
        } else if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, host + t->offset) < 0) {
            s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: cannot read dataset /%s/%s as float", path, group, t->name);
        }
        H5Sclose(sp);
        H5Dclose(d);
    }
    if (g >= 0) H5Gclose(g);
    H5Fclose(f);
    atas_h5_quiet_end(&q);
    ATAS_CHECK(s);
    return ATAS_OK;
}

/* HDF5 is not thread-safe: the loader's I/O thread may be reading the corpus (the lock is recursive) */
atas_status atas_ckpt_read_model(const char *path, atas_vit_config *c, char *pretrained, size_t cap) {
    atas_h5_lock();
    atas_status r = read_model_locked(path, c, pretrained, cap);
    atas_h5_unlock();
    return r;
}

/* the same lock */
atas_status atas_ckpt_read_params(const char *path, const char *group, const atas_param_info *info,
                                  int n, float *host) {
    atas_h5_lock();
    atas_status r = read_params_locked(path, group, info, n, host);
    atas_h5_unlock();
    return r;
}
