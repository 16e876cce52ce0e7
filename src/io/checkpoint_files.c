/* Finding the newest usable checkpoint of a directory and pruning old ones. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atas/checkpoint.h"

static int cmp_desc(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static int list_steps(const char *dir, long long *steps, int cap) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < cap) {
        long long s;
        char tail[16];
        if (sscanf(e->d_name, "ckpt-%lld.h5%15s", &s, tail) == 1 && strlen(e->d_name) == 16) steps[n++] = s;
    }
    closedir(d);
    qsort(steps, n, sizeof *steps, cmp_desc);
    return n;
}

/* complete = marker present, size and CRC-32 equal to the marker's, and every dataset
 * reads back with its checksum (atas_ckpt_verify) */
static int usable(const char *dir, long long step, char *why, size_t cap) {
    char path[1200];
    snprintf(path, sizeof path, "%s/ckpt-%08lld.h5", dir, step);
    return atas_ckpt_verify(path, why, cap);
}

atas_status atas_ckpt_find_latest(const char *dir, char *path, size_t cap) {
    long long steps[4096];
    int n = list_steps(dir, steps, 4096);
    path[0] = 0;
    for (int i = 0; i < n; i++) {
        char why[512];
        if (usable(dir, steps[i], why, sizeof why)) {
            snprintf(path, cap, "%s/ckpt-%08lld.h5", dir, steps[i]);
            return ATAS_OK;
        }
        atas_warn("checkpoint %s/ckpt-%08lld.h5 is damaged (%s); trying the previous one", dir, steps[i], why);
    }
    return ATAS_OK;
}

atas_status atas_ckpt_prune(const char *dir, int keep_last, int keep_every) {
    /* temporaries of writes that were killed (SIGKILL, node loss): rank 0 is the only
     * writer and its write has finished, so every ".ckpt-*.h5.XXXXXX" here is debris */
    DIR *dd = opendir(dir);
    struct dirent *de;
    while (dd && (de = readdir(dd))) {
        long long s;
        char rest[16];
        if (sscanf(de->d_name, ".ckpt-%lld.h5.%15s", &s, rest) == 2 && strlen(rest) == 6) {
            char p[1200];
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            unlink(p);
        }
    }
    if (dd) closedir(dd);
    long long steps[4096];
    int n = list_steps(dir, steps, 4096), kept = 0;
    for (int i = 0; i < n; i++) { /* newest first */
        if (keep_every > 0 && steps[i] % keep_every == 0) continue;
        if (kept < keep_last) { /* keep until keep_last good ones are kept */
            char why[256];
            if (usable(dir, steps[i], why, sizeof why)) kept++;
            continue;
        }
        char p[1200];
        snprintf(p, sizeof p, "%s/ckpt-%08lld.h5.done", dir, steps[i]);
        unlink(p); /* marker first: a half-deleted checkpoint reads as incomplete */
        snprintf(p, sizeof p, "%s/ckpt-%08lld.h5", dir, steps[i]);
        unlink(p);
    }
    return ATAS_OK;
}
