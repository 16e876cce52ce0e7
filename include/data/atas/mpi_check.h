/* data: MPI return codes as atas errors naming the call. The data layer is the lowest
 * that calls MPI (corpus MPI-IO, loader, pack); comm builds on it. A code other than
 * MPI_SUCCESS only comes back on a communicator with MPI_ERRORS_RETURN (atas_comm's
 * has it); with MPI's default handler the job aborts inside the call instead. */
#ifndef ATAS_MPI_CHECK_H
#define ATAS_MPI_CHECK_H

#include <mpi.h>

#include "atas/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ATAS_ERR_MPI "<call> failed: <MPI's error string>" at file:line; ATAS_OK for MPI_SUCCESS */
atas_status atas_mpi_status(int rc, const char *call, const char *file, int line, const char *func);

/* the status of one MPI call, e.g. st = ATAS_MPI_STATUS(MPI_Comm_rank(comm, &rank)) */
#define ATAS_MPI_STATUS(call) atas_mpi_status((call), #call, __FILE__, __LINE__, __func__)
/* return the error when the call fails */
#define ATAS_MPI_CHECK(call)                                          \
    do {                                                              \
        atas_status _atas_m = ATAS_MPI_STATUS(call);                  \
        if (_atas_m != ATAS_OK) return _atas_m;                       \
    } while (0)
/* st = the error and goto label when the call fails */
#define ATAS_MPI_CHECK_GOTO(st, call, label)                          \
    do {                                                              \
        if (((st) = ATAS_MPI_STATUS(call)) != ATAS_OK) goto label;    \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
