# atas_bench: the backend's op-call counter (every table that shares the registry's
# checks; "cuda" skips (77) without a GPU) and the training-step row on tiny.cfg (cpu)
atas_c_test(NAME test_op_calls SOURCES test_op_calls.c TIMEOUT 60 LINK atas_backend)
add_test(NAME test_op_calls_cuda COMMAND test_op_calls cuda)
set_tests_properties(test_op_calls_cuda PROPERTIES ENVIRONMENT "${ATAS_TEST_ENV}" TIMEOUT 60 SKIP_RETURN_CODE 77)
atas_script_test(NAME bench_step
  COMMAND ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/bench/test_bench_step.py $<TARGET_FILE:atas_bench>
          ${PROJECT_SOURCE_DIR}
  TIMEOUT 120)
