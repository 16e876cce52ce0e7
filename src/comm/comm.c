/* MPI plumbing with time-outs: every wait polls, so a dead peer turns into an
 * error naming the step and phase instead of a hang. */
#include "atas/comm.h"
#include "atas/backend.h"
#include "atas/mpi_check.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

atas_status atas_comm_init(atas_comm *c, int *argc, char ***argv, double timeout_s) {
    memset(c, 0, sizeof *c);
    int inited = 0;
    ATAS_MPI_CHECK(MPI_Initialized(&inited));
    if (!inited) {
        int provided;
        ATAS_MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided));
    }
    c->comm = MPI_COMM_NULL;
    ATAS_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &c->comm));
    ATAS_MPI_CHECK(MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN));
    ATAS_MPI_CHECK(MPI_Comm_rank(c->comm, &c->rank));
    ATAS_MPI_CHECK(MPI_Comm_size(c->comm, &c->world));
    MPI_Comm local;
    ATAS_MPI_CHECK(MPI_Comm_split_type(c->comm, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &local));
    atas_status s = ATAS_MPI_STATUS(MPI_Comm_rank(local, &c->local_rank));
    if (s == ATAS_OK) s = ATAS_MPI_STATUS(MPI_Comm_size(local, &c->local_size));
    if (s == ATAS_OK) s = ATAS_MPI_STATUS(MPI_Comm_free(&local));
    ATAS_CHECK(s);
    /* a device backend binds one GPU per local rank and refuses too many ranks per node */
    atas_backend_set_local_rank(c->local_rank);
    atas_backend_set_local_size(c->local_size);
    c->timeout_s = timeout_s > 0 ? timeout_s : 300;
    c->phase = "startup";
    atas_log_set_rank(c->rank, c->world);
    return ATAS_OK;
}

void atas_comm_finalize(atas_comm *c) {
    /* teardown: nothing to undo on failure, but say so (the process exits next) */
    atas_status s = ATAS_OK;
    if (c->comm != MPI_COMM_NULL && c->comm) s = ATAS_MPI_STATUS(MPI_Comm_free(&c->comm));
    int fin = 0;
    if (s == ATAS_OK) s = ATAS_MPI_STATUS(MPI_Finalized(&fin));
    if (s == ATAS_OK && !fin) s = ATAS_MPI_STATUS(MPI_Finalize());
    if (s != ATAS_OK) {
        atas_warn("%s", atas_error_message());
        atas_error_clear();
    }
}

void atas_comm_abort(atas_comm *c, int code) {
    atas_error_print(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    _exit(code);
}

atas_status atas_comm_wait(atas_comm *c, int n, MPI_Request *reqs) {
    double t0 = atas_now();
    int spins = 0;
    for (;;) {
        int done = 0;
        int rc = MPI_Testall(n, reqs, &done, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS) {
            char why[MPI_MAX_ERROR_STRING + 1] = "";
            int len = 0;
            MPI_Error_string(rc, why, &len); /* best effort: the message below stands without it */
            return ATAS_ERR(ATAS_ERR_MPI, "step %lld, %s: a collective failed (a peer rank died?): %s",
                            c->step, c->phase, why);
        }
        if (done) return ATAS_OK;
        /* the program decides what a dead peer means (atas_mpi: abort every rank, exit 4);
         * the request stays pending, so nothing may wait on this communicator again */
        if (atas_now() - t0 > c->timeout_s)
            return ATAS_ERR(ATAS_ERR_TIMEOUT,
                            "step %lld, %s: a collective did not complete within %.0f s "
                            "(dist.timeout_s); a peer rank is dead or stuck - aborting every rank",
                            c->step, c->phase, c->timeout_s);
        if (++spins > 1000) usleep(50); /* yield once the fast path is clearly over */
    }
}

/* an in-place allreduce, waited for with the time-out */
static atas_status allreduce(atas_comm *c, void *x, int n, MPI_Datatype type, MPI_Op op) {
    if (c->world == 1) return ATAS_OK;
    MPI_Request r;
    ATAS_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, x, n, type, op, c->comm, &r));
    ATAS_CHECK(atas_comm_wait(c, 1, &r));
    return ATAS_OK;
}

