/* Loading CLIP's text tower from OpenCLIP (`token_embedding.weight`,
 * `transformer.resblocks.*`, `ln_final`, `text_projection` [W,E]) or Hugging
 * Face (`text_model.*`, `text_projection.weight` [E,W]) safetensors: dims from
 * the tensor shapes, heads and activation from the config beside the file. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atas/weights.h"
#include "io/weights_internal.h"
#include "atas/text_io.h"

/* ------------------------------------------------------------ names */
static const char *oc_blk[ATAS_BLK_NTENSORS] = {
    [ATAS_BLK_LN1_W] = "ln_1.weight", [ATAS_BLK_LN1_B] = "ln_1.bias",
    [ATAS_BLK_INPROJ_W] = "attn.in_proj_weight", [ATAS_BLK_INPROJ_B] = "attn.in_proj_bias",
    [ATAS_BLK_OUTPROJ_W] = "attn.out_proj.weight", [ATAS_BLK_OUTPROJ_B] = "attn.out_proj.bias",
    [ATAS_BLK_LN2_W] = "ln_2.weight", [ATAS_BLK_LN2_B] = "ln_2.bias",
    [ATAS_BLK_FC_W] = "mlp.c_fc.weight", [ATAS_BLK_FC_B] = "mlp.c_fc.bias",
    [ATAS_BLK_CPROJ_W] = "mlp.c_proj.weight", [ATAS_BLK_CPROJ_B] = "mlp.c_proj.bias"};
static const char *hf_blk[ATAS_BLK_NTENSORS] = {
    [ATAS_BLK_LN1_W] = "layer_norm1.weight", [ATAS_BLK_LN1_B] = "layer_norm1.bias",
    [ATAS_BLK_INPROJ_W] = "self_attn.%c_proj.weight", [ATAS_BLK_INPROJ_B] = "self_attn.%c_proj.bias",
    [ATAS_BLK_OUTPROJ_W] = "self_attn.out_proj.weight",
    [ATAS_BLK_OUTPROJ_B] = "self_attn.out_proj.bias", [ATAS_BLK_LN2_W] = "layer_norm2.weight",
    [ATAS_BLK_LN2_B] = "layer_norm2.bias", [ATAS_BLK_FC_W] = "mlp.fc1.weight",
    [ATAS_BLK_FC_B] = "mlp.fc1.bias", [ATAS_BLK_CPROJ_W] = "mlp.fc2.weight",
    [ATAS_BLK_CPROJ_B] = "mlp.fc2.bias"};

#define OC_TOK "token_embedding.weight"
#define HF_TOK "text_model.embeddings.token_embedding.weight"

/* the atas shape of table tensor idx */
static int tshape(const atas_text_config *c, int idx, int64_t s[2]) {
    const int W = c->width, L = c->layers;
    if (idx == ATAS_TXT_TOK) { s[0] = c->vocab; s[1] = W; return 2; }
    if (idx == ATAS_TXT_POS) { s[0] = c->ctx; s[1] = W; return 2; }
    if (idx >= atas_txt_tail(L, 0)) {
        int k = idx - atas_txt_tail(L, 0);
        if (k == ATAS_TXT_PROJ) { s[0] = W; s[1] = c->embed; return 2; }
        s[0] = W;
        return 1;
    }
    switch ((idx - ATAS_TXT_NHEAD) % ATAS_BLK_NTENSORS) {
    case ATAS_BLK_INPROJ_W: s[0] = 3 * W; s[1] = W; return 2;
    case ATAS_BLK_INPROJ_B: s[0] = 3 * W; return 1;
    case ATAS_BLK_OUTPROJ_W: s[0] = W; s[1] = W; return 2;
    case ATAS_BLK_FC_W: s[0] = c->mlp; s[1] = W; return 2;
    case ATAS_BLK_FC_B: s[0] = c->mlp; return 1;
    case ATAS_BLK_CPROJ_W: s[0] = W; s[1] = c->mlp; return 2;
    default: s[0] = W; return 1;
    }
}

