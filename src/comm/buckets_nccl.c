/* Gradient buckets reduced on the device (dist.backend = "nccl"): the same
 * bucket ranges and readiness as the MPI buckets in comm.c, but each bucket is
 * one coll_allreduce_avg of backend memory, queued on the backend's
 * communication stream behind the backward work that produced it; finish waits
 * with dist.timeout_s and leaves the average in place (NCCL divides). Also the
 * NCCL bootstrap over MPI and a device broadcast. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atas/comm.h"
#include "atas/mpi_check.h"

#define DEV_ID_BYTES 160 /* "host|bus id" */

atas_status atas_comm_check_devices(atas_comm *c, const atas_backend *be, int for_nccl) {
    char dev[64] = "";
    be->device_id(be, dev, sizeof dev);
    if (!dev[0] || c->world == 1) return ATAS_OK;
    char mine[DEV_ID_BYTES] = "", host[64] = "?";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = 0;
    snprintf(mine, sizeof mine, "%s|%s", host, dev);
    char *all = NULL;
    ATAS_CHECK(atas_host_calloc((void **)&all, (size_t)DEV_ID_BYTES * c->world, "device ids"));
    MPI_Request r;
    atas_status st = ATAS_MPI_STATUS(MPI_Iallgather(mine, DEV_ID_BYTES, MPI_CHAR, all, DEV_ID_BYTES, MPI_CHAR,
                                                    c->comm, &r));
    const char *ph = c->phase;
    c->phase = "device check";
    if (st == ATAS_OK) st = atas_comm_wait(c, 1, &r);
    c->phase = ph;
    /* every rank sees the same table, so every rank reaches the same verdict */
    int a = -1, b = -1;
    for (int i = 0; st == ATAS_OK && i < c->world && a < 0; i++)
        for (int j = i + 1; j < c->world; j++)
            if (strcmp(all + (size_t)i * DEV_ID_BYTES, all + (size_t)j * DEV_ID_BYTES) == 0) {
                a = i;
                b = j;
                break;
            }
    if (a >= 0) {
        const char *id = all + (size_t)a * DEV_ID_BYTES, *bar = strchr(id, '|');
        const int hl = bar ? (int)(bar - id) : (int)strlen(id);
        const char *share = getenv("ATAS_SHARE_GPU");
        if (for_nccl)
            st = ATAS_ERR(ATAS_ERR_UNSUPPORTED,
                          "dist.backend = \"nccl\": ranks %d and %d on host %.*s share the GPU at bus id %s, and "
                          "NCCL needs one GPU per rank; use dist.backend = \"mpi\" (with ATAS_SHARE_GPU=1) or "
                          "start at most one rank per GPU", a, b, hl, id, bar ? bar + 1 : "?");
        else if (!(share && strcmp(share, "1") == 0))
            st = ATAS_ERR(ATAS_ERR_UNSUPPORTED,
                          "ranks %d and %d on host %.*s would share the GPU at bus id %s (%d ranks on this host): "
                          "each rank needs its own GPU; start at most one rank per GPU, or set ATAS_SHARE_GPU=1 "
                          "to let ranks share one (legal, slower; e.g. for tests)",
                          a, b, hl, id, bar ? bar + 1 : "?", c->local_size);
    }
    atas_host_free(all);
    return st;
}

/* a collective call that timed out inside the backend (an enqueue that never returned,
 * the communicator already aborted) says which step and phase, as wait_all does:
 * ATAS_ERR_TIMEOUT makes the program stop every rank (atas_mpi: exit 4) */
static atas_status coll_context(const atas_comm *c, int in_step, const char *phase, atas_status st) {
    if (st != ATAS_ERR_TIMEOUT) return st;
    char why[400], step[48] = "";
    snprintf(why, sizeof why, "%s", atas_error_message());
    if (in_step) snprintf(step, sizeof step, "step %lld, ", c->step); /* the set-up has no step yet */
    return ATAS_ERR(ATAS_ERR_TIMEOUT, "%s%s: %s - aborting every rank", step, phase, why);
}