atas_status atas_comm_allreduce_sum_f64(atas_comm *c, double *x, int n) {
    return allreduce(c, x, n, MPI_DOUBLE, MPI_SUM);
}

atas_status atas_comm_allreduce_max_i32(atas_comm *c, int *x, int n) {
    return allreduce(c, x, n, MPI_INT, MPI_MAX);
}

atas_status atas_comm_bcast(atas_comm *c, void *buf, size_t bytes, int root) {
    if (c->world == 1) return ATAS_OK;
    char *p = buf;
    const size_t chunk = (size_t)1 << 30;
    for (size_t off = 0; off < bytes; off += chunk) {
        int cnt = (int)ATAS_MIN(chunk, bytes - off);
        MPI_Request r;
        ATAS_MPI_CHECK(MPI_Ibcast(p + off, cnt, MPI_BYTE, root, c->comm, &r));
        ATAS_CHECK(atas_comm_wait(c, 1, &r));
    }
    return ATAS_OK;
}

atas_status atas_comm_barrier(atas_comm *c) {
    if (c->world == 1) return ATAS_OK;
    MPI_Request r;
    ATAS_MPI_CHECK(MPI_Ibarrier(c->comm, &r));
    ATAS_CHECK(atas_comm_wait(c, 1, &r));
    return ATAS_OK;
}

static uint64_t fnv1a(const void *buf, size_t n) {
    const unsigned char *p = buf;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

atas_status atas_comm_check_same(atas_comm *c, const void *buf, size_t bytes, const char *what) {
    if (c->world == 1) return ATAS_OK;
    unsigned long long h = fnv1a(buf, bytes), *all;
    ATAS_CHECK(atas_host_alloc((void **)&all, sizeof *all * c->world, "checksums"));
    MPI_Request r;
    atas_status s = ATAS_MPI_STATUS(MPI_Iallgather(&h, 1, MPI_UNSIGNED_LONG_LONG, all, 1, MPI_UNSIGNED_LONG_LONG,
                                                   c->comm, &r));
    if (s == ATAS_OK) s = atas_comm_wait(c, 1, &r);
    if (s == ATAS_OK) {
        char list[512] = "";
        int bad = 0;
        for (int i = 0; i < c->world; i++)
            if (all[i] != all[0]) {
                bad++;
                size_t l = strlen(list);
                if (l < sizeof list - 16) snprintf(list + l, sizeof list - l, "%s%d", bad > 1 ? ", " : "", i);
            }
        if (bad)
            s = ATAS_ERR(ATAS_ERR_MPI, "step %lld: %s differs between ranks: rank(s) %s disagree with rank 0",
                         c->step, what, list);
    }
    atas_host_free(all);
    return s;
}

atas_status atas_comm_check_same_device(atas_comm *c, const atas_backend *be, const float *x, size_t n,
                                        const char *what) {
    if (c->world == 1) return ATAS_OK;
    void *ws = NULL;
    double *d_fp = NULL, fp = 0;
    atas_status s = be->alloc(be, &ws, be->grad_sumsq_workspace_bytes(be, n), "agreement fingerprint workspace");
    if (s == ATAS_OK) s = be->alloc(be, (void **)&d_fp, sizeof *d_fp, "agreement fingerprint");
    if (s == ATAS_OK) s = be->grad_sumsq(be, d_fp, x, n, ws);
    if (s == ATAS_OK) s = be->download(be, &fp, d_fp, sizeof fp);
    if (ws) be->free(be, ws);
    if (d_fp) be->free(be, d_fp);
    /* a rank that failed must not leave the others waiting: everyone compares, and a
     * failed rank's fingerprint (NaN bits of its own) makes it differ */
    if (s != ATAS_OK) {
        atas_error_trace(s, __FILE__, __LINE__, __func__);
        memset(&fp, 0xff, sizeof fp);
    }
    const atas_status cs = atas_comm_check_same(c, &fp, sizeof fp, what);
    return s != ATAS_OK ? s : cs;
}

/* ---------------------------------------------------------------- buckets */

atas_status atas_buckets_create(atas_grad_buckets *b, atas_comm *c, float *buf, size_t n,
                                size_t bucket_bytes) {
    memset(b, 0, sizeof *b);
    b->comm = c;
    b->buf = buf;
    b->n = n;
    size_t per = ATAS_MAX(bucket_bytes / sizeof(float), (size_t)1024);
    b->nbuckets = (int)((n + per - 1) / per);
    if (b->nbuckets < 1) b->nbuckets = 1;
    ATAS_CHECK(atas_host_calloc((void **)&b->lo, sizeof(size_t) * b->nbuckets, "buckets"));
    ATAS_CHECK(atas_host_calloc((void **)&b->hi, sizeof(size_t) * b->nbuckets, "buckets"));
    ATAS_CHECK(atas_host_calloc((void **)&b->launched, sizeof(int) * b->nbuckets, "buckets"));
    ATAS_CHECK(atas_host_calloc((void **)&b->reqs, sizeof(MPI_Request) * b->nbuckets, "buckets"));
    for (int i = 0; i < b->nbuckets; i++) {
        b->lo[i] = (size_t)i * per;
        b->hi[i] = ATAS_MIN(n, (size_t)(i + 1) * per);
    }
    return ATAS_OK;
}

void atas_buckets_destroy(atas_grad_buckets *b) {
    atas_host_free(b->lo); atas_host_free(b->hi); atas_host_free(b->launched); atas_host_free(b->reqs);
    memset(b, 0, sizeof *b);
}

void atas_buckets_begin(atas_grad_buckets *b) {
    for (int i = 0; i < b->nbuckets; i++) { b->launched[i] = 0; b->reqs[i] = MPI_REQUEST_NULL; }
    b->t_busy = 0;
    b->t_launch_first = 0;
    b->t_backward_end = 0;
    b->t_done = 0;
    b->bytes = 0;
    b->launched_during_backward = 0;
    b->t_device = 0;
}

static atas_status launch(atas_grad_buckets *b, int i) {
    if (!b->t_launch_first) b->t_launch_first = atas_now();
    size_t cnt = b->hi[i] - b->lo[i];
    ATAS_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, b->buf + b->lo[i], (int)cnt, MPI_FLOAT, MPI_SUM, b->comm->comm,
                                  &b->reqs[i]));
    b->launched[i] = 1;
    b->bytes += cnt * sizeof(float);
    return ATAS_OK;
}

