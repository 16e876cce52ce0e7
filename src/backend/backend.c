/* Backend selection and the CPU op table. The CUDA backend is chosen by name at
 * run time and loaded as a module (module.c; src/backend/cuda/, built with
 * ATAS_WITH_CUDA). */
#include <omp.h>
#include <stdatomic.h>
#include <string.h>
#include <cblas.h>

#include "backend/cpu/cpu_internal.h"
#include "backend/module.h"

/* the CPU functions behind the registry's shared checks (op_checked.h) */
#define ATAS_OP_IMPL(name) atas_cpu_##name
#include "backend/op_checked.h"

/* one "cpu" and one "cpu-staged" table per precision (the CPU ops read
 * be->precision and round the GEMM inputs; docs/backend.md "Precision") */
static const atas_backend g_cpu_tab[ATAS_PREC_COUNT] = {
    {.name = "cpu", .host_addressable = 1, .precision = ATAS_PREC_FP32,
#include "backend/op_table_entries.inc"
    },
    {.name = "cpu", .host_addressable = 1, .precision = ATAS_PREC_TF32,
#include "backend/op_table_entries.inc"
    },
    {.name = "cpu", .host_addressable = 1, .precision = ATAS_PREC_BF16,
#include "backend/op_table_entries.inc"
    },
};
/* the CPU ops behind a table that says its memory is not host-addressable:
 * callers take their device code paths (upload, download, host staging) */
static const atas_backend g_cpu_staged_tab[ATAS_PREC_COUNT] = {
    {.name = "cpu-staged", .host_addressable = 0, .precision = ATAS_PREC_FP32,
#include "backend/op_table_entries.inc"
    },
    {.name = "cpu-staged", .host_addressable = 0, .precision = ATAS_PREC_TF32,
#include "backend/op_table_entries.inc"
    },
    {.name = "cpu-staged", .host_addressable = 0, .precision = ATAS_PREC_BF16,
#include "backend/op_table_entries.inc"
    },
};

const atas_backend *atas_backend_cpu(void) { return &g_cpu_tab[ATAS_PREC_FP32]; }

void atas_backend_release(const atas_backend *be) {
    if (!be || !be->ctx) return; /* cpu, cpu-staged: nothing was created */
    if (strcmp(be->name, "cuda") == 0) atas_backend_module_release(be);
}

atas_status atas_backend_get(const char *name, const atas_backend **out) {
    return atas_backend_get_precision(name, ATAS_PREC_FP32, out);
}

atas_status atas_backend_get_precision(const char *name, atas_precision p, const atas_backend **out) {
    ATAS_REQUIRE(out, "atas_backend_get: NULL output pointer");
    *out = NULL;
    ATAS_REQUIRE(name, "atas_backend_get: NULL backend name (expected \"cpu\" or \"cuda\")");
    if ((int)p < 0 || (int)p >= ATAS_PREC_COUNT)
        return ATAS_ERR(ATAS_ERR_INVALID, "backend \"%s\": unknown precision %d", name, (int)p);
    if (strcmp(name, "cpu") == 0) {
        *out = &g_cpu_tab[p];
        return ATAS_OK;
    }
    if (strcmp(name, "cpu-staged") == 0) {
        *out = &g_cpu_staged_tab[p];
        return ATAS_OK;
    }
    if (strcmp(name, "cuda") == 0) {
#ifdef ATAS_WITH_CUDA
        ATAS_CHECK(atas_backend_module_get((int)p, out));
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

/* set by the rank's main thread, read where a device backend starts (any thread) */
static _Atomic int g_local_rank = 0;
void atas_backend_set_local_rank(int local_rank) {
    atomic_store_explicit(&g_local_rank, local_rank < 0 ? 0 : local_rank, memory_order_relaxed);
}
int atas_backend_local_rank(void) { return atomic_load_explicit(&g_local_rank, memory_order_relaxed); }
static _Atomic int g_local_size = 1;
void atas_backend_set_local_size(int local_size) {
    atomic_store_explicit(&g_local_size, local_size < 1 ? 1 : local_size, memory_order_relaxed);
}
int atas_backend_local_size(void) { return atomic_load_explicit(&g_local_size, memory_order_relaxed); }

void atas_cpu_set_threads(int n) {
    if (n <= 0) return;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int atas_cpu_threads(void) { return omp_get_max_threads(); }

/* transfer counters: every backend's upload/download adds to them */
static _Atomic unsigned long long g_h2d = 0, g_d2h = 0;
void atas_backend_count_transfer(int to_device, size_t bytes) {
    atomic_fetch_add_explicit(to_device ? &g_h2d : &g_d2h, (unsigned long long)bytes, memory_order_relaxed);
}
void atas_backend_transfer_bytes(unsigned long long *h2d, unsigned long long *d2h) {
    if (h2d) *h2d = atomic_load_explicit(&g_h2d, memory_order_relaxed);
    if (d2h) *d2h = atomic_load_explicit(&g_d2h, memory_order_relaxed);
}

/* op-call counter: the shared checks (op_checked.h) of every backend add to it */
static _Atomic unsigned long long g_op_calls = 0;
void atas_backend_count_op_call(void) { atomic_fetch_add_explicit(&g_op_calls, 1, memory_order_relaxed); }
unsigned long long atas_backend_op_calls(void) { return atomic_load_explicit(&g_op_calls, memory_order_relaxed); }
