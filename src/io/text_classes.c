/* Class embeddings from the text tower: class names x prompt templates,
 * averaged as OpenCLIP's build_zero_shot_classifier does (normalise each
 * prompt's embedding, mean per class, normalise the mean). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "atas/text_io.h"

/* next meaningful line: trailing newline / CR removed; NULL at the end */
static char *next_line(FILE *f, char **buf, size_t *cap, long *line) {
    while (getline(buf, cap, f) >= 0) {
        (*line)++;
        char *s = *buf;
        size_t n = strlen(s);
        while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = 0;
        const char *p = s;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p || *p == '#') continue;
        return s;
    }
    return NULL;
}

atas_status atas_text_read_classes(const char *path, atas_classemb *c, char ***prompts) {
    memset(c, 0, sizeof *c);
    char **pr = NULL;
    if (prompts) *prompts = NULL;
    FILE *f = fopen(path, "r");
    if (!f) return ATAS_ERR(ATAS_ERR_IO, "%s: cannot open the classes file: %s", path, strerror(errno));
    char *buf = NULL, *s;
    size_t bcap = 0;
    long line = 0;
    int cap = 0;
    atas_status st = ATAS_OK;
    while ((s = next_line(f, &buf, &bcap, &line))) {
        char *t1 = strchr(s, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        char *t3 = t2 ? strchr(t2 + 1, '\t') : NULL; /* optional prompt name */
        if (t3) *t3++ = 0;
        char *e1 = NULL, *e2 = NULL;
        long id = t1 ? strtol(s, &e1, 10) : 0, th = t2 ? strtol(t1 + 1, &e2, 10) : 0;
        if (!t1 || !t2 || e1 != t1 || e2 != t2 || id < 0 || id > 1 << 30 || (th != 0 && th != 1) ||
            !t2[1] || (t3 && (!*t3 || strchr(t3, '\t')))) {
            st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: line %ld: expected \"category_id<TAB>isthing (0|1)"
                          "<TAB>name[<TAB>prompt name]\", found \"%.60s\"", path, line, s);
            goto out;
        }
        if (c->K && id <= c->category_id[c->K - 1]) {
            st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: line %ld: category id %ld is not above the previous "
                          "one (%d): ids must ascend", path, line, id, c->category_id[c->K - 1]);
            goto out;
        }
        if (c->K == cap) {
            cap = cap ? 2 * cap : 64;
            int *ni = realloc(c->category_id, (size_t)cap * sizeof(int));
            if (ni) c->category_id = ni;
            int *nt = realloc(c->isthing, (size_t)cap * sizeof(int));
            if (nt) c->isthing = nt;
            char **nn = realloc(c->names, (size_t)cap * sizeof(char *));
            if (nn) c->names = nn;
            char **np = realloc(pr, (size_t)cap * sizeof(char *));
            if (np) pr = np;
            if (!ni || !nt || !nn || !np) { st = ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", path); goto out; }
        }
        c->category_id[c->K] = (int)id;
        c->isthing[c->K] = (int)th;
        c->names[c->K] = strdup(t2 + 1);
        pr[c->K] = strdup(t3 ? t3 : t2 + 1);
        if (!c->names[c->K] || !pr[c->K]) {
            free(c->names[c->K]);
            free(pr[c->K]);
            st = ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", path);
            goto out;
        }
        c->K++;
    }
    if (!c->K) st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: no classes", path);
out:
    free(buf);
    fclose(f);
    if (st != ATAS_OK || !prompts) {
        for (int k = 0; pr && k < c->K; k++) free(pr[k]);
        free(pr);
        pr = NULL;
    }
    if (st != ATAS_OK) atas_classemb_free(c);
    if (prompts) *prompts = pr;
    return st;
}

atas_status atas_text_read_templates(const char *path, char ***tpl, int *n) {
    *tpl = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) return ATAS_ERR(ATAS_ERR_IO, "%s: cannot open the templates file: %s", path, strerror(errno));
    char *buf = NULL, *s, **v = NULL;
    size_t bcap = 0;
    long line = 0;
    int cap = 0, k = 0;
    atas_status st = ATAS_OK;
    while ((s = next_line(f, &buf, &bcap, &line))) {
        char *p = strstr(s, "{}");
        if (!p || strstr(p + 2, "{}")) {
            st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: line %ld: a template holds \"{}\" exactly once, "
                          "found \"%.60s\"", path, line, s);
            goto out;
        }
        if (k == cap) {
            cap = cap ? 2 * cap : 64;
            char **nv = realloc(v, (size_t)cap * sizeof *v);
            if (!nv) { st = ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", path); goto out; }
            v = nv;
        }
        if (!(v[k] = strdup(s))) { st = ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", path); goto out; }
        k++;
    }
    if (!k) st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: no templates", path);
out:
    free(buf);
    fclose(f);
    if (st != ATAS_OK) {
        atas_text_free_templates(v, k);
        return st;
    }
    *tpl = v;
    *n = k;
    return ATAS_OK;
}

