/* The recipe a config gives at a world size: global batch, steps, epochs, peak lr and
 * warm-up, derived by the documented rules (docs/training.md "Batch, lr and warm-up
 * at any world size"). The trainer logs it at start; `atas_config --world N` prints it
 * without running. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "atas/config.h"
#include "atas/core.h"

atas_status atas_config_apply_world(atas_run_config *c, int world) {
    if (world <= 0) return ATAS_ERR(ATAS_ERR_INVALID, "world size %d: must be >= 1", world);
    if (c->batch.groups_per_rank > 0) {
        if ((int64_t)c->batch.groups_per_rank * world > 1 << 24)
            return ATAS_ERR(ATAS_ERR_CONFIG, "batch.groups_per_rank = %d on %d ranks: %lld groups per step is too many",
                            c->batch.groups_per_rank, world, (long long)c->batch.groups_per_rank * world);
        /* resolved: from here on the global batch is fixed (a resolved config reloads identically) */
        c->batch.groups = c->batch.groups_per_rank * world;
        c->batch.groups_per_rank = 0;
    }
    if (c->batch.round_up && c->batch.groups % world != 0) {
        const int64_t g = ((int64_t)c->batch.groups + world - 1) / world * world;
        if (g > 1 << 24)
            return ATAS_ERR(ATAS_ERR_CONFIG, "batch.groups = %d rounded up to a multiple of %d ranks is too many",
                            c->batch.groups, world);
        c->batch.groups = (int)g;
    }
    ATAS_CHECK(atas_config_check_world(c, world));
    return ATAS_OK;
}

int64_t atas_config_warmup_steps(const atas_run_config *c, int64_t total_steps) {
    if (c->optim.warmup_fraction > 0) {
        int64_t w = llround(c->optim.warmup_fraction * (double)total_steps);
        return w < 1 ? 1 : w;
    }
    return c->optim.warmup_steps;
}

atas_status atas_recipe_derive(const atas_run_config *cfg, int world, int64_t corpus_images, atas_recipe *r) {
    ATAS_REQUIRE(cfg && r, "atas_recipe_derive: NULL argument");
    atas_run_config c = *cfg;
    const int per_rank_given = c.batch.groups_per_rank > 0;
    ATAS_CHECK(atas_config_apply_world(&c, world));
    *r = (atas_recipe){0};
    r->groups_asked = per_rank_given ? c.batch.groups : cfg->batch.groups;
    r->world = world;
    r->groups = c.batch.groups;
    r->groups_per_rank = c.batch.groups / world;
    r->per_rank_given = per_rank_given;
    r->images_per_step = atas_config_images_per_step(&c);
    r->corpus_images = corpus_images > 0 ? corpus_images : 0;
    r->total_steps = atas_config_total_steps(&c, r->corpus_images);
    r->epochs = r->corpus_images > 0 ? (double)r->total_steps * r->images_per_step / (double)r->corpus_images : 0;
    r->peak_lr = atas_config_peak_lr(&c);
    r->warmup_steps = r->total_steps > 0 ? atas_config_warmup_steps(&c, r->total_steps) : 0;
    if (r->total_steps == 0 && c.optim.warmup_fraction == 0) r->warmup_steps = c.optim.warmup_steps;
    r->warmup_share = r->total_steps > 0 ? (double)r->warmup_steps / (double)r->total_steps : 0;
    return ATAS_OK;
}

void atas_recipe_format(const atas_recipe *r, const atas_run_config *c, char *buf, size_t n) {
    size_t at = 0;
#define OUT(...)                                                              \
    do {                                                                      \
        int w_ = snprintf(buf + at, at < n ? n - at : 0, __VA_ARGS__);        \
        if (w_ > 0) at += (size_t)w_;                                         \
    } while (0)
    if (n) buf[0] = 0;
    OUT("recipe on %d rank(s): global batch %d group(s) x %d images = %d images per step (%d group(s) per rank%s)\n",
        r->world, r->groups, c->batch.group_images, r->images_per_step, r->groups_per_rank,
        r->per_rank_given ? ", batch.groups_per_rank" : ", batch.groups is global");
    if (r->groups_asked != r->groups)
        OUT("recipe: batch.groups = %d rounded up to %d, a multiple of %d rank(s) (batch.round_up)\n",
            r->groups_asked, r->groups, r->world);
    if (r->total_steps > 0 && r->corpus_images > 0)
        OUT("recipe: %lld steps = %.3g epoch(s) of %lld images%s\n", (long long)r->total_steps, r->epochs,
            (long long)r->corpus_images, c->run.steps > 0 ? " (run.steps)" : " (run.epochs)");
    else if (r->total_steps > 0)
        OUT("recipe: %lld steps (run.steps; epochs need the corpus size)\n", (long long)r->total_steps);
    else
        OUT("recipe: steps = ceil(%d epochs x corpus images / %d) (corpus size unknown: atas_config "
            "--corpus-images N)\n", c->run.epochs, r->images_per_step);
    if (c->optim.lr_scale_ref_images > 0)
        OUT("recipe: peak lr %.4g = optim.lr %.4g x %s(%d / %g) (optim.lr_scale_rule = %s)\n", r->peak_lr,
            c->optim.lr, c->optim.lr_scale_rule == ATAS_CFG_LR_SQRT ? "sqrt" : "", r->images_per_step,
            c->optim.lr_scale_ref_images, c->optim.lr_scale_rule == ATAS_CFG_LR_SQRT ? "sqrt" : "linear");
    else
        OUT("recipe: peak lr %.4g (optim.lr, not scaled with the batch)\n", r->peak_lr);
    if (c->optim.warmup_fraction > 0 && r->total_steps > 0)
        OUT("recipe: warm-up %lld steps = %.1f%% of the run (optim.warmup_fraction = %g)\n",
            (long long)r->warmup_steps, 100 * r->warmup_share, c->optim.warmup_fraction);
    else if (c->optim.warmup_fraction > 0)
        OUT("recipe: warm-up %g of the steps (optim.warmup_fraction)\n", c->optim.warmup_fraction);
    else if (r->total_steps > 0)
        OUT("recipe: warm-up %lld steps = %.1f%% of the run (optim.warmup_steps)\n", (long long)r->warmup_steps,
            100 * r->warmup_share);
    else
        OUT("recipe: warm-up %lld steps (optim.warmup_steps)\n", (long long)r->warmup_steps);
#undef OUT
}

atas_status atas_recipe_log(const atas_run_config *c, int world, int64_t corpus_images) {
    atas_recipe r;
    ATAS_CHECK(atas_recipe_derive(c, world, corpus_images, &r));
    char buf[2048];
    atas_recipe_format(&r, c, buf, sizeof buf);
    for (char *line = buf, *nl; *line; line = nl + 1) { /* one log line each */
        if (!(nl = strchr(line, '\n'))) break;
        *nl = 0;
        atas_info("%s", line);
    }
    return ATAS_OK;
}
