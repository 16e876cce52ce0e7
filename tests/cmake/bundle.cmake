# bundle: the self-contained GPU bundle (tools/gpu_bundle.sh) built here and used by its own
# gpu_check.sh with the system MPI / HDF5 / libconfig / OpenBLAS hidden (tests/test_bundle.sh).
# The first run builds a CUDA tree in <build>/bundle-cuda (several minutes on 2 cores).
atas_script_test(NAME test_bundle COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_bundle.sh
  LABELS bundle TIMEOUT 1500)
