/* Faithful recipes (issue 13, issue 10 item 1), the parts that need no training run:
 *   - mosaic cells hold DISTINCT images; a grid with g*g > n is refused (plan and config,
 *     naming both keys); repeats only with the explicit opt-in, and then the draws of the
 *     grids that fit are unchanged; every draw is a function of (seed, step, group);
 *   - the batch stated per rank (batch.groups_per_rank) resolves at any world size, not
 *     together with batch.groups in one file, and a later --set batch.groups wins;
 *   - warm-up as a fraction of the run, lr scaled by the sqrt or linear rule. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "atas/config.h"
#include "atas/mosaic.h"
#include "test_util.h"

static char g_dir[256];

static const char *write_cfg(const char *name, const char *text) {
    static char path[4][512];
    static int k = 0;
    char *p = path[k++ % 4];
    snprintf(p, 512, "%s/%s", g_dir, name);
    FILE *f = fopen(p, "w");
    T_ASSERT(f != NULL, "cannot write %s", p);
    if (f) { fputs(text, f); fclose(f); }
    return p;
}

static void expect_err(atas_status st, const char *a, const char *b) {
    const char *m = atas_error_message();
    T_ASSERT(st == ATAS_ERR_CONFIG || st == ATAS_ERR_INVALID, "expected an error, got %s", atas_status_str(st));
    T_ASSERT(strstr(m, a) && (!b || strstr(m, b)), "message '%s' lacks '%s' / '%s'", m, a, b ? b : "");
    atas_error_clear();
}

static void test_mosaic_distinct(void) {
    const int grids[3] = {2, 3, 4};
    atas_mosaic p[64], q[64];
    for (uint64_t grp = 0; grp < 20; grp++) {
        T_OK(atas_mosaic_plan(p, 64, grids, 3, 16, 960, 5, 7, grp));
        for (int k = 0; k < 64; k++) {
            int seen[16] = {0}, cells = p[k].g * p[k].g;
            for (int c = 0; c < cells; c++) {
                T_ASSERT(p[k].image[c] >= 0 && p[k].image[c] < 16, "cell image %d", p[k].image[c]);
                if (p[k].image[c] >= 0 && p[k].image[c] < 16) seen[p[k].image[c]]++;
            }
            for (int i = 0; i < 16; i++) T_ASSERT(seen[i] <= 1, "group %d mosaic %d: image %d in %d cells", (int)grp, k, i, seen[i]);
        }
        /* the opt-in changes nothing for grids that fit; the same (seed, step, group) = the same plan */
        T_OK(atas_mosaic_plan_ex(q, 64, grids, 3, 16, 960, 1, 5, 7, grp));
        T_ASSERT(!memcmp(p, q, sizeof p), "repeat opt-in changed a plan whose grids fit");
        T_OK(atas_mosaic_plan(q, 64, grids, 3, 16, 960, 5, 7, grp));
        T_ASSERT(!memcmp(p, q, sizeof p), "plan is not a function of (seed, step, group)");
    }
    T_OK(atas_mosaic_plan(q, 64, grids, 3, 16, 960, 5, 8, 0));
    T_OK(atas_mosaic_plan(p, 64, grids, 3, 16, 960, 5, 7, 0));
    T_ASSERT(memcmp(p, q, sizeof p), "another step draws the same plans");
    /* 3 x 3 on 8 images: refused; with the opt-in, images repeat */
    expect_err(atas_mosaic_plan(p, 4, grids, 3, 8, 960, 5, 7, 0), "grid 3 x 3 needs 9 distinct images", "has 8");
    T_OK(atas_mosaic_plan_ex(p, 4, grids, 3, 8, 960, 1, 5, 7, 0));
    expect_err(atas_mosaic_check_images(grids, 3, 8, 0, "mosaic.grids", "batch.group_images"), "mosaic.grids[1] = 3",
               "batch.group_images = 8");
    T_OK(atas_mosaic_check_images(grids, 3, 8, 1, "mosaic.grids", "batch.group_images"));
    T_OK(atas_mosaic_check_images(grids, 3, 16, 0, "mosaic.grids", "batch.group_images"));
}

#define BASE "data = { corpus = \"c.h5\"; };\nmodel = { preset = \"ViT-B-16\"; };\n"

static void test_config_mosaic(void) {
    atas_run_config c;
    /* yesterday's B/16 recipe: grids [2..6] on 8 images -> one error naming both keys */
    const char *p = write_cfg("old.cfg", BASE "batch = { groups = 2; group_images = 8; };\n"
                                             "mosaic = { canvas = 960; grids = [2, 3, 4, 5, 6]; };\n");
    expect_err(atas_config_load(p, NULL, 0, &c), "mosaic.grids[1] = 3", "batch.group_images = 8");
    char *rep[] = {"mosaic.repeat_images=true"};
    T_OK(atas_config_load(p, rep, 1, &c));
    T_ASSERT(c.mosaic.repeat_images == 1, "opt-in");
    char *nodense[] = {"loss.g2l.weight=0", "loss.l2l.weight=0"}; /* no mosaics used: nothing to check */
    T_OK(atas_config_load(p, nodense, 2, &c));
}

