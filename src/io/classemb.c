/* Class-embedding files: root attributes format/version/model/templates,
 * datasets embeddings [K,E] f32, category_ids [K] i32, isthing [K] i32,
 * names [K] variable-length UTF-8 strings. */
#include "atas/classemb.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atas/h5util.h"

static atas_status write_names(hid_t f, char *const *names, int K) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hsize_t d = (hsize_t)K;
    hid_t sp = H5Screate_simple(1, &d, NULL);
    hid_t ds = H5Dcreate2(f, "names", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = ds >= 0 ? H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, names) : -1;
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(sp);
    H5Tclose(t);
    if (e < 0) return ATAS_ERR(ATAS_ERR_IO, "cannot write dataset names");
    return ATAS_OK;
}

static atas_status write_all(hid_t f, const atas_classemb *c) {
    size_t d2[2] = {(size_t)c->K, (size_t)c->E}, d1[1] = {(size_t)c->K};
    ATAS_CHECK(atas_h5_attr_write_str(f, "format", ATAS_CLASSEMB_FORMAT));
    ATAS_CHECK(atas_h5_attr_write_int(f, "version", ATAS_CLASSEMB_VERSION));
    ATAS_CHECK(atas_h5_attr_write_int(f, "templates", c->n_templates));
    ATAS_CHECK(atas_h5_attr_write_str(f, "model", c->model));
    ATAS_CHECK(atas_h5_write_f32(f, "embeddings", c->emb, 2, d2));
    ATAS_CHECK(atas_h5_write_i32(f, "category_ids", c->category_id, 1, d1));
    ATAS_CHECK(atas_h5_write_i32(f, "isthing", c->isthing, 1, d1));
    ATAS_CHECK(write_names(f, c->names, c->K));
    return ATAS_OK;
}

atas_status atas_classemb_write(const char *path, const atas_classemb *c) {
    ATAS_REQUIRE(c->K > 0 && c->E > 0, "%s: %d classes of width %d", path, c->K, c->E);
    for (int k = 0; k < c->K; k++) {
        double s = 0;
        for (int j = 0; j < c->E; j++) s += (double)c->emb[(size_t)k * c->E + j] * c->emb[(size_t)k * c->E + j];
        if (!(fabs(sqrt(s) - 1) < 1e-4))
            return ATAS_ERR(ATAS_ERR_INVALID, "%s: class %d (%s) embedding has norm %g, expected 1", path,
                            k, c->names[k], sqrt(s));
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    atas_h5_lock();
    hid_t f;
    atas_status st = atas_h5_create(tmp, &f);
    if (st == ATAS_OK) {
        st = write_all(f, c);
        atas_status cs = atas_h5_close(f, tmp);
        if (st == ATAS_OK) st = cs;
        if (st == ATAS_OK && rename(tmp, path) != 0)
            st = ATAS_ERR(ATAS_ERR_IO, "%s: cannot rename to %s", tmp, path);
        if (st != ATAS_OK) remove(tmp);
    }
    atas_h5_unlock();
    if (st != ATAS_OK) return atas_error_trace(st, __FILE__, __LINE__, __func__);
    return ATAS_OK;
}

void atas_classemb_free(atas_classemb *c) {
    if (c->names)
        for (int k = 0; k < c->K; k++) free(c->names[k]);
    free(c->names);
    free(c->emb);
    free(c->category_id);
    free(c->isthing);
    memset(c, 0, sizeof *c);
}

static atas_status read_names(hid_t f, atas_classemb *c, const char *path) {
    hid_t ds = H5Dopen2(f, "names", H5P_DEFAULT);
    if (ds < 0) return ATAS_ERR(ATAS_ERR_FORMAT, "%s: dataset names is missing", path);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Dget_space(ds);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    char **tmp = n == c->K ? calloc((size_t)c->K, sizeof *tmp) : NULL;
    herr_t e = tmp ? H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp) : -1;
    atas_status st = ATAS_OK;
    if (n != c->K) st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: names has %lld entries, expected %d", path, (long long)n, c->K);
    else if (e < 0) st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: names is not a string dataset", path);
    else {
        c->names = calloc((size_t)c->K, sizeof *c->names);
        for (int k = 0; k < c->K && c->names; k++) c->names[k] = strdup(tmp[k] ? tmp[k] : "");
        if (!c->names) st = ATAS_ERR(ATAS_ERR_NOMEM, "%s: names", path);
        H5Dvlen_reclaim(t, sp, H5P_DEFAULT, tmp);
    }
    free(tmp);
    H5Sclose(sp);
    H5Tclose(t);
    H5Dclose(ds);
    return st;
}

static atas_status read_all(hid_t f, atas_classemb *c, const char *path) {
    char fmt[64];
    long long ver = 0, nt = 0;
    ATAS_CHECK(atas_h5_attr_read_str(f, "format", fmt, sizeof fmt, path));
    if (strcmp(fmt, ATAS_CLASSEMB_FORMAT))
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: format attribute is \"%s\", expected \"%s\"", path, fmt,
                        ATAS_CLASSEMB_FORMAT);
    ATAS_CHECK(atas_h5_attr_read_int(f, "version", &ver, path));
    if (ver != ATAS_CLASSEMB_VERSION)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: version %lld, this build reads %d", path, ver, ATAS_CLASSEMB_VERSION);
    ATAS_CHECK(atas_h5_attr_read_int(f, "templates", &nt, path));
    c->n_templates = (int)nt;
    ATAS_CHECK(atas_h5_attr_read_str(f, "model", c->model, sizeof c->model, path));
    int nd;
    size_t dims[8];
    ATAS_CHECK(atas_h5_shape(f, "embeddings", &nd, dims, path));
    if (nd != 2 || dims[0] < 1 || dims[1] < 1 || dims[0] > 1000000 || dims[1] > 65536)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: embeddings must be [K,E] with 1 <= K <= 1e6, 1 <= E <= 65536", path);
    c->K = (int)dims[0];
    c->E = (int)dims[1];
    c->emb = malloc(dims[0] * dims[1] * sizeof(float));
    c->category_id = malloc(dims[0] * sizeof(int));
    c->isthing = malloc(dims[0] * sizeof(int));
    if (!c->emb || !c->category_id || !c->isthing) return ATAS_ERR(ATAS_ERR_NOMEM, "%s: %d x %d", path, c->K, c->E);
    ATAS_CHECK(atas_h5_read_f32(f, "embeddings", c->emb, dims[0] * dims[1], path));
    ATAS_CHECK(atas_h5_read_i32(f, "category_ids", c->category_id, dims[0], path));
    ATAS_CHECK(atas_h5_read_i32(f, "isthing", c->isthing, dims[0], path));
    ATAS_CHECK(read_names(f, c, path));
    return ATAS_OK;
}

atas_status atas_classemb_read(const char *path, atas_classemb *c) {
    memset(c, 0, sizeof *c);
    atas_h5_lock();
    hid_t f;
    atas_status st = atas_h5_open_ro(path, &f);
    if (st == ATAS_OK) {
        st = read_all(f, c, path);
        H5Fclose(f);
    }
    atas_h5_unlock();
    if (st != ATAS_OK) {
        atas_classemb_free(c);
        return atas_error_trace(st, __FILE__, __LINE__, __func__);
    }
    return ATAS_OK;
}
