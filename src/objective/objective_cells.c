/* Host side of the device objective: its parameter block and the cell table of a
 * group's mosaics, checked here because the op trusts them. */
#include "losses_internal.h"

atas_obj_params atas_objective_params(const atas_loss_config *cfg) {
    atas_obj_params p;
    p.w_g2l = cfg->w_g2l;
    p.w_l2l = cfg->w_l2l;
    p.w_g2g = cfg->w_g2g;
    p.g2l_pool = (int)cfg->g2l_pool;
    p.g2l_form = (int)cfg->g2l_form;
    p.l2l_form = (int)cfg->l2l_form;
    p.g2g_form = (int)cfg->g2g_form;
    p.pool_tau = cfg->pool_tau;
    p.g2l_tau = cfg->g2l_tau;
    p.g2g_tau = cfg->g2g_tau;
    return p;
}

atas_status atas_objective_cells(const atas_mosaic *plans, int m, int n, int patch, int hC, int wC, int *cells,
                                 size_t cap, int *ncells, int *kmax) {
    ATAS_REQUIRE(ncells && kmax, "atas_objective_cells: NULL output");
    ATAS_REQUIRE(m >= 1 && plans, "atas_objective_cells: %d mosaics (plans %s)", m, plans ? "given" : "NULL");
    ATAS_REQUIRE(patch >= 1 && hC >= 1 && wC >= 1, "atas_objective_cells: patch %d, student map %d x %d", patch, hC, wC);
    int nc = 0, km = 0;
    for (int k = 0; k < m; k++) {
        const atas_mosaic *p = &plans[k];
        ATAS_REQUIRE(p->g >= 1 && p->g <= ATAS_MOSAIC_MAX_GRID, "mosaic %d: g = %d not in 1..%d", k, p->g,
                ATAS_MOSAIC_MAX_GRID);
        ATAS_REQUIRE(p->cell_px > 0 && p->cell_px % patch == 0,
                "mosaic %d: cell_px = %d is not a positive multiple of the patch %d", k, p->cell_px, patch);
        const int kk = p->cell_px / patch;
        ATAS_REQUIRE(p->g * kk == hC && p->g * kk == wC,
                "mosaic %d: %d x %d cells of %d tokens do not tile the %d x %d student map", k, p->g, p->g, kk, hC,
                wC);
        if (kk > km) km = kk;
        for (int c = 0; c < p->g * p->g; c++) {
            ATAS_REQUIRE(p->image[c] >= 0 && p->image[c] < n, "mosaic %d cell %d: image %d not in 0..%d", k, c,
                    p->image[c], n - 1);
            if (cells) {
                ATAS_REQUIRE((size_t)(nc + 1) * ATAS_OBJ_CELL_INTS <= cap, "atas_objective_cells: table of %zu ints is full",
                        cap);
                int *e = cells + (size_t)nc * ATAS_OBJ_CELL_INTS;
                e[0] = k;
                e[1] = p->image[c];
                e[2] = kk;
                e[3] = (c / p->g) * kk;
                e[4] = (c % p->g) * kk;
            }
            nc++;
        }
    }
    *ncells = nc;
    *kmax = km;
    return ATAS_OK;
}