atas_status atas_buckets_ready(atas_grad_buckets *b, size_t ready_from) {
    if (b->coll) return atas_buckets_coll_ready(b, ready_from);
    if (b->comm->world == 1) return ATAS_OK;
    double t = atas_now();
    /* buckets complete from the top of the buffer down (the backward runs tail first) */
    for (int i = b->nbuckets - 1; i >= 0; i--) {
        if (b->launched[i]) continue;
        if (b->lo[i] < ready_from) break;
        ATAS_CHECK(launch(b, i));
        b->launched_during_backward++;
    }
    int flag; /* drive progress of what is in flight */
    ATAS_MPI_CHECK(MPI_Testall(b->nbuckets, b->reqs, &flag, MPI_STATUSES_IGNORE));
    b->t_busy += atas_now() - t;
    return ATAS_OK;
}

atas_status atas_buckets_finish(atas_grad_buckets *b) {
    if (b->coll) return atas_buckets_coll_finish(b);
    if (b->comm->world == 1) return ATAS_OK;
    double t = atas_now();
    for (int i = b->nbuckets - 1; i >= 0; i--)
        if (!b->launched[i]) ATAS_CHECK(launch(b, i));
    const char *ph = b->comm->phase;
    b->comm->phase = "gradient allreduce";
    ATAS_CHECK(atas_comm_wait(b->comm, b->nbuckets, b->reqs));
    b->comm->phase = ph;
    const float s = 1.0f / (float)b->comm->world;
    for (size_t i = 0; i < b->n; i++) b->buf[i] *= s;
    b->t_done = atas_now();
    b->t_busy += b->t_done - t;
    return ATAS_OK;
}
