/* The tokenizer's vocabulary: OpenCLIP's bpe_simple_vocab_16e6.txt.gz (the
 * merges; the vocabulary is derived from them exactly as SimpleTokenizer does),
 * or Hugging Face's vocab.json + merges.txt / tokenizer.json. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "io/tokenizer_internal.h"

/* ------------------------------------------------------------ hash map */
static uint64_t fnv(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

atas_status tok_map_init(tok_map *m, size_t expect) {
    memset(m, 0, sizeof *m);
    size_t cap = 64;
    while (cap < 2 * expect) cap <<= 1;
    m->key = calloc(cap, sizeof *m->key);
    m->val = calloc(cap, sizeof *m->val);
    if (!m->key || !m->val) {
        tok_map_free(m);
        return ATAS_ERR(ATAS_ERR_NOMEM, "tokenizer: no memory for a table of %zu entries", expect);
    }
    m->cap = cap;
    return ATAS_OK;
}

void tok_map_free(tok_map *m) {
    if (m->key)
        for (size_t i = 0; i < m->cap; i++) free(m->key[i]);
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof *m);
}

static size_t slot(const tok_map *m, const char *k, size_t n) {
    size_t i = fnv(k, n) & (m->cap - 1);
    while (m->key[i] && !(strlen(m->key[i]) == n && memcmp(m->key[i], k, n) == 0))
        i = (i + 1) & (m->cap - 1);
    return i;
}

int tok_map_put(tok_map *m, const char *k, size_t n, int v) {
    if (2 * (m->n + 1) > m->cap) { /* grow */
        tok_map g = {calloc(2 * m->cap, sizeof(char *)), calloc(2 * m->cap, sizeof(int)),
                     2 * m->cap, m->n};
        if (!g.key || !g.val) { free(g.key); free(g.val); return -1; }
        for (size_t i = 0; i < m->cap; i++)
            if (m->key[i]) {
                size_t j = slot(&g, m->key[i], strlen(m->key[i]));
                g.key[j] = m->key[i];
                g.val[j] = m->val[i];
            }
        free(m->key);
        free(m->val);
        *m = g;
    }
    size_t i = slot(m, k, n);
    if (m->key[i]) { /* a later duplicate wins, as in a Python dict built from pairs */
        m->val[i] = v;
        return 0;
    }
    m->key[i] = malloc(n + 1);
    if (!m->key[i]) return -1;
    memcpy(m->key[i], k, n);
    m->key[i][n] = 0;
    m->val[i] = v;
    m->n++;
    return 1;
}

int tok_map_get(const tok_map *m, const char *k, size_t n) {
    size_t i = slot(m, k, n);
    return m->key[i] ? m->val[i] : -1;
}

/* ------------------------------------------------------------ bytes <-> unicode */
static int utf8_put(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2; /* bytes_to_unicode stays below U+0800 */
}

/* GPT-2 / CLIP bytes_to_unicode: printable Latin-1 bytes map to themselves, the
 * other 68 to U+0100.. in byte order. byte_order[i] is the i-th vocab entry. */
static void byte_table(atas_tokenizer *t, int byte_order[256]) {
    int is_direct[256] = {0}, k = 0, extra = 0;
    for (int b = '!'; b <= '~'; b++) is_direct[b] = 1;
    for (int b = 0xA1; b <= 0xAC; b++) is_direct[b] = 1;
    for (int b = 0xAE; b <= 0xFF; b++) is_direct[b] = 1;
    for (int b = 0; b < 256; b++)
        if (is_direct[b]) byte_order[k++] = b;
    for (int b = 0; b < 256; b++) {
        unsigned cp = is_direct[b] ? (unsigned)b : 256u + (unsigned)extra++;
        int n = utf8_put(t->byte_enc[b], cp);
        t->byte_enc[b][n] = 0;
        if (!is_direct[b]) byte_order[k++] = b;
    }
}

