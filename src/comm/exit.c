/* The end of a program on every rank (include/comm/atas/exit.h). The ranks meet in one
 * reduction on a communicator of its own: no other collective can be pending on it, so a
 * rank still busy elsewhere simply never joins and the others time out. */
#include "atas/exit.h"

#include <string.h>

#include "atas/mpi_check.h"
#include <unistd.h>

static MPI_Comm g_exit_comm = MPI_COMM_NULL;

atas_status atas_exit_prepare(atas_comm *c) {
    if (c->world > 1) ATAS_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &g_exit_comm));
    return ATAS_OK;
}

static long long message_hash(int code) {
    const unsigned char *p = (const unsigned char *)atas_error_message();
    unsigned long long h = 1469598103934665603ull ^ (unsigned)code;
    for (; *p; p++) h = (h ^ *p) * 1099511628211ull;
    return (long long)(h >> 2); /* positive: -h must not overflow */
}

/* all ranks reach the end within `secs`: 1, with v reduced (MAX) */
static int meet(long long *v, int n, double secs) {
    MPI_Request r;
    if (MPI_Iallreduce(MPI_IN_PLACE, v, n, MPI_LONG_LONG, MPI_MAX, g_exit_comm, &r) != MPI_SUCCESS) return 0;
    double t0 = atas_now();
    for (;;) {
        int done = 0;
        if (MPI_Test(&r, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return 0;
        if (done) return 1;
        if (atas_now() - t0 > secs) return 0;
        usleep(1000);
    }
}

int atas_exit(atas_comm *c, int code) {
    const int failed = code != 0 && atas_error_message()[0];
    if (c->world == 1 || g_exit_comm == MPI_COMM_NULL) {
        if (failed) atas_error_print(stderr);
        atas_comm_finalize(c);
        return code;
    }
    long long h = failed ? message_hash(code) : 0;
    const int own = failed && !atas_error_is_secondary(); /* not just "another rank failed" */
    long long v[5] = {code, -code, h, -h, own};
    /* a failure that every rank finds comes within moments on every rank; a clean end
     * waits as long as any collective would (the last checkpoint's may be slow) */
    const double wait_s = code == 0 ? c->timeout_s : 10.0;
    if (!meet(v, 5, wait_s)) {
        if (failed) atas_error_print(stderr);
        else fprintf(stderr, "[rank %d] error: not every rank reached the end within %.0f s; aborting the job\n",
                     c->rank, wait_s);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
        _exit(code ? code : 1);
    }
    const int same = v[0] == -v[1] && v[2] == -v[3]; /* one code, one message everywhere */
    /* an echo of another rank's failure is printed only when no rank has its own */
    const int echo_only = failed && !own && v[4] > 0;
    if (failed && !echo_only && (!same || c->rank == 0)) atas_error_print(stderr);
    if (MPI_Comm_free(&g_exit_comm) != MPI_SUCCESS) atas_warn("MPI_Comm_free of the exit communicator failed");
    atas_comm_finalize(c);
    return (int)v[0];
}
