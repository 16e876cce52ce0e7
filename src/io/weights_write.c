/* Writing CLIP vision weights in either layout, the carried non-vision tensors
 * unchanged, and (HF) the config.json transformers needs. */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atas/weights.h"

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* The shortest decimal that reads back as the float, as a double (so JSON says 1e-05). */
static double float_decimal(float f) {
    char buf[32];
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)f);
        if (strtof(buf, NULL) == f) break;
    }
    return strtod(buf, NULL);
}

static atas_status hf_config_text(const char *where, const atas_vit_config *c,
                                  const atas_weights_extra *extra, const atas_weights_meta *meta, char **out) {
    json_t *root = NULL;
    if (extra && extra->hf_config) {
        json_error_t jerr;
        root = json_loads(extra->hf_config, 0, &jerr);
        if (!json_is_object(root)) {
            json_decref(root);
            return ATAS_ERR(ATAS_ERR_FORMAT, "%s: the source config.json carried for export is invalid",
                            where);
        }
        /* a standalone vision config becomes the vision_config of a clip config */
        const char *mt = json_string_value(json_object_get(root, "model_type"));
        if (mt && strcmp(mt, "clip_vision_model") == 0) {
            json_t *r = json_object();
            json_object_set_new(r, "vision_config", root);
            root = r;
        }
    } else {
        root = json_object();
    }
    int text = 0;
    for (int i = 0; extra && i < extra->n; i++) text |= strncmp(extra->t[i].name, "text_model.", 11) == 0;
    json_object_set_new(root, "architectures",
                        json_pack("[s]", text ? "CLIPModel" : "CLIPVisionModelWithProjection"));
    json_object_set_new(root, "model_type", json_string("clip"));
    json_object_set_new(root, "projection_dim", json_integer(c->embed));
    if (!json_object_get(root, "torch_dtype")) json_object_set_new(root, "torch_dtype", json_string("float32"));
    json_t *vc = json_object_get(root, "vision_config");
    if (!json_is_object(vc)) {
        vc = json_object();
        json_object_set_new(root, "vision_config", vc);
    }
    json_object_set_new(vc, "model_type", json_string("clip_vision_model"));
    json_object_set_new(vc, "hidden_size", json_integer(c->width));
    json_object_set_new(vc, "intermediate_size", json_integer(c->mlp));
    json_object_set_new(vc, "num_hidden_layers", json_integer(c->layers));
    json_object_set_new(vc, "num_attention_heads", json_integer(c->heads));
    json_object_set_new(vc, "num_channels", json_integer(3));
    json_object_set_new(vc, "patch_size", json_integer(c->patch));
    json_object_set_new(vc, "image_size", json_integer(c->grid * c->patch));
    json_object_set_new(vc, "projection_dim", json_integer(c->embed));
    json_object_set_new(vc, "hidden_act",
                        json_string(c->act == ATAS_ACT_GELU ? "gelu" : "quick_gelu"));
    json_object_set_new(vc, "layer_norm_eps", json_real(float_decimal(c->ln_eps)));
    if (meta && meta->n > 0) { /* how the export was made (transformers keeps unknown keys) */
        json_t *a = json_object();
        for (int i = 0; i < meta->n; i++) json_object_set_new(a, meta->key[i], json_string(meta->val[i]));
        json_object_set_new(root, "atas_export", a);
    }
    char *txt = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(root);
    if (!txt) return ATAS_ERR(ATAS_ERR_NOMEM, "%s: cannot serialise config.json", where);
    size_t n = strlen(txt);
    char *t2 = realloc(txt, n + 2);
    if (!t2) { free(txt); return ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", where); }
    t2[n] = '\n';
    t2[n + 1] = 0;
    *out = t2;
    return ATAS_OK;
}

void atas_weights_meta_add(atas_weights_meta *m, const char *key, const char *fmt, ...) {
    if (m->n >= ATAS_WEIGHTS_META_MAX) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->val[m->n], sizeof m->val[0], fmt, ap);
    va_end(ap);
    m->key[m->n++] = key;
}

atas_status atas_weights_save_host(const char *path, const atas_vit_config *c,
                                   const atas_param_info *info, int n, const float *host,
                                   atas_layout layout, const atas_weights_extra *extra) {
    return atas_weights_save_host_meta(path, c, info, n, host, layout, extra, NULL);
}

