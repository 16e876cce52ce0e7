# The device-resident step (docs/step_device.md): the objective, gradient-norm and
# fused optimizer ops against the host objective and the old op sequence, on the
# CPU, through the staged table, and on CUDA (exits 77 without a GPU).
atas_c_test(NAME test_objective_device SOURCES test_objective_device.c ARGS cpu TIMEOUT 300)
foreach(_be cpu-staged cuda)
  add_test(NAME test_objective_device_${_be} COMMAND test_objective_device ${_be})
  set_tests_properties(test_objective_device_${_be} PROPERTIES ENVIRONMENT "${ATAS_TEST_ENV}"
    TIMEOUT 300 SKIP_RETURN_CODE 77)
endforeach()
