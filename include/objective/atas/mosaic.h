/* atas: the mosaic plan of one sample group.
 *
 * The unit of work is a GROUP: n images (their global views) plus m mosaics built
 * only from those n images. A global batch is G groups; rank r of W takes groups
 * [r*G/W, (r+1)*G/W). Every random choice of a group is a pure function of
 * (seed, step, global group index), so the trajectory does not depend on the
 * number of ranks. */
#ifndef ATAS_MOSAIC_H
#define ATAS_MOSAIC_H

#include "atas/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ATAS_MOSAIC_MAX_GRID 8

typedef struct {
    int g;       /* grid side: g x g cells */
    int cell_px; /* canvas / g */
    /* cell (row-major, r*g + c) -> index of the image in the group, 0..n-1 */
    int image[ATAS_MOSAIC_MAX_GRID * ATAS_MOSAIC_MAX_GRID];
} atas_mosaic;

/* Draw m mosaics for one group: g uniformly from grids[0..ngrids-1]; the g*g cells
 * take g*g DISTINCT images of the group in a random order (a cell is a region whose
 * content is known and differs from its neighbours). A grid with g*g > n_images is an
 * ATAS_ERR_INVALID. Deterministic in (seed, step, group). */
atas_status atas_mosaic_plan(atas_mosaic *out, int m, const int *grids, int ngrids, int n_images,
                             int canvas, uint64_t seed, uint64_t step, uint64_t group);

/* The same with an explicit opt-in (mosaic.repeat_images): repeat != 0 lets a mosaic
 * with more cells than images append further random permutations, so images repeat
 * inside it. For g*g <= n_images the draws are identical to atas_mosaic_plan. */
atas_status atas_mosaic_plan_ex(atas_mosaic *out, int m, const int *grids, int ngrids, int n_images,
                                int canvas, int repeat, uint64_t seed, uint64_t step, uint64_t group);

/* Config-time check: unless repeat, every grid's g*g <= n_images. The error names both
 * keys (grids_key, images_key) and says how to fix it. */
atas_status atas_mosaic_check_images(const int *grids, int ngrids, int n_images, int repeat,
                                     const char *grids_key, const char *images_key);

/* Config-time check: every grid divides the canvas into cells that are whole
 * multiples of the patch (cells align to the token grid). `key` names the config key. */
atas_status atas_mosaic_check(const int *grids, int ngrids, int canvas, int patch, const char *key);

#ifdef __cplusplus
}
#endif
#endif
