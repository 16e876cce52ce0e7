/* A model's tensors and shape as HDF5 (checkpoints, the trainer's debug dumps). */
#include "atas/checkpoint.h"
#include "checkpoint_internal.h"

#include <stdio.h>

atas_status atas_model_h5_write_tensors(hid_t f, const char *group, const atas_vit *m,
                                        const float *src, int only_trainable) {
    const float *buf = src;
    float *host = NULL;
    if (!m->be->host_addressable) {
        ATAS_CHECK(atas_host_alloc((void **)&host, m->nparams * sizeof(float), "HDF5 staging"));
        atas_status s = m->be->download(m->be, host, src, m->nparams * sizeof(float));
        if (s != ATAS_OK) { atas_host_free(host); ATAS_CHECK(s); }
        buf = host;
    }
    atas_status st = ATAS_OK;
    for (int i = 0; i < m->ntensors && st == ATAS_OK; i++) {
        if (only_trainable && !m->trainable[i]) continue;
        char name[192];
        size_t dims[4];
        for (int d = 0; d < m->info[i].ndim; d++) dims[d] = (size_t)m->info[i].shape[d];
        snprintf(name, sizeof name, "%s/%s", group, m->info[i].name);
        st = atas_h5_write_f32_checked(f, name, buf + m->info[i].offset, m->info[i].ndim, dims);
    }
    atas_host_free(host);
    ATAS_CHECK(st);
    return ATAS_OK;
}

atas_status atas_model_h5_write_config(hid_t f, const atas_vit_config *c) {
    for (size_t i = 0; i < ATAS_CKPT_NDIMS; i++)
        ATAS_CHECK(atas_h5_attr_write_int(f, atas_ckpt_dims[i].name, atas_ckpt_dim_get(c, i)));
    ATAS_CHECK(atas_h5_attr_write_str(f, "act", c->act == ATAS_ACT_GELU ? "gelu" : "quickgelu"));
    ATAS_CHECK(atas_h5_attr_write_double(f, "ln_eps", c->ln_eps));
    /* the block family: readers of older checkpoints (no attribute) take "clip" */
    ATAS_CHECK(atas_h5_attr_write_str(f, "family", c->family == ATAS_VIT_EVA02 ? "eva02" : "clip"));
    return ATAS_OK;
}
