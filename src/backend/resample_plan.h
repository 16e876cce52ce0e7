/* Private to the backends: the layout of a resample plan (ops.def resample_plan), the
 * tap tables of one shape built once, in backend memory, so a pass's resample calls
 * upload nothing. The same bytes serve both backends: the CPU reads them where they
 * are, CUDA builds them on the host and uploads them. Layout: a header, then int32 /
 * float arrays of 4 entries per output (the forward taps and weights per axis) and
 * their transposes (for each input, the (output, weight) pairs that read it, in output
 * order: CSR offsets [in + 1], then 4 entries per output), 16-byte aligned each. */
#ifndef ATAS_RESAMPLE_PLAN_H
#define ATAS_RESAMPLE_PLAN_H

#include <stddef.h>

#include "atas/backend.h"

#define ATAS_RESAMPLE_PLAN_MAGIC 0x52534d50 /* "RSMP" */

typedef struct {
    int magic, ih, iw, oh, ow, kind, ntap, pad;
} atas_resample_plan_head;

/* pointers into a plan at base (host or device: arithmetic only, nothing is read) */
typedef struct {
    const int *ty, *tx;     /* [4 * oh], [4 * ow] */
    const float *wy, *wx;   /* [4 * oh], [4 * ow] */
    const int *yoff, *xoff; /* [ih + 1], [iw + 1] */
    const int *yo, *xo;     /* [4 * oh], [4 * ow] */
    const float *yw, *xw;   /* [4 * oh], [4 * ow] */
} atas_resample_tabs;

#ifdef __cplusplus
extern "C" {
#endif
size_t atas_resample_plan_size(int ih, int iw, int oh, int ow);
/* fills a plan in host memory of atas_resample_plan_size bytes */
void atas_resample_plan_fill(void *plan, int ih, int iw, int oh, int ow, atas_resample kind);
void atas_resample_plan_view(const void *plan, int ih, int iw, int oh, int ow, atas_resample_tabs *t);
#ifdef __cplusplus
}
#endif

#endif
