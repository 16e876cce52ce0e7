/* How a multi-rank program ends: one message, one exit code.
 *
 * When every rank fails with the same message (a config error is found by each rank),
 * rank 0 prints it once and every rank exits with the same code, quietly: no MPI_Abort
 * banner. When only some ranks fail, each failing rank prints its own message (with its
 * rank) and the job is aborted, so that no rank waits in a collective for ever. */
#ifndef ATAS_EXIT_H
#define ATAS_EXIT_H

#include "atas/comm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Collective: call right after atas_comm_init on every rank. */
atas_status atas_exit_prepare(atas_comm *c);
/* Ends MPI (finalize, or abort when the ranks do not all get here in time) and returns
 * the exit code for main. `code` is this rank's; the pending atas error is its message. */
int atas_exit(atas_comm *c, int code);

#ifdef __cplusplus
}
#endif
#endif
