/* Loading a run config: libconfig file -> schema-checked struct, --set
 * overrides, unknown-key detection with suggestions, cross-key checks. */
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "atas/fileio.h"
#include "train/config_internal.h"

#define WHERE_LEN (ATAS_CFG_PATH_LEN + 32)

/* Where each key got its value: "file:line", "--set", or "" (default). */
typedef struct {
    char where[128][WHERE_LEN];
    const char *file; /* the top-level config, for defaults and cross-key errors */
    char dir[ATAS_CFG_PATH_LEN]; /* its directory: @include paths are relative to it */
} cfg_origin;

/* libconfig names an included file as the @include line wrote it; say where it is. */
static void source_name(const cfg_origin *o, const char *file, char *buf, size_t n) {
    if (!file || !strcmp(file, o->file)) snprintf(buf, n, "%s", o->file);
    else if (file[0] == '/' || !strcmp(o->dir, ".")) snprintf(buf, n, "%s", file);
    else if (snprintf(buf, n, "%s/%s", o->dir, file) >= (int)n) snprintf(buf, n, "%s", file);
}

static int key_index(const cfg_key *k) { return (int)(k - atas_cfg_keys); }

static const char *origin_of(const cfg_origin *o, const char *key) {
    if (!o) return "config";
    const cfg_key *k = atas_cfg_find(key);
    if (k && o->where[key_index(k)][0]) return o->where[key_index(k)];
    return o->file;
}

/* The location of the first of these keys that the file or --set gave (a
 * cross-key error points at a line the user wrote), else the file. */
static const char *origin_first(const cfg_origin *o, const char *k1, const char *k2, const char *k3) {
    const char *keys[3] = {k1, k2, k3};
    if (!o) return "config";
    for (int i = 0; i < 3; i++) {
        const cfg_key *k = keys[i] ? atas_cfg_find(keys[i]) : NULL;
        if (k && o->where[key_index(k)][0]) return o->where[key_index(k)];
    }
    return o->file;
}

void atas_config_defaults(atas_run_config *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < atas_cfg_nkeys; i++) {
        const cfg_key *k = &atas_cfg_keys[i];
        cfg_value v;
        char buf[256];
        /* the defaults pass through the same parser and checks as user values */
        if (atas_cfg_parse_text(k, k->def, &v, buf, sizeof buf, "default") != ATAS_OK ||
            atas_cfg_apply(out, k, &v, "default") != ATAS_OK) {
            atas_error_clear(); /* a broken schema row: test_config's schema test names it */
        }
    }
}

/* ------------------------------------------------------------ suggestions */

static int levenshtein(const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 127 || lb > 127) return 1 << 20;
    int prev[128], cur[128];
    for (int j = 0; j <= lb; j++) prev[j] = j;
    for (int i = 1; i <= la; i++) {
        cur[0] = i;
        for (int j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(int) * (size_t)(lb + 1));
    }
    return prev[lb];
}

static const char *leaf(const char *k) {
    const char *d = strrchr(k, '.');
    return d ? d + 1 : k;
}

/* Is `path` a group of the schema ("loss", "loss.g2l")? */
static int is_group(const char *path) {
    size_t l = strlen(path);
    for (int i = 0; i < atas_cfg_nkeys; i++)
        if (strncmp(atas_cfg_keys[i].key, path, l) == 0 && atas_cfg_keys[i].key[l] == '.') return 1;
    return 0;
}

/* The closest known key or group: whole-path edit distance, or the same leaf
 * name in another group ("lr" at the top -> "optim.lr"). */
static const char *suggest(const char *path, int want_group, char *buf, size_t n) {
    int best = 1 << 20;
    buf[0] = 0;
    for (int i = 0; i < atas_cfg_nkeys; i++) {
        /* candidates: the key itself and each of its group prefixes */
        char cand[160];
        snprintf(cand, sizeof cand, "%s", atas_cfg_keys[i].key);
        for (;;) {
            int cand_is_group = strcmp(cand, atas_cfg_keys[i].key) != 0;
            if (cand_is_group == want_group || !want_group) {
                int d = levenshtein(path, cand);
                int dl = levenshtein(leaf(path), leaf(cand)) + 1;
                if (dl < d) d = dl;
                if (d < best) { best = d; snprintf(buf, n, "%s", cand); }
            }
            char *dot = strrchr(cand, '.');
            if (!dot) break;
            *dot = 0;
        }
    }
    int limit = 2 + (int)strlen(leaf(path)) / 4;
    return best <= limit ? buf : NULL;
}