/* ------------------------------------------------------------ files */
static atas_status read_all(const char *path, char **buf, size_t *len) {
    gzFile f = gzopen(path, "rb"); /* reads plain files too */
    if (!f) return ATAS_ERR(ATAS_ERR_IO, "%s: cannot open the vocabulary file", path);
    size_t cap = 1 << 20, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (!b) { gzclose(f); return ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", path); }
        if (n + 65536 + 1 > cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) { free(b); b = NULL; continue; }
            b = nb;
        }
        int r = gzread(f, b + n, 65536);
        if (r < 0) {
            int e;
            const char *msg = gzerror(f, &e);
            atas_status s = ATAS_ERR(ATAS_ERR_FORMAT, "%s: cannot decompress: %s", path, msg);
            free(b);
            gzclose(f);
            return s;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    gzclose(f);
    b[n] = 0;
    *buf = b;
    *len = n;
    return ATAS_OK;
}

static atas_status add_merge(atas_tokenizer *t, const char *a, size_t na, const char *b, size_t nb,
                             int rank, const char *file, long line) {
    char key[512];
    if (na + nb + 2 > sizeof key)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: merge %ld is too long", file, line);
    memcpy(key, a, na);
    key[na] = ' ';
    memcpy(key + na + 1, b, nb);
    if (tok_map_put(&t->ranks, key, na + nb + 1, rank) < 0)
        return ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", file);
    return ATAS_OK;
}

/* "a b" on one line -> the two halves; anything else is an error naming the line */
static atas_status split_merge(const char *s, size_t n, const char *file, long line,
                               size_t *sp) {
    const char *p = memchr(s, ' ', n);
    if (!p || p == s || p == s + n - 1 || memchr(p + 1, ' ', n - (size_t)(p + 1 - s)))
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: line %ld: expected a merge \"first second\", found "
                        "\"%.*s\"", file, line, (int)(n > 60 ? 60 : n), s);
    *sp = (size_t)(p - s);
    return ATAS_OK;
}

#define CLIP_MERGES (49152 - 256 - 2) /* what SimpleTokenizer keeps: lines 1..48894 */

/* OpenCLIP: vocab = 256 byte chars, the same + "</w>", the merges joined, specials */
static atas_status load_openclip(atas_tokenizer *t, const char *path) {
    char *buf;
    size_t len;
    ATAS_CHECK(read_all(path, &buf, &len));
    atas_status st = ATAS_OK;
    int order[256];
    byte_table(t, order);
    ATAS_CHECK_GOTO(st, tok_map_init(&t->vocab, 2 * CLIP_MERGES), out);
    ATAS_CHECK_GOTO(st, tok_map_init(&t->ranks, 2 * CLIP_MERGES), out);
    int id = 0;
    for (int w = 0; w < 2; w++)
        for (int i = 0; i < 256; i++) {
            char s[8];
            snprintf(s, sizeof s, "%s%s", t->byte_enc[order[i]], w ? "</w>" : "");
            tok_map_put(&t->vocab, s, strlen(s), id++);
        }
    char *p = buf, *end = buf + len;
    long line = 0;
    int rank = 0;
    while (p < end && rank < CLIP_MERGES) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line++;
        if (line > 1) { /* line 1: "#version: 0.2" */
            size_t sp;
            if (n && p[n - 1] == '\r') n--;
            ATAS_CHECK_GOTO(st, split_merge(p, n, path, line, &sp), out);
            ATAS_CHECK_GOTO(st, add_merge(t, p, sp, p + sp + 1, n - sp - 1, rank, path, line), out);
            /* the joined merge becomes a token (the same token can be made twice) */
            char joined[512];
            memcpy(joined, p, sp);
            memcpy(joined + sp, p + sp + 1, n - sp - 1);
            tok_map_put(&t->vocab, joined, n - 1, id);
            id++;
            rank++;
        }
        p = nl ? nl + 1 : end;
    }
    if (rank < CLIP_MERGES) {
        st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: %d merges found, CLIP's vocabulary needs %d (lines 2.."
                      "%d of bpe_simple_vocab_16e6.txt.gz)", path, rank, CLIP_MERGES,
                      CLIP_MERGES + 1);
        goto out;
    }
    snprintf(t->special[0], sizeof t->special[0], "<start_of_text>");
    snprintf(t->special[1], sizeof t->special[1], "<end_of_text>");
    t->sot = id++;
    t->eot = id++;
    tok_map_put(&t->vocab, t->special[0], strlen(t->special[0]), t->sot);
    tok_map_put(&t->vocab, t->special[1], strlen(t->special[1]), t->eot);
    t->nvocab = id;
