/* Collectives between the ranks' GPUs: NCCL on the context's communication
 * stream. The communicator is non-blocking (ncclConfig_t.blocking = 0): every
 * NCCL call may return ncclInProgress, and settle() polls ncclCommGetAsyncError
 * until it has finished, so no call can hang past dist.timeout_s: past it the
 * communicator is aborted. Ordering: a collective waits (event) for the compute
 * stream's work queued before it; coll_wait makes the compute stream wait for
 * the collectives, so the optimizer sees the reduced gradient. Every failure is
 * one message naming rank, host, GPU and the operation. */
#include <string.h>
#include <unistd.h>

#include "backend/cuda/cuda_common.cuh"

static_assert(sizeof(ncclUniqueId) == ATAS_COLL_ID_BYTES, "ATAS_COLL_ID_BYTES must be NCCL's id size");

/* what a message says about where it happened */
#define WHERE_FMT "rank %d of %d, host %s, GPU %d"
#define WHERE(c) (c)->rank, (c)->nranks, (c)->host, (c)->device

static atas_status nccl_fail(atas_cuda_ctx *c, const char *what, ncclResult_t r) {
    const char *last = ncclGetLastError(c->nccl);
    return ATAS_ERR(ATAS_ERR_CUDA, "NCCL %s failed (" WHERE_FMT "): %s%s%s", what, WHERE(c),
                    ncclGetErrorString(r), last && *last ? ": " : "", last && *last ? last : "");
}

/* wait for a non-blocking call to finish (or fail), at most timeout_s */
static atas_status settle(atas_cuda_ctx *c, const char *what, ncclResult_t r, double timeout_s) {
    if (r != ncclSuccess && r != ncclInProgress) return nccl_fail(c, what, r);
    const double t0 = atas_now();
    int spins = 0;
    while (r == ncclInProgress) {
        if (ncclCommGetAsyncError(c->nccl, &r) != ncclSuccess) r = ncclInternalError;
        if (r != ncclSuccess && r != ncclInProgress) {
            /* the message reads the communicator's last error first; then, as coll_wait
             * does, abort it (a broken communicator would stall coll_destroy) */
            const atas_status st = nccl_fail(c, what, r);
            (void)ncclCommAbort(c->nccl);
            c->nccl = NULL;
            return st;
        }
        if (r == ncclInProgress && atas_now() - t0 > timeout_s) {
            (void)ncclCommAbort(c->nccl);
            c->nccl = NULL;
            return ATAS_ERR(ATAS_ERR_TIMEOUT, "NCCL %s did not finish within %.0f s (" WHERE_FMT
                            "; dist.timeout_s): a peer rank is dead or stuck; communicator aborted",
                            what, timeout_s, WHERE(c));
        }
        if (++spins > 1000) usleep(50);
    }
    return ATAS_OK;
}

#define NEED_COMM(c, what)                                                                          \
    ATAS_REQUIRE((c)->nccl, "NCCL %s: no communicator on " WHERE_FMT " (coll_init first, or it was "  \
                 "aborted after an earlier failure)", what, WHERE(c))