atas_status atas_weights_save_host_meta(const char *path, const atas_vit_config *c,
                                        const atas_param_info *info, int n, const float *host,
                                        atas_layout layout, const atas_weights_extra *extra,
                                        const atas_weights_meta *meta) {
    ATAS_CHECK(atas_vit_config_check(c, "model"));
    if (c->family == ATAS_VIT_EVA02 && layout == ATAS_LAYOUT_HF)
        return ATAS_ERR(ATAS_ERR_INVALID, "%s: EVA02 weights cannot be written in the hf layout: "
                        "Hugging Face transformers has no EVA02-CLIP class (use openclip: OpenCLIP/"
                        "timm names, or baai: BAAI EVA-CLIP names)", path);
    if (c->family != ATAS_VIT_EVA02 && layout == ATAS_LAYOUT_EVA_BAAI)
        return ATAS_ERR(ATAS_ERR_INVALID, "%s: the baai layout is for EVA02 models only", path);
    /* what the tensors cannot say, so the file reads back without --heads/--act */
    atas_weights_meta all = {0};
    for (int i = 0; meta && i < meta->n; i++) atas_weights_meta_add(&all, meta->key[i], "%s", meta->val[i]);
    atas_weights_meta_add(&all, "atas.heads", "%d", c->heads);
    atas_weights_meta_add(&all, "atas.act", "%s", c->act == ATAS_ACT_GELU ? "gelu" : "quickgelu");
    atas_weights_meta_add(&all, "atas.ln_eps", "%.9g", (double)c->ln_eps);
    const char *mk[ATAS_WEIGHTS_META_MAX], *mv[ATAS_WEIGHTS_META_MAX];
    for (int i = 0; i < all.n; i++) mk[i] = all.key[i], mv[i] = all.val[i];
    atas_status s = ATAS_OK;
    char *file = NULL, *cfgpath = NULL, *cfgtext = NULL;
    int made_dir = 0, wrote_file = 0;
    size_t plen = strlen(path);
    int nx = extra ? extra->n : 0, ne = 0;
    atas_st_entry *e = calloc((size_t)(3 * n + nx + 1), sizeof *e);
    float *tr = NULL; /* the one transposed tensor (HF visual_projection) */
    file = malloc(plen + 64);
    cfgpath = malloc(plen + 64);
    if (!e || !file || !cfgpath) { s = ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", path); goto done; }
    if (ends_with(path, ".safetensors")) {
        strcpy(file, path);
        strcpy(cfgpath, path);
        char *sl = strrchr(cfgpath, '/');
        strcpy(sl ? sl + 1 : cfgpath, "config.json");
    } else {
        struct stat sb;
        if (stat(path, &sb) != 0) {
            if (mkdir(path, 0755) != 0) {
                s = ATAS_ERR(ATAS_ERR_IO, "%s: cannot create the output directory: %s", path,
                             strerror(errno));
                goto done;
            }
            made_dir = 1;
        } else if (!S_ISDIR(sb.st_mode)) {
            s = ATAS_ERR(ATAS_ERR_IO, "%s: exists and is not a directory (name a .safetensors file "
                         "or a directory)", path);
            goto done;
        }
        snprintf(file, plen + 64, "%s/%s", path,
                 layout == ATAS_LAYOUT_HF        ? "model.safetensors"
                 : layout == ATAS_LAYOUT_EVA_BAAI ? "eva_clip_model.safetensors"
                                                  : "open_clip_model.safetensors");
        snprintf(cfgpath, plen + 64, "%s/config.json", path);
    }
    for (int idx = 0; idx < n; idx++) {
        atas_namemap_part parts[3];
        int np = atas_namemap_parts(c, info, idx, layout, parts);
        const atas_param_info *t = &info[idx];
        size_t row = t->numel / (size_t)t->shape[0];
        for (int k = 0; k < np; k++) {
            atas_st_entry *x = &e[ne++];
            x->name = NULL;
            x->dtype = ATAS_DT_F32;
            x->ndim = parts[k].ndim;
            for (int d = 0; d < parts[k].ndim; d++) x->shape[d] = parts[k].shape[d];
            x->data = host + t->offset + (size_t)parts[k].row0 * row;
            if (parts[k].transpose) {
                int R = t->shape[0], C = t->shape[1];
                ATAS_CHECK_GOTO(s, atas_host_alloc((void **)&tr, t->numel * sizeof(float), "transpose"), done);
                for (int cc = 0; cc < C; cc++)
                    for (int r = 0; r < R; r++) tr[(size_t)cc * R + r] = host[t->offset + (size_t)r * C + cc];
                x->data = tr;
            }
            x->name = strdup(parts[k].name);
            if (!x->name) { s = ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", path); goto done; }
        }
    }
    for (int i = 0; i < nx; i++) {
        const atas_weights_tensor *t = &extra->t[i];
        if (atas_namemap_is_vision(t->name, layout)) {
            s = ATAS_ERR(ATAS_ERR_INVALID, "%s: carried tensor '%s' collides with the vision tower's "
                         "names in the %s layout", path, t->name, atas_layout_name(layout));
            goto done;
        }
        atas_st_entry *x = &e[ne++];
        x->name = strdup(t->name);
        if (!x->name) { s = ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", path); goto done; }
        x->dtype = t->dtype;
        x->ndim = t->ndim;
        memcpy(x->shape, t->shape, sizeof x->shape);
        x->data = t->data;
    }
    if (layout == ATAS_LAYOUT_HF) ATAS_CHECK_GOTO(s, hf_config_text(path, c, extra, meta, &cfgtext), done);
    ATAS_CHECK_GOTO(s, atas_st_write_meta(file, e, ne, mk, mv, all.n), done);
    wrote_file = 1;
    if (cfgtext) ATAS_CHECK_GOTO(s, atas_write_file_atomic(cfgpath, cfgtext, strlen(cfgtext)), done);
done:
    if (s != ATAS_OK && wrote_file) unlink(file);
    if (s != ATAS_OK && made_dir) rmdir(path);
    for (int i = 0; e && i < ne; i++) free((char *)e[i].name);
    free(e);
    atas_host_free(tr);
    free(file);
    free(cfgpath);
    free(cfgtext);
    return s;
}

atas_status atas_weights_save(const char *path, const atas_vit *m, atas_layout layout,
                              const atas_weights_extra *extra) {
    float *h;
    ATAS_CHECK(atas_host_alloc((void **)&h, m->nparams * sizeof(float), "weights staging"));
    atas_status s = m->be->download(m->be, h, m->params, m->nparams * sizeof(float));
    if (s == ATAS_OK)
        s = atas_weights_save_host(path, &m->cfg, m->info, m->ntensors, h, layout, extra);
    atas_host_free(h);
    ATAS_CHECK(s);
    return ATAS_OK;
}
