/* Gradient buckets reduced on the device (dist.backend = "nccl"): the same
 * bucket ranges and readiness as the MPI buckets in comm.c, but each bucket is
 * one coll_allreduce_avg of backend memory, queued on the backend's
 * communication stream behind the backward work that produced it; finish waits
 * with dist.timeout_s and leaves the average in place (NCCL divides). Also the
 * NCCL bootstrap over MPI and a device broadcast. */
#include <string.h>

#include "atas/dist.h"

atas_status atas_comm_coll_init(atas_comm *c, const atas_backend *be) {
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
    CHECK(atas_comm_allreduce_max_i32(c, &bad, 1));
    if (bad) {
        if (st != ATAS_OK) return atas_error_trace(st, __FILE__, __LINE__, __func__);
        return ATAS_ERR(ATAS_ERR_CUDA, "NCCL bootstrap: rank 0 could not make the NCCL id (its log says why)");
    }
    CHECK(atas_comm_bcast(c, id, sizeof id, 0));
    CHECK(be->coll_init(be, c->world, c->rank, id));
    c->phase = ph;
    return ATAS_OK;
}

void atas_buckets_use_coll(atas_grad_buckets *b, const atas_backend *be, float *dev_grads) {
    b->coll = be;
    b->buf = dev_grads;
}

static atas_status launch(atas_grad_buckets *b, int i) {
    if (!b->t_launch_first) b->t_launch_first = atas_now();
    const size_t cnt = b->hi[i] - b->lo[i];
    CHECK(b->coll->coll_allreduce_avg(b->coll, b->buf + b->lo[i], cnt));
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
        CHECK(launch(b, i));
        b->launched_during_backward++;
    }
    b->t_busy += atas_now() - t;
    return ATAS_OK;
}

/* a collective that does not finish in time means a dead peer: every rank stops */
static atas_status wait_all(atas_comm *c, const atas_backend *be, const char *phase, double *device_s) {
    int timed_out = 0;
    const atas_status st = be->coll_wait(be, c->timeout_s, &timed_out, device_s);
    if (st != ATAS_OK && timed_out) {
        ATAS_ERR(ATAS_ERR_TIMEOUT, "step %lld, %s: NCCL did not complete within %.0f s (dist.timeout_s) - "
                 "aborting every rank", c->step, phase, c->timeout_s);
        atas_comm_abort(c, 4);
    }
    CHECK(st);
    return ATAS_OK;
}

atas_status atas_buckets_coll_finish(atas_grad_buckets *b) {
    const double t = atas_now();
    for (int i = b->nbuckets - 1; i >= 0; i--)
        if (!b->launched[i]) CHECK(launch(b, i));
    CHECK(wait_all(b->comm, b->coll, "gradient allreduce (NCCL)", &b->t_device));
    b->t_done = atas_now();
    b->t_busy += b->t_done - t;
    return ATAS_OK;
}

atas_status atas_comm_coll_bcast(atas_comm *c, const atas_backend *be, float *buf, size_t n, int root) {
    CHECK(be->coll_bcast(be, buf, n, root));
    double dev_s = 0;
    CHECK(wait_all(c, be, c->phase ? c->phase : "broadcast (NCCL)", &dev_s));
    return ATAS_OK;
}
