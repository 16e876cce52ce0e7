/* Signal handling of a training run. Batch systems and people ask a run to stop in
 * different ways: Slurm sends SIGUSR1 (--signal) or SIGTERM (time limit, scancel), srun
 * forwards SIGINT on a double Ctrl-C, a terminal sends SIGINT to a one-rank run.
 * All of them mean "checkpoint and stop" the first time. A second SIGINT/SIGTERM means
 * "now" (when it comes a second or more after the first): the process ends at once (128 + signal, the shell's convention) without a
 * checkpoint; the last complete one stays valid (checkpoints are renamed into place). */
#include "signals.h"

#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Written by the handler, read by the main thread; a process signal may land on any
 * thread (the loader's, OpenMP's), two at once. Lock-free atomics are what C11 allows a
 * handler to share (a volatile double could be read half-written). */
static atomic_int g_first = 0;
static atomic_llong g_first_at_ns = 0;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_LLONG_LOCK_FREE == 2,
               "the signal flags need lock-free atomics");

static long long now_ns(void) { /* clock_gettime is async-signal-safe */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A second signal within a second of the first is the same request from another sender
 * (scancel signals mpirun and the ranks, mpirun forwards it again): not "stop now". */
static void on_signal(int sig) {
    int first = atomic_load(&g_first);
    if (first && sig != SIGUSR1 && now_ns() - atomic_load(&g_first_at_ns) >= 1000000000LL) {
        static const char msg[] = "second stop signal: stopping now, without a checkpoint\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(128 + sig);
    }
    if (!first) {
        /* the time before the flag: whoever sees the flag sees its time */
        atomic_store(&g_first_at_ns, now_ns());
        int none = 0;
        atomic_compare_exchange_strong(&g_first, &none, sig);
    }
}

void atas_signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

int atas_signals_stop_requested(void) { return atomic_load(&g_first); }

const char *atas_signals_name(int sig) {
    switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    default: return "signal or test limit";
    }
}
