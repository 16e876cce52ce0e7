/* A tiny MPI program for the Slurm tests: every rank prints one line
 *   rank R/W local L/LS host H
 * and checks that the node-local communicator (MPI_Comm_split_type SHARED)
 * agrees with what the launcher exported (SLURM_LOCALID / OMPI_COMM_WORLD_LOCAL_*),
 * which is how atas_mpi picks its GPU. Exit 0 when consistent, 1 otherwise.
 * If ATAS_TEST_EXIT is set, every rank exits with that code after the checks
 * (the job template's exit-code handling is tested with it). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int env_int(const char *name, int fallback)
{
  const char *v = getenv(name);
  if (!v || !*v) return fallback;
  char *end = NULL;
  long x = strtol(v, &end, 10);
  return (end && *end == '\0') ? (int)x : fallback;
}

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  int rank, world, lrank, lsize, len;
  char host[MPI_MAX_PROCESSOR_NAME];
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  MPI_Get_processor_name(host, &len);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &lrank);
  MPI_Comm_size(local, &lsize);

  int bad = 0;
  /* Launcher's view: Slurm's SLURM_LOCALID under srun, Open MPI's variables under mpirun. */
  int env_local = env_int("SLURM_LOCALID", env_int("OMPI_COMM_WORLD_LOCAL_RANK", -1));
  if (env_local >= 0 && env_local != lrank) {
    fprintf(stderr, "mpi_ranks: rank %d: launcher local id %d != MPI local rank %d\n", rank, env_local, lrank);
    bad = 1;
  }
  int env_lsize = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", -1);
  if (env_lsize > 0 && env_lsize != lsize) {
    fprintf(stderr, "mpi_ranks: rank %d: launcher local size %d != MPI local size %d\n", rank, env_lsize, lsize);
    bad = 1;
  }
  /* The sum of local sizes seen by local rank 0 of every node must be the world size. */
  int mine = (lrank == 0) ? lsize : 0, total = 0;
  MPI_Allreduce(&mine, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (total != world) {
    fprintf(stderr, "mpi_ranks: rank %d: node-local sizes sum to %d, world is %d\n", rank, total, world);
    bad = 1;
  }
  int anybad = 0;
  MPI_Allreduce(&bad, &anybad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);

  printf("rank %d/%d local %d/%d host %s args", rank, world, lrank, lsize, host);
  for (int i = 1; i < argc; i++) printf(" %s", argv[i]);
  printf("\n");
  fflush(stdout);

  MPI_Comm_free(&local);
  MPI_Finalize();
  if (anybad) return 1;
  return env_int("ATAS_TEST_EXIT", 0);
}
