/* Mosaic plans: which image goes in which cell, from (seed, step, group) alone. */
#include "atas/mosaic.h"

/* stream tag so mosaic draws never alias other per-group streams */
#define ATAS_STREAM_MOSAIC 0x4D4F53ull

atas_status atas_mosaic_check(const int *grids, int ngrids, int canvas, int patch, const char *key) {
    if (ngrids <= 0) return ATAS_ERR(ATAS_ERR_CONFIG, "%s: needs at least one grid size", key);
    for (int i = 0; i < ngrids; i++) {
        int g = grids[i];
        if (g < 1 || g > ATAS_MOSAIC_MAX_GRID)
            return ATAS_ERR(ATAS_ERR_CONFIG, "%s[%d] = %d: grid sizes must be in 1..%d", key, i, g,
                            ATAS_MOSAIC_MAX_GRID);
        if (canvas % g != 0 || (canvas / g) % patch != 0)
            return ATAS_ERR(ATAS_ERR_CONFIG,
                            "%s[%d] = %d: canvas %d / %d = %g px is not a multiple of the patch %d "
                            "(cells must align to the token grid)",
                            key, i, g, canvas, g, (double)canvas / g, patch);
    }
    return ATAS_OK;
}

atas_status atas_mosaic_check_images(const int *grids, int ngrids, int n_images, int repeat,
                                     const char *grids_key, const char *images_key) {
    for (int i = 0; i < ngrids && !repeat; i++)
        if (grids[i] * grids[i] > n_images)
            return ATAS_ERR(ATAS_ERR_CONFIG,
                            "%s[%d] = %d: a %d x %d mosaic needs %d distinct images but %s = %d "
                            "(raise %s to >= %d, drop the grid, or opt in to repeated images with "
                            "mosaic.repeat_images = true)",
                            grids_key, i, grids[i], grids[i], grids[i], grids[i] * grids[i], images_key,
                            n_images, images_key, grids[i] * grids[i]);
    return ATAS_OK;
}

atas_status atas_mosaic_plan(atas_mosaic *out, int m, const int *grids, int ngrids, int n_images,
                             int canvas, uint64_t seed, uint64_t step, uint64_t group) {
    return atas_mosaic_plan_ex(out, m, grids, ngrids, n_images, canvas, 0, seed, step, group);
}

atas_status atas_mosaic_plan_ex(atas_mosaic *out, int m, const int *grids, int ngrids, int n_images,
                                int canvas, int repeat, uint64_t seed, uint64_t step, uint64_t group) {
    ATAS_REQUIRE(m >= 0 && ngrids > 0 && n_images > 0, "mosaic plan: m=%d ngrids=%d n=%d", m, ngrids,
            n_images);
    ATAS_REQUIRE(n_images <= 256, "mosaic plan: at most 256 images per group (got %d)", n_images);
    for (int i = 0; i < ngrids && !repeat; i++)
        ATAS_REQUIRE(grids[i] * grids[i] <= n_images,
                "mosaic plan: grid %d x %d needs %d distinct images, the group has %d (repeats not enabled)",
                grids[i], grids[i], grids[i] * grids[i], n_images);
    atas_rng r = atas_rng_stream(seed ^ (ATAS_STREAM_MOSAIC << 40), step, group);
    int perm[256];
    for (int k = 0; k < m; k++) {
        atas_mosaic *mo = &out[k];
        mo->g = grids[atas_rng_below(&r, (uint32_t)ngrids)];
        mo->cell_px = canvas / mo->g;
        /* the first g*g entries of a random permutation: distinct images; only with
         * repeats enabled does a mosaic with more cells than images take further
         * permutations (the draws for g*g <= n are the same either way) */
        int cells = mo->g * mo->g, filled = 0;
        while (filled < cells) {
            for (int i = 0; i < n_images; i++) perm[i] = i;
            for (int i = n_images - 1; i > 0; i--) { /* Fisher-Yates */
                int j = (int)atas_rng_below(&r, (uint32_t)(i + 1));
                int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
            }
            for (int i = 0; i < n_images && filled < cells; i++) mo->image[filled++] = perm[i];
        }
        for (int c = cells; c < ATAS_MOSAIC_MAX_GRID * ATAS_MOSAIC_MAX_GRID; c++) mo->image[c] = -1;
    }
    return ATAS_OK;
}