/* Where table tensor idx lives in the file: up to 3 row-blocks (HF q|k|v), or transposed. */
typedef struct {
    char name[160];
    int row0, rows, transpose;
} tpart;

static int tparts(const atas_text_config *c, int hf, int idx, tpart p[3]) {
    int64_t s[2];
    tshape(c, idx, s);
    const int L = c->layers, W = c->width;
    memset(p, 0, 3 * sizeof *p);
    p[0].rows = (int)s[0];
    if (idx == ATAS_TXT_TOK) { snprintf(p[0].name, sizeof p[0].name, "%s", hf ? HF_TOK : OC_TOK); return 1; }
    if (idx == ATAS_TXT_POS) {
        snprintf(p[0].name, sizeof p[0].name, "%s",
                 hf ? "text_model.embeddings.position_embedding.weight" : "positional_embedding");
        return 1;
    }
    if (idx >= atas_txt_tail(L, 0)) {
        int k = idx - atas_txt_tail(L, 0);
        static const char *oc[ATAS_TXT_NTAIL] = {"ln_final.weight", "ln_final.bias", "text_projection"};
        static const char *h[ATAS_TXT_NTAIL] = {"text_model.final_layer_norm.weight",
                                           "text_model.final_layer_norm.bias",
                                           "text_projection.weight"};
        snprintf(p[0].name, sizeof p[0].name, "%s", hf ? h[k] : oc[k]);
        p[0].transpose = hf && k == ATAS_TXT_PROJ;
        return 1;
    }
    int l = (idx - ATAS_TXT_NHEAD) / ATAS_BLK_NTENSORS, k = (idx - ATAS_TXT_NHEAD) % ATAS_BLK_NTENSORS;
    if (!hf) {
        snprintf(p[0].name, sizeof p[0].name, "transformer.resblocks.%d.%s", l, oc_blk[k]);
        return 1;
    }
    if (k == ATAS_BLK_INPROJ_W || k == ATAS_BLK_INPROJ_B) {
        for (int j = 0; j < 3; j++) {
            char suffix[64];
            snprintf(suffix, sizeof suffix, hf_blk[k], "qkv"[j]);
            snprintf(p[j].name, sizeof p[j].name, "text_model.encoder.layers.%d.%s", l, suffix);
            p[j].row0 = j * W;
            p[j].rows = W;
        }
        return 3;
    }
    snprintf(p[0].name, sizeof p[0].name, "text_model.encoder.layers.%d.%s", l, hf_blk[k]);
    return 1;
}

/* ------------------------------------------------------------ side config */
static char *dir_of(const char *path) {
    struct stat sb;
    char *d = strdup(path);
    if (!d) return NULL;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return d;
    char *s = strrchr(d, '/');
    if (s) *s = 0; else strcpy(d, ".");
    return d;
}

typedef struct {
    char file[4096];
    int heads;    /* 0: not said */
    int act;      /* -1: not said */
    float ln_eps; /* 0: not said */
} textside;

static atas_status side_int(json_t *o, const char *key, const char *file, const char *where, int *v) {
    json_t *j = json_object_get(o, key);
    if (!j) return ATAS_OK;
    if (!json_is_integer(j) || json_integer_value(j) <= 0)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: %s.%s must be a positive integer", file, where, key);
    *v = (int)json_integer_value(j);
    return ATAS_OK;
}

/* HF config.json (text_config; CLIPTextConfig defaults: 8 heads, quick_gelu)
 * or OpenCLIP open_clip_config.json (model_cfg.text_cfg.heads, model_cfg.quick_gelu). */
