/* The CPU backend's one exception to "no op allocates" (docs/backend.md): the
 * GEMM ops at tf32/bf16 precision round their operands into scratch, and
 * linear/matmul have no caller workspace. Each calling thread owns one arena,
 * allocated on first use and grown (never shrunk) when an op needs more, freed
 * when the thread ends; so after the first step of a run no call allocates, and
 * ops called from different threads never share scratch (no lock needed). */
#include <pthread.h>
#include <stdlib.h>

#include "backend/cpu/cpu_internal.h"

typedef struct arena {
    float *p;
    size_t n; /* floats */
    struct arena *prev, *next;
} arena;

static pthread_key_t g_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
/* every live arena, so that each stays reachable from a global: the main thread's is
 * never destroyed (thread-exit destructors do not run for it), and a leak checker
 * that does not scan thread-local storage would otherwise report it at exit */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static arena *g_all;

static void arena_free(void *v) {
    arena *a = v;
    if (!a) return;
    pthread_mutex_lock(&g_lock);
    if (a->prev) a->prev->next = a->next;
    else g_all = a->next;
    if (a->next) a->next->prev = a->prev;
    pthread_mutex_unlock(&g_lock);
    free(a->p);
    free(a);
}
static void make_key(void) { (void)pthread_key_create(&g_key, arena_free); }

atas_status atas_cpu_scratch(size_t floats, float **out, const char *op) {
    pthread_once(&g_once, make_key);
    arena *a = pthread_getspecific(g_key);
    if (!a) {
        a = calloc(1, sizeof *a);
        if (!a || pthread_setspecific(g_key, a) != 0) {
            free(a);
            return ATAS_ERR(ATAS_ERR_NOMEM, "%s: cannot create the precision scratch arena", op);
        }
        pthread_mutex_lock(&g_lock);
        a->next = g_all;
        if (g_all) g_all->prev = a;
        g_all = a;
        pthread_mutex_unlock(&g_lock);
    }
    if (a->n < floats) {
        /* grow by half again, so a run whose shapes creep up reallocates rarely */
        const size_t n = floats + floats / 2;
        float *p = NULL;
        if (posix_memalign((void **)&p, 64, n * sizeof(float)) != 0)
            return ATAS_ERR(ATAS_ERR_NOMEM, "%s: cannot grow the precision scratch to %zu MiB", op,
                            n * sizeof(float) >> 20);
        free(a->p);
        a->p = p;
        a->n = n;
    }
    *out = a->p;
    return ATAS_OK;
}
