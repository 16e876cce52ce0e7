/* atas_text: CLIP's tokenizer and text tower (docs/text.md).
 *   class embeddings: --weights W --vocab V --classes C --templates T -o OUT.h5
 *   inspect strings:  --vocab V [--weights W] (TEXT... | --text-file F)
 *                     -> one JSON line per string: its ids (and embedding with --weights) */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atas/text_io.h"
#include "atas/version.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: atas_text --weights W --vocab V --classes FILE --templates FILE -o OUT.h5\n"
            "       atas_text --vocab V [--weights W] [--normalize] (TEXT... | --text-file FILE)\n"
            "  --weights PATH     safetensors file/index/dir with a text tower (OpenCLIP or HF names)\n"
            "  --vocab PATH       bpe_simple_vocab_16e6.txt.gz, vocab.json (+ merges.txt beside),\n"
            "                     tokenizer.json, or a directory holding one\n"
            "                     (default: the --weights directory)\n"
            "  --classes FILE     category_id<TAB>isthing<TAB>name[<TAB>prompt name] per line\n"
            "                     (e.g. configs/eval/coco_panoptic_classes.tsv)\n"
            "  --templates FILE   one prompt per line with {} for the name\n"
            "                     (e.g. configs/eval/prompt_templates.txt)\n"
            "  -o, --output FILE  the class-embedding HDF5 (format atas-class-embeddings)\n"
            "  --text-file FILE   strings to inspect, one per line\n"
            "  --context N        tokens per string without --weights (default 77)\n"
            "  --normalize        L2-normalise printed embeddings\n"
            "  --batch B          prompts per forward (default 64)\n"
            "  --backend NAME     cpu (default) or cuda\n"
            "  --precision P      GEMM/attention math: fp32 (default), tf32 or bf16\n"
            "                     (on cpu: rounded inputs, fp32 accumulation, docs/backend.md)\n"
            "  --heads H, --act quickgelu|gelu  when no config beside the weights says\n"
            "  -q, --quiet        no progress line\n"
            "  -h, --help         this text\n"
            "  --version          the build's version\n");
}

static int parse_int(const char *opt, const char *v, int *out) {
    char *end = NULL;
    long x = strtol(v, &end, 10);
    if (!end || *end || x <= 0 || x > 1 << 20) {
        fprintf(stderr, "atas_text: %s %s: expected a positive integer\n", opt, v);
        return 0;
    }
    *out = (int)x;
    return 1;
}

static void fail(void) {
    fprintf(stderr, "atas_text: ");
    atas_error_print(stderr);
}

/* one JSON line per string */
static atas_status inspect(const atas_tokenizer *tok, atas_text *tw, char **texts, int n, int ctx,
                           int normalize) {
    const int E = tw ? atas_text_cfg(tw)->embed : 0;
    int32_t *ids = malloc((size_t)ctx * sizeof *ids);
    float *emb = E ? malloc((size_t)E * sizeof *emb) : NULL;
    atas_status st = ATAS_OK;
    if (!ids || (E && !emb)) { st = ATAS_ERR(ATAS_ERR_NOMEM, "no memory"); goto out; }
    for (int i = 0; i < n; i++) {
        int cut;
        ATAS_CHECK_GOTO(st, atas_tokenizer_tokenize(tok, texts[i], ctx, ids, &cut), out);
        json_t *o = json_object(), *a = json_array();
        json_object_set_new(o, "text", json_string(texts[i]));
        for (int k = 0; k < ctx; k++) json_array_append_new(a, json_integer(ids[k]));
        json_object_set_new(o, "ids", a);
        json_object_set_new(o, "truncated", json_boolean(cut));
        if (tw) {
            ATAS_CHECK_GOTO(st, atas_text_encode(tw, ids, 1, emb), out);
            double nrm = 0;
            for (int e = 0; e < E; e++) nrm += (double)emb[e] * emb[e];
            nrm = sqrt(nrm);
            json_t *v = json_array();
            for (int e = 0; e < E; e++)
                json_array_append_new(v, json_real(normalize && nrm > 0 ? emb[e] / nrm : emb[e]));
            json_object_set_new(o, "embedding", v);
        }
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
        json_decref(o);
        if (!s) { st = ATAS_ERR(ATAS_ERR_NOMEM, "no memory"); goto out; }
        puts(s);
        free(s);
    }
out:
    free(ids);
    free(emb);
    return st;
}

