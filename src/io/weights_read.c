/* Reading CLIP vision weights in either layout: config inference from shapes,
 * the side configs (HF config.json, open_clip_config.json), and the strict
 * shape-checked load into the atas parameter table. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atas/weights.h"
#include "io/namemap_eva.h"
#include "io/weights_internal.h"

atas_status atas_hf_hidden_act(json_t *cfg, const char *file, const char *section, atas_act *act) {
    json_t *a = json_object_get(cfg, "hidden_act");
    const char *v = a ? json_string_value(a) : "quick_gelu"; /* HF CLIP's default */
    if (v && strcmp(v, "quick_gelu") == 0) *act = ATAS_ACT_QUICKGELU;
    else if (v && strcmp(v, "gelu") == 0) *act = ATAS_ACT_GELU;
    else
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: %s.hidden_act = %s: expected \"quick_gelu\" or \"gelu\"", file,
                        section, v ? v : "(not a string)");
    return ATAS_OK;
}

/* ------------------------------------------------------------ unwrapped view */
typedef struct {
    const char *name;
    int idx;
} uname;

static int cmp_uname(const void *a, const void *b) {
    return strcmp(((const uname *)a)->name, ((const uname *)b)->name);
}

atas_status wv_open(wview *v, const char *path) {
    memset(v, 0, sizeof *v);
    ATAS_CHECK(atas_st_open(&v->st, path));
    int n = atas_st_count(v->st);
    v->u = calloc((size_t)n + 1, sizeof(uname));
    if (!v->u) { wv_close(v); return ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", path); }
    uname *u = v->u;
    for (int i = 0; i < n; i++) u[i] = (uname){atas_weights_unwrap(atas_st_get(v->st, i)->name), i};
    qsort(u, (size_t)n, sizeof *u, cmp_uname);
    for (int i = 1; i < n; i++)
        if (strcmp(u[i].name, u[i - 1].name) == 0) {
            atas_status s = ATAS_ERR(ATAS_ERR_FORMAT,
                                     "%s: tensors '%s' and '%s' are the same after removing the "
                                     "state_dict./module. prefixes", atas_st_path(v->st),
                                     atas_st_get(v->st, u[i - 1].idx)->name,
                                     atas_st_get(v->st, u[i].idx)->name);
            wv_close(v);
            return s;
        }
    v->n = n;
    return ATAS_OK;
}

void wv_close(wview *v) {
    atas_st_close(v->st);
    free(v->u);
    memset(v, 0, sizeof *v);
}

int wv_find(const wview *v, const char *name) {
    const uname *u = v->u;
    int lo = 0, hi = v->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(u[mid].name, name);
        if (c == 0) return u[mid].idx;
        if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

atas_status atas_weights_detect_layout(const atas_st *st, atas_layout *l) {
    int oc = 0, hf = 0;
    for (int i = 0; i < atas_st_count(st); i++) {
        const char *nm = atas_weights_unwrap(atas_st_get(st, i)->name);
        oc += atas_namemap_is_vision(nm, ATAS_LAYOUT_OPENCLIP);
        hf += atas_namemap_is_vision(nm, ATAS_LAYOUT_HF);
    }
    if (oc && hf)
        return ATAS_ERR(ATAS_ERR_FORMAT,
                        "%s: holds both OpenCLIP (visual.*, %d tensors) and Hugging Face "
                        "(vision_model.*, %d tensors) vision weights", atas_st_path(st), oc, hf);
    if (!oc && !hf)
        return ATAS_ERR(ATAS_ERR_FORMAT,
                        "%s: no vision tower found (expected tensors named visual.* (OpenCLIP) or "
                        "vision_model.* (Hugging Face))", atas_st_path(st));
    *l = oc ? ATAS_LAYOUT_OPENCLIP : ATAS_LAYOUT_HF;
    for (int i = 0; oc && i < atas_st_count(st); i++) /* BAAI EVA-CLIP names (visual.blocks.*) */
        if (atas_namemap_eva_is_baai(atas_weights_unwrap(atas_st_get(st, i)->name))) {
            *l = ATAS_LAYOUT_EVA_BAAI;
            break;
        }
    return ATAS_OK;
}

/* ------------------------------------------------------------ side configs */
static char *dir_of(const char *path) {
    struct stat sb;
    char *d = strdup(path);
    if (!d) return NULL;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return d;
    char *s = strrchr(d, '/');
    if (s) *s = 0; else strcpy(d, ".");
    return d;
}

void side_free(sidecfg *s) {
    free(s->hf_text);
    memset(s, 0, sizeof *s);
}

atas_status side_read(const char *path, atas_layout layout, sidecfg *s) {
    memset(s, 0, sizeof *s);
    char *dir = dir_of(path);
    if (!dir) return ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", path);
    snprintf(s->file, sizeof s->file, "%s/%s", dir,
             layout == ATAS_LAYOUT_HF ? "config.json" : "open_clip_config.json");
    free(dir);
    struct stat sb;
    if (stat(s->file, &sb) != 0) return ATAS_OK; /* no side config */
    if (!S_ISREG(sb.st_mode))
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: not a regular file (a FIFO or device is refused)", s->file);
    json_error_t jerr;
    json_t *root = json_load_file(s->file, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: invalid JSON at line %d: %s", s->file, jerr.line,
                        jerr.text);
    atas_status st = ATAS_OK;
    if (layout == ATAS_LAYOUT_HF) {
        json_t *vc = json_object_get(root, "vision_config");
        const char *mt = json_string_value(json_object_get(root, "model_type"));
        if (!json_is_object(vc)) vc = (mt && strcmp(mt, "clip_vision_model") == 0) ? root : NULL;
        s->hf_text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (vc) {
            /* absent keys take transformers' CLIPVisionConfig defaults */
            json_t *h = json_object_get(vc, "num_attention_heads");
            s->heads = h ? (int)json_integer_value(h) : 12;
            s->have_heads = 1;
            if (h && !json_is_integer(h)) {
                st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: vision_config.num_attention_heads is not an integer",
                              s->file);
                goto done;
            }
            ATAS_CHECK_GOTO(st, atas_hf_hidden_act(vc, s->file, "vision_config", &s->act), done);
            s->have_act = 1;
            json_t *e = json_object_get(vc, "layer_norm_eps");
            s->ln_eps = e ? (float)json_number_value(e) : 1e-5f;
            s->have_eps = 1;
        }
    } else {
        json_t *mc = json_object_get(root, "model_cfg");
        if (json_is_object(mc)) {
            json_t *q = json_object_get(mc, "quick_gelu");
            s->act = json_is_true(q) ? ATAS_ACT_QUICKGELU : ATAS_ACT_GELU; /* OpenCLIP default: gelu */
            s->have_act = 1;
            json_t *vc = json_object_get(mc, "vision_cfg");
            json_t *hw = json_is_object(vc) ? json_object_get(vc, "head_width") : NULL;
            s->head_width = hw ? (int)json_integer_value(hw) : 64;
            if (s->head_width <= 0) {
                st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: model_cfg.vision_cfg.head_width must be positive",
                              s->file);
                goto done;
            }
            s->have_heads = 1;
        }
    }
done:
    json_decref(root);
    if (st != ATAS_OK) side_free(s);
    return st;
}

