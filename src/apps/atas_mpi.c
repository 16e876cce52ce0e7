/* atas_mpi CONFIG [--set key=value ...] [--resume auto|PATH] [--dump-step N DIR]
 * Trains a CLIP vision encoder with ATAS on every rank of MPI_COMM_WORLD. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "atas/eval.h"
#include "atas/exit.h"
#include "atas/trainer.h"
#include "atas/version.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: atas_mpi CONFIG [--set key=value ...] [--resume auto|PATH] [--dump-step N DIR]\n"
            "  CONFIG             libconfig file (configs/README.md lists every key)\n"
            "  --set key=value    override any key, with the same checks (repeatable)\n"
            "  --resume auto|PATH newest complete checkpoint of the run, or a given one\n"
            "  --dump-step N DIR  write step N (weights, inputs, losses, gradients) to DIR as HDF5\n"
            "  --overwrite        a fresh start may delete another run in the run directory\n"
            "  --allow-schedule-change  a resume may change run.steps/lr/warmup/momentum (warns)\n"
            "  --stop-after N     stop as if signalled after N steps of this run (tests)\n"
            "  --version, --help\n"
            "exit codes: 0 done, 1 error, 2 usage, 3 stopped by SIGINT/SIGTERM/SIGUSR1 after a\n"
            "checkpoint (requeue; a second SIGINT/SIGTERM stops at once), 4 a collective timed out,\n"
            "5 too many non-finite steps. ATAS_DEBUG=1 adds source locations to error messages.\n");
}

int main(int argc, char **argv) {
    atas_comm comm;
    if (atas_comm_init(&comm, &argc, &argv, 300) != ATAS_OK || atas_exit_prepare(&comm) != ATAS_OK) {
        atas_error_print(stderr);
        return ATAS_EXIT_ERROR;
    }
    atas_train_args a = {.dump_step = -1};
    char **sets = calloc((size_t)argc + 1, sizeof *sets);
    static const struct option lo[] = {{"set", required_argument, 0, 's'},
                                       {"resume", required_argument, 0, 'r'},
                                       {"dump-step", required_argument, 0, 'd'},
                                       {"stop-after", required_argument, 0, 'x'},
                                       {"overwrite", no_argument, 0, 'O'},
                                       {"allow-schedule-change", no_argument, 0, 'S'},
                                       {"version", no_argument, 0, 'V'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    int ch, bad = 0;
    while ((ch = getopt_long(argc, argv, "s:r:h", lo, NULL)) != -1) {
        switch (ch) {
        case 's': sets[a.nsets++] = optarg; break;
        case 'r': a.resume = optarg; break;
        case 'd':
            a.dump_step = atoll(optarg);
            if (optind < argc) a.dump_dir = argv[optind++];
            else bad = 1;
            break;
        case 'x': {
            char *end;
            errno = 0;
            a.stop_after = strtoll(optarg, &end, 10);
            if (end == optarg || *end || errno || a.stop_after < 1) {
                if (comm.rank == 0) fprintf(stderr, "error: --stop-after \"%s\": expected a positive integer\n", optarg);
                bad = 1;
            }
            break;
        }
        case 'O': a.overwrite = 1; break;
        case 'S': a.allow_schedule_change = 1; break;
        case 'V': if (comm.rank == 0) atas_print_version("atas_mpi"); free(sets); atas_comm_finalize(&comm); return 0;
        case 'h': if (comm.rank == 0) usage(stdout); free(sets); atas_comm_finalize(&comm); return 0;
        default: bad = 1;
        }
    }
    if (bad || optind != argc - 1) {
        if (comm.rank == 0) usage(stderr);
        free(sets);
        atas_comm_finalize(&comm);
        return ATAS_EXIT_USAGE;
    }
    a.config_path = argv[optind];
    a.sets = sets;
    /* eval.* during training: the infer layer's region classification */
    atas_train_evaluator ev;
    if (atas_eval_trainer_init(&ev) != ATAS_OK) {
        free(sets);
        return atas_exit(&comm, ATAS_EXIT_ERROR);
    }
    a.evaluator = &ev;
    atas_trainer *t = NULL;
    atas_status s = atas_trainer_create(&comm, &a, &t);
    atas_step_result r = {0};
    while (s == ATAS_OK && !r.done) s = atas_trainer_step(t, &r);
    const int code = atas_train_exit_code(s);
    /* a dead or stuck peer: stop every rank now (tearing down could wait on it) */
    if (s == ATAS_ERR_TIMEOUT) atas_comm_abort(&comm, code);
    atas_trainer_destroy(t);
    atas_eval_trainer_free(&ev);
    free(sets);
    /* one message for a failure every rank found; an abort when a rank failed alone */
    return atas_exit(&comm, code);
}