extern "C" atas_status atas_cuda_coll_unique_id(const atas_backend *be, void *out, size_t bytes) {
    atas_cuda_ctx *c = atas_cu_ctx(be);
    ncclUniqueId id;
    const ncclResult_t r = ncclGetUniqueId(&id);
    if (r != ncclSuccess)
        return ATAS_ERR(ATAS_ERR_CUDA, "NCCL ncclGetUniqueId failed on host %s, GPU %d (rank 0 makes the "
                        "bootstrap id): %s: %s", c->host, c->device, ncclGetErrorString(r), ncclGetLastError(NULL));
    memcpy(out, &id, sizeof id);
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_coll_init(const atas_backend *be, int nranks, int rank, const void *uid,
                                           double timeout_s) {
    atas_cuda_ctx *c = atas_cu_ctx(be);
    c->nranks = nranks;
    c->rank = rank;
    c->coll_timeout_s = timeout_s; /* dist.timeout_s: set-up and every enqueue (a lazy connect waits for peers) */
    ATAS_REQUIRE(!c->nccl, "NCCL coll_init: " WHERE_FMT " already has a communicator", WHERE(c));
    /* ranks sharing a GPU were refused before (atas_comm_check_devices); NCCL would too */
    ncclUniqueId id;
    memcpy(&id, uid, sizeof id);
    ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
    cfg.blocking = 0; /* every call returns; settle() polls with a time-out */
    CU_CHECK("coll_init (cudaSetDevice)", cudaSetDevice(c->device));
    ncclComm_t comm = NULL;
    const ncclResult_t r = ncclCommInitRankConfig(&comm, nranks, id, rank, &cfg);
    c->nccl = comm;
    if (r != ncclSuccess && r != ncclInProgress) {
        c->nccl = NULL;
        if (comm) (void)ncclCommAbort(comm);
        return ATAS_ERR(ATAS_ERR_CUDA, "NCCL communicator set-up (ncclCommInitRankConfig) failed (" WHERE_FMT
                        "): %s: %s", WHERE(c), ncclGetErrorString(r), ncclGetLastError(NULL));
    }
    ATAS_CHECK(settle(c, "communicator set-up (ncclCommInitRankConfig)", r, c->coll_timeout_s));
    return ATAS_OK;
}

/* the comm stream waits for the compute stream's work so far; the first
 * collective since the last coll_wait starts the device clock */
static atas_status comm_after_compute(atas_cuda_ctx *c, const char *what) {
    CU_CHECK(what, cudaEventRecord(c->ev_compute, c->stream));
    CU_CHECK(what, cudaStreamWaitEvent(c->comm_stream, c->ev_compute, 0));
    if (!c->timing) {
        CU_CHECK(what, cudaEventRecord(c->ev_c0, c->comm_stream));
        c->timing = 1;
    }
    return ATAS_OK;
}

static atas_status comm_done(atas_cuda_ctx *c, const char *what) {
    CU_CHECK(what, cudaEventRecord(c->ev_c1, c->comm_stream));
    CU_CHECK(what, cudaEventRecord(c->ev_comm, c->comm_stream));
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_coll_allreduce_avg(const atas_backend *be, float *buf, size_t n) {
    atas_cuda_ctx *c = atas_cu_ctx(be);
    NEED_COMM(c, "allreduce");
    ATAS_CHECK(comm_after_compute(c, "coll_allreduce_avg"));
    const ncclResult_t r = ncclAllReduce(buf, buf, n, ncclFloat32, ncclAvg, c->nccl, c->comm_stream);
    char what[96];
    snprintf(what, sizeof what, "allreduce (average) of %zu floats", n);
    ATAS_CHECK(settle(c, what, r, c->coll_timeout_s));
    ATAS_CHECK(comm_done(c, "coll_allreduce_avg"));
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_coll_bcast(const atas_backend *be, float *buf, size_t n, int root) {
    atas_cuda_ctx *c = atas_cu_ctx(be);
    NEED_COMM(c, "broadcast");
    ATAS_REQUIRE(root < c->nranks, "NCCL broadcast: root %d of %d ranks", root, c->nranks);
    ATAS_CHECK(comm_after_compute(c, "coll_bcast"));
    const ncclResult_t r = ncclBroadcast(buf, buf, n, ncclFloat32, root, c->nccl, c->comm_stream);
    char what[96];
    snprintf(what, sizeof what, "broadcast of %zu floats from rank %d", n, root);
    ATAS_CHECK(settle(c, what, r, c->coll_timeout_s));
    ATAS_CHECK(comm_done(c, "coll_bcast"));
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_coll_wait(const atas_backend *be, double timeout_s, int *timed_out,
                                           double *device_s) {
    atas_cuda_ctx *c = atas_cu_ctx(be);
    if (timed_out) *timed_out = 0;
    if (device_s) *device_s = 0;
    NEED_COMM(c, "wait");
    const double t0 = atas_now();
    int spins = 0;
    for (;;) {
        const cudaError_t q = cudaEventQuery(c->ev_comm);
        if (q == cudaSuccess) break;
        if (q != cudaErrorNotReady) {
            (void)cudaGetLastError();
            return ATAS_ERR(ATAS_ERR_CUDA, "NCCL collectives (" WHERE_FMT ") failed on the device: %s",
                            WHERE(c), cudaGetErrorString(q));
        }
        ncclResult_t ae = ncclSuccess;
        if (ncclCommGetAsyncError(c->nccl, &ae) != ncclSuccess) ae = ncclInternalError;
        if (ae != ncclSuccess && ae != ncclInProgress) {
            const atas_status st = nccl_fail(c, "collective (found while waiting)", ae);
            (void)ncclCommAbort(c->nccl);
            c->nccl = NULL;
            return st;
        }
        if (atas_now() - t0 > timeout_s) {
            (void)ncclCommAbort(c->nccl);
            c->nccl = NULL;
            if (timed_out) *timed_out = 1;
            return ATAS_ERR(ATAS_ERR_TIMEOUT, "NCCL collectives did not complete within %.0f s (" WHERE_FMT
                            "; dist.timeout_s): a peer rank is dead or stuck; communicator aborted",
                            timeout_s, WHERE(c));
        }
        if (++spins > 1000) usleep(50);
    }
    /* the next compute (the optimizer) reads what the collectives wrote */
    CU_CHECK("coll_wait", cudaStreamWaitEvent(c->stream, c->ev_comm, 0));
    if (c->timing) {
        float ms = 0;
        CU_CHECK("coll_wait (timing)", cudaEventElapsedTime(&ms, c->ev_c0, c->ev_c1));
        c->timing = 0;
        if (device_s) *device_s = ms / 1000.0;
    }
    return ATAS_OK;
}

extern "C" void atas_cuda_coll_destroy(const atas_backend *be) {
    atas_cuda_ctx *c = atas_cu_ctx(be);
    if (!c || !c->nccl) return;
    /* finalize flushes what is in flight; a failure or a hang there ends in abort */
    if (settle(c, "finalize (ncclCommFinalize)", ncclCommFinalize(c->nccl), 60.0) == ATAS_OK && c->nccl)
        (void)ncclCommDestroy(c->nccl);
    else if (c->nccl)
        (void)ncclCommAbort(c->nccl);
    c->nccl = NULL;
}
