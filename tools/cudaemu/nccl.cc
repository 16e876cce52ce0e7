/* cudaemu NCCL: communicators of the ranks of one machine, between processes.
 *
 * A communicator of one rank needs nothing (the average over one rank is its own data).
 * With more, the ranks meet in POSIX shared memory named by the unique id: a header of
 * per-rank counters, and one segment per rank that holds the data the rank posted. A
 * collective is the k-th of its communicator on every rank (NCCL's own rule: the same
 * order everywhere). Rank r posts (copies its buffer into its segment, then posted[r] = k),
 * and every later poll - the call itself, or ncclCommGetAsyncError, as on a non-blocking
 * communicator - moves it on: once every rank has posted k, r reads the segments in rank
 * order into its buffer (all-reduce: the sum, divided by n for ncclAvg, so every rank gets
 * the same bits; broadcast: the root's), sets read[r] = k, and is done once every rank has
 * read k (its segment may then be rewritten). A peer that never posts leaves the call in
 * progress for ever: the caller's time-out is what ends it, as with a dead peer on a GPU.
 * fp32 (and fp64) sum/avg and broadcast of any type; other reductions are refused.
 *
 * CUDAEMU_NCCL_FAULT=<call>:<n>:<kind> injects a fault into the n-th call (from 1) of
 * init | allreduce | bcast, as a non-blocking communicator shows it: the call returns
 * ncclInProgress, then ncclCommGetAsyncError says ncclInProgress for ever (kind hang:
 * this rank never posts - to its peers, a dead rank) or ncclRemoteError (kind error),
 * with ncclGetLastError naming the fault. The count is per process, over every
 * communicator; ncclGetLastError keeps the last text until the next one (not per
 * communicator, not thread-safe: the trainer drives NCCL from one thread). */
#include <errno.h>
#include <fcntl.h>
#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include "runtime_internal.h"

namespace {
const int kMaxRanks = 16;

struct header {
    std::atomic<int> joined[kMaxRanks];
    std::atomic<long long> posted[kMaxRanks]; /* the collective each rank has posted */
    std::atomic<long long> read[kMaxRanks];   /* the collective each rank has read */
    std::atomic<unsigned long long> bytes[kMaxRanks];
};
static_assert(std::atomic<long long>::is_always_lock_free, "shared counters must be lock-free");

enum pending_kind { P_NONE, P_INIT, P_ALLREDUCE, P_BCAST };
} // namespace

struct ncclComm {
    int nranks, rank, blocking;
    ncclResult_t async; /* a fault: what ncclCommGetAsyncError reports */
    char name[NCCL_UNIQUE_ID_BYTES]; /* shared-memory name of the header; segments add "-r<rank>" */
    header *hdr;
    void *seg[kMaxRanks]; /* mappings of the ranks' segments */
    size_t seg_bytes[kMaxRanks];
    long long seq;        /* collectives posted by this rank */
    pending_kind pk;
    int stage;            /* 0: waiting for every post, 1: read, waiting for every read */
    void *buf;
    size_t count;
    ncclDataType_t dt;
    ncclRedOp_t op;
    int root;
};

