/* io: CLIP vision weights in and out, in the names users already have
 * (OpenCLIP/OpenAI `visual.*`, Hugging Face `vision_model.*`), see docs/weights.md.
 *
 * The host-buffer functions take the parameter table of atas_vit_param_table
 * (no model or backend needed); the atas_vit wrappers stage through
 * m->be->upload / m->be->download. */
#ifndef ATAS_WEIGHTS_H
#define ATAS_WEIGHTS_H

#include "atas/safetensors.h"
#include "atas/vit.h"

#ifdef __cplusplus
extern "C" {
#endif

/* EVA02 models (docs/eva02.md): OPENCLIP = OpenCLIP/timm hub names (visual.trunk.*),
 * EVA_BAAI = BAAI EVA-CLIP state dicts (visual.blocks.*); HF has no EVA02-CLIP class. */
typedef enum { ATAS_LAYOUT_OPENCLIP = 0, ATAS_LAYOUT_HF = 1, ATAS_LAYOUT_EVA_BAAI = 2 } atas_layout;
const char *atas_layout_name(atas_layout l); /* "openclip" | "hf" | "baai" */
atas_status atas_layout_parse(const char *s, atas_layout *l);

/* A tensor that is not part of the vision tower, carried byte for byte. */
typedef struct {
    char *name;
    atas_dtype dtype;
    int ndim;
    int64_t shape[ATAS_ST_MAXDIM];
    unsigned char *data;
    size_t nbytes;
} atas_weights_tensor;

/* What a load found besides the vision tower, for export. */
typedef struct atas_weights_extra {
    atas_layout layout; /* layout of the source file */
    int n;
    atas_weights_tensor *t; /* text tower, logit_scale, ... (names unwrapped) */
    char *hf_config;        /* the source's config.json text (HF layout), or NULL */
} atas_weights_extra;
void atas_weights_extra_free(atas_weights_extra *x);

/* Which layout a set of (unwrapped) names uses: visual.* -> OPENCLIP,
 * vision_model.* -> HF; neither fails naming `path`. */
atas_status atas_weights_detect_layout(const atas_st *st, atas_layout *l);
/* The name with "state_dict." and "module." prefixes removed (a pointer into name). */
const char *atas_weights_unwrap(const char *name);

/* Infer the model dims from the tensor shapes of a safetensors file, index or
 * directory. c->heads > 0 on entry is kept (the caller states it); otherwise
 * heads come from config.json (HF num_attention_heads) or
 * open_clip_config.json (width / head_width); otherwise from the preset with the
 * same width/layers/patch/mlp, else head_dim 64, with a message saying so.
 * The activation comes from those configs only: *have_act = 0 when neither
 * exists (c->act is then left QUICKGELU and must not be trusted). */
atas_status atas_weights_infer_config(const char *path, atas_vit_config *c, int *have_act);
/* The error to raise when an activation is needed but *have_act was 0. */
atas_status atas_weights_act_unknown(const char *path);

/* Fill host[nparams] (the param table of c) from a file in either layout.
 * Every shape is checked against c (error: file, tensor, expected vs found);
 * vision tensors the config does not have and missing ones are errors; heads /
 * activation stated by a config.json beside the file must agree with c.
 * extra (may be NULL) receives the non-vision tensors and the source layout. */
atas_status atas_weights_read_host(const char *path, const atas_vit_config *c,
                                   const atas_param_info *info, int n, float *host,
                                   atas_weights_extra **extra);
/* Same into a created model (m->cfg is the config checked against). */
atas_status atas_weights_load(const char *path, atas_vit *m, atas_weights_extra **extra);

/* Write host params (table of c) in `layout` plus the extra tensors unchanged.
 * path: a directory (written: model.safetensors for HF, open_clip_model.safetensors
 * for OpenCLIP) or a file ending in .safetensors. HF also writes config.json
 * beside it (from extra->hf_config when present, vision_config replaced). Every
 * file is written through a temporary name: an error leaves nothing behind. */
/* "__metadata__" pairs an export records (atas_convert: which, alpha, pretrained, ...).
 * Every save adds atas.heads, atas.act and atas.ln_eps, which atas_weights_infer_config
 * reads back when no config.json / open_clip_config.json says them. */
#define ATAS_WEIGHTS_META_MAX 16
typedef struct {
    int n;
    const char *key[ATAS_WEIGHTS_META_MAX]; /* static strings */
    char val[ATAS_WEIGHTS_META_MAX][512];
} atas_weights_meta;
void atas_weights_meta_add(atas_weights_meta *m, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* atas_weights_save_host with metadata (also written to the HF config.json as "atas_export"). */
atas_status atas_weights_save_host_meta(const char *path, const atas_vit_config *c,
                                        const atas_param_info *info, int n, const float *host,
                                        atas_layout layout, const atas_weights_extra *extra,
                                        const atas_weights_meta *meta);
atas_status atas_weights_save_host(const char *path, const atas_vit_config *c,
                                   const atas_param_info *info, int n, const float *host,
                                   atas_layout layout, const atas_weights_extra *extra);
atas_status atas_weights_save(const char *path, const atas_vit *m, atas_layout layout,
                              const atas_weights_extra *extra);

/* w[i] = alpha*w[i] + (1-alpha)*pre[i], in double, rounded once, no FMA. */
void atas_weights_ensemble(float *w, const float *pre, size_t n, double alpha);

/* atas checkpoints without a created model: atas_ckpt_read_model/_params in
 * atas/checkpoint.h. */

/* Name maps (namemap.c) ---------------------------------------------------- */
/* Where table tensor idx lives in a layout: up to 3 stored tensors, each the
 * rows [row0, row0+rows) of the atas tensor, or its transpose. */
typedef struct {
    char name[160];
    int row0, rows;
    int transpose;
    int ndim;
    int64_t shape[4]; /* shape of the stored tensor */
} atas_namemap_part;
int atas_namemap_parts(const atas_vit_config *c, const atas_param_info *info, int idx,
                       atas_layout layout, atas_namemap_part parts[3]);
/* 1 when an (unwrapped) name belongs to the vision tower of that layout. */
int atas_namemap_is_vision(const char *name, atas_layout layout);

#ifdef __cplusplus
}
#endif
#endif