static atas_status side_read_text(const char *path, int hf, int width, textside *s) {
    memset(s, 0, sizeof *s);
    s->act = -1;
    char *dir = dir_of(path);
    if (!dir) return ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", path);
    snprintf(s->file, sizeof s->file, "%s/%s", dir, hf ? "config.json" : "open_clip_config.json");
    free(dir);
    struct stat sb;
    if (stat(s->file, &sb) != 0) return ATAS_OK;
    json_error_t jerr;
    json_t *root = json_load_file(s->file, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: invalid JSON at line %d: %s", s->file, jerr.line,
                        jerr.text);
    atas_status st = ATAS_OK;
    if (hf) {
        json_t *tc = json_object_get(root, "text_config");
        const char *mt = json_string_value(json_object_get(root, "model_type"));
        if (!json_is_object(tc)) tc = (mt && strcmp(mt, "clip_text_model") == 0) ? root : NULL;
        if (tc) {
            s->heads = 8;
            ATAS_CHECK_GOTO(st, side_int(tc, "num_attention_heads", s->file, "text_config", &s->heads),
                       done);
            atas_act act;
            ATAS_CHECK_GOTO(st, atas_hf_hidden_act(tc, s->file, "text_config", &act), done);
            s->act = act;
            json_t *e = json_object_get(tc, "layer_norm_eps");
            if (e && json_is_number(e)) s->ln_eps = (float)json_number_value(e);
        }
    } else {
        json_t *mc = json_object_get(root, "model_cfg");
        if (json_is_object(mc)) {
            s->act = json_is_true(json_object_get(mc, "quick_gelu")) ? ATAS_ACT_QUICKGELU
                                                                     : ATAS_ACT_GELU;
            json_t *tc = json_object_get(mc, "text_cfg");
            s->heads = 8; /* OpenCLIP's CLIPTextCfg default */
            if (json_is_object(tc))
                ATAS_CHECK_GOTO(st, side_int(tc, "heads", s->file, "model_cfg.text_cfg", &s->heads), done);
        }
    }
    (void)width;
done:
    json_decref(root);
    return st;
}

/* ------------------------------------------------------------ dims */
static atas_status shape_of(const wview *v, const char *name, int ndim, int64_t *s, const char *what) {
    int i = wv_find(v, name);
    if (i < 0)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: text tensor '%s' missing (needed for %s)",
                        atas_st_path(v->st), name, what);
    const atas_st_tensor *t = atas_st_get(v->st, i);
    if (t->ndim != ndim)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: text tensor '%s' has rank %d, expected %d (%s)",
                        t->file, t->name, t->ndim, ndim, what);
    for (int k = 0; k < ndim; k++) s[k] = t->shape[k];
    return ATAS_OK;
}

static atas_status infer_dims(const wview *v, int hf, atas_text_config *c) {
    int64_t s[2] = {0, 0};
    const char *path = atas_st_path(v->st);
    ATAS_CHECK(shape_of(v, hf ? HF_TOK : OC_TOK, 2, s, "vocabulary and width"));
    c->vocab = (int)s[0];
    c->width = (int)s[1];
    ATAS_CHECK(shape_of(v, hf ? "text_model.embeddings.position_embedding.weight" : "positional_embedding",
                   2, s, "context length"));
    c->ctx = (int)s[0];
    int l = 0;
    char nm[160];
    for (;; l++) {
        snprintf(nm, sizeof nm, hf ? "text_model.encoder.layers.%d.layer_norm1.weight"
                                   : "transformer.resblocks.%d.ln_1.weight", l);
        if (wv_find(v, nm) < 0) break;
    }
    if (l == 0)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: text tensor '%s' missing: no transformer blocks",
                        path, nm);
    c->layers = l;
    ATAS_CHECK(shape_of(v, hf ? "text_model.encoder.layers.0.mlp.fc1.weight"
                         : "transformer.resblocks.0.mlp.c_fc.weight", 2, s, "MLP width"));
    c->mlp = (int)s[0];
    ATAS_CHECK(shape_of(v, hf ? "text_projection.weight" : "text_projection", 2, s, "embedding width"));
    c->embed = (int)(hf ? s[0] : s[1]);
    if (c->vocab <= 0 || c->width <= 0 || c->ctx <= 0 || c->mlp <= 0 || c->embed <= 0)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: text tower has an empty dimension", path);
    return ATAS_OK;
}

