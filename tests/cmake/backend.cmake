# backend: finite-difference gradients, torch reference, backend parity
atas_c_test(NAME test_ops_grad SOURCES test_ops_grad.c TIMEOUT 60)
# the C side of test_ops_torch.py: runs one op on float32 inputs from a file
add_executable(op_driver op_driver.c)
target_link_libraries(op_driver PRIVATE atas)
atas_script_test(NAME test_ops_torch
  COMMAND ${ATAS_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/test_ops_torch.py $<TARGET_FILE:op_driver>
  TIMEOUT 120)