static atas_status unknown_key(const char *where, const char *path, int is_grp) {
    char s[160];
    const char *sug = suggest(path, is_grp, s, sizeof s);
    if (sug)
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s: %s: unknown %s (did you mean %s?)", where, path,
                        is_grp ? "group" : "key", sug);
    return ATAS_ERR(ATAS_ERR_CONFIG, "%s: %s: unknown %s (the known keys are listed in configs/README.md)",
                    where, path, is_grp ? "group" : "key");
}

/* ------------------------------------------------------------ file walk */

static void setting_value(const config_setting_t *s, cfg_value *v) {
    memset(v, 0, sizeof *v);
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT: v->kind = CV_INT; v->i = config_setting_get_int(s); break;
    case CONFIG_TYPE_INT64: v->kind = CV_INT; v->i = config_setting_get_int64(s); break;
    case CONFIG_TYPE_FLOAT: v->kind = CV_FLOAT; v->f = config_setting_get_float(s); break;
    case CONFIG_TYPE_BOOL: v->kind = CV_BOOL; v->i = config_setting_get_bool(s); break;
    case CONFIG_TYPE_STRING: v->kind = CV_STRING; v->s = config_setting_get_string(s); break;
    case CONFIG_TYPE_GROUP: v->kind = CV_GROUP; break;
    default: { /* array or list */
        v->kind = CV_ARRAY;
        v->n = config_setting_length(s);
        for (int j = 0; j < v->n; j++) {
            if (j >= CV_MAX_ELEMS) { v->too_long = 1; break; }
            const config_setting_t *e = config_setting_get_elem(s, (unsigned)j);
            switch (config_setting_type(e)) {
            case CONFIG_TYPE_INT: v->ekind[j] = CV_INT; v->ei[j] = config_setting_get_int(e); break;
            case CONFIG_TYPE_INT64: v->ekind[j] = CV_INT; v->ei[j] = config_setting_get_int64(e); break;
            case CONFIG_TYPE_FLOAT: v->ekind[j] = CV_FLOAT; v->ef[j] = config_setting_get_float(e); break;
            case CONFIG_TYPE_BOOL: v->ekind[j] = CV_BOOL; v->ei[j] = config_setting_get_bool(e); break;
            case CONFIG_TYPE_STRING: v->ekind[j] = CV_STRING; break;
            default: v->ekind[j] = CV_GROUP; v->nested = 1; break;
            }
        }
    }
    }
}

static atas_status walk(const config_setting_t *grp, const char *prefix, atas_run_config *c,
                        cfg_origin *o) {
    int n = config_setting_length(grp);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
        char path[256], where[WHERE_LEN];
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", config_setting_name(s));
        char file[ATAS_CFG_PATH_LEN];
        source_name(o, config_setting_source_file(s), file, sizeof file);
        snprintf(where, sizeof where, "%.*s:%u", ATAS_CFG_PATH_LEN, file, config_setting_source_line(s));
        const cfg_key *k = atas_cfg_find(path);
        if (config_setting_is_group(s)) {
            if (k) {
                cfg_value v;
                setting_value(s, &v);
                ATAS_CHECK(atas_cfg_apply(c, k, &v, where)); /* raises "must be ..., not a group" */
            }
            if (!is_group(path)) return unknown_key(where, path, 1);
            ATAS_CHECK(walk(s, path, c, o));
            continue;
        }
        if (!k) {
            if (is_group(path))
                return ATAS_ERR(ATAS_ERR_CONFIG, "%s: %s: must be a group { ... } of keys", where, path);
            return unknown_key(where, path, 0);
        }
        cfg_value v;
        setting_value(s, &v);
        ATAS_CHECK(atas_cfg_apply(c, k, &v, where));
        snprintf(o->where[key_index(k)], WHERE_LEN, "%s", where);
    }
    return ATAS_OK;
}