out:
    free(buf);
    return st;
}

/* HF: token -> id from vocab.json (or tokenizer.json's model.vocab) */
static atas_status hf_vocab(atas_tokenizer *t, json_t *v, const char *file, const char *key) {
    if (!json_is_object(v))
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: %s is not an object of token -> id", file, key);
    ATAS_CHECK(tok_map_init(&t->vocab, json_object_size(v)));
    const char *k;
    json_t *val;
    t->nvocab = 0;
    json_object_foreach(v, k, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 ||
            json_integer_value(val) >= (1 << 30))
            return ATAS_ERR(ATAS_ERR_FORMAT, "%s: %s[\"%s\"] is not a token id", file, key, k);
        int id = (int)json_integer_value(val);
        if (tok_map_put(&t->vocab, k, strlen(k), id) < 0)
            return ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", file);
        if (id + 1 > t->nvocab) t->nvocab = id + 1;
    }
    return ATAS_OK;
}

static atas_status hf_specials(atas_tokenizer *t, const char *file) {
    snprintf(t->special[0], sizeof t->special[0], "<|startoftext|>");
    snprintf(t->special[1], sizeof t->special[1], "<|endoftext|>");
    t->sot = tok_map_get(&t->vocab, t->special[0], strlen(t->special[0]));
    t->eot = tok_map_get(&t->vocab, t->special[1], strlen(t->special[1]));
    if (t->sot < 0 || t->eot < 0)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: the vocabulary has no \"%s\" or \"%s\" token (not a "
                        "CLIP tokenizer)", file, t->special[0], t->special[1]);
    return ATAS_OK;
}