/* ------------------------------------------------------------ inference */
static atas_status get_shape(const wview *v, const char *name, int ndim, int64_t *shape,
                             const char *what) {
    int i = wv_find(v, name);
    if (i < 0)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: tensor '%s' missing: cannot infer %s",
                        atas_st_path(v->st), name, what);
    const atas_st_tensor *t = atas_st_get(v->st, i);
    if (t->ndim != ndim)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: tensor '%s' has rank %d, expected %d (for %s)",
                        t->file, t->name, t->ndim, ndim, what);
    for (int k = 0; k < ndim; k++) {
        shape[k] = t->shape[k];
        /* a dimension of 0 (an empty tensor of any "size") or past int would give a model
         * the file cannot fill: refuse it before anything is allocated */
        if (shape[k] <= 0 || shape[k] > (1 << 20))
            return ATAS_ERR(ATAS_ERR_FORMAT, "%s: tensor '%s' has dimension %d = %lld (must be in 1..%d)",
                            t->file, t->name, k, (long long)shape[k], 1 << 20);
    }
    return ATAS_OK;
}

static atas_status infer_dims(const wview *v, atas_layout L, atas_vit_config *c) {
    int hf = L == ATAS_LAYOUT_HF;
    if (!hf && atas_weights_eva_layout(v) >= 0) return atas_weights_eva_infer_dims(v, L, c);
    const char *path = atas_st_path(v->st);
    int64_t s[4];
    ATAS_CHECK(get_shape(v, hf ? "vision_model.embeddings.patch_embedding.weight" : "visual.conv1.weight",
                    4, s, "width and patch"));
    if (s[1] != 3 || s[2] != s[3] || s[0] <= 0 || s[2] <= 0)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: patch embedding has shape [%lld,%lld,%lld,%lld], "
                        "expected [width,3,patch,patch]", path, (long long)s[0], (long long)s[1],
                        (long long)s[2], (long long)s[3]);
    c->width = (int)s[0];
    c->patch = (int)s[2];
    ATAS_CHECK(get_shape(v, hf ? "vision_model.embeddings.position_embedding.weight"
                          : "visual.positional_embedding", 2, s, "grid"));
    int g = 0;
    while ((int64_t)(g + 1) * (g + 1) + 1 <= s[0]) g++;
    if (s[0] < 2 || (int64_t)g * g + 1 != s[0] || s[1] != c->width)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: positional embedding has shape [%lld,%lld], expected "
                        "[grid*grid+1, %d]", path, (long long)s[0], (long long)s[1], c->width);
    c->grid = g;
    char nm[160];
    int l = 0;
    for (;; l++) {
        snprintf(nm, sizeof nm, hf ? "vision_model.encoder.layers.%d.layer_norm1.weight"
                                   : "visual.transformer.resblocks.%d.ln_1.weight", l);
        if (wv_find(v, nm) < 0) break;
    }
    if (l == 0)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: tensor '%s' missing: cannot infer layers", path, nm);
    c->layers = l;
    ATAS_CHECK(get_shape(v, hf ? "vision_model.encoder.layers.0.mlp.fc1.weight"
                          : "visual.transformer.resblocks.0.mlp.c_fc.weight", 2, s, "mlp"));
    c->mlp = (int)s[0];
    ATAS_CHECK(get_shape(v, hf ? "visual_projection.weight" : "visual.proj", 2, s, "embed"));
    c->embed = (int)(hf ? s[0] : s[1]);
    return ATAS_OK;
}

