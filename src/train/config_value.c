/* One value against one schema row: type check, range/enum/rule check, store;
 * and the reverse: a stored value formatted in libconfig syntax. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "train/config_internal.h"

void atas_cfg_fmt_double(double x, char *buf, size_t n) {
    for (int p = 1; p <= 17; p++) { /* shortest text that reads back exactly */
        snprintf(buf, n, "%.*g", p, x);
        if (strtod(buf, NULL) == x) break;
    }
    /* libconfig reads "1" as an integer: keep floats visibly floats */
    if (!strpbrk(buf, ".eEni")) {
        size_t l = strlen(buf);
        if (l + 2 < n) memcpy(buf + l, ".0", 3);
    }
}

/* libconfig string literal: quotes, with \\ \" and control characters escaped */
static void fmt_string(const char *s, char *buf, size_t n) {
    size_t o = 0;
    if (n < 3) { if (n) buf[0] = 0; return; }
    buf[o++] = '"';
    for (; *s && o + 6 < n; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') { buf[o++] = '\\'; buf[o++] = (char)ch; }
        else if (ch == '\n') { buf[o++] = '\\'; buf[o++] = 'n'; }
        else if (ch == '\t') { buf[o++] = '\\'; buf[o++] = 't'; }
        else if (ch < 0x20) o += (size_t)snprintf(buf + o, n - o, "\\x%02x", ch);
        else buf[o++] = (char)ch;
    }
    buf[o++] = '"';
    buf[o] = 0;
}

static void fmt_elem(cv_kind k, int64_t i, double f, char *buf, size_t n) {
    if (k == CV_INT) snprintf(buf, n, "%lld", (long long)i);
    else if (k == CV_FLOAT) atas_cfg_fmt_double(f, buf, n);
    else if (k == CV_BOOL) snprintf(buf, n, "%s", i ? "true" : "false");
    else snprintf(buf, n, "<%s>", k == CV_STRING ? "string" : k == CV_GROUP ? "group" : "array");
}

/* a value as the user wrote it, for messages */
static void fmt_value(const cfg_value *v, char *buf, size_t n) {
    switch (v->kind) {
    case CV_STRING: fmt_string(v->s, buf, n); return;
    case CV_GROUP: snprintf(buf, n, "{ ... }"); return;
    case CV_ARRAY: {
        size_t o = (size_t)snprintf(buf, n, "[");
        int shown = v->n < CV_MAX_ELEMS ? v->n : CV_MAX_ELEMS;
        for (int j = 0; j < shown && o < n; j++) {
            char e[64];
            fmt_elem(v->ekind[j], v->ei[j], v->ef[j], e, sizeof e);
            o += (size_t)snprintf(buf + o, n - o, "%s%s", j ? ", " : "", e);
        }
        if (o < n) snprintf(buf + o, n - o, "%s]", v->n > shown ? ", ..." : "");
        return;
    }
    default: fmt_elem(v->kind, v->i, v->f, buf, n); return;
    }
}

/* "must be > 0" when x breaks r, else NULL */
static const char *range_violation(const cfg_range *r, double x, char *buf, size_t n) {
    int bad = (r->has_lo && (r->lo_open ? !(x > r->lo) : !(x >= r->lo))) ||
              (r->has_hi && (r->hi_open ? !(x < r->hi) : !(x <= r->hi)));
    if (!bad) return NULL;
    if (r->has_lo && r->has_hi)
        snprintf(buf, n, "must be in %c%g, %g%c", r->lo_open ? '(' : '[', r->lo, r->hi, r->hi_open ? ')' : ']');
    else if (r->has_lo) snprintf(buf, n, "must be %s %g", r->lo_open ? ">" : ">=", r->lo);
    else snprintf(buf, n, "must be %s %g", r->hi_open ? "<" : "<=", r->hi);
    return buf;
}

static void enum_list(const cfg_key *k, char *buf, size_t n) {
    size_t o = 0;
    buf[0] = 0;
    for (const cfg_enum_item *it = k->items; it->name && o < n; it++)
        o += (size_t)snprintf(buf + o, n - o, "%s\"%s\"", it == k->items ? "" : " | ", it->name);
}

