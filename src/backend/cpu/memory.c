/* CPU backend memory: backend memory is tracked host memory, so upload,
 * download and copy are all memcpy. */
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

/* ---- collectives: the CPU backend's ranks reduce through MPI (src/comm/comm.c) */
static atas_status no_coll(const char *op) {
    return ATAS_ERR(ATAS_ERR_UNSUPPORTED,
                    "%s: dist.backend = \"nccl\" needs the cuda backend (run.backend = \"cuda\"); "
                    "the cpu backends reduce through MPI (dist.backend = \"mpi\")", op);
}
atas_status atas_cpu_coll_unique_id(const atas_backend *be, void *out, size_t bytes) {
    return no_coll("coll_unique_id");
}
atas_status atas_cpu_coll_init(const atas_backend *be, int nranks, int rank, const void *id) {
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
