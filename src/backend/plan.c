/* Activation plans (include/backend/atas/backend.h): named sizes laid out in one
 * backend allocation, so a pass holds one buffer and frees it once. */
#include <string.h>

#include "atas/backend.h"

#define PLAN_ALIGN ((size_t)256)

void atas_plan_init(atas_plan *pl, const atas_backend *be, const char *title) {
    memset(pl, 0, sizeof *pl);
    pl->be = be;
    pl->title = title ? title : "plan";
}

void atas_plan_add(atas_plan *pl, void *ptr, size_t bytes, const char *name) {
    if (pl->n >= ATAS_PLAN_MAX) {
        pl->overflow = 1; /* reported by atas_plan_alloc */
        return;
    }
    atas_plan_entry *e = &pl->e[pl->n++];
    e->name = name;
    e->ptr = (void **)ptr;
    e->bytes = bytes;
    e->offset = pl->total;
    pl->total += (bytes + PLAN_ALIGN - 1) / PLAN_ALIGN * PLAN_ALIGN;
}

atas_status atas_plan_alloc(atas_plan *pl) {
    ATAS_REQUIRE(!pl->overflow, "%s: more than %d buffers in one activation plan", pl->title,
                 ATAS_PLAN_MAX);
    ATAS_REQUIRE(!pl->base, "%s: activation plan allocated twice", pl->title);
    if (pl->total) ATAS_CHECK(pl->be->alloc(pl->be, &pl->base, pl->total, pl->title));
    for (int i = 0; i < pl->n; i++)
        *pl->e[i].ptr = pl->e[i].bytes ? (char *)pl->base + pl->e[i].offset : NULL;
    return ATAS_OK;
}

void atas_plan_print(const atas_plan *pl, atas_log_level lvl) {
    char line[256];
    int len = 0, nbuf = 0;
    for (int i = 0; i < pl->n; i++) nbuf += pl->e[i].bytes > 0;
    atas_log(lvl, "%s: %.1f MiB in %d buffers (%s memory, one allocation)", pl->title,
              pl->total / 1048576.0, nbuf, pl->be->name);
    /* "name MiB" pairs, a few per line */
    for (int i = 0; i < pl->n; i++) {
        if (!pl->e[i].bytes) continue;
        char item[80];
        int k = snprintf(item, sizeof item, "%s%s %.2f", len ? ", " : "  ", pl->e[i].name,
                         pl->e[i].bytes / 1048576.0);
        if (len && len + k > 100) {
            atas_log(lvl, "%s", line);
            len = 0;
            k = snprintf(item, sizeof item, "  %s %.2f", pl->e[i].name, pl->e[i].bytes / 1048576.0);
        }
        memcpy(line + len, item, (size_t)k + 1);
        len += k;
    }
    if (len) atas_log(lvl, "%s", line);
}

void atas_plan_release(atas_plan *pl) {
    if (pl->base) pl->be->free(pl->be, pl->base);
    pl->base = NULL;
    for (int i = 0; i < pl->n; i++) *pl->e[i].ptr = NULL;
}