static atas_status read_lines(const char *path, char ***out, int *n) {
    FILE *f = fopen(path, "r");
    if (!f) return ATAS_ERR(ATAS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL, **v = NULL;
    size_t cap = 0;
    int k = 0, vcap = 0;
    while (getline(&buf, &cap, f) >= 0) {
        size_t l = strlen(buf);
        while (l && (buf[l - 1] == '\n' || buf[l - 1] == '\r')) buf[--l] = 0;
        if (k == vcap) {
            vcap = vcap ? 2 * vcap : 64;
            char **nv = realloc(v, (size_t)vcap * sizeof *v);
            if (!nv) break;
            v = nv;
        }
        v[k++] = strdup(buf);
    }
    free(buf);
    fclose(f);
    *out = v;
    *n = k;
    return ATAS_OK;
}

int main(int argc, char **argv) {
    const char *weights = NULL, *vocab = NULL, *classes = NULL, *templates = NULL, *outp = NULL,
               *text_file = NULL, *backend = "cpu", *precision = "fp32";
    int ctx = 77, batch = 64, normalize = 0, quiet = 0, ok = 1;
    atas_text_options opt = {.heads = 0, .act = -1};
    static const struct option lo[] = {
        {"weights", required_argument, 0, 'W'},   {"vocab", required_argument, 0, 'V'},
        {"classes", required_argument, 0, 'C'},   {"templates", required_argument, 0, 'T'},
        {"output", required_argument, 0, 'o'},    {"text-file", required_argument, 0, 'F'},
        {"context", required_argument, 0, 'x'},   {"normalize", no_argument, 0, 'n'},
        {"batch", required_argument, 0, 'b'},     {"backend", required_argument, 0, 'B'},
        {"heads", required_argument, 0, 'H'},     {"act", required_argument, 0, 'A'},
        {"precision", required_argument, 0, 'P'},
        {"quiet", no_argument, 0, 'q'},           {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'v'},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "o:qh", lo, NULL)) != -1) {
        switch (ch) {
        case 'W': weights = optarg; break;
        case 'V': vocab = optarg; break;
        case 'C': classes = optarg; break;
        case 'T': templates = optarg; break;
        case 'o': outp = optarg; break;
        case 'F': text_file = optarg; break;
        case 'x': ok &= parse_int("--context", optarg, &ctx); break;
        case 'n': normalize = 1; break;
        case 'b': ok &= parse_int("--batch", optarg, &batch); break;
        case 'B': backend = optarg; break;
        case 'P': precision = optarg; break;
        case 'H': ok &= parse_int("--heads", optarg, &opt.heads); break;
        case 'A':
            if (!strcmp(optarg, "quickgelu")) opt.act = ATAS_ACT_QUICKGELU;
            else if (!strcmp(optarg, "gelu")) opt.act = ATAS_ACT_GELU;
            else {
                fprintf(stderr, "atas_text: --act %s: expected quickgelu or gelu\n", optarg);
                ok = 0;
            }
            break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        case 'v': atas_print_version("atas_text"); return 0;
        default: usage(stderr); return 2;
        }
    }
    atas_precision prec = ATAS_PREC_FP32;
    if (ok && atas_precision_parse(precision, &prec) != ATAS_OK) {
        fprintf(stderr, "atas_text: --precision %s: expected fp32, tf32 or bf16\n", precision);
        atas_error_clear();
        ok = 0;
    }
    if (!ok) return 2;
    const int class_mode = classes || templates || outp;
    const int ntexts = argc - optind;
    if (class_mode && (!classes || !templates || !outp || !weights)) {
        fprintf(stderr, "atas_text: class embeddings need --weights, --classes, --templates and -o\n");
        usage(stderr);
        return 2;
    }
    if (class_mode && (ntexts || text_file)) {
        fprintf(stderr, "atas_text: give either strings to inspect or --classes/--templates/-o, not both\n");
        return 2;
    }
    if (!class_mode && !ntexts && !text_file) {
        usage(stderr);
        return 2;
    }
    char wdir[4096];
    if (!vocab && weights) { /* HF model directories carry vocab.json + merges.txt */
        struct stat sb;
        snprintf(wdir, sizeof wdir, "%s", weights);
        if (stat(weights, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            char *sl = strrchr(wdir, '/');
            if (sl) *sl = 0; else snprintf(wdir, sizeof wdir, ".");
        }
        vocab = wdir;
    }
    if (!vocab) {
        fprintf(stderr, "atas_text: --vocab is required (or --weights with a vocabulary beside it)\n");
        return 2;
    }

    int rc = 1;
    atas_tokenizer *tok = NULL;
    atas_text *tw = NULL;
    char **texts = NULL, **tpl = NULL, **prompts = NULL;
    int ntx = 0, ntpl = 0;
    atas_classemb ce = {0};
    const atas_backend *be;
    if (atas_tokenizer_load(&tok, vocab) != ATAS_OK) {
        if (vocab == wdir)
            fprintf(stderr, "atas_text: no --vocab given, so the vocabulary was looked for beside "
                    "the weights, in %s\n", wdir);
        goto out;
    }
    if (weights) {
        if (atas_backend_get_precision(backend, prec, &be) != ATAS_OK) goto out;
        if (atas_text_load(&tw, weights, &opt, be) != ATAS_OK) goto out;
        const atas_text_config *c = atas_text_cfg(tw);
        ctx = c->ctx;
        if (atas_tokenizer_vocab_size(tok) > c->vocab) {
            fprintf(stderr, "atas_text: %s has %d tokens but the text tower in %s has %d rows: "
                    "they do not belong together\n", vocab, atas_tokenizer_vocab_size(tok), weights,
                    c->vocab);
            goto done;
        }
        if (!quiet)
            fprintf(stderr, "atas_text: %s text tower (%s): width %d, layers %d, heads %d, ctx %d, "
                    "embed %d, %s\n", weights, atas_text_layout(tw), c->width, c->layers, c->heads,
                    c->ctx, c->embed, c->act == ATAS_ACT_GELU ? "gelu" : "quickgelu");
    }
    if (class_mode) {
        if (atas_text_read_classes(classes, &ce, &prompts) != ATAS_OK) goto out;
        if (atas_text_read_templates(templates, &tpl, &ntpl) != ATAS_OK) goto out;
        if (atas_text_class_embeddings(tw, tok, tpl, ntpl, prompts, batch, !quiet, &ce) != ATAS_OK) goto out;
        snprintf(ce.model, sizeof ce.model, "%.200s (text tower, %s layout; vocab %.140s; "
                 "templates %.120s)", weights, atas_text_layout(tw), vocab, templates);
        if (atas_classemb_write(outp, &ce) != ATAS_OK) goto out;
        if (!quiet)
            fprintf(stderr, "atas_text: wrote %s: %d classes x %d templates, embed %d\n", outp, ce.K,
                    ntpl, ce.E);
        rc = 0;
        goto done;
    }
    if (text_file) {
        if (read_lines(text_file, &texts, &ntx) != ATAS_OK) goto out;
        if (inspect(tok, tw, texts, ntx, ctx, normalize) != ATAS_OK) goto out;
    } else if (inspect(tok, tw, argv + optind, ntexts, ctx, normalize) != ATAS_OK) {
        goto out;
    }
    rc = 0;
    goto done;
out:
    fail();
done:
    for (int i = 0; i < ntx; i++) free(texts[i]);
    free(texts);
    atas_text_free_templates(tpl, ntpl);
    for (int k = 0; prompts && k < ce.K; k++) free(prompts[k]);
    free(prompts);
    atas_classemb_free(&ce);
    atas_text_free(tw);
    atas_tokenizer_free(tok);
    return rc;
}
