/* Minimal test helpers shared by the C tests: assertions that report file:line
 * and the atas traceback, and relative-error comparison. */
#ifndef ATAS_TEST_UTIL_H
#define ATAS_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "atas/core.h"

static int t_failures = 0;

#define T_OK(expr)                                                                   \
    do {                                                                             \
        atas_status _s = (expr);                                                     \
        if (_s != ATAS_OK) {                                                         \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr,    \
                    atas_status_str(_s));                                            \
            atas_error_print(stderr);                                                \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

#define T_ASSERT(cond, ...)                                                          \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: assertion failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
            t_failures++;                                                            \
        }                                                                            \
    } while (0)

/* max |a-b| / max(max|b|, floor): a normalised error robust to tiny entries */
static inline double t_rel_err(const float *a, const float *b, size_t n, double floor_) {
    double maxdiff = 0, maxref = floor_;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > maxdiff || d != d) maxdiff = d != d ? INFINITY : d;
        if (fabs((double)b[i]) > maxref) maxref = fabs((double)b[i]);
    }
    return maxdiff / maxref;
}

static inline int t_finish(const char *name) {
    if (t_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, t_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

#endif