static void test_batch_per_rank(void) {
    atas_run_config c;
    const char *p = write_cfg("pr.cfg", BASE "batch = { groups_per_rank = 2; group_images = 16; };\n"
                                            "optim = { lr = 1e-5; lr_scale_ref_images = 16; lr_scale_rule = \"sqrt\";\n"
                                            "  warmup_fraction = 0.05; };\nrun = { steps = 0; epochs = 2; };\n");
    T_OK(atas_config_load(p, NULL, 0, &c));
    const int worlds[4] = {1, 3, 8, 64};
    for (int i = 0; i < 4; i++) {
        atas_run_config w = c;
        T_OK(atas_config_apply_world(&w, worlds[i]));
        T_ASSERT(w.batch.groups == 2 * worlds[i] && w.batch.groups_per_rank == 0, "world %d: groups %d", worlds[i],
                 w.batch.groups);
        atas_recipe r;
        T_OK(atas_recipe_derive(&c, worlds[i], 10000, &r));
        const double B = 32.0 * worlds[i];
        const int64_t steps = (int64_t)ceil(2 * 10000 / B);
        T_ASSERT(r.images_per_step == (int)B && r.total_steps == steps, "world %d: %d images, %lld steps", worlds[i],
                 r.images_per_step, (long long)r.total_steps);
        T_ASSERT(fabs(r.peak_lr - 1e-5 * sqrt(B / 16)) < 1e-18, "world %d: lr %g", worlds[i], r.peak_lr);
        int64_t wu = llround(0.05 * steps);
        T_ASSERT(r.warmup_steps == (wu < 1 ? 1 : wu), "world %d: warm-up %lld", worlds[i], (long long)r.warmup_steps);
        char buf[2048];
        atas_recipe_format(&r, &c, buf, sizeof buf);
        T_ASSERT(strstr(buf, "images per step") && strstr(buf, "peak lr") && strstr(buf, "warm-up") &&
                     strstr(buf, "epoch"),
                 "recipe text: %s", buf);
    }
    /* the resolved config of a world is a fixed global batch; reloading it keeps it */
    atas_run_config w = c;
    T_OK(atas_config_apply_world(&w, 8));
    char out[512];
    snprintf(out, sizeof out, "%s/resolved.cfg", g_dir);
    T_OK(atas_config_write_resolved(&w, out));
    atas_run_config back;
    T_OK(atas_config_load(out, NULL, 0, &back));
    T_ASSERT(atas_config_equal(&w, &back), "resolved per-rank config does not reload identically");
    /* unresolved, it round-trips too (batch.groups is not written) */
    T_OK(atas_config_write_resolved(&c, out));
    T_OK(atas_config_load(out, NULL, 0, &back));
    T_ASSERT(atas_config_equal(&c, &back), "per-rank config does not round-trip");
    /* a later --set batch.groups switches to a fixed global batch (the trajectory tests do this) */
    char *g4[] = {"batch.groups=4"};
    T_OK(atas_config_load(p, g4, 1, &c));
    T_ASSERT(c.batch.groups == 4 && c.batch.groups_per_rank == 0, "--set batch.groups did not win");
    expect_err(atas_config_apply_world(&c, 3), "batch.groups = 4: must be a multiple of the number of ranks (3)",
               "batch.groups_per_rank");
    /* batch.round_up: the next multiple of the ranks, noted in the recipe; a multiple stays */
    c.batch.round_up = 1;
    const int rw[4] = {1, 3, 8, 64}, rg[4] = {4, 6, 8, 64};
    for (int i = 0; i < 4; i++) {
        atas_run_config w = c;
        T_OK(atas_config_apply_world(&w, rw[i]));
        T_ASSERT(w.batch.groups == rg[i], "round_up on %d ranks: groups %d, expected %d", rw[i], w.batch.groups, rg[i]);
        atas_recipe r;
        T_OK(atas_recipe_derive(&c, rw[i], 0, &r));
        T_ASSERT(r.groups == rg[i] && r.groups_asked == 4 && r.groups_per_rank == rg[i] / rw[i], "round_up recipe");
        char buf[2048];
        atas_recipe_format(&r, &c, buf, sizeof buf);
        T_ASSERT((strstr(buf, "rounded up") != NULL) == (rg[i] != 4), "rounding note on %d ranks: %s", rw[i], buf);
    }
    /* both in one file: refused, naming both */
    const char *both = write_cfg("both.cfg", BASE "batch = { groups = 4; groups_per_rank = 1; };\n");
    expect_err(atas_config_load(both, NULL, 0, &c), "batch.groups and batch.groups_per_rank", "both.cfg:3");
    /* warm-up: a later --set optim.warmup_steps wins over the fraction */
    char *ws[] = {"optim.warmup_steps=7"};
    T_OK(atas_config_load(p, ws, 1, &c));
    T_ASSERT(c.optim.warmup_fraction == 0 && atas_config_warmup_steps(&c, 1000) == 7, "warmup_steps after a fraction");
    T_OK(atas_config_load(p, NULL, 0, &c));
    T_ASSERT(atas_config_warmup_steps(&c, 1000) == 50 && atas_config_warmup_steps(&c, 3) == 1, "warm-up fraction");
    /* linear rule */
    char *lin[] = {"optim.lr_scale_rule=linear"};
    T_OK(atas_config_load(p, lin, 1, &c));
    T_OK(atas_config_apply_world(&c, 4));
    T_ASSERT(fabs(atas_config_peak_lr(&c) - 1e-5 * 128 / 16) < 1e-18, "linear lr %g", atas_config_peak_lr(&c));
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/atas_test_recipes_XXXXXX");
    T_ASSERT(mkdtemp(g_dir) != NULL, "mkdtemp");
    test_mosaic_distinct();
    test_config_mosaic();
    test_batch_per_rank();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return t_finish("test_recipes");
}
