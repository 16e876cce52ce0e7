/* Private to the tokenizer: a string -> int hash table, the tokenizer struct,
 * and the HTML entity tables generated from Python's html module. */
#ifndef ATAS_IO_TOKENIZER_INTERNAL_H
#define ATAS_IO_TOKENIZER_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <locale.h>

#include "atas/tokenizer.h"

/* open addressing, keys owned by the table */
typedef struct {
    char **key;
    int *val;
    size_t cap, n;
} tok_map;
atas_status tok_map_init(tok_map *m, size_t expect);
void tok_map_free(tok_map *m);
/* 1 when inserted, 0 when the key was present (value replaced), -1 out of memory */
int tok_map_put(tok_map *m, const char *key, size_t len, int val);
int tok_map_get(const tok_map *m, const char *key, size_t len); /* -1 when absent */

struct atas_tokenizer {
    char path[4096];
    tok_map vocab;  /* token (byte-unicode form) -> id */
    tok_map ranks;  /* "first second" -> merge rank */
    int nvocab;     /* 1 + the largest id */
    char special[2][32]; /* start and end token text */
    int sot, eot;
    char byte_enc[256][3]; /* UTF-8 of bytes_to_unicode()[b], NUL terminated */
    pcre2_code *pat;       /* CLIP's pre-tokenisation regex */
    pcre2_code *ws;        /* Python str.split() whitespace */
    pcre2_code *any;       /* the whole string (UTF-8 validation) */
    pcre2_code *entity;    /* an HTML character reference, as Python's html module finds them */
    locale_t loc;          /* C.UTF-8, for towlower_l (the process locale is left alone) */
};

/* HTML5 named character references (Python's html.entities.html5) and the
 * numeric-reference rules of html.unescape (tokenizer_entities.c, generated). */
typedef struct {
    const char *name;  /* "amp;" or the legacy "amp" */
    const char *value; /* UTF-8 */
} tok_entity;
extern const tok_entity tok_html5[];
extern const int tok_html5_count; /* sorted by name (strcmp) */
extern const int tok_invalid_charref[][2]; /* {code, replacement}; -1 terminated */
extern const int tok_invalid_codepoint[];  /* -1 terminated */

/* reads the vocabulary and merges (tokenizer_vocab.c) */
atas_status tok_load_vocab(atas_tokenizer *t, const char *path);
/* html.unescape(s) into a malloc'd string; re: the reference pattern (t->entity) */
#define TOK_ENTITY_PATTERN "&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\\t\\n\\f <&#;]{1,32};?)"
atas_status tok_html_unescape(const pcre2_code *re, const char *s, char **out);

#endif
