/* The CUDA op table (written in C: the registry's shared checks and designated
 * initialisers) and the "cuda" entry point: the backend's context (device,
 * streams, handles) is created on the first request and hangs off the table's
 * ctx member; the ops find everything they need there. */
#include <pthread.h>

#include "backend/cuda/cuda_backend.h"

/* the CUDA functions behind the registry's shared checks (op_checked.h) */
#define ATAS_OP_IMPL(name) atas_cuda_##name
#include "backend/op_checked.h"

/* not const: ctx is filled in once, under g_lock, before a table is handed out.
 * One table per precision (be->precision picks the GEMM compute type and the
 * attention kernel); they share the one context. */
static atas_backend g_cuda[ATAS_PREC_COUNT] = {
    {.name = "cuda", .host_addressable = 0, .ctx = NULL, .precision = ATAS_PREC_FP32,
#include "backend/op_table_entries.inc"
    },
    {.name = "cuda", .host_addressable = 0, .ctx = NULL, .precision = ATAS_PREC_TF32,
#include "backend/op_table_entries.inc"
    },
    {.name = "cuda", .host_addressable = 0, .ctx = NULL, .precision = ATAS_PREC_BF16,
#include "backend/op_table_entries.inc"
    },
};
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

atas_status atas_cuda_backend_get_precision(int prec, const atas_backend **out) {
    if (prec < 0 || prec >= ATAS_PREC_COUNT) return ATAS_ERR(ATAS_ERR_INVALID, "cuda: unknown precision %d", prec);
    pthread_mutex_lock(&g_lock);
    atas_status st = ATAS_OK;
    if (!g_cuda[0].ctx) st = atas_cuda_ctx_create(&g_cuda[0].ctx);
    for (int p = 1; p < ATAS_PREC_COUNT; p++) g_cuda[p].ctx = g_cuda[0].ctx;
    pthread_mutex_unlock(&g_lock);
    ATAS_CHECK(st);
    *out = &g_cuda[prec];
    return ATAS_OK;
}

void atas_cuda_backend_release(const atas_backend *be) {
    if (be < &g_cuda[0] || be >= &g_cuda[ATAS_PREC_COUNT]) return;
    pthread_mutex_lock(&g_lock);
    if (g_cuda[0].ctx) {
        atas_cuda_coll_destroy(&g_cuda[0]); /* flushes the communicator before it goes */
        atas_cuda_ctx_destroy(g_cuda[0].ctx);
    }
    for (int p = 0; p < ATAS_PREC_COUNT; p++) g_cuda[p].ctx = NULL;
    pthread_mutex_unlock(&g_lock);
}