atas_status atas_weights_act_unknown(const char *path) {
    return ATAS_ERR(ATAS_ERR_CONFIG,
                    "%s: the activation (quickgelu or gelu) cannot be inferred from weights and no "
                    "config.json (hidden_act) or open_clip_config.json (quick_gelu) is beside it: "
                    "state it (config model.act, or --act)", path);
}

atas_status atas_weights_infer_config(const char *path, atas_vit_config *c, int *have_act) {
    wview v;
    ATAS_CHECK(wv_open(&v, path));
    atas_status s;
    atas_layout L;
    sidecfg sc = {0};
    int stated_heads = c->heads > 0 ? c->heads : 0;
    memset(c, 0, sizeof *c);
    c->act = ATAS_ACT_QUICKGELU;
    c->ln_eps = 1e-5f;
    ATAS_CHECK_GOTO(s, atas_weights_detect_layout(v.st, &L), done);
    ATAS_CHECK_GOTO(s, infer_dims(&v, L, c), done);
    ATAS_CHECK_GOTO(s, side_read(path, L, &sc), done);
    /* atas's own exports record heads / act / ln_eps in the safetensors metadata */
    char mh[32] = "", ma[32] = "", me[32] = "";
    int fh = 0, fa = 0, fe = 0;
    if (!sc.have_heads || !sc.have_act) {
        ATAS_CHECK_GOTO(s, atas_st_metadata_get(path, "atas.heads", mh, sizeof mh, &fh), done);
        ATAS_CHECK_GOTO(s, atas_st_metadata_get(path, "atas.act", ma, sizeof ma, &fa), done);
        ATAS_CHECK_GOTO(s, atas_st_metadata_get(path, "atas.ln_eps", me, sizeof me, &fe), done);
    }
    if (fh && !sc.have_heads && (atoi(mh) <= 0 || c->width % atoi(mh))) {
        s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: __metadata__ atas.heads = \"%s\" does not divide the width %d", path,
                     mh, c->width);
        goto done;
    }
    if (fa && !sc.have_act) {
        if (strcmp(ma, "quickgelu") && strcmp(ma, "gelu")) {
            s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: __metadata__ atas.act = \"%s\": expected quickgelu or gelu", path, ma);
            goto done;
        }
        sc.act = strcmp(ma, "gelu") ? ATAS_ACT_QUICKGELU : ATAS_ACT_GELU;
        sc.have_act = 1;
        if (fe && !sc.have_eps && atof(me) > 0) sc.ln_eps = (float)atof(me), sc.have_eps = 1;
    }
    if (stated_heads) {
        c->heads = stated_heads;
    } else if (fh && !sc.have_heads) {
        c->heads = atoi(mh);
    } else if (sc.have_heads) {
        c->heads = sc.head_width ? c->width / sc.head_width : sc.heads;
        if (sc.head_width && c->width % sc.head_width) {
            s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: head_width %d does not divide width %d", sc.file,
                         sc.head_width, c->width);
            goto done;
        }
    } else {
        static const char *presets[] = {"ViT-B-16", "ViT-B-32", "ViT-L-14", "ViT-H-14",
                                        "ViT-g-14", "ViT-bigG-14", "EVA02-B-16", "EVA02-L-14"};
        for (size_t i = 0; i < sizeof presets / sizeof *presets && !c->heads; i++) {
            atas_vit_config p;
            if (atas_vit_preset(presets[i], &p) == ATAS_OK && p.family == c->family && p.width == c->width &&
                p.layers == c->layers && p.patch == c->patch && p.mlp == c->mlp) {
                c->heads = p.heads;
                atas_info("%s: heads cannot be inferred from weights; using %d from the matching "
                          "preset %s", path, p.heads, presets[i]);
            }
        }
        if (!c->heads) {
            if (c->width % 64) {
                s = ATAS_ERR(ATAS_ERR_CONFIG,
                             "%s: heads cannot be inferred from weights (width %d is not a multiple "
                             "of 64 and no config.json is beside it): state model.heads", path,
                             c->width);
                goto done;
            }
            c->heads = c->width / 64;
            atas_warn("%s: heads cannot be inferred from weights and no config says; assuming "
                      "head_dim 64 -> heads = %d (state model.heads if that is wrong)", path,
                      c->heads);
        }
    }
    if (c->family == ATAS_VIT_EVA02) {
        /* no activation to state (SwiGLU); eps 1e-6 unless atas' own export says */
        sc.have_act = 1;
        sc.act = c->act;
        if (!(fe && atof(me) > 0)) sc.have_eps = 0;
        else sc.ln_eps = (float)atof(me), sc.have_eps = 1;
    }
    if (sc.have_act) c->act = sc.act;
    if (sc.have_eps) c->ln_eps = sc.ln_eps;
    if (have_act) *have_act = sc.have_act;
    ATAS_CHECK_GOTO(s, atas_vit_config_check(c, path), done);
    {   /* the model must fit in what the file holds before anything of its size is allocated */
        atas_param_info *info = NULL;
        int nt = 0;
        size_t need = 0, have = 0;
        ATAS_CHECK_GOTO(s, atas_vit_param_table(c, &info, &nt, &need), done);
        need = 0;
        for (int i = 0; i < nt; i++) need += info[i].numel;
        atas_host_free(info);
        for (int i = 0; i < atas_st_count(v.st); i++) have += atas_st_get(v.st, i)->numel;
        if (need > have) {
            s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: the shapes say width %d, %d layers, mlp %d, grid %d (%zu "
                         "parameters), but the file holds only %zu values", path, c->width, c->layers,
                         c->mlp, c->grid, need, have);
            goto done;
        }
    }