namespace {
struct fault {
    char call[16];
    int n, hang, seen;
} g_fault;
char g_last_error[200];

void fault_parse() {
    static bool done = false;
    if (done) return;
    done = true;
    const char *e = getenv("CUDAEMU_NCCL_FAULT");
    if (!e || !*e) return;
    char kind[16] = "";
    if (sscanf(e, "%15[a-z]:%d:%15[a-z]", g_fault.call, &g_fault.n, kind) != 3 || g_fault.n < 1 ||
        (strcmp(kind, "hang") && strcmp(kind, "error")) ||
        (strcmp(g_fault.call, "init") && strcmp(g_fault.call, "allreduce") && strcmp(g_fault.call, "bcast"))) {
        fprintf(stderr, "cudaemu: CUDAEMU_NCCL_FAULT=\"%s\": expected init|allreduce|bcast:<n >= 1>:hang|error\n", e);
        abort();
    }
    g_fault.hang = !strcmp(kind, "hang");
}

/* ncclSuccess, or ncclInProgress when this call is the faulty one (comm's state set) */
ncclResult_t fault_at(const char *call, ncclComm *comm) {
    fault_parse();
    if (!g_fault.n || strcmp(call, g_fault.call) || ++g_fault.seen != g_fault.n) return ncclSuccess;
    comm->async = g_fault.hang ? ncclInProgress : ncclRemoteError;
    snprintf(g_last_error, sizeof g_last_error, "cudaemu: %s injected into %s call %d (CUDAEMU_NCCL_FAULT)",
             g_fault.hang ? "a hang" : "a remote error", call, g_fault.n);
    return ncclInProgress;
}

ncclResult_t sys_fail(const char *what, const char *name) {
    snprintf(g_last_error, sizeof g_last_error, "cudaemu: %s %s: %s", what, name, strerror(errno));
    return ncclSystemError;
}

size_t dt_bytes(ncclDataType_t t) {
    switch (t) {
    case ncclInt8: case ncclUint8: return 1;
    case ncclFloat16: case ncclBfloat16: return 2;
    case ncclInt32: case ncclUint32: case ncclFloat32: return 4;
    default: return 8;
    }
}

void seg_name(const ncclComm *c, int r, char *out, size_t n) { snprintf(out, n, "%s-r%d", c->name, r); }

/* map rank r's segment, at least `bytes` long (r == this rank: grown first) */
ncclResult_t seg_map(ncclComm *c, int r, size_t bytes) {
    if (c->seg[r] && c->seg_bytes[r] >= bytes) return ncclSuccess;
    char nm[NCCL_UNIQUE_ID_BYTES + 16];
    seg_name(c, r, nm, sizeof nm);
    const int fd = shm_open(nm, r == c->rank ? O_RDWR | O_CREAT : O_RDONLY, 0600);
    if (fd < 0) return sys_fail("shm_open", nm);
    if (r == c->rank && ftruncate(fd, (off_t)bytes) != 0) {
        close(fd);
        return sys_fail("ftruncate", nm);
    }
    if (c->seg[r]) munmap(c->seg[r], c->seg_bytes[r]);
    void *p = mmap(nullptr, bytes, r == c->rank ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    c->seg[r] = p == MAP_FAILED ? nullptr : p;
    c->seg_bytes[r] = p == MAP_FAILED ? 0 : bytes;
    return p == MAP_FAILED ? sys_fail("mmap", nm) : ncclSuccess;
}

bool all_at_least(const std::atomic<long long> *v, int n, long long k) {
    for (int j = 0; j < n; j++)
        if (v[j].load(std::memory_order_acquire) < k) return false;
    return true;
}

template <typename T> void reduce_into(T *out, const ncclComm *c, size_t count, bool avg) {
    for (size_t i = 0; i < count; i++) {
        T s = ((const T *)c->seg[0])[i];
        for (int j = 1; j < c->nranks; j++) s += ((const T *)c->seg[j])[i];
        out[i] = avg ? s / (T)c->nranks : s;
    }
}

/* move the pending call on as far as the peers allow */
ncclResult_t progress(ncclComm *c) {
    if (c->async != ncclSuccess) return c->async;
    if (c->pk == P_NONE) return ncclSuccess;
    header *h = c->hdr;
    const int n = c->nranks;
    if (c->pk == P_INIT) {
        for (int j = 0; j < n; j++)
            if (!h->joined[j].load(std::memory_order_acquire)) return ncclInProgress;
        c->pk = P_NONE;
        return ncclSuccess;
    }
    const size_t bytes = c->count * dt_bytes(c->dt);
    if (c->stage == 0) {
        if (!all_at_least(h->posted, n, c->seq)) return ncclInProgress;
        for (int j = 0; j < n; j++) {
            if (j == c->rank || (c->pk == P_BCAST && j != c->root)) continue;
            if (h->bytes[j].load() != bytes) {
                snprintf(g_last_error, sizeof g_last_error, "cudaemu: collective %lld: rank %d posted %llu bytes, "
                         "rank %d %zu", c->seq, j, (unsigned long long)h->bytes[j].load(), c->rank, bytes);
                c->async = ncclInvalidUsage;
                return c->async;
            }
            const ncclResult_t r = seg_map(c, j, bytes ? bytes : 1); /* a 0-byte mapping is refused */
            if (r != ncclSuccess) return c->async = r;
        }
        if (c->pk == P_BCAST) {
            if (c->rank != c->root) memcpy(c->buf, c->seg[c->root], bytes);
        } else if (c->dt == ncclFloat32) {
            reduce_into((float *)c->buf, c, c->count, c->op == ncclAvg);
        } else {
            reduce_into((double *)c->buf, c, c->count, c->op == ncclAvg);
        }
        h->read[c->rank].store(c->seq, std::memory_order_release);
        c->stage = 1;
    }
    if (!all_at_least(h->read, n, c->seq)) return ncclInProgress;
    c->pk = P_NONE;
    return ncclSuccess;
}

/* a blocking communicator waits here; a non-blocking one returns ncclInProgress */
ncclResult_t settle(ncclComm *c, ncclResult_t r) {
    while (c->blocking && r == ncclInProgress && c->async == ncclSuccess) {
        struct timespec ts = {0, 20000};
        nanosleep(&ts, nullptr);
        r = progress(c);
    }
    return r;
}

/* post this rank's part of collective number ++seq and try to finish it */
ncclResult_t post(ncclComm *c, pending_kind pk, const void *send, void *recv, size_t count, ncclDataType_t dt,
                  ncclRedOp_t op, int root) {
    if (c->pk != P_NONE) {
        snprintf(g_last_error, sizeof g_last_error, "cudaemu: a collective while the last is still in progress");
        return ncclInvalidUsage;
    }
    const size_t bytes = count * dt_bytes(dt);
    c->seq++;
    c->pk = pk, c->stage = 0, c->buf = recv, c->count = count, c->dt = dt, c->op = op, c->root = root;
    /* all-reduce: every rank's data; broadcast: the root's (a non-root's send is unused, may be NULL) */
    if (pk == P_ALLREDUCE || c->rank == root) {
        const ncclResult_t r = seg_map(c, c->rank, bytes ? bytes : 1);
        if (r != ncclSuccess) return c->async = r;
        memcpy(c->seg[c->rank], send, bytes);
        if (pk == P_BCAST && send != recv) memcpy(recv, send, bytes); /* the root's own result */
    }
    c->hdr->bytes[c->rank].store(bytes);
    c->hdr->posted[c->rank].store(c->seq, std::memory_order_release);
    return settle(c, progress(c));
}

ncclResult_t collective(const char *call, pending_kind pk, const void *send, void *recv, size_t count,
                        ncclDataType_t dt, ncclRedOp_t op, int root, ncclComm *c, cudaStream_t s) {
    if (!c || root < 0 || root >= c->nranks) return ncclInvalidArgument;
    if (cudaemu::check_stream(s) != cudaSuccess) return ncclInvalidArgument;
    if (c->async != ncclSuccess) return c->async == ncclInProgress ? ncclInProgress : ncclInvalidUsage;
    if (fault_at(call, c) != ncclSuccess) return ncclInProgress;
    if (pk == P_ALLREDUCE && !((dt == ncclFloat32 || dt == ncclFloat64) && (op == ncclSum || op == ncclAvg))) {
        snprintf(g_last_error, sizeof g_last_error, "cudaemu: all-reduce of type %d, op %d: only fp32/fp64 sum and "
                 "avg are emulated", (int)dt, (int)op);
        return ncclInvalidArgument;
    }
    if (c->nranks == 1) { /* its own data */
        if (send && send != recv) memcpy(recv, send, count * dt_bytes(dt));
        return ncclSuccess;
    }
    return post(c, pk, send, recv, count, dt, op, root);
}

void release(ncclComm *c) {
    if (!c) return;
    char nm[NCCL_UNIQUE_ID_BYTES + 16];
    for (int j = 0; j < kMaxRanks; j++)
        if (c->seg[j]) munmap(c->seg[j], c->seg_bytes[j]);
    if (c->hdr) {
        munmap(c->hdr, sizeof(header));
        seg_name(c, c->rank, nm, sizeof nm);
        shm_unlink(nm);
        if (c->rank == 0) shm_unlink(c->name); /* the others have it mapped: it lives until they unmap */
    }
    delete c;
}
} // namespace

extern "C" {
ncclResult_t ncclGetUniqueId(ncclUniqueId *id) {
    memset(id, 0, sizeof *id);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(id->internal, sizeof id->internal, "/cudaemu-nccl-%d-%lx", (int)getpid(),
             (unsigned long)(ts.tv_sec * 1000000000L + ts.tv_nsec));
    return ncclSuccess;
}
ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank) {
    return ncclCommInitRankConfig(comm, nranks, id, rank, nullptr);
}
ncclResult_t ncclCommInitRankConfig(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank, ncclConfig_t *cfg) {
    *comm = nullptr;
    if (nranks < 1 || nranks > kMaxRanks || rank < 0 || rank >= nranks) {
        fprintf(stderr, "cudaemu: NCCL rank %d of %d: the emulation has 1 to %d ranks\n", rank, nranks, kMaxRanks);
        return ncclInvalidArgument;
    }
    ncclComm *c = new ncclComm();
    c->nranks = nranks, c->rank = rank, c->blocking = !cfg || cfg->blocking != 0;
    c->async = ncclSuccess;
    snprintf(c->name, sizeof c->name, "%s", id.internal);
    *comm = c;
    if (nranks > 1) {
        if (c->name[0] != '/') {
            snprintf(g_last_error, sizeof g_last_error, "cudaemu: NCCL unique id \"%.40s\" is not one of ncclGetUniqueId's",
                     c->name);
            return ncclInvalidArgument;
        }
        const int fd = shm_open(c->name, O_RDWR | O_CREAT, 0600);
        if (fd < 0) return sys_fail("shm_open", c->name);
        const bool ok = ftruncate(fd, sizeof(header)) == 0;
        void *p = ok ? mmap(nullptr, sizeof(header), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
        close(fd);
        if (p == MAP_FAILED) return sys_fail(ok ? "mmap" : "ftruncate", c->name);
        c->hdr = (header *)p; /* zero-filled by ftruncate: every counter starts at 0 */
        c->pk = P_INIT;
    }
    if (fault_at("init", c) != ncclSuccess) return ncclInProgress; /* this rank never joins */
    if (nranks > 1) c->hdr->joined[rank].store(1, std::memory_order_release);
    return settle(c, progress(c));
}
ncclResult_t ncclCommFinalize(ncclComm_t comm) { return comm ? progress(comm) : ncclInvalidArgument; }
ncclResult_t ncclCommDestroy(ncclComm_t comm) {
    release(comm);
    return ncclSuccess;
}
ncclResult_t ncclCommAbort(ncclComm_t comm) {
    release(comm);
    return ncclSuccess;
}
ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *err) {
    if (!comm) return ncclInvalidArgument;
    *err = progress(comm);
    return ncclSuccess;
}
ncclResult_t ncclCommCount(ncclComm_t comm, int *n) {
    *n = comm->nranks;
    return ncclSuccess;
}
ncclResult_t ncclCommUserRank(ncclComm_t comm, int *r) {
    *r = comm->rank;
    return ncclSuccess;
}
const char *ncclGetErrorString(ncclResult_t r) {
    switch (r) {
    case ncclSuccess: return "no error";
    case ncclSystemError: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
    case ncclInvalidArgument: return "invalid argument";
    case ncclInvalidUsage: return "invalid usage";
    case ncclInProgress: return "NCCL operation in progress";
    case ncclRemoteError: return "remote process exited or there was a network error";
    default: return "internal error";
    }
}
const char *ncclGetLastError(ncclComm_t comm) {
    (void)comm;
    return g_last_error;
}
ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count, ncclDataType_t dt, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t s) {
    return collective("allreduce", P_ALLREDUCE, send, recv, count, dt, op, 0, comm, s);
}
ncclResult_t ncclBroadcast(const void *send, void *recv, size_t count, ncclDataType_t dt, int root, ncclComm_t comm,
                           cudaStream_t s) {
    return collective("bcast", P_BCAST, send, recv, count, dt, ncclSum, root, comm, s);
}
ncclResult_t ncclGroupStart(void) { return ncclSuccess; }
ncclResult_t ncclGroupEnd(void) { return ncclSuccess; }
}
