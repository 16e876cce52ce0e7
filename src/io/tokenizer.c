/* CLIP's tokenizer: OpenCLIP's "lower" cleaning without ftfy, CLIP's
 * pre-tokenisation regex (PCRE2 with Unicode properties) and byte-level BPE. */
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "io/tokenizer_internal.h"

/* ------------------------------------------------------------ regex helpers */
static atas_status compile(pcre2_code **re, const char *pat, uint32_t opts, const char *what) {
    int err;
    PCRE2_SIZE off;
    *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | opts, &err,
                        &off, NULL);
    if (!*re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return ATAS_ERR(ATAS_ERR_INTERNAL, "tokenizer: %s regex: %s at offset %zu", what,
                        (const char *)msg, (size_t)off);
    }
    return ATAS_OK;
}

/* pcre2_substitute over the whole string into a malloc'd result */
static atas_status substitute(const pcre2_code *re, const char *s, const char *rep, char **out) {
    size_t len = strlen(s), cap = 2 * len + 64;
    for (int tries = 0; tries < 4; tries++) {
        char *buf = malloc(cap);
        if (!buf) return ATAS_ERR(ATAS_ERR_NOMEM, "tokenizer: no memory");
        PCRE2_SIZE olen = cap;
        int rc = pcre2_substitute(re, (PCRE2_SPTR)s, len, 0,
                                  PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_EXTENDED |
                                      PCRE2_SUBSTITUTE_OVERFLOW_LENGTH | PCRE2_NO_UTF_CHECK,
                                  NULL, NULL, (PCRE2_SPTR)rep, PCRE2_ZERO_TERMINATED,
                                  (PCRE2_UCHAR *)buf, &olen);
        if (rc >= 0) {
            *out = buf;
            return ATAS_OK;
        }
        free(buf);
        if (rc != PCRE2_ERROR_NOMEMORY) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return ATAS_ERR(ATAS_ERR_INTERNAL, "tokenizer: substitution failed: %s", (const char *)msg);
        }
        cap = olen + 1;
    }
    return ATAS_ERR(ATAS_ERR_INTERNAL, "tokenizer: substitution did not fit");
}

/* ------------------------------------------------------------ load */
atas_status atas_tokenizer_load(atas_tokenizer **out, const char *path) {
    ATAS_REQUIRE(out && path, "atas_tokenizer_load: NULL argument");
    *out = NULL;
    atas_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return ATAS_ERR(ATAS_ERR_NOMEM, "tokenizer");
    snprintf(t->path, sizeof t->path, "%s", path);
    atas_status st;
    ATAS_CHECK_GOTO(st, tok_load_vocab(t, path), fail);
    /* CLIP's pattern: the special tokens, English contractions, letter runs,
     * single digits, runs of anything else that is not whitespace */
    char pat[512];
    char sp[2][64];
    for (int i = 0; i < 2; i++) { /* "<|startoftext|>" needs its bars escaped */
        char *o = sp[i];
        for (const char *c = t->special[i]; *c; c++) {
            if (*c == '|') *o++ = '\\';
            *o++ = *c;
        }
        *o = 0;
    }
    snprintf(pat, sizeof pat,
             "%s|%s|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+", sp[0], sp[1]);
    ATAS_CHECK_GOTO(st, compile(&t->pat, pat, PCRE2_CASELESS, "pre-tokenisation"), fail);
    /* Python's str.split() whitespace: PCRE2's Unicode \s plus the C0
     * separators U+001C..U+001F and NEL, which Python also splits on */
    ATAS_CHECK_GOTO(st, compile(&t->ws, "[\\s\\x{1c}-\\x{1f}\\x{85}]+", 0, "whitespace"), fail);
    ATAS_CHECK_GOTO(st, compile(&t->any, "(?s).+", 0, "UTF-8 check"), fail);
    ATAS_CHECK_GOTO(st, compile(&t->entity, TOK_ENTITY_PATTERN, 0, "HTML reference"), fail);
    t->loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (!t->loc) {
        st = ATAS_ERR(ATAS_ERR_UNSUPPORTED, "tokenizer: the C.UTF-8 locale is not available "
                      "(glibc >= 2.35 has it built in)");
        goto fail;
    }
    *out = t;
    return ATAS_OK;
fail:
    atas_tokenizer_free(t);
    return st;
}

void atas_tokenizer_free(atas_tokenizer *t) {
    if (!t) return;
    tok_map_free(&t->vocab);
    tok_map_free(&t->ranks);
    pcre2_code_free(t->pat);
    pcre2_code_free(t->ws);
    pcre2_code_free(t->any);
    pcre2_code_free(t->entity);
    if (t->loc) freelocale(t->loc);
    free(t);
}

int atas_tokenizer_vocab_size(const atas_tokenizer *t) { return t->nvocab; }
int atas_tokenizer_sot(const atas_tokenizer *t) { return t->sot; }
int atas_tokenizer_eot(const atas_tokenizer *t) { return t->eot; }

