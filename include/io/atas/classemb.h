/* io: class embeddings - one L2-normalised text embedding per category, computed
 * once from the text tower over prompt templates and stored as HDF5 (layout in
 * docs/eval.md), so evaluation never recomputes them. */
#ifndef ATAS_CLASSEMB_H
#define ATAS_CLASSEMB_H

#include "atas/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ATAS_CLASSEMB_FORMAT "atas-class-embeddings"
#define ATAS_CLASSEMB_VERSION 1

typedef struct {
    int K, E;          /* categories, embedding width */
    float *emb;        /* [K,E], every row L2-normalised */
    int *category_id;  /* [K] the dataset's category ids (COCO ids), ascending */
    int *isthing;      /* [K] 1 thing, 0 stuff */
    char **names;      /* [K] category names (UTF-8) */
    int n_templates;   /* prompt templates averaged per class */
    char model[512];   /* where the text tower came from (free text) */
} atas_classemb;

/* Rows of emb must already be normalised (checked: |row| within 1e-4 of 1).
 * Written to a temporary file in the same directory, then renamed. */
atas_status atas_classemb_write(const char *path, const atas_classemb *c);
/* Allocates every array; atas_classemb_free releases them. */
atas_status atas_classemb_read(const char *path, atas_classemb *c);
void atas_classemb_free(atas_classemb *c);

#ifdef __cplusplus
}
#endif
#endif