void atas_cfg_describe_rule(const cfg_key *k, char *buf, size_t n) {
    buf[0] = 0;
    if (k->type == CFG_ENUM) { enum_list(k, buf, n); return; }
    if (k->rule_doc) { snprintf(buf, n, "%s", k->rule_doc); return; }
    const cfg_range *r = &k->range;
    char rng[96] = "";
    if (r->has_lo && r->has_hi)
        snprintf(rng, sizeof rng, "%c%g, %g%c", r->lo_open ? '(' : '[', r->lo, r->hi, r->hi_open ? ')' : ']');
    else if (r->has_lo) snprintf(rng, sizeof rng, "%s %g", r->lo_open ? ">" : ">=", r->lo);
    else if (r->has_hi) snprintf(rng, sizeof rng, "%s %g", r->hi_open ? "<" : "<=", r->hi);
    if (k->type == CFG_INTS || k->type == CFG_FLOATS) {
        if (k->min_len == k->max_len) snprintf(buf, n, "%d elements, each %s", k->max_len, rng);
        else snprintf(buf, n, "%d to %d elements, each %s", k->min_len, k->max_len, rng);
    } else {
        snprintf(buf, n, "%s", rng);
    }
}

static const char *type_word(cfg_type t) {
    switch (t) {
    case CFG_BOOL: return "a boolean (true or false)";
    case CFG_INT: case CFG_INT64: return "an integer";
    case CFG_FLOAT: return "a number";
    case CFG_STRING: return "a string";
    case CFG_ENUM: return "a string";
    case CFG_INTS: return "an array of integers";
    case CFG_FLOATS: return "an array of numbers";
    }
    return "?";
}

