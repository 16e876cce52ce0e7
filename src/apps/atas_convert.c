/* atas_convert: an atas checkpoint -> safetensors (OpenCLIP or HF layout), with
 * optional weight ensembling against the pretrained weights; or a safetensors
 * model from one layout to the other. See docs/weights.md. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "atas/h5util.h"
#include "atas/checkpoint.h"
#include "atas/weights.h"
#include "atas/version.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: atas_convert CKPT.h5 -o OUT [--to openclip|hf] [--which student|teacher]\n"
            "                    [--alpha A] [--pretrained FILE]\n"
            "       atas_convert IN(.safetensors|index.json|dir) --to openclip|hf|baai -o OUT\n"
            "                    [--heads H] [--act quickgelu|gelu]\n"
            "OUT is a .safetensors file or a directory (HF: model.safetensors + config.json).\n"
            "A checkpoint exports CLIPSelf's recipe by default: the STUDENT, weight-ensembled\n"
            "A*student + (1-A)*pretrained with A by model (0.7 for width <= 768: B/16, B/32;\n"
            "0.95 for wider: L/14, L/14-336, H, g, bigG). The pretrained weights come from\n"
            "--pretrained or the checkpoint's \"pretrained\" attribute (their non-vision tensors\n"
            "are carried too); without any, A = 1. --which teacher / --alpha A override. What was\n"
            "done is recorded in the file's __metadata__ (atas.which, atas.alpha, ...).\n");
}

/* CLIPSelf's per-model ensemble weight (its B/16 and L/14 exports); other sizes take the
 * value of the nearer of the two: width <= 768 -> 0.7, wider -> 0.95. */
static double recipe_alpha(const atas_vit_config *c) { return c->width <= 768 ? 0.7 : 0.95; }

typedef struct {
    const char *in, *out, *pretrained, *which;
    atas_layout to;
    int have_to, heads;
    double alpha;
    int have_act, have_alpha;
    atas_act act;
} opts;

static atas_status from_checkpoint(const opts *o) {
    atas_vit_config c;
    char pre[4096];
    ATAS_CHECK(atas_ckpt_read_model(o->in, &c, pre, sizeof pre));
    if (o->heads > 0 || o->have_act)
        return ATAS_ERR(ATAS_ERR_INVALID, "--heads/--act apply to safetensors input; %s states its config",
                        o->in);
    atas_param_info *info = NULL;
    int n = 0;
    size_t np = 0;
    float *w = NULL, *p = NULL;
    atas_weights_extra *extra = NULL;
    atas_status s;
    const char *pre_path = o->pretrained ? o->pretrained : (pre[0] ? pre : NULL);
    ATAS_CHECK_GOTO(s, atas_vit_param_table(&c, &info, &n, &np), done);
    ATAS_CHECK_GOTO(s, atas_host_calloc((void **)&w, np * sizeof(float), "trained weights"), done);
    ATAS_CHECK_GOTO(s, atas_ckpt_read_params(o->in, o->which, info, n, w), done);
    double alpha = o->alpha;
    const char *alpha_from = "--alpha";
    if (o->have_alpha && alpha != 1.0 && !pre_path) {
        s = ATAS_ERR(ATAS_ERR_INVALID, "--alpha %g needs the pretrained weights: give --pretrained "
                     "(%s has an empty \"pretrained\" attribute)", alpha, o->in);
        goto done;
    }
    if (!o->have_alpha && pre_path) {
        alpha = recipe_alpha(&c);
        alpha_from = c.width <= 768 ? "recipe: width <= 768 (CLIPSelf B/16)" : "recipe: width > 768 (CLIPSelf L/14)";
    } else if (!o->have_alpha) {
        alpha = 1.0;
        alpha_from = "no pretrained weights";
        atas_warn("%s records no pretrained weights: exporting the %s as trained (alpha 1); give "
                  "--pretrained FILE for the recipe's weight ensemble (alpha %g)", o->in, o->which, recipe_alpha(&c));
    }
    if (pre_path) {
        ATAS_CHECK_GOTO(s, atas_host_calloc((void **)&p, np * sizeof(float), "pretrained weights"), done);
        ATAS_CHECK_GOTO(s, atas_weights_read_host(pre_path, &c, info, n, p, &extra), done);
        atas_weights_ensemble(w, p, np, alpha);
        atas_info("ensembled %s %s with %s at alpha %g (%s)", o->in, o->which, pre_path, alpha, alpha_from);
    }
    atas_weights_meta meta = {0};
    atas_weights_meta_add(&meta, "atas.which", "%s", o->which);
    atas_weights_meta_add(&meta, "atas.alpha", "%.17g", alpha);
    atas_weights_meta_add(&meta, "atas.alpha_from", "%s", alpha_from);
    atas_weights_meta_add(&meta, "atas.pretrained", "%s", pre_path ? pre_path : "");
    atas_weights_meta_add(&meta, "atas.source", "%s", o->in);
    ATAS_CHECK_GOTO(s, atas_weights_save_host_meta(o->out, &c, info, n, w, o->to, extra, &meta), done);
    atas_info("wrote %s (%s layout%s)", o->out, atas_layout_name(o->to),
              extra && extra->n ? ", with the pretrained non-vision tensors" : "");
done:
    atas_weights_extra_free(extra);
    atas_host_free(w);
    atas_host_free(p);
    atas_host_free(info);
    return s;
}

