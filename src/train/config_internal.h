/* The config schema: one row per key. Loading, --set, the resolved writer and
 * the documentation all walk this table and nothing else. */
#ifndef ATAS_CONFIG_INTERNAL_H
#define ATAS_CONFIG_INTERNAL_H

#include <stddef.h>

#include "atas/config.h"

typedef enum {
    CFG_BOOL,
    CFG_INT,     /* int field */
    CFG_INT64,   /* int64_t field */
    CFG_FLOAT,   /* double field; an integer literal is accepted */
    CFG_STRING,  /* char[size] field */
    CFG_ENUM,    /* int field, one of items[] */
    CFG_INTS,    /* int[max_len] field + int count at count_off */
    CFG_FLOATS   /* double[max_len] field, exactly max_len values */
} cfg_type;

typedef struct {
    const char *name;
    int value;
} cfg_enum_item;

/* Range of a number or of every array element. */
typedef struct {
    int has_lo, lo_open; /* lo_open: value must be > lo instead of >= lo */
    int has_hi, hi_open;
    double lo, hi;
} cfg_range;

typedef struct {
    const char *key;   /* dotted: "loss.g2l.weight" */
    cfg_type type;
    size_t off;        /* offsetof(atas_run_config, ...) */
    size_t size;       /* CFG_STRING: capacity in bytes */
    size_t count_off;  /* CFG_INTS: offset of the int element count */
    int min_len, max_len; /* arrays */
    const char *def;   /* default, in --set syntax */
    cfg_range range;
    const cfg_enum_item *items; /* CFG_ENUM, terminated by name == NULL */
    /* Extra rule on the stored field: NULL when fine, else what is wrong. */
    const char *(*rule)(const void *field, char *buf, size_t n);
    const char *rule_doc; /* how the extra rule reads in the docs */
    const char *doc;
} cfg_key;

extern const cfg_key atas_cfg_keys[];
extern const int atas_cfg_nkeys;
/* Prose for each top-level group, in table order: {group, text} ..., {NULL, NULL}. */
extern const char *const atas_cfg_group_docs[][2];

const cfg_key *atas_cfg_find(const char *key);

/* A parsed value before it is checked against a key: from a libconfig setting or
 * from --set text. */
typedef enum { CV_BOOL, CV_INT, CV_FLOAT, CV_STRING, CV_ARRAY, CV_GROUP } cv_kind;
#define CV_MAX_ELEMS 16
typedef struct {
    cv_kind kind;
    int64_t i;
    double f;
    const char *s;     /* CV_STRING (not owned) */
    int n;             /* CV_ARRAY: element count */
    cv_kind ekind[CV_MAX_ELEMS];
    int64_t ei[CV_MAX_ELEMS];
    double ef[CV_MAX_ELEMS];
    int too_long;      /* more than CV_MAX_ELEMS elements (count still in n) */
    int nested;        /* an element is not a scalar */
} cfg_value;

/* Check value against key k and store it into c; `where` is "file:line" or
 * "--set". Raises ATAS_ERR_CONFIG "<where>: <key> = <value>: <rule>". */
atas_status atas_cfg_apply(atas_run_config *c, const cfg_key *k, const cfg_value *v,
                           const char *where);
/* --set text -> value, interpreted for key k (strings may be unquoted). */
atas_status atas_cfg_parse_text(const cfg_key *k, const char *text, cfg_value *v,
                                char *strbuf, size_t strbuf_n, const char *where);
/* The value of key k in c, formatted in libconfig syntax. */
void atas_cfg_format(const atas_run_config *c, const cfg_key *k, char *buf, size_t n);
/* The range / enum / rule of key k in words ("> 0", "\"cpu\" | \"cuda\""). */
void atas_cfg_describe_rule(const cfg_key *k, char *buf, size_t n);
/* Shortest %g that parses back to the same double, always with a '.' or 'e'. */
void atas_cfg_fmt_double(double x, char *buf, size_t n);

/* an integer literal beyond 64 bits in a config file (libconfig reads it as -1): the
 * error names `shown`:line (config_literals.c) */
atas_status atas_cfg_check_literals(const char *path, const char *shown);

#endif