static atas_status load_hf_vocab_json(atas_tokenizer *t, const char *vocab, const char *merges) {
    json_error_t je;
    json_t *root = json_load_file(vocab, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: invalid JSON at line %d: %s", vocab, je.line, je.text);
    atas_status st = hf_vocab(t, root, vocab, "the file");
    json_decref(root);
    ATAS_CHECK(st);
    ATAS_CHECK(hf_specials(t, vocab));
    char *buf;
    size_t len;
    ATAS_CHECK(read_all(merges, &buf, &len));
    st = tok_map_init(&t->ranks, 65536);
    char *p = buf, *end = buf + len;
    long line = 0;
    int rank = 0;
    while (st == ATAS_OK && p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line++;
        if (n && p[n - 1] == '\r') n--;
        if (n && !(line == 1 && strncmp(p, "#version", 8) == 0)) {
            size_t sp;
            st = split_merge(p, n, merges, line, &sp);
            if (st == ATAS_OK) st = add_merge(t, p, sp, p + sp + 1, n - sp - 1, rank++, merges, line);
        }
        p = nl ? nl + 1 : end;
    }
    free(buf);
    if (st != ATAS_OK) return atas_error_trace(st, __FILE__, __LINE__, __func__);
    if (rank == 0) return ATAS_ERR(ATAS_ERR_FORMAT, "%s: no merges", merges);
    return ATAS_OK;
}

static atas_status load_hf_tokenizer_json(atas_tokenizer *t, const char *path) {
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: invalid JSON at line %d: %s", path, je.line, je.text);
    atas_status st = ATAS_OK;
    json_t *model = json_object_get(root, "model"), *merges;
    if (!json_is_object(model)) {
        st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: no \"model\" object", path);
        goto out;
    }
    const char *type = json_string_value(json_object_get(model, "type"));
    if (type && strcmp(type, "BPE") != 0) {
        st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: model.type is \"%s\", expected \"BPE\"", path, type);
        goto out;
    }
    ATAS_CHECK_GOTO(st, hf_vocab(t, json_object_get(model, "vocab"), path, "model.vocab"), out);
    ATAS_CHECK_GOTO(st, hf_specials(t, path), out);
    merges = json_object_get(model, "merges");
    if (!json_is_array(merges) || json_array_size(merges) == 0) {
        st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: model.merges is not a non-empty array", path);
        goto out;
    }
    ATAS_CHECK_GOTO(st, tok_map_init(&t->ranks, json_array_size(merges)), out);
    size_t i;
    json_t *m;
    json_array_foreach(merges, i, m) {
        /* "a b" (tokenizers < 0.20) or ["a", "b"] */
        if (json_is_string(m)) {
            const char *s = json_string_value(m);
            size_t sp, n = strlen(s);
            ATAS_CHECK_GOTO(st, split_merge(s, n, path, (long)i, &sp), out);
            ATAS_CHECK_GOTO(st, add_merge(t, s, sp, s + sp + 1, n - sp - 1, (int)i, path, (long)i), out);
        } else if (json_is_array(m) && json_array_size(m) == 2 &&
                   json_is_string(json_array_get(m, 0)) && json_is_string(json_array_get(m, 1))) {
            const char *a = json_string_value(json_array_get(m, 0));
            const char *b = json_string_value(json_array_get(m, 1));
            ATAS_CHECK_GOTO(st, add_merge(t, a, strlen(a), b, strlen(b), (int)i, path, (long)i), out);
        } else {
            st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: model.merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]",
                          path, i);
            goto out;
        }
    }
out:
    json_decref(root);
    return st;
}

static int exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}
static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* which file(s) a path means; fills t->byte_enc for every format */
atas_status tok_load_vocab(atas_tokenizer *t, const char *path) {
    int order[256];
    byte_table(t, order);
    struct stat sb;
    if (stat(path, &sb) != 0)
        return ATAS_ERR(ATAS_ERR_IO, "%s: vocabulary not found (expected bpe_simple_vocab_16e6.txt.gz, "
                        "vocab.json with merges.txt, tokenizer.json, or a directory holding one)", path);
    char a[4096], b[4096];
    if (S_ISDIR(sb.st_mode)) {
        snprintf(a, sizeof a, "%s/vocab.json", path);
        snprintf(b, sizeof b, "%s/merges.txt", path);
        if (exists(a) && exists(b)) return load_hf_vocab_json(t, a, b);
        snprintf(a, sizeof a, "%s/tokenizer.json", path);
        if (exists(a)) return load_hf_tokenizer_json(t, a);
        snprintf(a, sizeof a, "%s/bpe_simple_vocab_16e6.txt.gz", path);
        if (exists(a)) return load_openclip(t, a);
        return ATAS_ERR(ATAS_ERR_IO, "%s: directory holds no vocabulary (vocab.json + merges.txt, "
                        "tokenizer.json or bpe_simple_vocab_16e6.txt.gz)", path);
    }
    if (ends_with(path, "tokenizer.json")) return load_hf_tokenizer_json(t, path);
    if (ends_with(path, ".json")) {
        snprintf(a, sizeof a, "%s", path);
        char *s = strrchr(a, '/');
        snprintf(b, sizeof b, "%.*smerges.txt", s ? (int)(s - a + 1) : 0, a);
        if (!exists(b))
            return ATAS_ERR(ATAS_ERR_IO, "%s: merges.txt expected beside the vocabulary at %s", path, b);
        return load_hf_vocab_json(t, path, b);
    }
    return load_openclip(t, path);
}