static atas_status read_file(const char *path, atas_run_config *c, cfg_origin *o) {
    ATAS_CHECK(atas_require_regular_file(path, "config file")); /* a FIFO would block the open */
    ATAS_CHECK(atas_cfg_check_literals(path, path));
    FILE *f = fopen(path, "r");
    if (!f) return ATAS_ERR(ATAS_ERR_IO, "%s: cannot open the config file: %s", path, strerror(errno));
    fclose(f);
    /* @include paths are relative to the including config's directory */
    char *dir = o->dir;
    snprintf(dir, sizeof o->dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof o->dir, ".");

    config_t cf;
    config_init(&cf);
    config_set_include_dir(&cf, dir);
    atas_status st = ATAS_OK;
    if (!config_read_file(&cf, path)) {
        char ef[ATAS_CFG_PATH_LEN];
        source_name(o, config_error_file(&cf), ef, sizeof ef);
        if (config_error_type(&cf) == CONFIG_ERR_FILE_IO)
            st = ATAS_ERR(ATAS_ERR_IO, "%s: cannot read the config file (%s)", ef, config_error_text(&cf));
        else
            st = ATAS_ERR(ATAS_ERR_CONFIG, "%s:%d: %s", ef, config_error_line(&cf), config_error_text(&cf));
    } else {
        st = walk(config_root_setting(&cf), "", c, o);
        if (st != ATAS_OK) atas_error_trace(st, __FILE__, __LINE__, __func__);
    }
    config_destroy(&cf);
    return st;
}

/* ------------------------------------------------------------ --set */

static atas_status apply_set(atas_run_config *c, const char *assignment, cfg_origin *o) {
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return ATAS_ERR(ATAS_ERR_CONFIG, "--set: \"%s\": expected key=value (e.g. --set optim.lr=2e-5)", assignment);
    char key[160];
    size_t kl = (size_t)(eq - assignment);
    if (kl >= sizeof key) return ATAS_ERR(ATAS_ERR_CONFIG, "--set: \"%s\": key too long", assignment);
    memcpy(key, assignment, kl);
    key[kl] = 0;
    while (kl && key[kl - 1] == ' ') key[--kl] = 0;
    const cfg_key *k = atas_cfg_find(key);
    if (!k) {
        if (is_group(key))
            return ATAS_ERR(ATAS_ERR_CONFIG, "--set: %s: is a group; set one of its keys (%s.<key>=value)", key, key);
        return unknown_key("--set", key, 0);
    }
    cfg_value v;
    char buf[ATAS_CFG_PATH_LEN + 64];
    ATAS_CHECK(atas_cfg_parse_text(k, eq + 1, &v, buf, sizeof buf, "--set"));
    ATAS_CHECK(atas_cfg_apply(c, k, &v, "--set"));
    /* the later of two ways to say the same thing wins (docs: batch.groups_per_rank, optim.warmup_fraction) */
    if (!strcmp(k->key, "batch.groups")) c->batch.groups_per_rank = 0;
    if (!strcmp(k->key, "optim.warmup_steps")) c->optim.warmup_fraction = 0;
    if (o) snprintf(o->where[key_index(k)], WHERE_LEN, "--set");
    return ATAS_OK;
}

atas_status atas_config_set(atas_run_config *c, const char *assignment) {
    return apply_set(c, assignment, NULL);
}

/* ------------------------------------------------------------ cross-key checks */

/* Re-raise the last error with a location prefix (checks from vit.h / mosaic.h
 * know the key but not the file). */
static atas_status located(atas_status st, const char *where) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", atas_error_message());
    atas_error_clear();
    return ATAS_ERR(st, "%s: %s", where, msg);
}

