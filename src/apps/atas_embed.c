/* atas_embed: weights + a corpus or an image list -> HDF5 of global embeddings
 * and dense maps (docs/embed.md). MPI-parallel over images. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "atas/embed.h"
#include "atas/version.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: atas_embed --weights PATH (--corpus FILE.h5 | --images LIST.txt) -o OUT.h5\n"
            "                  [--resolution R] [--batch B] [--which student|teacher]\n"
            "                  [--heads H] [--act quickgelu|gelu] [--no-dense] [--normalize] [-q]\n"
            "  --weights PATH   safetensors file/index/dir (OpenCLIP or HF) or an atas checkpoint .h5\n"
            "  --corpus FILE    an atas corpus (images resized S -> R, bilinear as the loader)\n"
            "  --images LIST    one image path per line (short side to R, centre crop)\n"
            "  --resolution R   input side, a multiple of the patch (default: grid * patch)\n"
            "  --batch B        images per forward and rank (default 8)\n"
            "  --which W        checkpoint group (default student)\n"
            "  --heads/--act    when the safetensors carry no config that says\n"
            "  --no-dense       write only /global\n"
            "  --normalize      L2-normalise every global and dense vector\n"
            "  --backend NAME   cpu (default) or cuda\n"
            "  --precision P    GEMM/attention math: fp32 (default), tf32 or bf16\n"
            "  -q, --quiet      no progress line\n");
}

static int parse_int(const char *opt, const char *v, int *out) {
    char *end = NULL;
    long x = strtol(v, &end, 10);
    if (!end || *end || x <= 0 || x > 1 << 20) {
        fprintf(stderr, "atas_embed: %s %s: expected a positive integer\n", opt, v);
        return 0;
    }
    *out = (int)x;
    return 1;
}

int main(int argc, char **argv) {
    atas_comm comm;
    if (atas_comm_init(&comm, &argc, &argv, 300) != ATAS_OK) {
        atas_error_print(stderr);
        return 1;
    }
    const int rank = comm.rank, world = comm.world;
    atas_embed_config e = {.dense = 1, .progress = 1};
    static const struct option lo[] = {
        {"weights", required_argument, 0, 'W'}, {"corpus", required_argument, 0, 'c'},
        {"images", required_argument, 0, 'i'},  {"resolution", required_argument, 0, 'r'},
        {"batch", required_argument, 0, 'b'},   {"which", required_argument, 0, 'w'},
        {"heads", required_argument, 0, 'H'},   {"act", required_argument, 0, 'A'},
        {"no-dense", no_argument, 0, 'D'},      {"normalize", no_argument, 0, 'n'},
        {"output", required_argument, 0, 'o'},  {"quiet", no_argument, 0, 'q'},
        {"backend", required_argument, 0, 'B'},  {"precision", required_argument, 0, 'P'},
        {"help", no_argument, 0, 'h'},          {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
    int ch, ok = 1;
    while ((ch = getopt_long(argc, argv, "o:qh", lo, NULL)) != -1) {
        switch (ch) {
        case 'W': e.weights = optarg; break;
        case 'c': e.corpus = optarg; break;
        case 'i': e.images_list = optarg; break;
        case 'r': ok &= parse_int("--resolution", optarg, &e.resolution); break;
        case 'b': ok &= parse_int("--batch", optarg, &e.batch); break;
        case 'H': ok &= parse_int("--heads", optarg, &e.heads); break;
        case 'w':
            if (strcmp(optarg, "student") && strcmp(optarg, "teacher")) {
                fprintf(stderr, "atas_embed: --which %s: expected student or teacher\n", optarg);
                ok = 0;
            }
            e.which = optarg;
            break;
        case 'A':
            if (!strcmp(optarg, "quickgelu")) e.act = ATAS_ACT_QUICKGELU;
            else if (!strcmp(optarg, "gelu")) e.act = ATAS_ACT_GELU;
            else {
                fprintf(stderr, "atas_embed: --act %s: expected quickgelu or gelu\n", optarg);
                ok = 0;
            }
            e.have_act = 1;
            break;
        case 'D': e.dense = 0; break;
        case 'n': e.normalize = 1; break;
        case 'o': e.out = optarg; break;
        case 'q': e.progress = 0; break;
        case 'B': e.backend = optarg; break;
        case 'P': e.precision = optarg; break;
        case 'h': if (rank == 0) usage(stdout); atas_comm_finalize(&comm); return 0;
        case 'V': if (rank == 0) atas_print_version("atas_embed"); atas_comm_finalize(&comm); return 0;
        default: ok = 0;
        }
    }
    if (!ok || optind != argc || !e.weights || !e.out || !!e.corpus == !!e.images_list) {
        if (rank == 0) {
            if (!e.weights) fprintf(stderr, "atas_embed: --weights PATH is required\n");
            if (!e.out) fprintf(stderr, "atas_embed: -o OUT.h5 is required\n");
            if (!!e.corpus == !!e.images_list)
                fprintf(stderr, "atas_embed: give exactly one of --corpus and --images\n");
            usage(stderr);
        }
        atas_comm_finalize(&comm);
        return 2;
    }
    atas_embed_result res;
    atas_status st = atas_embed_run(&e, &comm, &res);
    /* a dead or stuck peer: stop every rank now (MPI_Finalize could wait on it) */
    if (st == ATAS_ERR_TIMEOUT) atas_comm_abort(&comm, 4);
    if (st != ATAS_OK) {
        /* the rank that failed prints; the others only stopped because of it */
        if (st != ATAS_ERR_INTERRUPTED || world == 1) atas_error_print(stderr);
        atas_comm_finalize(&comm);
        return 1;
    }
    if (rank == 0)
        printf("atas_embed: %s: %lld images at %dx%d (grid %d, embed %d) in %.1f s on %d rank(s)\n",
               e.out, (long long)res.n, res.resolution, res.resolution, res.grid, res.embed,
               res.seconds, world);
    atas_comm_finalize(&comm);
    return 0;
}
