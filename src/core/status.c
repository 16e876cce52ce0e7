/* Error state: one message plus a traceback of file:line frames, per thread. */
#include "atas/core.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define ATAS_MAX_FRAMES 32

typedef struct {
    atas_status code;
    int secondary; /* the message echoes another rank's failure */
    char msg[1024];
    int nframes;
    char frames[ATAS_MAX_FRAMES][160];
} atas_error_state;

static _Thread_local atas_error_state g_err;

const char *atas_status_str(atas_status s) {
    switch (s) {
    case ATAS_OK: return "ok";
    case ATAS_ERR_INVALID: return "invalid argument";
    case ATAS_ERR_CONFIG: return "config error";
    case ATAS_ERR_IO: return "I/O error";
    case ATAS_ERR_FORMAT: return "format error";
    case ATAS_ERR_NOMEM: return "out of memory";
    case ATAS_ERR_MPI: return "MPI error";
    case ATAS_ERR_CUDA: return "CUDA error";
    case ATAS_ERR_NUMERIC: return "numeric error";
    case ATAS_ERR_UNSUPPORTED: return "unsupported";
    case ATAS_ERR_TIMEOUT: return "timeout";
    case ATAS_ERR_INTERRUPTED: return "interrupted";
    case ATAS_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

static void push_frame(const char *file, int line, const char *func) {
    if (g_err.nframes >= ATAS_MAX_FRAMES) return;
    const char *base = strrchr(file, '/');
    /* keep "dir/file.c" so frames stay readable but unambiguous */
    if (base) {
        const char *p = base;
        while (p > file && p[-1] != '/') p--;
        base = p;
    } else {
        base = file;
    }
    snprintf(g_err.frames[g_err.nframes++], sizeof g_err.frames[0], "%s:%d (%s)", base, line, func);
}

atas_status atas_error_raise(atas_status code, const char *file, int line, const char *func,
                             const char *fmt, ...) {
    g_err.code = code;
    g_err.secondary = 0;
    g_err.nframes = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_err.msg, sizeof g_err.msg, fmt, ap);
    va_end(ap);
    push_frame(file, line, func);
    return code;
}

atas_status atas_error_trace(atas_status code, const char *file, int line, const char *func) {
    if (g_err.code == ATAS_OK) { /* a status returned without a raise: still say where */
        g_err.code = code;
        snprintf(g_err.msg, sizeof g_err.msg, "%s", atas_status_str(code));
        g_err.nframes = 0;
    }
    push_frame(file, line, func);
    return code;
}

const char *atas_error_message(void) { return g_err.code == ATAS_OK ? "" : g_err.msg; }

/* The file:line frames are for developers: shown for errors that are ours (internal,
 * memory, CUDA) or when ATAS_DEBUG is set; a user's mistake gets the message alone. */
static int show_frames(atas_status code) {
    const char *d = getenv("ATAS_DEBUG");
    if (d && d[0] && strcmp(d, "0") != 0) return 1;
    return code == ATAS_ERR_INTERNAL || code == ATAS_ERR_NOMEM || code == ATAS_ERR_CUDA;
}

void atas_error_print(FILE *f) {
    if (!f) f = stderr;
    if (g_err.code == ATAS_OK) return;
    char prefix[32] = "";
    if (atas_log_world() > 1 && atas_log_rank() != 0) snprintf(prefix, sizeof prefix, "[rank %d] ", atas_log_rank());
    fprintf(f, "%serror: %s\n", prefix, g_err.msg);
    for (int i = 0; show_frames(g_err.code) && i < g_err.nframes; i++)
        fprintf(f, "%s  at %s\n", prefix, g_err.frames[i]);
    fflush(f);
}

atas_status atas_error_mark_secondary(atas_status code) {
    g_err.secondary = 1;
    return code;
}

int atas_error_is_secondary(void) { return g_err.code != ATAS_OK && g_err.secondary; }

void atas_error_clear(void) {
    g_err.secondary = 0;
    g_err.code = ATAS_OK;
    g_err.msg[0] = 0;
    g_err.nframes = 0;
}
