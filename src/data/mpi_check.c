/* MPI return codes as atas errors (include/data/atas/mpi_check.h). */
#include "atas/mpi_check.h"

atas_status atas_mpi_status(int rc, const char *call, const char *file, int line, const char *func) {
    if (rc == MPI_SUCCESS) return ATAS_OK;
    char msg[MPI_MAX_ERROR_STRING + 1] = "";
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "MPI error code %d", rc);
    return atas_error_raise(ATAS_ERR_MPI, file, line, func, "%s failed: %s", call, msg);
}
