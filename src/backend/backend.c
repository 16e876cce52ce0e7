/* Backend selection and the CPU op table. The CUDA backend is chosen by name at
 * run time (src/backend/cuda/, built with ATAS_WITH_CUDA). */
#include <omp.h>
#include <string.h>
#include <cblas.h>

#include "backend/cpu/cpu_internal.h"
#ifdef ATAS_WITH_CUDA
#include "backend/cuda/cuda_backend.h"
#endif

static const atas_backend g_cpu = {
    .name = "cpu",
    .host_addressable = 1,
    .alloc = atas_cpu_alloc,
    .free = atas_cpu_free,
    .upload = atas_cpu_upload,
    .download = atas_cpu_download,
    .copy = atas_cpu_copy,
    .zero = atas_cpu_zero,
    .sync = atas_cpu_sync,
    .linear_fwd = atas_cpu_linear_fwd,
    .linear_bwd = atas_cpu_linear_bwd,
    .matmul_fwd = atas_cpu_matmul_fwd,
    .matmul_bwd = atas_cpu_matmul_bwd,
    .layernorm_fwd = atas_cpu_layernorm_fwd,
    .layernorm_bwd = atas_cpu_layernorm_bwd,
    .attention_workspace_bytes = atas_cpu_attention_workspace_bytes,
    .attention_fwd = atas_cpu_attention_fwd,
    .attention_bwd = atas_cpu_attention_bwd,
    .attention_causal_fwd = atas_cpu_attention_causal_fwd,
    .act_fwd = atas_cpu_act_fwd,
    .act_bwd = atas_cpu_act_bwd,
    .add = atas_cpu_add,
    .axpy = atas_cpu_axpy,
    .scale = atas_cpu_scale,
    .resample_fwd = atas_cpu_resample_fwd,
    .resample_bwd = atas_cpu_resample_bwd,
    .l2norm_fwd = atas_cpu_l2norm_fwd,
    .l2norm_bwd = atas_cpu_l2norm_bwd,
    .patchify = atas_cpu_patchify,
    .embed_fwd = atas_cpu_embed_fwd,
    .embed_bwd = atas_cpu_embed_bwd,
    .rows_gather = atas_cpu_rows_gather,
    .rows_scatter_add = atas_cpu_rows_scatter_add,
    .adamw = atas_cpu_adamw,
    .ema = atas_cpu_ema,
    .sumsq = atas_cpu_sumsq,
    .count_nonfinite = atas_cpu_count_nonfinite,
};

const atas_backend *atas_backend_cpu(void) { return &g_cpu; }

atas_status atas_backend_get(const char *name, const atas_backend **out) {
    REQUIRE(out, "atas_backend_get: NULL output pointer");
    *out = NULL;
    REQUIRE(name, "atas_backend_get: NULL backend name (expected \"cpu\" or \"cuda\")");
    if (strcmp(name, "cpu") == 0) {
        *out = &g_cpu;
        return ATAS_OK;
    }
    if (strcmp(name, "cpu-staged") == 0) {
        /* the CPU ops behind a table that says its memory is not host-addressable:
         * callers take their device code paths (upload, download, host staging) */
        static atas_backend staged;
        staged = g_cpu;
        staged.name = "cpu-staged";
        staged.host_addressable = 0;
        *out = &staged;
        return ATAS_OK;
    }
    if (strcmp(name, "cuda") == 0) {
#ifdef ATAS_WITH_CUDA
        CHECK(atas_cuda_backend_get(out));
        return ATAS_OK;
#else
        return ATAS_ERR(ATAS_ERR_UNSUPPORTED,
                        "backend \"cuda\": this build has no CUDA backend "
                        "(configure with -DATAS_WITH_CUDA=ON)");
#endif
    }
    return ATAS_ERR(ATAS_ERR_INVALID, "unknown backend \"%s\" (expected \"cpu\", \"cuda\" or \"cpu-staged\")",
                    name);
}

static int g_local_rank = 0;
void atas_backend_set_local_rank(int local_rank) { g_local_rank = local_rank < 0 ? 0 : local_rank; }
int atas_backend_local_rank(void) { return g_local_rank; }

void atas_cpu_set_threads(int n) {
    if (n <= 0) return;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int atas_cpu_threads(void) { return omp_get_max_threads(); }
