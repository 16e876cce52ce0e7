/* core: status codes + ATAS_CHECK, rank-aware logging, counter-based RNG, timers,
 * tracked allocation. Everything else in atas stands on this header. */
#ifndef ATAS_CORE_H
#define ATAS_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- status */
typedef enum {
    ATAS_OK = 0,
    ATAS_ERR_INVALID,     /* bad argument / violated precondition */
    ATAS_ERR_CONFIG,      /* a config key is missing, mistyped or out of range */
    ATAS_ERR_IO,          /* open/read/write/rename failed */
    ATAS_ERR_FORMAT,      /* a file is not what it claims (corpus, weights, checkpoint) */
    ATAS_ERR_NOMEM,
    ATAS_ERR_MPI,
    ATAS_ERR_CUDA,
    ATAS_ERR_NUMERIC,     /* NaN / Inf where a finite value is required */
    ATAS_ERR_UNSUPPORTED, /* valid request this build cannot serve (e.g. CUDA in a CPU build) */
    ATAS_ERR_TIMEOUT,
    ATAS_ERR_INTERRUPTED, /* a signal asked us to stop */
    ATAS_ERR_INTERNAL
} atas_status;

const char *atas_status_str(atas_status s);

/* Record a new error: the message plus the first traceback frame. Returns code
 * so it can be used as `return ATAS_ERR(ATAS_ERR_IO, "...")`. Thread-local. */
atas_status atas_error_raise(atas_status code, const char *file, int line,
                             const char *func, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Append one traceback frame while an error propagates upwards. */
atas_status atas_error_trace(atas_status code, const char *file, int line,
                             const char *func);
/* The message of the last raised error ("" when none). */
const char *atas_error_message(void);
/* Print message and traceback to `f` (stderr when NULL), prefixed by rank when world > 1. */
void atas_error_print(FILE *f);
void atas_error_clear(void);
/* An error that only echoes another rank's ("another rank failed ..."): atas_exit
 * prints it only when no rank has an error of its own, so a failure on one of 64
 * ranks is one message, not 64. Reset by the next raise. */
atas_status atas_error_mark_secondary(atas_status code);
int atas_error_is_secondary(void);

#define ATAS_ERR(code, ...) atas_error_raise((code), __FILE__, __LINE__, __func__, __VA_ARGS__)
/* ATAS_ERR, marked secondary: the failure it reports was another rank's */
#define ATAS_ERR_PEER(code, ...) atas_error_mark_secondary(ATAS_ERR((code), __VA_ARGS__))

/* Propagate a failing status with file:line: a traceback, never an abort. */
#define ATAS_CHECK(expr)                                                             \
    do {                                                                             \
        atas_status _atas_s = (expr);                                                \
        if (_atas_s != ATAS_OK) return atas_error_trace(_atas_s, __FILE__, __LINE__, __func__); \
    } while (0)

/* Same, but jump to a cleanup label with the status stored in `st`. */
#define ATAS_CHECK_GOTO(st, expr, label)                                             \
    do {                                                                             \
        (st) = (expr);                                                               \
        if ((st) != ATAS_OK) { atas_error_trace((st), __FILE__, __LINE__, __func__); goto label; } \
    } while (0)

/* Precondition check that raises ATAS_ERR_INVALID with a message. */
#define ATAS_REQUIRE(cond, ...)                                                      \
    do { if (!(cond)) return ATAS_ERR(ATAS_ERR_INVALID, __VA_ARGS__); } while (0)

/* ---------------------------------------------------------------- logging */
typedef enum { ATAS_LOG_DEBUG = 0, ATAS_LOG_INFO, ATAS_LOG_WARN, ATAS_LOG_ERROR } atas_log_level;

/* Rank 0 alone prints info; every rank may print warnings/errors, prefixed by rank. */
void atas_log_set_rank(int rank, int world);
int atas_log_rank(void);
int atas_log_world(void);
void atas_log_set_level(atas_log_level lvl);
void atas_log(atas_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define atas_info(...) atas_log(ATAS_LOG_INFO, __VA_ARGS__)
#define atas_warn(...) atas_log(ATAS_LOG_WARN, __VA_ARGS__)
#define atas_debug(...) atas_log(ATAS_LOG_DEBUG, __VA_ARGS__)

/* ---------------------------------------------------------------- RNG
 * Philox4x32-10: a stream is a pure function of (seed, a, b) and the counter,
 * so a sample's randomness depends on (seed, step, sample index), never on
 * which rank or thread draws it. */
typedef struct {
    uint32_t key[2];
    uint32_t ctr[4];
    uint32_t buf[4];
    int nbuf;
} atas_rng;

void atas_philox4x32(const uint32_t key[2], const uint32_t ctr[4], uint32_t out[4]);
atas_rng atas_rng_stream(uint64_t seed, uint64_t a, uint64_t b);
uint32_t atas_rng_u32(atas_rng *r);
float atas_rng_uniform(atas_rng *r);                 /* [0, 1) with 24 random bits */
float atas_rng_normal(atas_rng *r);                  /* Box-Muller */
uint32_t atas_rng_below(atas_rng *r, uint32_t n);    /* unbiased in [0, n) */

/* ---------------------------------------------------------------- timers */
double atas_now(void); /* monotonic seconds */

/* ---------------------------------------------------------------- memory
 * Host allocations are 64-byte aligned and counted, so programs can report the
 * peak of what atas itself holds. */
atas_status atas_host_alloc(void **p, size_t bytes, const char *what);
atas_status atas_host_calloc(void **p, size_t bytes, const char *what);
void atas_host_free(void *p);
size_t atas_host_bytes_now(void);
size_t atas_host_bytes_peak(void);
void atas_host_bytes_reset_peak(void);
/* Resident set size of this process in bytes (VmHWM / VmRSS from /proc). */
size_t atas_rss_peak_bytes(void);
size_t atas_rss_now_bytes(void);

#define ATAS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define ATAS_MAX(a, b) ((a) > (b) ? (a) : (b))

#ifdef __cplusplus
}
#endif
#endif