atas_status atas_config_model(const atas_run_config *c, atas_vit_config *out, int *complete) {
    memset(out, 0, sizeof *out);
    out->act = ATAS_ACT_QUICKGELU;
    int act_known = 0;
    if (c->model.preset[0]) {
        ATAS_CHECK(atas_vit_preset(c->model.preset, out));
        act_known = 1;
    }
#define OVR(f) if (c->model.f > 0) out->f = c->model.f
    OVR(patch); OVR(width); OVR(layers); OVR(heads); OVR(mlp); OVR(embed); OVR(grid);
#undef OVR
    if (c->model.act != ATAS_CFG_ACT_UNSET) { out->act = (atas_act)c->model.act; act_known = 1; }
    /* 0 = the preset's (EVA02 1e-6), or the weights' (the trainer fills it), else CLIP's 1e-5 */
    if (c->model.ln_eps > 0) out->ln_eps = (float)c->model.ln_eps;
    else if (!(out->ln_eps > 0)) out->ln_eps = 1e-5f;
    if (!c->model.preset[0] && !c->model.weights[0]) {
        /* random init without a preset: the config must say everything */
        static const char *names[] = {"patch", "width", "layers", "heads", "mlp", "embed"};
        const int vals[] = {out->patch, out->width, out->layers, out->heads, out->mlp, out->embed};
        for (int i = 0; i < 6; i++)
            if (vals[i] <= 0)
                return ATAS_ERR(ATAS_ERR_CONFIG,
                                "model.%s: required when model.preset and model.weights are both empty",
                                names[i]);
        if (!act_known)
            return ATAS_ERR(ATAS_ERR_CONFIG,
                            "model.act: required when model.preset and model.weights are both empty "
                            "(\"quickgelu\" or \"gelu\")");
        if (out->grid <= 0 && c->data.resolution % out->patch == 0) out->grid = c->data.resolution / out->patch;
    }
    int all = out->patch > 0 && out->width > 0 && out->layers > 0 && out->heads > 0 && out->mlp > 0 &&
              out->embed > 0 && out->grid > 0 && act_known;
    if (complete) *complete = all;
    return ATAS_OK;
}

static atas_status check_model(const atas_run_config *c, const atas_vit_config *m, const cfg_origin *o) {
    atas_status st;
    if ((st = atas_vit_config_check(m, "model")) != ATAS_OK)
        return located(st, origin_first(o, "model.heads", "model.width", "model.preset"));
    if ((st = atas_vit_check_resolution(m, c->data.resolution, c->data.resolution, "data.resolution")) != ATAS_OK)
        return located(st, origin_first(o, "data.resolution", "model.patch", "model.preset"));
    if ((st = atas_mosaic_check(c->mosaic.grids, c->mosaic.ngrids, c->mosaic.canvas, m->patch, "mosaic.grids")) !=
        ATAS_OK)
        return located(st, origin_first(o, "mosaic.grids", "mosaic.canvas", "model.patch"));
    if (c->model.unlocked_blocks > m->layers)
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s: model.unlocked_blocks = %d: must be <= the number of layers %d",
                        origin_of(o, "model.unlocked_blocks"), c->model.unlocked_blocks, m->layers);
    return ATAS_OK;
}

int atas_config_dist_nccl(const atas_run_config *c) {
    if (c->dist.backend == ATAS_CFG_DIST_NCCL) return 1;
    if (c->dist.backend == ATAS_CFG_DIST_MPI || c->run.backend != ATAS_CFG_BACKEND_CUDA) return 0;
#ifdef ATAS_WITH_CUDA
    const char *share = getenv("ATAS_SHARE_GPU");
    return !(share && strcmp(share, "1") == 0);
#else
    return 0;
#endif
}

atas_status atas_config_check_model(const atas_run_config *c, const atas_vit_config *m) {
    ATAS_CHECK(check_model(c, m, NULL));
    return ATAS_OK;
}

