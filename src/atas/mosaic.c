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

atas_status atas_mosaic_plan(atas_mosaic *out, int m, const int *grids, int ngrids, int n_images,
                             int canvas, uint64_t seed, uint64_t step, uint64_t group) {
    REQUIRE(m >= 0 && ngrids > 0 && n_images > 0, "mosaic plan: m=%d ngrids=%d n=%d", m, ngrids,
            n_images);
    atas_rng r = atas_rng_stream(seed ^ (ATAS_STREAM_MOSAIC << 40), step, group);
    int perm[256];
    REQUIRE(n_images <= 256, "mosaic plan: at most 256 images per group (got %d)", n_images);
    for (int k = 0; k < m; k++) {
        atas_mosaic *mo = &out[k];
        mo->g = grids[atas_rng_below(&r, (uint32_t)ngrids)];
        mo->cell_px = canvas / mo->g;
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
