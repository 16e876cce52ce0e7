/* Shared by the weights reader and writer (not public). */
#ifndef ATAS_IO_WEIGHTS_INTERNAL_H
#define ATAS_IO_WEIGHTS_INTERNAL_H

#include <jansson.h>

#include "atas/weights.h"

/* An opened model with names looked up after removing state_dict./module. */
typedef struct {
    atas_st *st;
    int n;
    void *u; /* sorted (unwrapped name, index) pairs */
} wview;
atas_status wv_open(wview *v, const char *path);
void wv_close(wview *v);
int wv_find(const wview *v, const char *name); /* index into st, -1 when absent */

/* What a config beside the weights says (HF config.json, open_clip_config.json). */
typedef struct {
    char file[4096];
    int have_heads, heads, head_width; /* head_width > 0: OpenCLIP, heads = width / head_width */
    int have_act;
    atas_act act;
    int have_eps;
    float ln_eps;
    char *hf_text; /* config.json as read (HF) */
} sidecfg;
atas_status side_read(const char *path, atas_layout layout, sidecfg *s);
void side_free(sidecfg *s);

/* EVA02 (weights_eva.c): which EVA layout a file uses (-1: not EVA02), and its dims */
int atas_weights_eva_layout(const wview *v);
atas_status atas_weights_eva_infer_dims(const wview *v, atas_layout L, atas_vit_config *c);

/* an HF config section's "hidden_act" (absent: quick_gelu); any other value is an
 * error naming file and section (vision_config, text_config) */
atas_status atas_hf_hidden_act(json_t *cfg, const char *file, const char *section, atas_act *act);

#endif
