/* cudaemu NCCL: a communicator of one rank. The sum or average over one rank is
 * the rank's own data, a broadcast from rank 0 leaves it as it is; a larger
 * communicator is refused (the emulation has no peers). */
#include <nccl.h>
#include <stdio.h>
#include <string.h>

#include "runtime_internal.h"

struct ncclComm {
    int nranks, rank;
};

static size_t dt_bytes(ncclDataType_t t) {
    switch (t) {
    case ncclInt8: case ncclUint8: return 1;
    case ncclFloat16: case ncclBfloat16: return 2;
    case ncclInt32: case ncclUint32: case ncclFloat32: return 4;
    default: return 8;
    }
}

extern "C" {
ncclResult_t ncclGetUniqueId(ncclUniqueId *id) {
    memset(id, 0, sizeof *id);
    snprintf(id->internal, sizeof id->internal, "cudaemu");
    return ncclSuccess;
}
ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank) {
    return ncclCommInitRankConfig(comm, nranks, id, rank, nullptr);
}
ncclResult_t ncclCommInitRankConfig(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank, ncclConfig_t *cfg) {
    (void)id;
    (void)cfg;
    *comm = nullptr;
    if (nranks != 1 || rank != 0) {
        fprintf(stderr, "cudaemu: NCCL with %d ranks: the emulation has one rank only\n", nranks);
        return ncclInvalidUsage;
    }
    *comm = new ncclComm{1, 0};
    return ncclSuccess;
}
ncclResult_t ncclCommFinalize(ncclComm_t comm) { return comm ? ncclSuccess : ncclInvalidArgument; }
ncclResult_t ncclCommDestroy(ncclComm_t comm) {
    delete comm;
    return ncclSuccess;
}
ncclResult_t ncclCommAbort(ncclComm_t comm) {
    delete comm;
    return ncclSuccess;
}
ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *err) {
    if (!comm) return ncclInvalidArgument;
    *err = ncclSuccess;
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
    case ncclInvalidArgument: return "invalid argument";
    case ncclInvalidUsage: return "invalid usage";
    case ncclInProgress: return "NCCL operation in progress";
    default: return "internal error";
    }
}
const char *ncclGetLastError(ncclComm_t comm) {
    (void)comm;
    return "";
}
ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count, ncclDataType_t dt, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t s) {
    (void)op;
    if (!comm) return ncclInvalidArgument;
    if (cudaemu::check_stream(s) != cudaSuccess) return ncclInvalidArgument;
    if (send != recv) memcpy(recv, send, count * dt_bytes(dt));
    return ncclSuccess;
}
ncclResult_t ncclBroadcast(const void *send, void *recv, size_t count, ncclDataType_t dt, int root, ncclComm_t comm,
                           cudaStream_t s) {
    if (!comm || root != 0) return ncclInvalidArgument;
    if (cudaemu::check_stream(s) != cudaSuccess) return ncclInvalidArgument;
    if (send != recv) memcpy(recv, send, count * dt_bytes(dt));
    return ncclSuccess;
}
ncclResult_t ncclGroupStart(void) { return ncclSuccess; }
ncclResult_t ncclGroupEnd(void) { return ncclSuccess; }
}
