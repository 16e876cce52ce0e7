# backend: finite-difference gradients, torch reference, backend parity
atas_c_test(NAME test_ops_grad SOURCES test_ops_grad.c TIMEOUT 60)
# the C side of test_ops_torch.py: runs one op on float32 inputs from a file
add_executable(op_driver op_driver.c)
target_link_libraries(op_driver PRIVATE atas)
atas_script_test(NAME test_ops_torch
  COMMAND ${ATAS_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_ops_torch.py $<TARGET_FILE:op_driver>
  TIMEOUT 120)
# the parity harness any backend is held to; "cuda" skips (77) without a GPU
atas_c_test(NAME test_backend_parity_cpu SOURCES test_backend_parity.c ARGS cpu TIMEOUT 60)
add_test(NAME test_backend_parity_cuda COMMAND test_backend_parity_cpu cuda)
set_tests_properties(test_backend_parity_cuda PROPERTIES ENVIRONMENT "${ATAS_TEST_ENV}"
  TIMEOUT 120 SKIP_RETURN_CODE 77)