done:
    side_free(&sc);
    wv_close(&v);
    return s;
}

/* ------------------------------------------------------------ load */
static void fmt_shape(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

static atas_status read_part(const wview *v, const atas_vit_config *c, const atas_param_info *t,
                             const atas_namemap_part *p, float *host, unsigned char *used) {
    int i = wv_find(v, p->name);
    if (i < 0)
        return ATAS_ERR(ATAS_ERR_FORMAT,
                        "%s: tensor '%s' missing (a model with width %d, layers %d, mlp %d, embed "
                        "%d, grid %d, patch %d needs it)", atas_st_path(v->st), p->name, c->width,
                        c->layers, c->mlp, c->embed, c->grid, c->patch);
    const atas_st_tensor *f = atas_st_get(v->st, i);
    int ok = f->ndim == p->ndim;
    for (int k = 0; ok && k < p->ndim; k++) ok = f->shape[k] == p->shape[k];
    if (!ok) {
        char e[128], g[128];
        fmt_shape(e, sizeof e, p->ndim, p->shape);
        fmt_shape(g, sizeof g, f->ndim, f->shape);
        return ATAS_ERR(ATAS_ERR_FORMAT,
                        "%s: tensor '%s': expected shape %s (model width %d, layers %d, mlp %d, "
                        "embed %d, grid %d, patch %d), found %s", f->file, f->name, e, c->width,
                        c->layers, c->mlp, c->embed, c->grid, c->patch, g);
    }
    if (used[i])
        return ATAS_ERR(ATAS_ERR_INTERNAL, "%s: tensor '%s' mapped twice", f->file, f->name);
    used[i] = 1;
    size_t row = t->numel / (size_t)t->shape[0];
    float *dst = host + t->offset;
    if (!p->transpose) {
        ATAS_CHECK(atas_st_read_f32(f, dst + (size_t)p->row0 * row));
        return ATAS_OK;
    }
    float *tmp;
    ATAS_CHECK(atas_host_alloc((void **)&tmp, f->numel * sizeof(float), "transpose staging"));
    atas_status s = atas_st_read_f32(f, tmp);
    int R = t->shape[0], C = t->shape[1]; /* stored as [C, R] */
    if (s == ATAS_OK)
        for (int r = 0; r < R; r++)
            for (int cc = 0; cc < C; cc++) dst[(size_t)r * C + cc] = tmp[(size_t)cc * R + r];
    atas_host_free(tmp);
    ATAS_CHECK(s);
    return ATAS_OK;
}

void atas_weights_extra_free(atas_weights_extra *x) {
    if (!x) return;
    for (int i = 0; i < x->n; i++) {
        free(x->t[i].name);
        atas_host_free(x->t[i].data);
    }
    free(x->t);
    free(x->hf_config);
    free(x);
}

atas_status atas_weights_read_host(const char *path, const atas_vit_config *c,
                                   const atas_param_info *info, int n, float *host,
                                   atas_weights_extra **extra) {
    if (extra) *extra = NULL;
    wview v;
    ATAS_CHECK(wv_open(&v, path));
    atas_status s = ATAS_OK;
    atas_layout L;
    sidecfg sc = {0};
    atas_weights_extra *x = NULL;
    unsigned char *used = calloc((size_t)v.n + 1, 1);
    if (!used) { s = ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", path); goto done; }
    ATAS_CHECK_GOTO(s, atas_weights_detect_layout(v.st, &L), done);
    if (c->family == ATAS_VIT_EVA02 && L == ATAS_LAYOUT_HF) {
        s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: Hugging Face names (vision_model.*) for an EVA02 model: "
                     "transformers has no EVA02-CLIP class; expected OpenCLIP/timm (visual.trunk.*) "
                     "or BAAI EVA-CLIP (visual.blocks.*) names", path);
        goto done;
    }
    if (c->family != ATAS_VIT_EVA02 && atas_weights_eva_layout(&v) >= 0) {
        s = ATAS_ERR(ATAS_ERR_CONFIG, "%s: holds EVA02-CLIP weights but the model config is a CLIP "
                     "ViT (use an EVA02 preset, e.g. model.preset = \"EVA02-B-16\")", path);
        goto done;
    }
    if (c->family == ATAS_VIT_EVA02 && L == ATAS_LAYOUT_OPENCLIP && atas_weights_eva_layout(&v) < 0) {
        s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: EVA02 tensor 'visual.trunk.patch_embed.proj.weight' "
                     "(OpenCLIP/timm) or 'visual.patch_embed.proj.weight' (BAAI) missing: not "
                     "EVA02-CLIP weights", path);
        goto done;
    }
    for (int idx = 0; idx < n; idx++) {
        atas_namemap_part parts[3];
        int np = atas_namemap_parts(c, info, idx, L, parts);
        for (int k = 0; k < np; k++) ATAS_CHECK_GOTO(s, read_part(&v, c, &info[idx], &parts[k], host, used), done);
    }
    if (extra) {
        x = calloc(1, sizeof *x);
        if (x) x->t = calloc((size_t)v.n + 1, sizeof *x->t);
        if (!x || !x->t) { s = ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", path); goto done; }
        x->layout = L;
    }
    for (int i = 0; i < v.n; i++) {
        if (used[i]) continue;
        const atas_st_tensor *f = atas_st_get(v.st, i);
        const char *un = atas_weights_unwrap(f->name);
        if (strcmp(un, "vision_model.embeddings.position_ids") == 0) continue; /* recomputed */
        if (atas_namemap_is_vision(un, L)) {
            s = ATAS_ERR(ATAS_ERR_FORMAT,
                         "%s: vision tensor '%s' is not part of a model with width %d, layers %d "
                         "(wrong config, or an unsupported architecture)", f->file, f->name,
                         c->width, c->layers);
            goto done;
        }
        if (!x) continue;
        atas_weights_tensor *e = &x->t[x->n];
        e->name = strdup(un);
        if (!e->name) { s = ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", path); goto done; }
        x->n++;
        e->dtype = f->dtype;
        e->ndim = f->ndim;
        memcpy(e->shape, f->shape, sizeof e->shape);
        e->nbytes = f->nbytes;
        ATAS_CHECK_GOTO(s, atas_host_alloc((void **)&e->data, f->nbytes ? f->nbytes : 1, "extra tensor"), done);
        if (f->nbytes) memcpy(e->data, f->data, f->nbytes);
    }
    ATAS_CHECK_GOTO(s, side_read(path, L, &sc), done);
    if (sc.have_heads) {
        int heads = sc.head_width ? c->width / sc.head_width : sc.heads;
        if (heads != c->heads) {
            s = ATAS_ERR(ATAS_ERR_CONFIG, "%s: says %d attention heads, the model config has heads = %d",
                         sc.file, heads, c->heads);
            goto done;
        }
    }
    if (sc.have_act && sc.act != c->act && c->family != ATAS_VIT_EVA02) {
        s = ATAS_ERR(ATAS_ERR_CONFIG, "%s: says activation %s, the model config has act = %s", sc.file,
                     sc.act == ATAS_ACT_GELU ? "gelu" : "quickgelu",
                     c->act == ATAS_ACT_GELU ? "gelu" : "quickgelu");
        goto done;
    }
    if (x && sc.hf_text) { x->hf_config = sc.hf_text; sc.hf_text = NULL; }
done:
    side_free(&sc);
    free(used);
    wv_close(&v);
    if (s != ATAS_OK) { atas_weights_extra_free(x); return s; }
    if (extra) *extra = x;
    return ATAS_OK;
}

atas_status atas_weights_load(const char *path, atas_vit *m, atas_weights_extra **extra) {
    float *h;
    ATAS_CHECK(atas_host_calloc((void **)&h, m->nparams * sizeof(float), "weights staging"));
    atas_status s = atas_weights_read_host(path, &m->cfg, m->info, m->ntensors, h, extra);
    if (s == ATAS_OK) s = m->be->upload(m->be, m->params, h, m->nparams * sizeof(float));
    atas_host_free(h);
    ATAS_CHECK(s);
    return ATAS_OK;
}