static atas_status check_all(const atas_run_config *c, const cfg_origin *o) {
#define AT(key) origin_of(o, key)
    if (!c->data.corpus[0])
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s: data.corpus: required (the HDF5 corpus made by atas_pack)",
                        AT("data.corpus"));
    if (c->run.steps == 0 && c->run.epochs == 0)
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s: run.steps = 0: needs run.epochs > 0 to derive the number of steps",
                        origin_first(o, "run.steps", "run.epochs", NULL));
    if (c->run.steps > 0 && c->optim.warmup_fraction == 0 && c->optim.warmup_steps > c->run.steps)
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s: optim.warmup_steps = %d: must be <= run.steps = %d",
                        origin_first(o, "optim.warmup_steps", "run.steps", NULL), c->optim.warmup_steps, c->run.steps);
    if (c->optim.min_lr > c->optim.lr)
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s: optim.min_lr = %g: must be <= optim.lr = %g", origin_first(o, "optim.min_lr", "optim.lr", NULL),
                        c->optim.min_lr, c->optim.lr);
    if (!(c->loss.g2l.weight > 0 || c->loss.l2l.weight > 0 || c->loss.g2g.weight > 0))
        return ATAS_ERR(ATAS_ERR_CONFIG,
                        "%s: loss: at least one of loss.g2l.weight, loss.l2l.weight, loss.g2g.weight must be > 0",
                        origin_first(o, "loss.g2l.weight", "loss.l2l.weight", "loss.g2g.weight"));
    if (c->teacher.momentum_schedule == ATAS_CFG_MOM_CONSTANT &&
        c->teacher.momentum_start != c->teacher.momentum_end)
        return ATAS_ERR(ATAS_ERR_CONFIG,
                        "%s: teacher.momentum_end = %g: must equal teacher.momentum_start = %g when "
                        "teacher.momentum_schedule = \"constant\"",
                        origin_first(o, "teacher.momentum_end", "teacher.momentum_schedule", "teacher.momentum_start"),
                        c->teacher.momentum_end, c->teacher.momentum_start);
    if (c->dist.backend == ATAS_CFG_DIST_NCCL && c->run.backend != ATAS_CFG_BACKEND_CUDA)
        return ATAS_ERR(ATAS_ERR_CONFIG,
                        "%s: dist.backend = \"nccl\": needs run.backend = \"cuda\" (run.backend is \"%s\"; "
                        "the cpu backends reduce through MPI: dist.backend = \"mpi\" or \"auto\")",
                        origin_first(o, "dist.backend", "run.backend", NULL),
                        atas_config_enum_name("run.backend", c->run.backend));
#ifndef ATAS_WITH_CUDA
    if (c->dist.backend == ATAS_CFG_DIST_NCCL)
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s: dist.backend = \"nccl\": this build has no CUDA/NCCL "
                        "(configure with -DATAS_WITH_CUDA=ON)", AT("dist.backend"));
#endif
    if (c->run.dump_step >= 0 && c->run.steps > 0 && c->run.dump_step >= c->run.steps)
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s: run.dump_step = %d: must be < run.steps = %d (or -1 = never)",
                        origin_first(o, "run.dump_step", "run.steps", NULL), c->run.dump_step, c->run.steps);
    atas_status st;
    if ((c->loss.g2l.weight > 0 || c->loss.l2l.weight > 0) && c->mosaic.per_group > 0 &&
        (st = atas_mosaic_check_images(c->mosaic.grids, c->mosaic.ngrids, c->batch.group_images,
                                       c->mosaic.repeat_images, "mosaic.grids", "batch.group_images")) != ATAS_OK)
        return located(st, origin_first(o, "mosaic.grids", "batch.group_images", "mosaic.repeat_images"));
    if (c->eval.every > 0 && (!c->eval.data[0] || !c->eval.images[0] || !c->eval.classes[0]))
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s: eval.every = %d: needs eval.data, eval.images and eval.classes (docs/eval.md)",
                        origin_first(o, "eval.every", "eval.data", NULL), c->eval.every);
    atas_vit_config m;
    int complete = 0;
    st = atas_config_model(c, &m, &complete);
    if (st != ATAS_OK) return located(st, AT("model.preset"));
    if (complete) ATAS_CHECK(check_model(c, &m, o));
    else if (m.patch > 0) { /* weights will give the rest; the geometry needs only the patch */
        if ((st = atas_vit_check_resolution(&m, c->data.resolution, c->data.resolution, "data.resolution")) != ATAS_OK)
            return located(st, origin_first(o, "data.resolution", "model.patch", NULL));
        if ((st = atas_mosaic_check(c->mosaic.grids, c->mosaic.ngrids, c->mosaic.canvas, m.patch, "mosaic.grids")) !=
            ATAS_OK)
            return located(st, origin_first(o, "mosaic.grids", "mosaic.canvas", "model.patch"));
    }
    return ATAS_OK;