/* ------------------------------------------------------------ load */
static void fmt_shape(char *b, size_t cap, int nd, const int64_t *s) {
    int k = snprintf(b, cap, "[");
    for (int i = 0; i < nd && k < (int)cap; i++)
        k += snprintf(b + k, cap - k, i ? ",%lld" : "%lld", (long long)s[i]);
    if (k < (int)cap) snprintf(b + k, cap - k, "]");
}

static atas_status read_tensor(const wview *v, const atas_text_config *c, int hf, int idx,
                               float *dst, float **scratch, size_t *scap) {
    tpart p[3];
    int np = tparts(c, hf, idx, p);
    int64_t as[2];
    int and_ = tshape(c, idx, as);
    const size_t cols = and_ == 2 ? (size_t)as[1] : 1;
    for (int j = 0; j < np; j++) {
        int64_t want[2] = {p[j].rows, (int64_t)cols};
        if (p[j].transpose) { want[0] = as[1]; want[1] = as[0]; }
        int i = wv_find(v, p[j].name);
        char ws[64], fs[64];
        fmt_shape(ws, sizeof ws, and_, want);
        if (i < 0)
            return ATAS_ERR(ATAS_ERR_FORMAT, "%s: text tensor '%s' missing (expected shape %s)",
                            atas_st_path(v->st), p[j].name, ws);
        const atas_st_tensor *t = atas_st_get(v->st, i);
        int ok = t->ndim == and_;
        for (int k = 0; ok && k < and_; k++) ok = t->shape[k] == want[k];
        if (!ok) {
            fmt_shape(fs, sizeof fs, t->ndim, t->shape);
            return ATAS_ERR(ATAS_ERR_FORMAT, "%s: text tensor '%s' has shape %s, expected %s",
                            t->file, t->name, fs, ws);
        }
        if (!atas_dtype_is_float(t->dtype))
            return ATAS_ERR(ATAS_ERR_FORMAT, "%s: text tensor '%s' has dtype %s, expected F32, "
                            "F16 or BF16", t->file, t->name, atas_dtype_name(t->dtype));
        if (!p[j].transpose) {
            ATAS_CHECK(atas_st_read_f32(t, dst + (size_t)p[j].row0 * cols));
        } else {
            if (*scap < t->numel) {
                free(*scratch);
                *scratch = malloc(t->numel * sizeof(float));
                if (!*scratch) return ATAS_ERR(ATAS_ERR_NOMEM, "no memory for '%s'", t->name);
                *scap = t->numel;
            }
            ATAS_CHECK(atas_st_read_f32(t, *scratch));
            const size_t R = (size_t)want[0], C = (size_t)want[1]; /* stored [R,C] -> atas [C,R] */
            for (size_t r = 0; r < R; r++)
                for (size_t q = 0; q < C; q++) dst[q * R + r] = (*scratch)[r * C + q];
        }
    }
    return ATAS_OK;
}

