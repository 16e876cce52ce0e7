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
  # the trainer's CUDA path (tiny, fp32 and bf16) against the cpu backend
  add_test(NAME train_cudaemu COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/train/test_cudaemu_train.py)
  # an sm_86-class device (99 KiB of opt-in shared memory): the fused attention's hd 80/128
  # shapes must take the chunked path and still pass at bf16
  add_test(NAME test_backend_parity_cudaemu_bf16_sm86 COMMAND test_backend_parity_cpu cuda bf16)
  set_tests_properties(train_cudaemu PROPERTIES ENVIRONMENT "${_cudaemu_env}" TIMEOUT 900 SKIP_RETURN_CODE 77
    LABELS "cudaemu;trainer")
  set_tests_properties(test_backend_parity_cudaemu_bf16_sm86 PROPERTIES ENVIRONMENT "${_cudaemu_env};CUDAEMU_CC=86"
    TIMEOUT 600 SKIP_RETURN_CODE 77 LABELS cudaemu)
endif()
