/* The CUDA backend is a run-time module (libatas_cuda.so, built with
 * ATAS_WITH_CUDA): no program links the CUDA runtime, cuBLAS or NCCL, so a CPU-only
 * node runs every program without them, and only atas_backend_get("cuda") loads them.
 * The module links libatas_backend.so / libatas_core.so, the same copies the program
 * uses (one error state, one set of transfer counters). docs/backend.md. */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/module.h"

#define CUDA_MODULE "libatas_cuda.so"

typedef atas_status (*module_get_fn)(int prec, const atas_backend **out);
typedef void (*module_release_fn)(const atas_backend *be);

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static void *g_handle;
static module_get_fn g_get;
static module_release_fn g_release;

/* appends "path: reason; " to why */
static void *try_open(const char *path, char *why, size_t cap) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        const size_t at = strlen(why);
        if (at < cap) snprintf(why + at, cap - at, "%s%.600s", at ? "; " : "", e ? e : path);
    }
    return h;
}

/* $ATAS_CUDA_LIB alone when set; else beside the program, ../ and ../lib (build
 * trees, installs, the GPU bundle), then the loader's own search (LD_LIBRARY_PATH) */
static void *open_module(char *why, size_t cap) {
    const char *env = getenv("ATAS_CUDA_LIB");
    if (env && env[0]) return try_open(env, why, cap);
    char exe[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        static const char *const rel[] = {"/", "/../", "/../lib/"};
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            char p[PATH_MAX + 64];
            snprintf(p, sizeof p, "%s%s%s", exe, rel[i], CUDA_MODULE);
            if (access(p, F_OK) != 0) continue; /* absent: not worth a line in the message */
            void *h = try_open(p, why, cap);
            if (h) return h;
        }
    }
    return try_open(CUDA_MODULE, why, cap);
}

atas_status atas_backend_module_get(int prec, const atas_backend **out) {
    pthread_mutex_lock(&g_lock);
    char why[2048] = "";
    if (!g_handle) {
        void *h = open_module(why, sizeof why);
        if (h) {
            g_get = (module_get_fn)(uintptr_t)dlsym(h, "atas_cuda_backend_get_precision");
            g_release = (module_release_fn)(uintptr_t)dlsym(h, "atas_cuda_backend_release");
            if (!g_get || !g_release) {
                snprintf(why, sizeof why, "%s has no atas_cuda_backend_get_precision/release (another build's module?)",
                         CUDA_MODULE);
                dlclose(h);
                g_get = NULL;
                g_release = NULL;
            } else {
                g_handle = h;
            }
        }
    }
    const module_get_fn get = g_get;
    pthread_mutex_unlock(&g_lock);
    if (!get)
        return ATAS_ERR(ATAS_ERR_UNSUPPORTED,
                        "backend \"cuda\": cannot load the CUDA backend module " CUDA_MODULE " (%s): keep it "
                        "beside the program or in ../lib, or name it with ATAS_CUDA_LIB; the node needs the "
                        "CUDA runtime, cuBLAS and NCCL it was built with",
                        why[0] ? why : "not found");
    ATAS_CHECK(get(prec, out));
    return ATAS_OK;
}

void atas_backend_module_release(const atas_backend *be) {
    pthread_mutex_lock(&g_lock);
    const module_release_fn rel = g_release;
    pthread_mutex_unlock(&g_lock);
    if (rel) rel(be);
}
