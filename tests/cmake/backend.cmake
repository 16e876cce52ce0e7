# backend: finite-difference gradients, torch reference, backend parity
atas_c_test(NAME test_ops_grad SOURCES test_ops_grad.c TIMEOUT 60 LINK atas_backend)
# the C side of test_ops_torch.py: runs one op on float32 inputs from a file
add_executable(op_driver op_driver.c)
target_link_libraries(op_driver PRIVATE atas_backend)
atas_script_test(NAME test_ops_torch
  COMMAND ${ATAS_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_ops_torch.py $<TARGET_FILE:op_driver>
  TIMEOUT 120)
# the parity harness any backend is held to; "cuda" skips (77) without a GPU
atas_c_test(NAME test_backend_parity_cpu SOURCES test_backend_parity.c ARGS cpu TIMEOUT 60 LINK atas_backend)
add_test(NAME test_backend_parity_cuda COMMAND test_backend_parity_cpu cuda)
set_tests_properties(test_backend_parity_cuda PROPERTIES ENVIRONMENT "${ATAS_TEST_ENV}"
  TIMEOUT 120 SKIP_RETURN_CODE 77)
# the layer order and what each layer links (tools/check_layers.py, README "Layout")
atas_script_test(NAME test_layers COMMAND bash ${PROJECT_SOURCE_DIR}/tests/layers/test_layers.sh TIMEOUT 120)
# the same harness per precision: the CPU emulation of tf32/bf16 (and the CUDA
# tensor-core paths, skipped without a GPU) against fp32, within the precision's
# bound and measurably different from fp32 (docs/backend.md "Precision")
foreach(prec tf32 bf16)
  add_test(NAME test_backend_parity_cpu_${prec} COMMAND test_backend_parity_cpu cpu ${prec})
  set_tests_properties(test_backend_parity_cpu_${prec} PROPERTIES ENVIRONMENT "${ATAS_TEST_ENV}" TIMEOUT 60)
  add_test(NAME test_backend_parity_cuda_${prec} COMMAND test_backend_parity_cpu cuda ${prec})
  set_tests_properties(test_backend_parity_cuda_${prec} PROPERTIES ENVIRONMENT "${ATAS_TEST_ENV}"
    TIMEOUT 120 SKIP_RETURN_CODE 77)
endforeach()
# the rounding against torch's bf16 conversion and an exact rational reference,
# linear and attention at bf16/tf32 against float64 on rounded inputs
atas_script_test(NAME test_precision_torch
  COMMAND ${ATAS_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_precision_torch.py $<TARGET_FILE:op_driver>
  TIMEOUT 120)
