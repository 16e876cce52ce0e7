# Scaling: multi-node runs on a cluster simulated with network namespaces
# (tools/netns_cluster.sh; skips with 77 where namespaces cannot be made, e.g. not root),
# and the performance model (tools/perf_model.py).
# atas_mpi on 2 namespace nodes over TCP = the 1-rank trajectory (~15 s).
atas_script_test(NAME scaling_netns_mpi TIMEOUT 300
  COMMAND ${PROJECT_SOURCE_DIR}/tools/netns_cluster.sh run 2
          ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/scaling/test_netns.py mpi)
# sbatch -N 2 jobs/atas_train.sbatch on one slurmd per namespace node, preempted by a job of
# a higher-priority partition (USR1 -> checkpoint -> exit 3 -> requeue), resumed on 2 nodes:
# = the 1-rank trajectory (~50 s).
atas_script_test(NAME scaling_netns_slurm TIMEOUT 400
  COMMAND ${PROJECT_SOURCE_DIR}/tools/netns_cluster.sh run 2
          ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/scaling/test_netns.py slurm)
# Nothing is left behind after a failing or a killed run (~6 s).
atas_script_test(NAME scaling_netns_teardown TIMEOUT 120
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/scaling/test_netns_teardown.sh)
# jobs/atas_sweep.sh + jobs/atas_sweep_collect.py on 1 and 2 simulated nodes (~40 s).
atas_script_test(NAME scaling_netns_sweep TIMEOUT 600
  COMMAND ${PROJECT_SOURCE_DIR}/tools/netns_cluster.sh run 2
          bash ${PROJECT_SOURCE_DIR}/tests/scaling/test_netns_sweep.sh)
# tools/perf_model.py against hand-computed and measured numbers (~5 s).
atas_script_test(NAME scaling_perf_model TIMEOUT 120
  COMMAND ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/scaling/test_perf_model.py)
# One Slurm at a time: two clusters (or a cluster and the single-node harness) starting together
# race for munge and PMIx state; the CI run saw both node jobs fail at launch when they overlapped.
set_tests_properties(scaling_netns_slurm scaling_netns_sweep PROPERTIES RESOURCE_LOCK atas_slurm)
