/* EVA02 dims from the tensor shapes of either EVA layout (docs/eva02.md). */
#include <string.h>

#include "io/namemap_eva.h"
#include "io/weights_internal.h"

static atas_status shape_of(const wview *v, const char *name, int ndim, int64_t *shape,
                            const char *what) {
    int i = wv_find(v, name);
    if (i < 0)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: EVA02 tensor '%s' missing: cannot infer %s",
                        atas_st_path(v->st), name, what);
    const atas_st_tensor *t = atas_st_get(v->st, i);
    if (t->ndim != ndim)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: EVA02 tensor '%s' has rank %d, expected %d (for %s)",
                        t->file, t->name, t->ndim, ndim, what);
    for (int k = 0; k < ndim; k++) shape[k] = t->shape[k];
    return ATAS_OK;
}

int atas_weights_eva_layout(const wview *v) {
    if (wv_find(v, "visual.trunk.patch_embed.proj.weight") >= 0) return ATAS_LAYOUT_OPENCLIP;
    if (wv_find(v, "visual.patch_embed.proj.weight") >= 0) return ATAS_LAYOUT_EVA_BAAI;
    return -1;
}

atas_status atas_weights_eva_infer_dims(const wview *v, atas_layout L, atas_vit_config *c) {
    const char *path = atas_st_path(v->st), *pre = L == ATAS_LAYOUT_EVA_BAAI ? "visual." : "visual.trunk.";
    const int baai = L == ATAS_LAYOUT_EVA_BAAI;
    char nm[160];
    int64_t s[4];
    c->family = ATAS_VIT_EVA02;
    c->act = ATAS_ACT_GELU; /* unused by EVA02 */
    c->ln_eps = 1e-6f;
    snprintf(nm, sizeof nm, "%spatch_embed.proj.weight", pre);
    ATAS_CHECK(shape_of(v, nm, 4, s, "width and patch"));
    if (s[1] != 3 || s[2] != s[3] || s[0] <= 0 || s[2] <= 0)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: '%s' has shape [%lld,%lld,%lld,%lld], expected "
                        "[width,3,patch,patch]", path, nm, (long long)s[0], (long long)s[1],
                        (long long)s[2], (long long)s[3]);
    c->width = (int)s[0];
    c->patch = (int)s[2];
    snprintf(nm, sizeof nm, "%spos_embed", pre);
    ATAS_CHECK(shape_of(v, nm, 3, s, "grid"));
    int g = 0;
    while ((int64_t)(g + 1) * (g + 1) + 1 <= s[1]) g++;
    if (s[0] != 1 || s[1] < 2 || (int64_t)g * g + 1 != s[1] || s[2] != c->width)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: '%s' has shape [%lld,%lld,%lld], expected "
                        "[1, grid*grid+1, %d]", path, nm, (long long)s[0], (long long)s[1],
                        (long long)s[2], c->width);
    c->grid = g;
    int l = 0;
    for (;; l++) {
        snprintf(nm, sizeof nm, "%sblocks.%d.norm1.weight", pre, l);
        if (wv_find(v, nm) < 0) break;
    }
    if (l == 0)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: EVA02 tensor '%s' missing: cannot infer layers", path, nm);
    c->layers = l;
    snprintf(nm, sizeof nm, "%sblocks.0.mlp.%s.weight", pre, baai ? "w1" : "fc1_g");
    ATAS_CHECK(shape_of(v, nm, 2, s, "mlp"));
    c->mlp = (int)s[0];
    snprintf(nm, sizeof nm, "%shead.weight", pre);
    ATAS_CHECK(shape_of(v, nm, 2, s, "embed"));
    c->embed = (int)s[0];
    return ATAS_OK;
}