void atas_text_free_templates(char **tpl, int n) {
    for (int i = 0; tpl && i < n; i++) free(tpl[i]);
    free(tpl);
}

atas_status atas_text_prompt(const char *tpl, const char *name, char **out) {
    const char *p = strstr(tpl, "{}");
    ATAS_REQUIRE(p, "template \"%s\" has no \"{}\"", tpl);
    size_t a = (size_t)(p - tpl), b = strlen(name), c = strlen(p + 2);
    char *s = malloc(a + b + c + 1);
    if (!s) return ATAS_ERR(ATAS_ERR_NOMEM, "no memory");
    memcpy(s, tpl, a);
    memcpy(s + a, name, b);
    memcpy(s + a + b, p + 2, c + 1);
    *out = s;
    return ATAS_OK;
}

atas_status atas_text_class_embeddings(atas_text *t, const atas_tokenizer *tok, char **tpl, int nt,
                                       char **prompts, int batch, int progress, atas_classemb *c) {
    ATAS_REQUIRE(t && tok && tpl && nt > 0 && c && c->K > 0, "atas_text_class_embeddings: bad arguments");
    const atas_text_config *cfg = atas_text_cfg(t);
    const int E = cfg->embed, T = cfg->ctx;
    ATAS_REQUIRE(atas_tokenizer_vocab_size(tok) <= cfg->vocab,
            "the tokenizer's vocabulary (%d tokens) is larger than the text tower's (%d rows)",
            atas_tokenizer_vocab_size(tok), cfg->vocab);
    if (batch <= 0) batch = 64;
    const long total = (long)c->K * nt;
    int32_t *ids = malloc((size_t)batch * T * sizeof *ids);
    float *out = malloc((size_t)batch * E * sizeof *out);
    double *acc = calloc((size_t)c->K * E, sizeof *acc);
    float *emb = malloc((size_t)c->K * E * sizeof *emb);
    atas_status st = ATAS_OK;
    if (!ids || !out || !acc || !emb) {
        st = ATAS_ERR(ATAS_ERR_NOMEM, "class embeddings: no memory");
        goto out;
    }
    long ntrunc = 0;
    for (long i0 = 0; i0 < total; i0 += batch) {
        const int B = (int)ATAS_MIN((long)batch, total - i0);
        for (int b = 0; b < B; b++) {
            const long i = i0 + b;
            char *prompt;
            int cut;
            ATAS_CHECK_GOTO(st, atas_text_prompt(tpl[i % nt], (prompts ? prompts : c->names)[i / nt], &prompt), out);
            st = atas_tokenizer_tokenize(tok, prompt, T, ids + (size_t)b * T, &cut);
            free(prompt);
            ATAS_CHECK_GOTO(st, st, out);
            ntrunc += cut;
        }
        ATAS_CHECK_GOTO(st, atas_text_encode(t, ids, B, out), out);
        for (int b = 0; b < B; b++) {
            const float *y = out + (size_t)b * E;
            double nrm = 0;
            for (int e = 0; e < E; e++) nrm += (double)y[e] * y[e];
            nrm = sqrt(nrm);
            if (!(nrm > 0) || !isfinite(nrm)) {
                st = ATAS_ERR(ATAS_ERR_NUMERIC, "class \"%s\", template \"%s\": text embedding "
                              "has norm %g", c->names[(i0 + b) / nt], tpl[(i0 + b) % nt], nrm);
                goto out;
            }
            double *a = acc + (size_t)((i0 + b) / nt) * E;
            for (int e = 0; e < E; e++) a[e] += y[e] / nrm;
        }
        if (progress)
            fprintf(stderr, "\rtext: %ld / %ld prompts", i0 + B, total);
    }
    if (progress) fprintf(stderr, "\n");
    if (ntrunc) atas_warn("text: %ld prompts were longer than %d tokens and were cut", ntrunc, T);
    for (int k = 0; k < c->K; k++) {
        const double *a = acc + (size_t)k * E;
        double nrm = 0;
        for (int e = 0; e < E; e++) nrm += (a[e] / nt) * (a[e] / nt);
        nrm = sqrt(nrm);
        if (!(nrm > 0)) {
            st = ATAS_ERR(ATAS_ERR_NUMERIC, "class \"%s\": the mean of its prompt embeddings is zero",
                          c->names[k]);
            goto out;
        }
        for (int e = 0; e < E; e++) emb[(size_t)k * E + e] = (float)(a[e] / nt / nrm);
    }
    free(c->emb);
    c->emb = emb;
    emb = NULL;
    c->E = E;
    c->n_templates = nt;
out:
    free(ids);
    free(out);
    free(acc);
    free(emb);
    return st;
}