static atas_status from_safetensors(const opts *o) {
    if (!o->have_to)
        return ATAS_ERR(ATAS_ERR_INVALID, "%s: converting safetensors needs --to openclip|hf|baai (baai: EVA02 only)", o->in);
    if (o->have_alpha || o->pretrained)
        return ATAS_ERR(ATAS_ERR_INVALID, "--alpha/--pretrained apply to checkpoint input, not %s", o->in);
    atas_vit_config c = {.heads = o->heads};
    int have_act = 0;
    ATAS_CHECK(atas_weights_infer_config(o->in, &c, &have_act));
    if (o->have_act) { c.act = o->act; have_act = 1; }
    ATAS_CHECK(atas_vit_config_check(&c, "--heads"));
    if (o->to == ATAS_LAYOUT_HF && !have_act) ATAS_CHECK(atas_weights_act_unknown(o->in));
    atas_param_info *info = NULL;
    int n = 0;
    size_t np = 0;
    float *w = NULL;
    atas_weights_extra *extra = NULL;
    atas_status s;
    ATAS_CHECK_GOTO(s, atas_vit_param_table(&c, &info, &n, &np), done);
    ATAS_CHECK_GOTO(s, atas_host_calloc((void **)&w, np * sizeof(float), "weights"), done);
    ATAS_CHECK_GOTO(s, atas_weights_read_host(o->in, &c, info, n, w, &extra), done);
    ATAS_CHECK_GOTO(s, atas_weights_save_host(o->out, &c, info, n, w, o->to, extra), done);
    atas_info("wrote %s (%s layout; width %d, layers %d, heads %d, patch %d, grid %d, %d carried "
              "tensors)", o->out, atas_layout_name(o->to), c.width, c.layers, c.heads, c.patch,
              c.grid, extra ? extra->n : 0);
done:
    atas_weights_extra_free(extra);
    atas_host_free(w);
    atas_host_free(info);
    return s;
}

int main(int argc, char **argv) {
    opts o = {.which = "student", .alpha = 1.0, .to = ATAS_LAYOUT_OPENCLIP};
    static const struct option lo[] = {
        {"output", required_argument, 0, 'o'}, {"to", required_argument, 0, 't'},
        {"which", required_argument, 0, 'w'},  {"alpha", required_argument, 0, 'a'},
        {"pretrained", required_argument, 0, 'p'}, {"heads", required_argument, 0, 'H'},
        {"act", required_argument, 0, 'A'},    {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "o:t:w:a:p:H:A:h", lo, NULL)) != -1) {
        char *end = NULL;
        switch (ch) {
        case 'o': o.out = optarg; break;
        case 't':
            if (atas_layout_parse(optarg, &o.to) != ATAS_OK) { atas_error_print(NULL); return 2; }
            o.have_to = 1;
            break;
        case 'w':
            if (strcmp(optarg, "student") && strcmp(optarg, "teacher")) {
                fprintf(stderr, "atas_convert: --which %s: expected student or teacher\n", optarg);
                return 2;
            }
            o.which = optarg;
            break;
        case 'a':
            o.alpha = strtod(optarg, &end);
            o.have_alpha = 1;
            if (!end || *end || !(o.alpha >= 0 && o.alpha <= 1)) {
                fprintf(stderr, "atas_convert: --alpha %s: expected a number in [0, 1]\n", optarg);
                return 2;
            }
            break;
        case 'p': o.pretrained = optarg; break;
        case 'H':
            o.heads = (int)strtol(optarg, &end, 10);
            if (!end || *end || o.heads <= 0) {
                fprintf(stderr, "atas_convert: --heads %s: expected a positive integer\n", optarg);
                return 2;
            }
            break;
        case 'A':
            if (strcmp(optarg, "quickgelu") == 0) o.act = ATAS_ACT_QUICKGELU;
            else if (strcmp(optarg, "gelu") == 0) o.act = ATAS_ACT_GELU;
            else {
                fprintf(stderr, "atas_convert: --act %s: expected quickgelu or gelu\n", optarg);
                return 2;
            }
            o.have_act = 1;
            break;
        case 'h': usage(stdout); return 0;
        case 'V': atas_print_version("atas_convert"); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1 || !o.out) {
        usage(stderr);
        return 2;
    }
    o.in = argv[optind];
    atas_status s = atas_h5_is_file(o.in) ? from_checkpoint(&o) : from_safetensors(&o);
    if (s != ATAS_OK) {
        atas_error_print(NULL);
        return 1;
    }
    return 0;
}