#define FAIL(...)                                                                   \
    do {                                                                            \
        char _why[512];                                                             \
        snprintf(_why, sizeof _why, __VA_ARGS__);                                   \
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s: %s = %s: %s", where, k->key, vtext, _why); \
    } while (0)

atas_status atas_cfg_apply(atas_run_config *c, const cfg_key *k, const cfg_value *v,
                           const char *where) {
    char vtext[512], rb[256];
    fmt_value(v, vtext, sizeof vtext);
    char *field = (char *)c + k->off;
    const char *why;
    int is_array = k->type == CFG_INTS || k->type == CFG_FLOATS;

    if (v->kind == CV_GROUP) FAIL("must be %s, not a group", type_word(k->type));
    if (is_array != (v->kind == CV_ARRAY)) {
        if (k->type == CFG_INT && v->kind == CV_FLOAT) FAIL("must be an integer, not a float");
        FAIL("must be %s", type_word(k->type));
    }
    switch (k->type) {
    case CFG_BOOL:
        if (v->kind != CV_BOOL) FAIL("must be %s", type_word(k->type));
        *(int *)field = v->i ? 1 : 0;
        return ATAS_OK;
    case CFG_INT:
    case CFG_INT64:
        if (v->kind == CV_FLOAT) FAIL("must be an integer, not a float");
        if (v->kind != CV_INT) FAIL("must be an integer");
        if (k->type == CFG_INT && (v->i < INT_MIN || v->i > INT_MAX)) FAIL("does not fit a 32-bit integer");
        if ((why = range_violation(&k->range, (double)v->i, rb, sizeof rb))) FAIL("%s", why);
        if (k->type == CFG_INT) *(int *)field = (int)v->i;
        else *(int64_t *)field = v->i;
        return ATAS_OK;
    case CFG_FLOAT: {
        if (v->kind != CV_INT && v->kind != CV_FLOAT) FAIL("must be a number");
        double x = v->kind == CV_INT ? (double)v->i : v->f;
        if (!isfinite(x)) FAIL("must be finite");
        if ((why = range_violation(&k->range, x, rb, sizeof rb))) FAIL("%s", why);
        *(double *)field = x;
        return ATAS_OK;
    }
    case CFG_STRING:
        if (v->kind != CV_STRING) FAIL("must be a string (in double quotes)");
        if (strlen(v->s) >= k->size) FAIL("too long (at most %zu characters)", k->size - 1);
        if (k->rule && (why = k->rule(v->s, rb, sizeof rb))) FAIL("%s", why);
        memcpy(field, v->s, strlen(v->s) + 1);
        return ATAS_OK;
    case CFG_ENUM:
        if (v->kind != CV_STRING) {
            enum_list(k, rb, sizeof rb);
            FAIL("must be one of %s", rb);
        }
        for (const cfg_enum_item *it = k->items; it->name; it++)
            if (strcmp(it->name, v->s) == 0) { *(int *)field = it->value; return ATAS_OK; }
        enum_list(k, rb, sizeof rb);
        FAIL("must be one of %s", rb);
    case CFG_INTS:
    case CFG_FLOATS: {
        if (v->nested) FAIL("elements must be plain numbers");
        if (v->n < k->min_len || v->n > k->max_len) {
            if (k->min_len == k->max_len) FAIL("must have exactly %d elements (has %d)", k->max_len, v->n);
            FAIL("must have %d to %d elements (has %d)", k->min_len, k->max_len, v->n);
        }
        double tmp[CV_MAX_ELEMS];
        for (int j = 0; j < v->n; j++) {
            if (k->type == CFG_INTS) {
                if (v->ekind[j] == CV_FLOAT) FAIL("element %d must be an integer, not a float", j);
                if (v->ekind[j] != CV_INT) FAIL("element %d must be an integer", j);
                if (v->ei[j] < INT_MIN || v->ei[j] > INT_MAX) FAIL("element %d does not fit a 32-bit integer", j);
                tmp[j] = (double)v->ei[j];
            } else {
                if (v->ekind[j] != CV_INT && v->ekind[j] != CV_FLOAT) FAIL("element %d must be a number", j);
                tmp[j] = v->ekind[j] == CV_INT ? (double)v->ei[j] : v->ef[j];
                if (!isfinite(tmp[j])) FAIL("element %d must be finite", j);
            }
            if ((why = range_violation(&k->range, tmp[j], rb, sizeof rb)))
                FAIL("element %d = %g %s", j, tmp[j], why);
        }
        for (int j = 0; j < v->n; j++) {
            if (k->type == CFG_INTS) ((int *)field)[j] = (int)tmp[j];
            else ((double *)field)[j] = tmp[j];
        }
        if (k->type == CFG_INTS) {
            for (int j = v->n; j < k->max_len; j++) ((int *)field)[j] = 0;
            *(int *)((char *)c + k->count_off) = v->n;
        }
        return ATAS_OK;
    }
    }
    return ATAS_ERR(ATAS_ERR_INTERNAL, "%s: unhandled schema type %d", k->key, (int)k->type);
}
#undef FAIL

/* ------------------------------------------------------------ --set text */

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t l = strlen(s);
    while (l && isspace((unsigned char)s[l - 1])) s[--l] = 0;
    return s;
}

/* A scalar as libconfig would read it: true/false, integer, float; else a string. */
static cv_kind parse_scalar(const char *s, int64_t *i, double *f) {
    if (!strcasecmp(s, "true")) { *i = 1; return CV_BOOL; }
    if (!strcasecmp(s, "false")) { *i = 0; return CV_BOOL; }
    if (!*s) return CV_STRING;
    char *end;
    errno = 0;
    const char *digits = (*s == '-' || *s == '+') ? s + 1 : s;
    int base = (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) ? 16 : 10; /* never octal */
    long long ll = strtoll(s, &end, base);
    size_t l = strlen(s);
    const char *tail = end;
    if (*tail == 'L' && tail[1] == 0) tail++; /* libconfig's 64-bit suffix */
    if (end != s && *tail == 0 && errno == 0) { *i = ll; return CV_INT; }
    errno = 0;
    double d = strtod(s, &end);
    /* strtod also reads "nan"/"inf": only accept text that looks numeric */
    if (end == s + l && strpbrk(s, "0123456789") && !strpbrk(s, "nNiI")) { *f = d; return CV_FLOAT; }
    return CV_STRING;
}