#undef AT
}

atas_status atas_config_check(const atas_run_config *c) {
    ATAS_CHECK(check_all(c, NULL));
    return ATAS_OK;
}

atas_status atas_config_check_world(const atas_run_config *c, int world) {
    if (world <= 0) return ATAS_ERR(ATAS_ERR_INVALID, "world size %d: must be >= 1", world);
    if (c->batch.groups_per_rank > 0) return ATAS_OK; /* groups = groups_per_rank * world */
    if (c->batch.groups % world != 0)
        return ATAS_ERR(ATAS_ERR_CONFIG,
                        "batch.groups = %d: must be a multiple of the number of ranks (%d) so every rank "
                        "takes the same number of groups (or state the batch per rank: batch.groups_per_rank)",
                        c->batch.groups, world);
    return ATAS_OK;
}

atas_status atas_config_load(const char *path, char **sets, int nsets, atas_run_config *out) {
    ATAS_REQUIRE(path && out && (nsets == 0 || sets), "atas_config_load: path/out missing");
    cfg_origin *o = calloc(1, sizeof *o);
    if (!o) return ATAS_ERR(ATAS_ERR_NOMEM, "config: no memory for the origin table");
    o->file = path;
    atas_status st = ATAS_OK;
    if (atas_cfg_nkeys > 128) {
        st = ATAS_ERR(ATAS_ERR_INTERNAL, "config: %d keys exceed the origin table", atas_cfg_nkeys);
        goto done;
    }
    atas_config_defaults(out);
    ATAS_CHECK_GOTO(st, read_file(path, out, o), done);
    if (out->batch.groups_per_rank > 0 && o->where[key_index(atas_cfg_find("batch.groups"))][0]) {
        st = ATAS_ERR(ATAS_ERR_CONFIG,
                      "%s: batch.groups and batch.groups_per_rank (%s) are both given: state the batch one way "
                      "(global: batch.groups; per rank: batch.groups_per_rank)",
                      origin_of(o, "batch.groups"), origin_of(o, "batch.groups_per_rank"));
        goto done;
    }
    for (int i = 0; i < nsets; i++) ATAS_CHECK_GOTO(st, apply_set(out, sets[i], o), done);
    ATAS_CHECK_GOTO(st, check_all(out, o), done);
done:
    free(o);
    return st;
}

/* ------------------------------------------------------------ small helpers */

const char *atas_config_enum_name(const char *key, int value) {
    const cfg_key *k = atas_cfg_find(key);
    if (!k || k->type != CFG_ENUM) return NULL;
    for (const cfg_enum_item *it = k->items; it->name; it++)
        if (it->value == value) return it->name;
    return NULL;
}

double atas_config_peak_lr(const atas_run_config *c) {
    if (c->optim.lr_scale_ref_images > 0) {
        double ratio = (double)atas_config_images_per_step(c) / c->optim.lr_scale_ref_images;
        return c->optim.lr * (c->optim.lr_scale_rule == ATAS_CFG_LR_SQRT ? sqrt(ratio) : ratio);
    }
    return c->optim.lr;
}

int64_t atas_config_total_steps(const atas_run_config *c, int64_t corpus_images) {
    if (c->run.steps > 0) return c->run.steps;
    int64_t per = atas_config_images_per_step(c);
    if (per <= 0 || corpus_images <= 0) return 0;
    return ((int64_t)c->run.epochs * corpus_images + per - 1) / per;
}

atas_status atas_config_run_dir(const atas_run_config *c, char *buf, size_t n) {
    int w = snprintf(buf, n, "%s/%s", c->run.dir, c->run.name);
    if (w < 0 || (size_t)w >= n)
        return ATAS_ERR(ATAS_ERR_CONFIG, "run.dir/run.name = \"%s/%s\": longer than %zu characters", c->run.dir,
                        c->run.name, n - 1);
    return ATAS_OK;
}
