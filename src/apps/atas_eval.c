/* atas_eval: region classification (CLIPSelf's protocol) of a trained or
 * pretrained encoder on COCO-format data; a table on stdout and a JSON file,
 * optionally the data of a zero-shot segmentation picture (docs/eval.md). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "atas/comm.h"
#include "atas/embed.h"
#include "atas/eval.h"
#include "atas/version.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: atas_eval --weights PATH --data ANN.json --images DIR --classes CLASSES.h5 -o OUT.json\n"
            "                 [--masks DIR] [--size S] [--max-images N] [--no-crops] [--crop-batch B]\n"
            "                 [--segment N --segment-out SEG.h5 [--label TEXT]]\n"
            "                 [--which student|teacher] [--heads H] [--act quickgelu|gelu] [--timeout S] [-q]\n"
            "                 [--precision fp32|tf32|bf16]\n"
            "  --weights PATH   safetensors file/index/dir (OpenCLIP or HF) or an atas checkpoint .h5\n"
            "  --data JSON      COCO panoptic JSON (segments_info; boxes and masks) or instances JSON (boxes)\n"
            "  --images DIR     the images named by the JSON's file_name\n"
            "  --masks DIR      panoptic PNGs (default: the JSON path without .json, COCO's layout)\n"
            "  --classes FILE   class embeddings (HDF5, docs/eval.md) covering the JSON's category ids\n"
            "  --size S         longest side the image is resized to, padded square (default 64 tokens:\n"
            "                   1024 for patch 16 as CLIPSelf evaluates B/16, 896 for patch 14)\n"
            "  --max-images N   the first N images of the JSON\n"
            "  --no-crops       skip the crop baseline (one global forward per region)\n"
            "  --segment N      also write the zero-shot segmentation of the first N images (rank 0)\n"
            "  --segment-out F  where (HDF5, read by tools/plot_segmentation.py); --label names the row\n"
            "  --timeout S      a collective not done within S seconds stops every rank (default 600)\n"
            "  --precision P    GEMM/attention math (default fp32; on the CPU tf32/bf16 are an emulation)\n"
            "  -q, --quiet      no progress line\n"
            "  --version, --help\n");
}

static int parse_int(const char *opt, const char *v, int *out) {
    char *end = NULL;
    long x = strtol(v, &end, 10);
    if (!end || *end || x <= 0 || x > 1 << 20) {
        fprintf(stderr, "atas_eval: %s %s: expected a positive integer\n", opt, v);
        return 0;
    }
    *out = (int)x;
    return 1;
}

int main(int argc, char **argv) {
    atas_comm comm;
    int timeout = 600;
    if (atas_comm_init(&comm, &argc, &argv, timeout) != ATAS_OK) {
        atas_error_print(stderr);
        return 1;
    }
    const int rank = comm.rank;
    atas_embed_config mc = {0};
    atas_eval_config e = {.crops = 1, .progress = 1};
    const char *data = NULL, *images = NULL, *masks = NULL, *classes = NULL, *out = NULL, *seg_out = NULL,
               *label = NULL;
    int max_images = 0, seg = 0;
    static const struct option lo[] = {
        {"weights", required_argument, 0, 'W'},   {"which", required_argument, 0, 'w'},
        {"heads", required_argument, 0, 'H'},     {"act", required_argument, 0, 'A'},
        {"data", required_argument, 0, 'd'},      {"images", required_argument, 0, 'i'},
        {"masks", required_argument, 0, 'm'},     {"classes", required_argument, 0, 'c'},
        {"size", required_argument, 0, 's'},      {"max-images", required_argument, 0, 'n'},
        {"no-crops", no_argument, 0, 'C'},        {"crop-batch", required_argument, 0, 'b'},
        {"segment", required_argument, 0, 'g'},   {"segment-out", required_argument, 0, 'G'},
        {"label", required_argument, 0, 'l'},     {"timeout", required_argument, 0, 'T'},
        {"output", required_argument, 0, 'o'},    {"quiet", no_argument, 0, 'q'},
        {"precision", required_argument, 0, 'P'},
        {"help", no_argument, 0, 'h'},            {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
    int ch, ok = 1;
    while ((ch = getopt_long(argc, argv, "o:qh", lo, NULL)) != -1) {
        switch (ch) {
        case 'W': mc.weights = optarg; break;
        case 'w':
            if (strcmp(optarg, "student") && strcmp(optarg, "teacher")) {
                fprintf(stderr, "atas_eval: --which %s: expected student or teacher\n", optarg);
                ok = 0;
            }
            mc.which = optarg;
            break;
        case 'H': ok &= parse_int("--heads", optarg, &mc.heads); break;
        case 'A':
            if (!strcmp(optarg, "quickgelu")) mc.act = ATAS_ACT_QUICKGELU;
            else if (!strcmp(optarg, "gelu")) mc.act = ATAS_ACT_GELU;
            else {
                fprintf(stderr, "atas_eval: --act %s: expected quickgelu or gelu\n", optarg);
                ok = 0;
            }
            mc.have_act = 1;
            break;
        case 'd': data = optarg; break;
        case 'i': images = optarg; break;
        case 'm': masks = optarg; break;
        case 'c': classes = optarg; break;
        case 's': ok &= parse_int("--size", optarg, &e.size); break;
        case 'n': ok &= parse_int("--max-images", optarg, &max_images); break;
        case 'C': e.crops = 0; break;
        case 'b': ok &= parse_int("--crop-batch", optarg, &e.crop_batch); break;
        case 'g': ok &= parse_int("--segment", optarg, &seg); break;
        case 'G': seg_out = optarg; break;
        case 'l': label = optarg; break;
        case 'T': ok &= parse_int("--timeout", optarg, &timeout); break;
        case 'o': out = optarg; break;
        case 'P': mc.precision = optarg; break;
        case 'q': e.progress = 0; break;
        case 'h': if (rank == 0) usage(stdout); atas_comm_finalize(&comm); return 0;
        case 'V': if (rank == 0) atas_print_version("atas_eval"); atas_comm_finalize(&comm); return 0;
        default: ok = 0;
        }
    }
    if (!ok || optind != argc || !mc.weights || !data || !images || !classes || !out || !seg != !seg_out) {
        if (rank == 0) {
            if (!mc.weights) fprintf(stderr, "atas_eval: --weights PATH is required\n");
            if (!data) fprintf(stderr, "atas_eval: --data ANN.json is required\n");
            if (!images) fprintf(stderr, "atas_eval: --images DIR is required\n");
            if (!classes) fprintf(stderr, "atas_eval: --classes CLASSES.h5 is required\n");
            if (!out) fprintf(stderr, "atas_eval: -o OUT.json is required\n");
            if (!seg != !seg_out) fprintf(stderr, "atas_eval: --segment N and --segment-out FILE go together\n");
            usage(stderr);
        }
        atas_comm_finalize(&comm);
        return 2;
    }
    comm.timeout_s = timeout;
    comm.phase = "eval setup";
    atas_vit m = {0};
    atas_classemb ce = {0};
    atas_eval_set set = {0};
    atas_eval_result res;
    int have_model = 0, have_ce = 0;
    /* every rank reads everything (small, read-only); agreement comes with the first collective */
    atas_status st = atas_classemb_read(classes, &ce);
    have_ce = st == ATAS_OK;
    if (st == ATAS_OK) st = atas_eval_set_load(&set, data, images, masks, &ce, max_images);
    if (st == ATAS_OK) {
        st = atas_embed_load_model(&mc, &m);
        have_model = st == ATAS_OK;
    }
    if (st == ATAS_OK && rank == 0)
        atas_info("atas_eval: %s: %d image(s), %s; %d classes from %s; model embed %d, patch %d", data, set.nimages,
                  set.panoptic ? "panoptic (boxes and masks)" : "instances (boxes)", ce.K, classes, m.cfg.embed,
                  m.cfg.patch);
    /* a setup failure on one rank must not leave the others waiting */
    double bad = st != ATAS_OK;
    const atas_status cs = atas_comm_allreduce_sum_f64(&comm, &bad, 1);
    if (cs == ATAS_ERR_TIMEOUT) atas_comm_abort(&comm, 4); /* a dead or stuck peer: stop every rank */
    if (cs != ATAS_OK && st == ATAS_OK) st = cs;
    if (st == ATAS_OK && bad > 0) st = ATAS_ERR_PEER(ATAS_ERR_INTERRUPTED, "atas_eval: another rank failed");
    if (st == ATAS_OK) st = atas_eval_run(&e, &set, &ce, &m, &comm, &res);
    if (st == ATAS_OK && rank == 0) {
        atas_eval_print_table(stdout, &res);
        st = atas_eval_write_json(out, &res, mc.weights, data, classes);
        if (st == ATAS_OK) atas_info("atas_eval: %s written (%.1f s on %d rank(s))", out, res.seconds, comm.world);
        if (st == ATAS_OK && seg) {
            st = atas_eval_segment(&e, &set, &ce, &m, seg, seg_out, label ? label : mc.weights);
            if (st == ATAS_OK) atas_info("atas_eval: segmentation of %d image(s) in %s", seg, seg_out);
        }
    }
    int code = 0;
    /* a dead or stuck peer: stop every rank now (MPI_Finalize could wait on it) */
    if (st == ATAS_ERR_TIMEOUT) atas_comm_abort(&comm, 4);
    if (st != ATAS_OK) {
        if (st != ATAS_ERR_INTERRUPTED || comm.world == 1) atas_error_print(stderr);
        code = 1;
    }
    if (have_model) atas_vit_destroy(&m);
    if (have_ce) atas_classemb_free(&ce);
    atas_eval_set_free(&set);
    atas_comm_finalize(&comm);
    return code;
}
