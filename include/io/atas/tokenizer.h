/* io: CLIP's tokenizer - byte-level BPE with CLIP's vocabulary, the same ids
 * as OpenCLIP's SimpleTokenizer (docs/text.md).
 *
 * Text cleaning is OpenCLIP's default ("lower") without ftfy: HTML entities
 * unescaped twice (Python's html.unescape rules), whitespace runs collapsed to
 * one space and stripped, lowercased; then CLIP's pre-tokenisation regex
 * (PCRE2, Unicode classes), bytes mapped to unicode, BPE merges by rank. */
#ifndef ATAS_TOKENIZER_H
#define ATAS_TOKENIZER_H

#include "atas/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct atas_tokenizer atas_tokenizer;

/* path: OpenCLIP's bpe_simple_vocab_16e6.txt.gz (gzip or plain text), HF
 * vocab.json (merges.txt beside it), HF tokenizer.json, or a directory holding
 * one of them. Errors name the file and the line or key. */
atas_status atas_tokenizer_load(atas_tokenizer **t, const char *path);
void atas_tokenizer_free(atas_tokenizer *t);
int atas_tokenizer_vocab_size(const atas_tokenizer *t);
int atas_tokenizer_sot(const atas_tokenizer *t); /* 49406 for CLIP */
int atas_tokenizer_eot(const atas_tokenizer *t); /* 49407 for CLIP */

/* The cleaned text (what BPE sees), malloc'd. */
atas_status atas_tokenizer_clean(const atas_tokenizer *t, const char *text, char **out);
/* BPE ids of text (no start/end tokens), malloc'd into *ids (may be NULL when *n = 0). */
atas_status atas_tokenizer_encode(const atas_tokenizer *t, const char *text, int32_t **ids, int *n);
/* OpenCLIP's tokenize(): [sot] + ids + [eot] in ctx slots, zero padded; when
 * longer, cut to ctx and the last slot set to eot. *truncated (may be NULL) = 1 then. */
atas_status atas_tokenizer_tokenize(const atas_tokenizer *t, const char *text, int ctx,
                                    int32_t *out, int *truncated);

#ifdef __cplusplus
}
#endif
#endif
