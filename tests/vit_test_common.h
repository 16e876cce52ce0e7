/* Shared by the ViT tests: a tiny config and random inputs (model layer only;
 * vit_test_h5.h adds the HDF5 exchange with the PyTorch reference). */
#ifndef ATAS_VIT_TEST_COMMON_H
#define ATAS_VIT_TEST_COMMON_H

#include <string.h>

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

#endif