atas_status atas_cfg_parse_text(const cfg_key *k, const char *text, cfg_value *v, char *strbuf,
                                size_t strbuf_n, const char *where) {
    memset(v, 0, sizeof *v);
    size_t l = strlen(text);
    if (l >= strbuf_n)
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s: %s: value too long (%zu characters)", where, k->key, l);
    memcpy(strbuf, text, l + 1);
    char *s = trim(strbuf);
    if (k->type == CFG_STRING || k->type == CFG_ENUM) {
        /* strings may be given bare; a quoted one loses its quotes (\" and \\ unescaped) */
        size_t sl = strlen(s);
        if (sl >= 2 && s[0] == '"' && s[sl - 1] == '"') {
            char *o = s;
            for (size_t j = 1; j + 1 < sl; j++) {
                if (s[j] == '\\' && j + 2 < sl) j++;
                *o++ = s[j];
            }
            *o = 0;
        }
        v->kind = CV_STRING;
        v->s = s;
        return ATAS_OK;
    }
    int is_array = k->type == CFG_INTS || k->type == CFG_FLOATS;
    size_t sl = strlen(s);
    int bracketed = sl >= 2 && ((s[0] == '[' && s[sl - 1] == ']') || (s[0] == '(' && s[sl - 1] == ')'));
    if (bracketed || (is_array && sl)) {
        if (bracketed) { s[sl - 1] = 0; s++; }
        v->kind = CV_ARRAY;
        char *body = trim(s);
        if (!*body) return ATAS_OK; /* [] */
        /* split by hand: strtok would read "[2,,4]" as [2, 4]; an empty element stays
         * an (empty string) element that the type check refuses by index */
        for (char *tok = body, *next; tok; tok = next) {
            next = strchr(tok, ',');
            if (next) *next++ = 0;
            tok = trim(tok);
            if (v->n < CV_MAX_ELEMS) {
                int64_t i = 0;
                double f = 0;
                v->ekind[v->n] = parse_scalar(tok, &i, &f);
                if (tok[0] == '[' || tok[0] == '(') v->nested = 1;
                v->ei[v->n] = i;
                v->ef[v->n] = f;
            } else {
                v->too_long = 1;
            }
            v->n++;
        }
        return ATAS_OK;
    }
    v->kind = parse_scalar(s, &v->i, &v->f);
    if (v->kind == CV_STRING) v->s = s;
    return ATAS_OK;
}

/* ------------------------------------------------------------ formatting */

void atas_cfg_format(const atas_run_config *c, const cfg_key *k, char *buf, size_t n) {
    const char *field = (const char *)c + k->off;
    switch (k->type) {
    case CFG_BOOL: snprintf(buf, n, "%s", *(const int *)field ? "true" : "false"); return;
    case CFG_INT: snprintf(buf, n, "%d", *(const int *)field); return;
    case CFG_INT64: {
        int64_t x = *(const int64_t *)field;
        snprintf(buf, n, "%lld%s", (long long)x, (x < INT_MIN || x > INT_MAX) ? "L" : "");
        return;
    }
    case CFG_FLOAT: atas_cfg_fmt_double(*(const double *)field, buf, n); return;
    case CFG_STRING: fmt_string(field, buf, n); return;
    case CFG_ENUM:
        for (const cfg_enum_item *it = k->items; it->name; it++)
            if (it->value == *(const int *)field) { fmt_string(it->name, buf, n); return; }
        snprintf(buf, n, "<invalid %d>", *(const int *)field);
        return;
    case CFG_INTS:
    case CFG_FLOATS: {
        int cnt = k->type == CFG_INTS ? *(const int *)((const char *)c + k->count_off) : k->max_len;
        size_t o = (size_t)snprintf(buf, n, "[");
        for (int j = 0; j < cnt && o < n; j++) {
            char e[64];
            if (k->type == CFG_INTS) snprintf(e, sizeof e, "%d", ((const int *)field)[j]);
            else atas_cfg_fmt_double(((const double *)field)[j], e, sizeof e);
            o += (size_t)snprintf(buf + o, n - o, "%s%s", j ? ", " : "", e);
        }
        if (o < n) snprintf(buf + o, n - o, "]");
        return;
    }
    }
    snprintf(buf, n, "?");
}