/* rank 0's verdict to all, then its id, then the communicator (dist.timeout_s bounds it) */
static atas_status bootstrap(atas_comm *c, const atas_backend *be, unsigned char *id, int *bad, atas_status st0) {
    ATAS_CHECK(atas_comm_allreduce_max_i32(c, bad, 1));
    if (*bad) {
        if (st0 != ATAS_OK) return atas_error_trace(st0, __FILE__, __LINE__, __func__);
        return ATAS_ERR_PEER(ATAS_ERR_CUDA, "NCCL bootstrap: rank 0 could not make the NCCL id (its message says why)");
    }
    ATAS_CHECK(atas_comm_bcast(c, id, ATAS_COLL_ID_BYTES, 0));
    ATAS_CHECK(coll_context(c, 0, "NCCL bootstrap", be->coll_init(be, c->world, c->rank, id, c->timeout_s)));
    return ATAS_OK;
}

atas_status atas_comm_coll_init(atas_comm *c, const atas_backend *be) {
    ATAS_CHECK(atas_comm_check_devices(c, be, 1));
    unsigned char id[ATAS_COLL_ID_BYTES];
    memset(id, 0, sizeof id);
    /* rank 0 makes the id; a failure there must not leave the others waiting in the bcast */
    int bad = 0;
    atas_status st = ATAS_OK;
    if (c->rank == 0) {
        st = be->coll_unique_id(be, id, sizeof id);
        bad = st != ATAS_OK;
    }
    const char *ph = c->phase;
    c->phase = "NCCL bootstrap";
    st = bootstrap(c, be, id, &bad, st);
    c->phase = ph; /* on every path: a later time-out names its own phase */
    return st;
}

void atas_buckets_use_coll(atas_grad_buckets *b, const atas_backend *be, float *dev_grads) {
    b->coll = be;
    b->buf = dev_grads;
}

static atas_status launch(atas_grad_buckets *b, int i) {
    if (!b->t_launch_first) b->t_launch_first = atas_now();
    const size_t cnt = b->hi[i] - b->lo[i];
    ATAS_CHECK(coll_context(b->comm, 1, "gradient allreduce (NCCL)",
                            b->coll->coll_allreduce_avg(b->coll, b->buf + b->lo[i], cnt)));
    b->launched[i] = 1;
    b->bytes += cnt * sizeof(float);
    return ATAS_OK;
}

atas_status atas_buckets_coll_ready(atas_grad_buckets *b, size_t ready_from) {
    const double t = atas_now();
    /* buckets complete from the top of the buffer down (the backward runs tail first) */
    for (int i = b->nbuckets - 1; i >= 0; i--) {
        if (b->launched[i]) continue;
        if (b->lo[i] < ready_from) break;
        ATAS_CHECK(launch(b, i));
        b->launched_during_backward++;
    }
    b->t_busy += atas_now() - t;
    return ATAS_OK;
}

/* a collective that does not finish in time means a dead peer: ATAS_ERR_TIMEOUT, and
 * the program stops every rank (atas_mpi: exit 4) */
static atas_status wait_all(atas_comm *c, const atas_backend *be, const char *phase, double *device_s) {
    int timed_out = 0;
    const atas_status st = be->coll_wait(be, c->timeout_s, &timed_out, device_s);
    if (st != ATAS_OK && timed_out)
        return ATAS_ERR(ATAS_ERR_TIMEOUT, "step %lld, %s: NCCL did not complete within %.0f s (dist.timeout_s) - "
                        "aborting every rank", c->step, phase, c->timeout_s);
    ATAS_CHECK(st);
    return ATAS_OK;
}

atas_status atas_buckets_coll_finish(atas_grad_buckets *b) {
    const double t = atas_now();
    for (int i = b->nbuckets - 1; i >= 0; i--)
        if (!b->launched[i]) ATAS_CHECK(launch(b, i));
    ATAS_CHECK(wait_all(b->comm, b->coll, "gradient allreduce (NCCL)", &b->t_device));
    b->t_done = atas_now();
    b->t_busy += b->t_done - t;
    return ATAS_OK;
}

atas_status atas_comm_coll_bcast(atas_comm *c, const atas_backend *be, float *buf, size_t n, int root) {
    ATAS_CHECK(coll_context(c, 1, c->phase ? c->phase : "broadcast (NCCL)", be->coll_bcast(be, buf, n, root)));
    double dev_s = 0;
    ATAS_CHECK(wait_all(c, be, c->phase ? c->phase : "broadcast (NCCL)", &dev_s));
    return ATAS_OK;
}
