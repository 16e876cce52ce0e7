/* The op-call counter (atas_backend_op_calls, bumped by the registry's shared checks in
 * src/backend/op_checked.h): a known sequence of calls moves it by exactly the calls that
 * queued work - not the ATAS_SKIP'd ones, not the refused ones, not alloc/sync/free -
 * on every table that shares the checks ("cpu", "cpu-staged", and "cuda" when asked
 * for: exit 77 without a GPU), and calls from several threads at once all count.
 * usage: test_op_calls [cpu|cuda] */
#include <pthread.h>
#include <string.h>

#include "atas/backend.h"
#include "test_util.h"

enum { NTHREADS = 4, PER_THREAD = 1000, N = 64 };

typedef struct {
    const atas_backend *be;
    float *y;
} worker_arg;

static void *worker(void *p) {
    worker_arg *a = p;
    for (int i = 0; i < PER_THREAD; i++)
        if (a->be->scale(a->be, a->y, 1.0f, N) != ATAS_OK) return p; /* a failure shows in the count */
    return NULL;
}

/* the calls of one table; returns nothing, records failures */
static void sequence(const atas_backend *be) {
    float *x, *y, *w, *h = calloc(N, sizeof(float));
    T_ASSERT(h != NULL, "host buffer");
    if (!h) return;
    unsigned long long c0 = atas_backend_op_calls();
    T_OK(be->alloc(be, (void **)&x, N * sizeof(float), "x")); /* no work queued: not counted */
    T_OK(be->alloc(be, (void **)&y, N * sizeof(float), "y"));
    T_OK(be->alloc(be, (void **)&w, N * sizeof(float), "w"));
    T_OK(be->sync(be));
    T_ASSERT(atas_backend_op_calls() == c0, "%s: alloc and sync counted (%llu)", be->name,
             atas_backend_op_calls() - c0);
    for (int i = 0; i < N; i++) h[i] = 0.01f * (float)i;
    T_OK(be->upload(be, x, h, N * sizeof(float)));          /* 1 */
    T_OK(be->upload(be, w, h, N * sizeof(float)));          /* 2 */
    T_OK(be->upload(be, x, h, 0));                          /* skipped: 0 bytes */
    T_OK(be->add(be, y, x, w, N));                          /* 3 */
    T_OK(be->add(be, y, x, w, 0));                          /* skipped: n = 0 */
    T_OK(be->matmul_fwd(be, y, x, w, 8, 8, 8));             /* 4: y[8,8] = x[8,8] w[8,8]^T */
    T_OK(be->matmul_fwd(be, y, x, w, 0, 8, 8));             /* skipped: M = 0 */
    T_OK(be->linear_fwd(be, y, x, w, x, 4, 8, 8));          /* 5 */
    T_OK(be->copy(be, y, y, N * sizeof(float)));            /* skipped: dst == src */
    T_OK(be->zero(be, y, N * sizeof(float)));               /* 6 */
    T_OK(be->act_bwd(be, NULL, y, x, N, ATAS_ACT_GELU));    /* skipped: no gradient wanted */
    T_OK(be->download(be, h, y, N * sizeof(float)));        /* 7 */
    atas_status s = be->add(be, NULL, x, w, N);             /* refused: NULL operand */
    T_ASSERT(s == ATAS_ERR_INVALID, "%s: add(NULL) returned %d", be->name, (int)s);
    atas_error_clear();
    T_OK(be->sync(be));
    const unsigned long long got = atas_backend_op_calls() - c0;
    T_ASSERT(got == 7, "%s: %llu op calls counted for 7 that queued work", be->name, got);

    /* threads at once: every call counts (relaxed atomic, no lost updates) */
    pthread_t th[NTHREADS];
    worker_arg wa[NTHREADS];
    float *ys[NTHREADS];
    for (int k = 0; k < NTHREADS; k++) T_OK(be->alloc(be, (void **)&ys[k], N * sizeof(float), "ys"));
    c0 = atas_backend_op_calls();
    int started = 0;
    for (int k = 0; k < NTHREADS; k++) {
        wa[k] = (worker_arg){be, ys[k]};
        if (pthread_create(&th[k], NULL, worker, &wa[k]) == 0) started++;
    }
    T_ASSERT(started == NTHREADS, "%d of %d threads started", started, NTHREADS);
    int failed = 0;
    for (int k = 0; k < started; k++) {
        void *r = NULL;
        pthread_join(th[k], &r);
        failed += r != NULL;
    }
    T_ASSERT(failed == 0, "%s: %d thread(s) saw a failing scale", be->name, failed);
    T_OK(be->sync(be));
    const unsigned long long par = atas_backend_op_calls() - c0;
    T_ASSERT(par == (unsigned long long)started * PER_THREAD, "%s: %llu calls counted from %d threads x %d",
             be->name, par, started, PER_THREAD);
    for (int k = 0; k < NTHREADS; k++) be->free(be, ys[k]);
    be->free(be, x);
    be->free(be, y);
    be->free(be, w);
    free(h);
}

int main(int argc, char **argv) {
    const char *which = argc > 1 ? argv[1] : "cpu";
    if (strcmp(which, "cuda") == 0) {
        const atas_backend *be;
        if (atas_backend_get("cuda", &be) != ATAS_OK) {
            atas_error_print(stderr);
            return 77; /* no GPU (or no CUDA build): skipped */
        }
        sequence(be);
        atas_backend_release(be);
        return t_finish("test_op_calls cuda");
    }
    sequence(atas_backend_cpu());
    const atas_backend *staged;
    T_OK(atas_backend_get("cpu-staged", &staged));
    sequence(staged);
    return t_finish("test_op_calls");
}
