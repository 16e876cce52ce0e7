/* Private to the text tower: the model struct shared by its loader and forward. */
#ifndef ATAS_MODEL_TEXT_INTERNAL_H
#define ATAS_MODEL_TEXT_INTERNAL_H

#include "atas/text.h"
#include "atas/vit.h" /* ATAS_BLK_* block tensor kinds, shared with the vision tower */

/* tensors before the blocks, and after them */
enum { TXT_TOK = 0, TXT_POS, TXT_NHEAD };
enum { TXT_LNF_W = 0, TXT_LNF_B, TXT_PROJ /* [W,E] */, TXT_NTAIL };

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

static inline int txt_blk(int l, int k) { return TXT_NHEAD + l * ATAS_BLK_NTENSORS + k; }
static inline int txt_tail(int L, int k) { return TXT_NHEAD + L * ATAS_BLK_NTENSORS + k; }
static inline float *txt_p(const atas_text *t, int idx) { return t->params + t->off[idx]; }

#endif
