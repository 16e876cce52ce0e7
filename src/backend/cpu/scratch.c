/* The CPU backend's one exception to "no op allocates" (docs/backend.md): the
 * GEMM ops at tf32/bf16 precision round their operands into scratch, and
 * linear/matmul have no caller workspace. Each calling thread owns one arena,
 * allocated on first use and grown (never shrunk) when an op needs more, freed
 * when the thread ends; so after the first step of a run no call allocates, and
 * ops called from different threads never share scratch (no lock needed). */
#include <pthread.h>
#include <stdlib.h>

#include "backend/cpu/cpu_internal.h"

typedef struct {
    float *p;
    size_t n; /* floats */
} arena;

static pthread_key_t g_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void arena_free(void *v) {
    arena *a = v;
    if (a) free(a->p);
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