/* ------------------------------------------------------------ cleaning */
static unsigned utf8_get(const unsigned char *s, size_t *i) {
    unsigned c = s[*i];
    int n = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
    unsigned cp = n == 0 ? c : n == 1 ? c & 0x1F : n == 2 ? c & 0x0F : c & 0x07;
    for (int k = 1; k <= n; k++) cp = cp << 6 | (s[*i + k] & 0x3F);
    *i += 1 + n;
    return cp;
}
static size_t utf8_put(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | (cp >> 6 & 63));
        o[2] = (char)(0x80 | (cp & 63));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | (cp >> 12 & 63));
    o[2] = (char)(0x80 | (cp >> 6 & 63)); o[3] = (char)(0x80 | (cp & 63));
    return 4;
}

/* Python's str.lower(): glibc's Unicode simple lowercase mapping (C.UTF-8
 * locale object, the process locale untouched) plus the two rules of Python's
 * full mapping that differ: U+0130 -> "i" U+0307, and capital sigma at the end
 * of a word -> final sigma (word = next to a cased character; case-ignorable
 * characters in between are not skipped, unlike Python). */
static atas_status lowercase(locale_t loc, const char *in, char **out) {
    const unsigned char *s = (const unsigned char *)in;
    size_t n = strlen(in), i = 0, k = 0;
    char *o = malloc(2 * n + 1); /* one code point grows by at most one byte */
    if (!o) return ATAS_ERR(ATAS_ERR_NOMEM, "tokenizer: no memory");
    unsigned prev = 0;
    while (i < n) {
        unsigned cp = utf8_get(s, &i), lo;
        if (cp == 0x130) {
            k += utf8_put(o + k, 'i');
            lo = 0x307;
        } else if (cp == 0x3A3) {
            size_t j = i;
            unsigned next = j < n ? utf8_get(s, &j) : 0;
            int pc = prev && (towlower_l(prev, loc) != prev || towupper_l(prev, loc) != prev);
            int nc = next && (towlower_l(next, loc) != next || towupper_l(next, loc) != next);
            lo = pc && !nc ? 0x3C2 : 0x3C3;
        } else {
            lo = (unsigned)towlower_l((wint_t)cp, loc);
        }
        k += utf8_put(o + k, lo);
        prev = cp;
    }
    o[k] = 0;
    *out = o;
    return ATAS_OK;
}

atas_status atas_tokenizer_clean(const atas_tokenizer *t, const char *text, char **out) {
    ATAS_REQUIRE(t && text && out, "atas_tokenizer_clean: NULL argument");
    *out = NULL;
    /* valid UTF-8 is required (Python strings always are) */
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md) return ATAS_ERR(ATAS_ERR_NOMEM, "tokenizer: no memory");
    int rc = pcre2_match(t->any, (PCRE2_SPTR)text, strlen(text), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof msg);
        return ATAS_ERR(ATAS_ERR_INVALID, "text \"%.40s\": not valid UTF-8 (%s)", text,
                        (const char *)msg);
    }
    char *a, *b;
    /* basic_clean: html.unescape twice (ftfy is not run), strip */
    ATAS_CHECK(tok_html_unescape(t->entity, text, &a));
    atas_status st = tok_html_unescape(t->entity, a, &b);
    free(a);
    ATAS_CHECK(st);
    /* whitespace_clean: runs of whitespace -> one space, stripped */
    ATAS_CHECK(substitute(t->ws, b, " ", &a));
    free(b);
    size_t n = strlen(a), s0 = 0;
    while (s0 < n && a[s0] == ' ') s0++;
    while (n > s0 && a[n - 1] == ' ') n--;
    memmove(a, a + s0, n - s0);
    a[n - s0] = 0;
    st = lowercase(t->loc, a, &b);
    free(a);
    ATAS_CHECK(st);
    *out = b;
    return ATAS_OK;
}

/* ------------------------------------------------------------ BPE */
typedef struct {
    int s, e; /* span [s, e) of the encoded word */
} span;

static int rank_of(const atas_tokenizer *t, const char *w, span a, span b, char *key) {
    size_t na = (size_t)(a.e - a.s), nb = (size_t)(b.e - b.s);
    memcpy(key, w + a.s, na);
    key[na] = ' ';
    memcpy(key + na + 1, w + b.s, nb);
    return tok_map_get(&t->ranks, key, na + nb + 1);
}

static int span_eq(const char *w, span a, const char *s, size_t n) {
    return (size_t)(a.e - a.s) == n && memcmp(w + a.s, s, n) == 0;
}

