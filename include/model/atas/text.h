/* model: CLIP's text tower (inference only), loaded from the same OpenCLIP /
 * Hugging Face safetensors files as the vision tower (docs/text.md).
 *
 * ids [B, ctx] -> token embedding + positional embedding -> causal pre-LN
 * blocks (the backend's linear / layernorm / causal attention / act ops) ->
 * ln_final -> the row of the EOT token (argmax of the ids, as OpenCLIP pools)
 * -> text projection [W, E]. Parameters live in one backend allocation.
 * Loading from files and the class embeddings are the io layer's (atas/text_io.h). */
#ifndef ATAS_TEXT_H
#define ATAS_TEXT_H

#include "atas/backend.h"
#include "atas/vit.h" /* ATAS_BLK_* block tensor kinds, shared with the vision tower */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int vocab;  /* V, rows of the token embedding */
    int ctx;    /* context length (77) */
    int width;  /* W */
    int layers; /* L */
    int heads;  /* W % heads == 0 */
    int mlp;    /* MLP hidden width */
    int embed;  /* E, columns of the text projection */
    atas_act act;
    float ln_eps;
} atas_text_config;

typedef struct atas_text atas_text;

/* The tower: filled by its loader (atas_text_load, io layer: atas/text_io.h),
 * run by atas_text_encode. Tensor indices: the ones before the blocks, each
 * block's ATAS_BLK_* (atas/vit.h), and the ones after the blocks. */
enum { ATAS_TXT_TOK = 0, ATAS_TXT_POS, ATAS_TXT_NHEAD };
enum { ATAS_TXT_LNF_W = 0, ATAS_TXT_LNF_B, ATAS_TXT_PROJ /* [W,E] */, ATAS_TXT_NTAIL };

struct atas_text {
    atas_text_config cfg;
    const atas_backend *be;
    int layout; /* atas_layout */
    float logit_scale;
    int ntensors;
    size_t *off;  /* [ntensors] offsets in floats into params */
    size_t nparams;
    float *params; /* backend memory */
    /* working buffers for up to Bcap sequences (backend memory) */
    int Bcap;
    float *x, *h, *qkv, *att, *hid, *pooled, *pooled_ln, *out;
    void *ws;
    atas_plan plan; /* the buffers above, in one allocation */
};

static inline int atas_txt_blk(int l, int k) { return ATAS_TXT_NHEAD + l * ATAS_BLK_NTENSORS + k; }
static inline int atas_txt_tail(int L, int k) { return ATAS_TXT_NHEAD + L * ATAS_BLK_NTENSORS + k; }
static inline float *atas_txt_p(const atas_text *t, int idx) { return t->params + t->off[idx]; }

void atas_text_free(atas_text *t);
const atas_text_config *atas_text_cfg(const atas_text *t);
/* "openclip" or "hf" */
const char *atas_text_layout(const atas_text *t);
/* exp(logit_scale) when the file has one, else 0 */
float atas_text_logit_scale(const atas_text *t);

/* ids: host [B, ctx] token ids (0 <= id < vocab; the EOT token has the largest
 * id of its row). out: host [B, E], projected and NOT normalised. */
atas_status atas_text_encode(atas_text *t, const int32_t *ids, int B, float *out);

#ifdef __cplusplus
}
#endif
#endif
