# Slurm: the job templates in jobs/ run on a real single-node Slurm started by
# tools/slurm_local.sh (skips with 77 where it cannot start, e.g. not root).
add_executable(mpi_ranks ${PROJECT_SOURCE_DIR}/tests/mpi_ranks.c)
target_link_libraries(mpi_ranks PRIVATE MPI::MPI_C)

# Two MPI ranks through jobs/atas_train.sbatch, then the requeue path (~15 s).
atas_script_test(NAME test_slurm TIMEOUT 120
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/test_slurm.sh basic $<TARGET_FILE:mpi_ranks>)
# --signal=USR1@300 reaches every rank, which exit 3, and the job requeues (20-40 s:
# slurmctld sweeps time limits every 30 s). Label "slow": ctest -LE slow leaves it out.
atas_script_test(NAME test_slurm_signal TIMEOUT 150 LABELS slow
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/test_slurm.sh signal)
# One cluster at a time (same state directory and ports).
set_tests_properties(test_slurm test_slurm_signal PROPERTIES RESOURCE_LOCK atas_slurm)
# atas_mpi itself, 2 ranks under srun --mpi=pmix through the training template.
atas_script_test(NAME test_slurm_train TIMEOUT 180
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/test_slurm_train.sh)
set_tests_properties(test_slurm_train PROPERTIES RESOURCE_LOCK atas_slurm)
# A shipped config (configs/vitb16.cfg) through the template on 2 ranks until the first
# ViT-B/16 step is logged (~2 min on 2 cores), then cancelled. Label "slow".
atas_script_test(NAME test_slurm_shipped TIMEOUT 420 LABELS slow
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/test_slurm_shipped.sh)
set_tests_properties(test_slurm_shipped PROPERTIES RESOURCE_LOCK atas_slurm)
