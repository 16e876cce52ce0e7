/* Shared by the ViT tests: a tiny config, random inputs, and the HDF5 exchange
 * with the PyTorch reference (tools/ref/clip_ref.py). */
#ifndef ATAS_VIT_TEST_COMMON_H
#define ATAS_VIT_TEST_COMMON_H

#include <string.h>

#include "atas/h5util.h"
#include "atas/vit.h"
#include "test_util.h"

static inline atas_vit_config tiny_cfg(atas_act act) {
    atas_vit_config c = {.patch = 4, .width = 32, .layers = 3, .heads = 4, .mlp = 64, .embed = 16,
                         .grid = 4, .act = act, .ln_eps = 1e-5f};
    return c;
}

static inline float *rand_buf(size_t n, uint64_t seed, float std) {
    float *x;
    if (atas_host_alloc((void **)&x, n * sizeof(float), "test") != ATAS_OK) exit(1);
    atas_rng r = atas_rng_stream(seed, 77, 0);
    for (size_t i = 0; i < n; i++) x[i] = std * atas_rng_normal(&r);
    return x;
}

/* Write config attrs + every parameter (OpenCLIP names) under /params. */
static inline atas_status write_model_h5(hid_t f, const atas_vit *m, const float *params) {
    const atas_vit_config *c = &m->cfg;
    CHECK(atas_h5_attr_write_int(f, "patch", c->patch));
    CHECK(atas_h5_attr_write_int(f, "width", c->width));
    CHECK(atas_h5_attr_write_int(f, "layers", c->layers));
    CHECK(atas_h5_attr_write_int(f, "heads", c->heads));
    CHECK(atas_h5_attr_write_int(f, "mlp", c->mlp));
    CHECK(atas_h5_attr_write_int(f, "embed", c->embed));
    CHECK(atas_h5_attr_write_int(f, "grid", c->grid));
    CHECK(atas_h5_attr_write_str(f, "act", c->act == ATAS_ACT_GELU ? "gelu" : "quickgelu"));
    CHECK(atas_h5_attr_write_double(f, "ln_eps", c->ln_eps));
    for (int i = 0; i < m->ntensors; i++) {
        char name[160];
        size_t dims[4];
        for (int d = 0; d < m->info[i].ndim; d++) dims[d] = (size_t)m->info[i].shape[d];
        snprintf(name, sizeof name, "params/%s", m->info[i].name);
        CHECK(atas_h5_write_f32(f, name, params + m->info[i].offset, m->info[i].ndim, dims));
    }
    return ATAS_OK;
}

#endif
