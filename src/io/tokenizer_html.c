/* html.unescape as Python implements it (OpenCLIP's basic_clean runs it
 * twice): numeric references with the HTML5 replacement rules, named references
 * from the HTML5 table, legacy names without ';' by longest prefix. */
#include <stdlib.h>
#include <string.h>

#include "io/tokenizer_internal.h"

static int cmp_entity(const void *k, const void *e) {
    return strcmp((const char *)k, ((const tok_entity *)e)->name);
}
static const char *lookup(const char *name) {
    const tok_entity *e = bsearch(name, tok_html5, (size_t)tok_html5_count, sizeof *tok_html5,
                                  cmp_entity);
    return e ? e->value : NULL;
}

static int utf8_put(char *o, unsigned cp) {
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

/* the text a numeric reference "#123;" / "#x7b" stands for, into o (<= 4 bytes) */
static int numeric(const char *s, size_t n, char *o) {
    int hex = s[1] == 'x' || s[1] == 'X';
    unsigned long long v = 0;
    for (size_t i = hex ? 2 : 1; i < n && s[i] != ';'; i++) {
        int d = s[i] <= '9' ? s[i] - '0' : (s[i] | 32) - 'a' + 10;
        v = v * (hex ? 16 : 10) + (unsigned)d;
        if (v > 0x10FFFFull) v = 0x110000ull; /* saturate: only "too large" matters */
    }
    for (int i = 0; tok_invalid_charref[i][0] >= 0; i++)
        if ((unsigned long long)tok_invalid_charref[i][0] == v)
            return utf8_put(o, (unsigned)tok_invalid_charref[i][1]);
    if ((v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF) return utf8_put(o, 0xFFFD);
    for (int i = 0; tok_invalid_codepoint[i] >= 0; i++)
        if ((unsigned long long)tok_invalid_codepoint[i] == v) return 0;
    return utf8_put(o, (unsigned)v);
}

atas_status tok_html_unescape(const pcre2_code *re, const char *s, char **out) {
    size_t n = strlen(s);
    /* no reference expands past 4 bytes per input byte... except named ones,
     * whose values are at most 2 code points (8 bytes) for >= 2 input bytes */
    char *o = malloc(4 * n + 1);
    if (!o) return ATAS_ERR(ATAS_ERR_NOMEM, "tokenizer: no memory");
    if (!strchr(s, '&')) {
        memcpy(o, s, n + 1);
        *out = o;
        return ATAS_OK;
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!md) { free(o); return ATAS_ERR(ATAS_ERR_NOMEM, "tokenizer: no memory"); }
    size_t off = 0, k = 0;
    while (off <= n) {
        int rc = pcre2_match(re, (PCRE2_SPTR)s, n, off, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc < 0) break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        memcpy(o + k, s + off, ov[0] - off);
        k += ov[0] - off;
        const char *g = s + ov[2];
        size_t gn = ov[3] - ov[2];
        if (g[0] == '#') {
            k += (size_t)numeric(g, gn, o + k);
        } else {
            char name[40];
            memcpy(name, g, gn);
            name[gn] = 0;
            const char *v = lookup(name);
            if (v) {
                strcpy(o + k, v);
                k += strlen(v);
            } else {
                size_t x;
                for (x = gn - 1; x > 1; x--) { /* longest known prefix, then the rest as is */
                    name[x] = 0;
                    if ((v = lookup(name))) break;
                }
                if (x > 1 && v) {
                    strcpy(o + k, v);
                    k += strlen(v);
                    memcpy(o + k, g + x, gn - x);
                    k += gn - x;
                } else {
                    o[k++] = '&';
                    memcpy(o + k, g, gn);
                    k += gn;
                }
            }
        }
        off = ov[1];
    }
    if (off < n) {
        memcpy(o + k, s + off, n - off);
        k += n - off;
    }
    o[k] = 0;
    pcre2_match_data_free(md);
    *out = o;
    return ATAS_OK;
}
