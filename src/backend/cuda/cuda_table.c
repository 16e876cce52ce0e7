/* The CUDA op table (written in C: the registry's shared checks and designated
 * initialisers) and the "cuda" entry point: the backend's context (device,
 * streams, handles) is created on the first request and hangs off the table's
 * ctx member; the ops find everything they need there. */
#include <pthread.h>

#include "backend/cuda/cuda_backend.h"

/* the CUDA functions behind the registry's shared checks (op_checked.h) */
#define ATAS_OP_IMPL(name) atas_cuda_##name
#include "backend/op_checked.h"

/* not const: ctx is filled in once, under g_lock, before the table is handed out */
static atas_backend g_cuda = {
    .name = "cuda",
    .host_addressable = 0,
    .ctx = NULL,
#include "backend/op_table_entries.inc"
};
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

atas_status atas_cuda_backend_get(const atas_backend **out) {
    pthread_mutex_lock(&g_lock);
    atas_status st = ATAS_OK;
    if (!g_cuda.ctx) st = atas_cuda_ctx_create(&g_cuda.ctx);
    pthread_mutex_unlock(&g_lock);
    ATAS_CHECK(st);
    *out = &g_cuda;
    return ATAS_OK;
}

void atas_cuda_backend_release(const atas_backend *be) {
    if (be != &g_cuda) return;
    pthread_mutex_lock(&g_lock);
    if (g_cuda.ctx) {
        atas_cuda_coll_destroy(&g_cuda); /* flushes the communicator before it goes */
        atas_cuda_ctx_destroy(g_cuda.ctx);
    }
    g_cuda.ctx = NULL;
    pthread_mutex_unlock(&g_lock);
}
