/* Tracked, aligned host allocation: atas reports the peak of what it holds. */
#include "atas/core.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define ATAS_ALIGN 64
/* a header in front of each block remembers its size for the accounting */
#define ATAS_HDR 64

static _Atomic size_t g_now, g_peak;

static void account(ptrdiff_t delta) {
    size_t now = atomic_fetch_add(&g_now, (size_t)delta) + (size_t)delta;
    size_t peak = atomic_load(&g_peak);
    while (now > peak && !atomic_compare_exchange_weak(&g_peak, &peak, now)) {}
}

atas_status atas_host_alloc(void **p, size_t bytes, const char *what) {
    *p = NULL;
    void *raw = NULL;
    if (posix_memalign(&raw, ATAS_ALIGN, bytes + ATAS_HDR) != 0 || !raw)
        return ATAS_ERR(ATAS_ERR_NOMEM, "cannot allocate %.1f MiB for %s", bytes / 1048576.0,
                        what ? what : "buffer");
    *(size_t *)raw = bytes;
    account((ptrdiff_t)bytes);
    *p = (char *)raw + ATAS_HDR;
    return ATAS_OK;
}

atas_status atas_host_calloc(void **p, size_t bytes, const char *what) {
    ATAS_CHECK(atas_host_alloc(p, bytes, what));
    memset(*p, 0, bytes);
    return ATAS_OK;
}

void atas_host_free(void *p) {
    if (!p) return;
    char *raw = (char *)p - ATAS_HDR;
    account(-(ptrdiff_t) * (size_t *)raw);
    free(raw);
}

size_t atas_host_bytes_now(void) { return atomic_load(&g_now); }
size_t atas_host_bytes_peak(void) { return atomic_load(&g_peak); }
void atas_host_bytes_reset_peak(void) { atomic_store(&g_peak, atomic_load(&g_now)); }

static size_t proc_status_kb(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    size_t kb = 0, n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0) { kb = strtoull(line + n, NULL, 10); break; }
    fclose(f);
    return kb;
}

size_t atas_rss_peak_bytes(void) { return proc_status_kb("VmHWM:") * 1024; }
size_t atas_rss_now_bytes(void) { return proc_status_kb("VmRSS:") * 1024; }
