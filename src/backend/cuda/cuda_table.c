/* The CUDA op table (written in C: the registry's shared checks and designated
 * initialisers) and the "cuda" entry point: the device and cuBLAS are set up on
 * the first request. */
#include "backend/cuda/cuda_backend.h"

/* the CUDA functions behind the registry's shared checks (op_checked.h) */
#define ATAS_OP_IMPL(name) atas_cuda_##name
#include "backend/op_checked.h"

static const atas_backend g_cuda = {
    .name = "cuda",
    .host_addressable = 0,
#include "backend/op_table_entries.inc"
};

atas_status atas_cuda_backend_get(const atas_backend **out) {
    CHECK(atas_cuda_init());
    *out = &g_cuda;
    return ATAS_OK;
}
