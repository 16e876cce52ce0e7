/* CPU backend memory: backend memory is tracked host memory, so upload,
 * download and copy are all memcpy. */
#include <pthread.h>

#include "backend/cpu/cpu_internal.h"

atas_status atas_cpu_alloc(const atas_backend *be, void **p, size_t bytes, const char *what) {
    ATAS_CHECK(atas_host_calloc(p, bytes, what));
    return ATAS_OK;
}

void atas_cpu_free(const atas_backend *be, void *p) { atas_host_free(p); }

static atas_status move(void *dst, const void *src, size_t bytes, const char *op) {
    if (bytes == 0) return ATAS_OK;
    memmove(dst, src, bytes);
    return ATAS_OK;
}

atas_status atas_cpu_upload(const atas_backend *be, void *dst, const void *src, size_t bytes) {
    atas_backend_count_transfer(1, bytes);
    return move(dst, src, bytes, "upload");
}
atas_status atas_cpu_download(const atas_backend *be, void *dst, const void *src, size_t bytes) {
    atas_backend_count_transfer(0, bytes);
    return move(dst, src, bytes, "download");
}
atas_status atas_cpu_copy(const atas_backend *be, void *dst, const void *src, size_t bytes) {
    return move(dst, src, bytes, "copy");
}

atas_status atas_cpu_zero(const atas_backend *be, void *dst, size_t bytes) {
    if (bytes == 0) return ATAS_OK;
    memset(dst, 0, bytes);
    return ATAS_OK;
}

atas_status atas_cpu_sync(const atas_backend *be) { return ATAS_OK; }

/* host_alloc: nothing to pin, memory is memory; aligned like the device's buffers */
atas_status atas_cpu_host_alloc(const atas_backend *be, void **p, size_t bytes, const char *what) {
    ATAS_CHECK(atas_host_calloc(p, bytes, what));
    return ATAS_OK;
}
void atas_cpu_host_free(const atas_backend *be, void *p) { atas_host_free(p); }

/* nothing runs behind the host's back on the CPU: the copy is done on return */
atas_status atas_cpu_upload_async(const atas_backend *be, void *dst, const void *src, size_t bytes) {
    atas_backend_count_transfer(1, bytes);
    return move(dst, src, bytes, "upload_async");
}

/* upload_prefetch: "cpu" copies now (its memory is the host's, nothing to
 * overlap); "cpu-staged" stands in for a device and keeps the copies until
 * upload_join, as a copy stream would run them behind the host's back - a
 * caller that reads dst before joining reads stale data here too. */
#define CPU_PREFETCH_MAX 16
static struct {
    pthread_mutex_t mu;
    int n;
    struct { void *dst; const void *src; size_t bytes; } q[CPU_PREFETCH_MAX];
} g_prefetch = {PTHREAD_MUTEX_INITIALIZER, 0, {{0}}};

static void prefetch_flush_locked(void) {
    for (int i = 0; i < g_prefetch.n; i++) memmove(g_prefetch.q[i].dst, g_prefetch.q[i].src, g_prefetch.q[i].bytes);
    g_prefetch.n = 0;
}

atas_status atas_cpu_upload_prefetch(const atas_backend *be, void *dst, const void *src, size_t bytes) {
    atas_backend_count_transfer(1, bytes);
    if (be->host_addressable) return move(dst, src, bytes, "upload_prefetch");
    pthread_mutex_lock(&g_prefetch.mu);
    if (g_prefetch.n == CPU_PREFETCH_MAX) prefetch_flush_locked(); /* a full queue: a copy engine would drain */
    g_prefetch.q[g_prefetch.n].dst = dst;
    g_prefetch.q[g_prefetch.n].src = src;
    g_prefetch.q[g_prefetch.n].bytes = bytes;
    g_prefetch.n++;
    pthread_mutex_unlock(&g_prefetch.mu);
    return ATAS_OK;
}

atas_status atas_cpu_upload_join(const atas_backend *be) {
    pthread_mutex_lock(&g_prefetch.mu);
    prefetch_flush_locked();
    pthread_mutex_unlock(&g_prefetch.mu);
    return ATAS_OK;
}

/* ---- collectives: the CPU backend's ranks reduce through MPI (src/comm/comm.c) */
static atas_status no_coll(const char *op) {
    return ATAS_ERR(ATAS_ERR_UNSUPPORTED,
                    "%s: dist.backend = \"nccl\" needs the cuda backend (run.backend = \"cuda\"); "
                    "the cpu backends reduce through MPI (dist.backend = \"mpi\")", op);
}
atas_status atas_cpu_coll_unique_id(const atas_backend *be, void *out, size_t bytes) {
    return no_coll("coll_unique_id");
}
atas_status atas_cpu_coll_init(const atas_backend *be, int nranks, int rank, const void *id, double timeout_s) {
    return no_coll("coll_init");
}
atas_status atas_cpu_coll_allreduce_avg(const atas_backend *be, float *buf, size_t n) {
    return no_coll("coll_allreduce_avg");
}
atas_status atas_cpu_coll_bcast(const atas_backend *be, float *buf, size_t n, int root) {
    return no_coll("coll_bcast");
}
atas_status atas_cpu_coll_wait(const atas_backend *be, double timeout_s, int *timed_out, double *device_s) {
    if (timed_out) *timed_out = 0;
    if (device_s) *device_s = 0;
    return no_coll("coll_wait");
}
void atas_cpu_coll_destroy(const atas_backend *be) {}
void atas_cpu_device_id(const atas_backend *be, char *out, size_t bytes) {
    if (bytes) out[0] = 0; /* host memory: nothing to share or to refuse */
}
size_t atas_cpu_mem_used(const atas_backend *be) { return 0; /* the process's RSS covers it */ }
