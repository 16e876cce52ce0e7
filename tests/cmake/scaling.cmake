# Scaling: multi-node runs on a cluster simulated with network namespaces
# (tools/netns_cluster.sh; skips with 77 where namespaces cannot be made, e.g. not root),
# and the performance model (tools/perf_model.py).
# atas_mpi on 2 namespace nodes over TCP = the 1-rank trajectory (~15 s).
atas_script_test(NAME scaling_netns_mpi TIMEOUT 300
  COMMAND ${PROJECT_SOURCE_DIR}/tools/netns_cluster.sh run 2
          ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/scaling/test_netns.py mpi)
