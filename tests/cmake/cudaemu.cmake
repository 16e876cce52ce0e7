# cudaemu (docs/cudaemu.md): the CUDA backend's own sources, built with g++ against
# the emulation in tools/cudaemu, run on the CPU through the parity harness, so the
# CUDA code is held to the CPU backend on every machine (label cudaemu). The
# reverse run orders a block's warps last to first: a missing barrier shows in one
# of the two orders. Skips (77) in a build without ATAS_WITH_CUDA (no module path).
if(TARGET atas_cudaemu)
  set(_cudaemu_env ${ATAS_TEST_ENV} "ATAS_CUDA_LIB=$<TARGET_FILE:atas_cudaemu>")
  add_test(NAME test_backend_parity_cudaemu COMMAND test_backend_parity_cpu cuda)
  add_test(NAME test_backend_parity_cudaemu_reverse COMMAND test_backend_parity_cpu cuda)
  add_test(NAME test_backend_parity_cudaemu_bf16 COMMAND test_backend_parity_cpu cuda bf16)
  add_test(NAME test_backend_parity_cudaemu_tf32 COMMAND test_backend_parity_cpu cuda tf32)
  set_tests_properties(test_backend_parity_cudaemu test_backend_parity_cudaemu_bf16
    test_backend_parity_cudaemu_tf32 PROPERTIES ENVIRONMENT "${_cudaemu_env}"
    TIMEOUT 600 SKIP_RETURN_CODE 77 LABELS cudaemu)
  set_tests_properties(test_backend_parity_cudaemu_reverse PROPERTIES
    ENVIRONMENT "${_cudaemu_env};CUDAEMU_SCHEDULE=reverse" TIMEOUT 600 SKIP_RETURN_CODE 77 LABELS cudaemu)
endif()