static atas_status load_into(atas_text *t, const char *path, const atas_text_options *opt,
                             wview *v) {
    int hf;
    if (wv_find(v, OC_TOK) >= 0) hf = 0;
    else if (wv_find(v, HF_TOK) >= 0) hf = 1;
    else
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: no text tower found (expected a tensor named '%s' "
                        "(OpenCLIP) or '%s' (Hugging Face))", atas_st_path(v->st), OC_TOK, HF_TOK);
    t->layout = hf ? ATAS_LAYOUT_HF : ATAS_LAYOUT_OPENCLIP;
    atas_text_config *c = &t->cfg;
    c->ln_eps = 1e-5f;
    ATAS_CHECK(infer_dims(v, hf, c));
    textside sd;
    ATAS_CHECK(side_read_text(path, hf, c->width, &sd));
    if (opt && opt->heads > 0) c->heads = opt->heads;
    else if (sd.heads > 0) c->heads = sd.heads;
    else {
        if (c->width % 64)
            return ATAS_ERR(ATAS_ERR_CONFIG, "%s: text heads cannot be inferred (width %d is not a "
                            "multiple of 64 and no %s is beside it): state --heads", path,
                            c->width, hf ? "config.json" : "open_clip_config.json");
        c->heads = c->width / 64; /* OpenAI's convention for every CLIP text tower */
        atas_info("%s: no config beside the weights; text heads = width/64 = %d", path, c->heads);
    }
    if (c->width % c->heads)
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s: text heads %d do not divide width %d", path,
                        c->heads, c->width);
    if (opt && opt->act >= 0) c->act = (atas_act)opt->act;
    else if (sd.act >= 0) c->act = (atas_act)sd.act;
    else
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s: the text activation (quickgelu for OpenAI weights, "
                        "gelu otherwise) cannot be inferred from weights and no %s is beside it: "
                        "state --act", path, hf ? "config.json" : "open_clip_config.json");
    if (sd.ln_eps > 0) c->ln_eps = sd.ln_eps;

    const int L = c->layers;
    t->ntensors = ATAS_TXT_NHEAD + L * ATAS_BLK_NTENSORS + ATAS_TXT_NTAIL;
    t->off = calloc((size_t)t->ntensors, sizeof *t->off);
    if (!t->off) return ATAS_ERR(ATAS_ERR_NOMEM, "text tower table");
    size_t n = 0;
    for (int i = 0; i < t->ntensors; i++) {
        int64_t s[2] = {1, 1};
        int nd = tshape(c, i, s);
        t->off[i] = n;
        n += (size_t)s[0] * (nd == 2 ? (size_t)s[1] : 1);
    }
    t->nparams = n;
    float *host = NULL, *scratch = NULL;
    size_t scap = 0;
    atas_status st;
    ATAS_CHECK_GOTO(st, atas_host_alloc((void **)&host, n * sizeof(float), "text tower (host)"), out);
    for (int i = 0; i < t->ntensors; i++)
        ATAS_CHECK_GOTO(st, read_tensor(v, c, hf, i, host + t->off[i], &scratch, &scap), out);
    int ls = wv_find(v, "logit_scale");
    if (ls >= 0 && atas_st_get(v->st, ls)->numel == 1 && atas_dtype_is_float(atas_st_get(v->st, ls)->dtype)) {
        float x;
        ATAS_CHECK_GOTO(st, atas_st_read_f32(atas_st_get(v->st, ls), &x), out);
        t->logit_scale = expf(x);
    }
    ATAS_CHECK_GOTO(st, t->be->alloc(t->be, (void **)&t->params, n * sizeof(float), "text tower"), out);
    ATAS_CHECK_GOTO(st, t->be->upload(t->be, t->params, host, n * sizeof(float)), out);
out:
    atas_host_free(host);
    free(scratch);
    return st;
}

atas_status atas_text_load(atas_text **out, const char *path, const atas_text_options *opt,
                           const atas_backend *be) {
    ATAS_REQUIRE(out && path && be, "atas_text_load: NULL argument");
    *out = NULL;
    atas_text *t = calloc(1, sizeof *t);
    if (!t) return ATAS_ERR(ATAS_ERR_NOMEM, "text tower");
    t->be = be;
    wview v;
    atas_status st = wv_open(&v, path);
    if (st != ATAS_OK) {
        free(t);
        return atas_error_trace(st, __FILE__, __LINE__, __func__);
    }
    st = load_into(t, path, opt, &v);
    wv_close(&v);
    if (st != ATAS_OK) {
        atas_text_free(t);
        return atas_error_trace(st, __FILE__, __LINE__, __func__);
    }
    *out = t;
    return ATAS_OK;
}

const atas_text_config *atas_text_cfg(const atas_text *t) { return &t->cfg; }
const char *atas_text_layout(const atas_text *t) { return atas_layout_name((atas_layout)t->layout); }
float atas_text_logit_scale(const atas_text *t) { return t->logit_scale; }