/* append the BPE ids of one pre-token (raw UTF-8 bytes [p, p+n)) */
static atas_status bpe(const atas_tokenizer *t, const char *p, size_t n, int32_t **ids, int *nids,
                       int *cap) {
    /* encoded word: every byte as its unicode stand-in, then "</w>" */
    char *w = malloc(2 * n + 5), *key = malloc(4 * n + 16), *first = malloc(2 * n + 5),
         *second = malloc(2 * n + 5);
    span *sy = malloc((n + 1) * sizeof *sy);
    atas_status st = ATAS_OK;
    if (!w || !key || !first || !second || !sy) {
        st = ATAS_ERR(ATAS_ERR_NOMEM, "tokenizer: no memory");
        goto out;
    }
    int len = 0, ns = 0;
    for (size_t i = 0; i < n; i++) {
        const char *e = t->byte_enc[(unsigned char)p[i]];
        size_t k = strlen(e);
        sy[ns++] = (span){len, len + (int)k};
        memcpy(w + len, e, k);
        len += (int)k;
    }
    memcpy(w + len, "</w>", 5);
    sy[ns - 1].e += 4;
    while (ns > 1) {
        int best = -1, bi = -1;
        for (int i = 0; i + 1 < ns; i++) {
            int r = rank_of(t, w, sy[i], sy[i + 1], key);
            if (r >= 0 && (best < 0 || r < best)) best = r, bi = i;
        }
        if (bi < 0) break;
        size_t nf = (size_t)(sy[bi].e - sy[bi].s), nsec = (size_t)(sy[bi + 1].e - sy[bi + 1].s);
        memcpy(first, w + sy[bi].s, nf);
        memcpy(second, w + sy[bi + 1].s, nsec);
        /* merge every (first, second) left to right, non-overlapping */
        int o = 0;
        for (int i = 0; i < ns;) {
            if (i + 1 < ns && span_eq(w, sy[i], first, nf) && span_eq(w, sy[i + 1], second, nsec)) {
                sy[o++] = (span){sy[i].s, sy[i + 1].e};
                i += 2;
            } else {
                sy[o++] = sy[i++];
            }
        }
        ns = o;
    }
    for (int i = 0; i < ns; i++) {
        int id = tok_map_get(&t->vocab, w + sy[i].s, (size_t)(sy[i].e - sy[i].s));
        if (id < 0) {
            st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: BPE produced \"%.*s\", which is not in the "
                          "vocabulary (vocabulary and merges do not belong together)", t->path,
                          sy[i].e - sy[i].s, w + sy[i].s);
            goto out;
        }
        if (*nids == *cap) {
            int nc = *cap ? 2 * *cap : 64;
            int32_t *ni = realloc(*ids, (size_t)nc * sizeof **ids);
            if (!ni) { st = ATAS_ERR(ATAS_ERR_NOMEM, "tokenizer: no memory"); goto out; }
            *ids = ni;
            *cap = nc;
        }
        (*ids)[(*nids)++] = id;
    }
out:
    free(w);
    free(key);
    free(first);
    free(second);
    free(sy);
    return st;
}

atas_status atas_tokenizer_encode(const atas_tokenizer *t, const char *text, int32_t **ids, int *n) {
    ATAS_REQUIRE(t && text && ids && n, "atas_tokenizer_encode: NULL argument");
    *ids = NULL;
    *n = 0;
    char *c;
    ATAS_CHECK(atas_tokenizer_clean(t, text, &c));
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(t->pat, NULL);
    if (!md) { free(c); return ATAS_ERR(ATAS_ERR_NOMEM, "tokenizer: no memory"); }
    atas_status st = ATAS_OK;
    size_t len = strlen(c), off = 0;
    int cap = 0;
    while (off < len) {
        int rc = pcre2_match(t->pat, (PCRE2_SPTR)c, len, off, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            st = ATAS_ERR(ATAS_ERR_INTERNAL, "tokenizer: regex match failed (%d)", rc);
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t s = ov[0], e = ov[1];
        if (e == s) { off = e + 1; continue; } /* no alternative matches empty; be safe */
        int sid = -1;
        for (int k = 0; k < 2; k++)
            if (e - s == strlen(t->special[k]) && memcmp(c + s, t->special[k], e - s) == 0)
                sid = k ? t->eot : t->sot;
        if (sid >= 0) {
            if (*n == cap) {
                int nc = cap ? 2 * cap : 64;
                int32_t *ni = realloc(*ids, (size_t)nc * sizeof **ids);
                if (!ni) { st = ATAS_ERR(ATAS_ERR_NOMEM, "tokenizer: no memory"); break; }
                *ids = ni;
                cap = nc;
            }
            (*ids)[(*n)++] = sid;
        } else if ((st = bpe(t, c + s, e - s, ids, n, &cap)) != ATAS_OK) {
            atas_error_trace(st, __FILE__, __LINE__, __func__);
            break;
        }
        off = e;
    }
    pcre2_match_data_free(md);
    free(c);
    if (st != ATAS_OK) {
        free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return st;
}

atas_status atas_tokenizer_tokenize(const atas_tokenizer *t, const char *text, int ctx,
                                    int32_t *out, int *truncated) {
    ATAS_REQUIRE(t && text && out && ctx >= 2, "atas_tokenizer_tokenize: bad arguments (ctx %d)", ctx);
    int32_t *ids;
    int n;
    ATAS_CHECK(atas_tokenizer_encode(t, text, &ids, &n));
    memset(out, 0, (size_t)ctx * sizeof *out);
    out[0] = t->sot;
    int k = 1;
    for (int i = 0; i < n && k < ctx; i++) out[k++] = ids[i];
    int cut = n + 2 > ctx;
    if (cut) out[ctx - 1] = t->eot;
    else out[k] = t->eot;
    if (truncated) *truncated = cut;
    free(ids);
    return ATAS_OK;
}
