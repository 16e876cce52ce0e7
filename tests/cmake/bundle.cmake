# bundle: the self-contained GPU bundle (tools/gpu_bundle.sh) built here and used by its own
# gpu_check.sh with the system MPI / HDF5 / libconfig / OpenBLAS hidden (tests/test_bundle.sh).
# The first run builds a CUDA tree in <build>/bundle-cuda (several minutes on 2 cores).
atas_script_test(NAME test_bundle COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_bundle.sh
  LABELS bundle TIMEOUT 1500)
set_tests_properties(test_bundle PROPERTIES FIXTURES_SETUP gpu_bundle)
# the same bundle's gpu_check.sh with cudaemu as its CUDA backend: every CUDA step of the check,
# emulated, before a lent GPU's minutes are spent on it (tests/test_gpu_check_emu.sh)
if(TARGET atas_cudaemu)
  atas_script_test(NAME test_gpu_check_emu COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_gpu_check_emu.sh
    LABELS "bundle;cudaemu" TIMEOUT 1500)
  # RESOURCE_LOCK: its 2-rank nccl2 and train_cudaemu_nccl both use the emulated NCCL's /dev/shm
  set_tests_properties(test_gpu_check_emu PROPERTIES FIXTURES_REQUIRED gpu_bundle RESOURCE_LOCK cudaemu_nccl_shm
    ENVIRONMENT "${ATAS_TEST_ENV};ATAS_CUDAEMU_LIB=$<TARGET_FILE:atas_cudaemu>")
endif()
