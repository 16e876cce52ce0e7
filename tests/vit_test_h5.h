/* The HDF5 exchange of the ViT tests with the PyTorch reference
 * (tools/ref/clip_ref.py): the same writer as checkpoints and dumps use. */
#ifndef ATAS_VIT_TEST_H5_H
#define ATAS_VIT_TEST_H5_H

#include "atas/h5util.h"
#include "atas/checkpoint.h"
#include "vit_test_common.h"

/* config attrs + every parameter (OpenCLIP names) under /params */
static inline atas_status write_model_h5(hid_t f, const atas_vit *m, const float *params) {
    ATAS_CHECK(atas_model_h5_write_config(f, &m->cfg));
    ATAS_CHECK(atas_model_h5_write_tensors(f, "params", m, params, 0));
    return ATAS_OK;
}

#endif
