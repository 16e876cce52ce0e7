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
  # a whole ViT-B/16 at bf16 through the CUDA code (the fused attention included) against cpu fp32
  add_test(NAME test_model_parity_cudaemu_bf16 COMMAND test_model_parity_staged cuda bf16)
  set_tests_properties(test_model_parity_cudaemu_bf16 PROPERTIES ENVIRONMENT "${_cudaemu_env}"
    TIMEOUT 600 SKIP_RETURN_CODE 77 LABELS cudaemu)
  # bf16 storage through the CUDA code: the _h ops, the bf16 cuBLASLt / GemmEx GEMMs
  add_test(NAME test_bf16_storage_cudaemu COMMAND test_bf16_storage cuda)
  set_tests_properties(test_bf16_storage_cudaemu PROPERTIES ENVIRONMENT "${_cudaemu_env}"
    TIMEOUT 300 SKIP_RETURN_CODE 77 LABELS cudaemu)
  # the trainer's CUDA path (tiny, fp32 and bf16) against the cpu backend
  add_test(NAME train_cudaemu COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/train/test_cudaemu_train.py)
  # an sm_86-class device (99 KiB of opt-in shared memory): the fused attention's hd 80/128
  # shapes must take the chunked path and still pass at bf16
  add_test(NAME test_backend_parity_cudaemu_bf16_sm86 COMMAND test_backend_parity_cpu cuda bf16)
  set_tests_properties(train_cudaemu PROPERTIES ENVIRONMENT "${_cudaemu_env}" TIMEOUT 900 SKIP_RETURN_CODE 77
    LABELS "cudaemu;trainer")
  # the CUDA path's bad input on the emulated device: no GPU, out of GPU memory (one rank or
  # all), an NCCL peer that hangs or fails (CUDAEMU_MEM_MB, CUDAEMU_NCCL_FAULT)
  add_test(NAME train_cudaemu_faults COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/train/test_cudaemu_faults.py)
  set_tests_properties(train_cudaemu_faults PROPERTIES ENVIRONMENT "${_cudaemu_env}" TIMEOUT 300
    SKIP_RETURN_CODE 77 LABELS "cudaemu;trainer;hostile")
  # NCCL between two ranks on two emulated GPUs (CUDAEMU_DEVICES=2): training against the cpu
  # run, and a stuck peer in the all-reduce, the teacher broadcast and the set-up
  add_test(NAME train_cudaemu_nccl COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/train/test_cudaemu_nccl.py)
  set_tests_properties(train_cudaemu_nccl PROPERTIES ENVIRONMENT "${_cudaemu_env}" TIMEOUT 400
    SKIP_RETURN_CODE 77 LABELS "cudaemu;trainer;dist" RESOURCE_LOCK cudaemu_nccl_shm)
  set_tests_properties(test_backend_parity_cudaemu_bf16_sm86 PROPERTIES ENVIRONMENT "${_cudaemu_env};CUDAEMU_CC=86"
    TIMEOUT 600 SKIP_RETURN_CODE 77 LABELS cudaemu)
endif()
