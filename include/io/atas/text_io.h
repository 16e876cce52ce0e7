/* io: CLIP's text tower read from OpenCLIP / Hugging Face safetensors, and the
 * zero-shot class embeddings built with it (docs/text.md). The tower itself is
 * the model layer's (atas/text.h). */
#ifndef ATAS_TEXT_IO_H
#define ATAS_TEXT_IO_H

#include "atas/classemb.h"
#include "atas/text.h"
#include "atas/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the caller states; anything else comes from the file and the config
 * beside it (HF config.json text_config, OpenCLIP open_clip_config.json). */
typedef struct {
    int heads; /* > 0: use it; 0: config beside the file, else width / 64 */
    int act;   /* -1: config beside the file (an error when there is none); else an atas_act */
} atas_text_options;

/* Opens a safetensors file, index or directory in either layout and loads the
 * text tower onto `be`. Missing or mis-shaped tensors fail naming the file,
 * the tensor, and the shape expected. */
atas_status atas_text_load(atas_text **t, const char *path, const atas_text_options *opt,
                           const atas_backend *be);
/* Class embeddings (text_classes.c) ---------------------------------------- */

/* Classes file: one class a line, "category_id<TAB>isthing<TAB>name[<TAB>prompt
 * name]" (isthing 1 or 0; the prompt name, the text put into the templates,
 * defaults to the name), '#' comments and blank lines skipped, ids ascending
 * and unique. Fills K, category_id, isthing, names of c (emb stays NULL) and,
 * when prompts is not NULL, a malloc'd array of K malloc'd prompt names. */
atas_status atas_text_read_classes(const char *path, atas_classemb *c, char ***prompts);
/* Templates file: one prompt a line holding "{}" exactly once, '#' comments and
 * blank lines skipped. *tpl is a malloc'd array of malloc'd strings. */
atas_status atas_text_read_templates(const char *path, char ***tpl, int *n);
void atas_text_free_templates(char **tpl, int n);
/* "{}" in tpl replaced by name (malloc'd) */
atas_status atas_text_prompt(const char *tpl, const char *name, char **out);
/* For every class (prompt name: prompts[k], or c->names[k] when prompts is NULL): the prompts of every template, tokenised (ctx of the tower),
 * encoded in batches of `batch`, each L2-normalised, averaged, and the mean
 * L2-normalised (OpenCLIP's zero-shot classifier). Fills c->emb, E,
 * n_templates. progress: print a line per batch to stderr. */
atas_status atas_text_class_embeddings(atas_text *t, const atas_tokenizer *tok, char **tpl, int nt,
                                       char **prompts, int batch, int progress, atas_classemb *c);

#ifdef __cplusplus
}
#endif
#endif
