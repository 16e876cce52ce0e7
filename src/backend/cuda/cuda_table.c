/* The CUDA op table (written in C for its designated initialisers) and the
 * "cuda" entry point: the device and cuBLAS are set up on the first request. */
#include "backend/cuda/cuda_backend.h"

static const atas_backend g_cuda = {
    .name = "cuda",
    .host_addressable = 0,
    .alloc = atas_cuda_alloc,
    .free = atas_cuda_free,
    .upload = atas_cuda_upload,
    .download = atas_cuda_download,
    .copy = atas_cuda_copy,
    .zero = atas_cuda_zero,
    .sync = atas_cuda_sync,
    .linear_fwd = atas_cuda_linear_fwd,
    .linear_bwd = atas_cuda_linear_bwd,
    .matmul_fwd = atas_cuda_matmul_fwd,
    .matmul_bwd = atas_cuda_matmul_bwd,
    .layernorm_fwd = atas_cuda_layernorm_fwd,
    .layernorm_bwd = atas_cuda_layernorm_bwd,
    .attention_workspace_bytes = atas_cuda_attention_workspace_bytes,
    .attention_fwd = atas_cuda_attention_fwd,
    .attention_bwd = atas_cuda_attention_bwd,
    .attention_causal_fwd = atas_cuda_attention_causal_fwd,
    .act_fwd = atas_cuda_act_fwd,
    .act_bwd = atas_cuda_act_bwd,
    .add = atas_cuda_add,
    .axpy = atas_cuda_axpy,
    .scale = atas_cuda_scale,
    .resample_fwd = atas_cuda_resample_fwd,
    .resample_bwd = atas_cuda_resample_bwd,
    .l2norm_fwd = atas_cuda_l2norm_fwd,
    .l2norm_bwd = atas_cuda_l2norm_bwd,
    .patchify = atas_cuda_patchify,
    .embed_fwd = atas_cuda_embed_fwd,
    .embed_bwd = atas_cuda_embed_bwd,
    .rows_gather = atas_cuda_rows_gather,
    .rows_scatter_add = atas_cuda_rows_scatter_add,
    .adamw = atas_cuda_adamw,
    .ema = atas_cuda_ema,
    .sumsq = atas_cuda_sumsq,
    .count_nonfinite = atas_cuda_count_nonfinite,
};

atas_status atas_cuda_backend_get(const atas_backend **out) {
    CHECK(atas_cuda_init());
    *out = &g_cuda;
    return ATAS_OK;
}
