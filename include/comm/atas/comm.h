/* comm (the communication layer, src/comm): MPI bootstrap, local rank, bucketed gradient allreduce (overlapped with
 * the backward), broadcasts, agreement checks and collective time-outs.
 * The interface is transport-neutral so that NCCL slots in for the CUDA backend. */
#ifndef ATAS_COMM_H
#define ATAS_COMM_H

#include <mpi.h>

#include "atas/backend.h"
#include "atas/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    MPI_Comm comm;
    int rank, world;
    int local_rank, local_size; /* ranks on this node (MPI_Comm_split_type SHARED) */
    double timeout_s;           /* a collective not done by then aborts every rank */
    const char *phase;          /* named in time-out messages */
    long long step;
} atas_comm;

/* MPI_Init_thread (MULTIPLE: the loader thread does MPI-IO) if needed, ranks, local rank, logging rank. */
atas_status atas_comm_init(atas_comm *c, int *argc, char ***argv, double timeout_s);
void atas_comm_finalize(atas_comm *c);
/* Abort every rank (exit code), after printing the current error. */
void atas_comm_abort(atas_comm *c, int code);

/* Wait for requests; past the time-out every rank is aborted with a message that
 * names the step and the phase (no silent hang). */
atas_status atas_comm_wait(atas_comm *c, int n, MPI_Request *reqs);
atas_status atas_comm_allreduce_sum_f64(atas_comm *c, double *x, int n);
atas_status atas_comm_allreduce_max_i32(atas_comm *c, int *x, int n);
atas_status atas_comm_bcast(atas_comm *c, void *buf, size_t bytes, int root);
atas_status atas_comm_barrier(atas_comm *c);
/* Every rank must hold the same bytes (e.g. a config): error naming the ranks that differ. */
atas_status atas_comm_check_same(atas_comm *c, const void *buf, size_t bytes, const char *what);
/* The same for n floats in backend memory, without downloading them: each rank takes a
 * fingerprint where they are (the backend's deterministic chunked sum of squares,
 * grad_sumsq, 8 bytes) and the fingerprints are compared as above. Ranks that hold
 * different values get different fingerprints unless the values differ by a
 * sum-of-squares-preserving change (a sign flip, a swap): a guard against drift, not
 * a proof of equality. */
atas_status atas_comm_check_same_device(atas_comm *c, const atas_backend *be, const float *x, size_t n,
                                        const char *what);

/* Gradient buckets over one float buffer [0, n): contiguous ranges of about
 * bucket_bytes, reduced (average) as soon as the backward reports them complete. */
typedef struct {
    atas_comm *comm;
    float *buf;
    size_t n;
    int nbuckets;
    size_t *lo, *hi;          /* bucket ranges, in floats */
    int *launched;
    MPI_Request *reqs;
    double t_busy;            /* seconds spent inside communication calls this step */
    double t_launch_first;    /* when the first bucket was launched */
    double t_backward_end;    /* set by the caller: when the backward finished */
    double t_done;            /* when the last bucket completed */
    size_t bytes;             /* bytes reduced this step */
    int launched_during_backward;
    /* device collectives (dist.backend = "nccl", src/comm/buckets_nccl.c): when set,
     * buf is the backend's gradient buffer and buckets are averaged on the device */
    const atas_backend *coll;
    double t_device;          /* seconds the collectives took on the device (events) */
} atas_grad_buckets;

atas_status atas_buckets_create(atas_grad_buckets *b, atas_comm *c, float *buf, size_t n,
                                size_t bucket_bytes);
void atas_buckets_destroy(atas_grad_buckets *b);
void atas_buckets_begin(atas_grad_buckets *b);
/* Everything at offsets >= ready_from is final: launch the buckets that lie there. */
atas_status atas_buckets_ready(atas_grad_buckets *b, size_t ready_from);
/* Launch the rest, wait for all, divide by the world size. */
atas_status atas_buckets_finish(atas_grad_buckets *b);

/* ---- device collectives (NCCL through the backend's coll_* ops; src/comm/buckets_nccl.c) */
/* Ranks of one host on the same device (be->device_id equal) are refused with one
 * message naming host, ranks and device, unless ATAS_SHARE_GPU=1 (legal, e.g. for
 * tests) and for_nccl is 0 (NCCL cannot share a GPU). No-op for cpu and 1 rank. */
atas_status atas_comm_check_devices(atas_comm *c, const atas_backend *be, int for_nccl);
/* Bootstrap: the device check (for_nccl), rank 0's coll_unique_id, broadcast over
 * MPI, coll_init on every rank. */
atas_status atas_comm_coll_init(atas_comm *c, const atas_backend *be);
/* Reduce the buckets of dev_grads (backend memory, n floats) with be->coll_allreduce_avg
 * from now on, as the backward reports them ready (atas_buckets_ready/finish keep
 * their meaning; finish waits on the device and leaves the average in place). */
void atas_buckets_use_coll(atas_grad_buckets *b, const atas_backend *be, float *dev_grads);
/* rank root's n floats of backend memory on every rank, waited for (dist.timeout_s) */
atas_status atas_comm_coll_bcast(atas_comm *c, const atas_backend *be, float *buf, size_t n, int root);
/* internal to the buckets: the device variants of ready / finish */
atas_status atas_buckets_coll_ready(atas_grad_buckets *b, size_t ready_from);
atas_status atas_buckets_coll_finish(atas_grad_buckets *b);

#ifdef __cplusplus
}
#endif
#endif
