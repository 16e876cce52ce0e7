/* Rank-aware logging: rank 0 speaks; others only warn or fail, with a prefix. Every line
 * starts with the local date and time. */
#include "atas/core.h"

#include <stdarg.h>
#include <time.h>

static int g_rank = 0, g_world = 1;
static atas_log_level g_level = ATAS_LOG_INFO;

void atas_log_set_rank(int rank, int world) { g_rank = rank; g_world = world; }
int atas_log_rank(void) { return g_rank; }
int atas_log_world(void) { return g_world; }
void atas_log_set_level(atas_log_level lvl) { g_level = lvl; }

void atas_log(atas_log_level lvl, const char *fmt, ...) {
    if (lvl < g_level) return;
    if (lvl <= ATAS_LOG_INFO && g_rank != 0) return;
    FILE *f = lvl >= ATAS_LOG_WARN ? stderr : stdout;
    /* local wall-clock time on every line: logs of long runs are read by time */
    time_t now = time(NULL);
    struct tm tm;
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime_r(&now, &tm));
    fprintf(f, "%s ", when);
    if (g_world > 1 && g_rank != 0) fprintf(f, "[rank %d] ", g_rank);
    if (lvl == ATAS_LOG_WARN) fputs("warning: ", f);
    if (lvl == ATAS_LOG_ERROR) fputs("error: ", f);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fflush(f);
}
