# weights (io): safetensors reader/writer, OpenCLIP/HF name maps, atas_convert.
atas_c_test(NAME test_safetensors SOURCES test_safetensors.c TIMEOUT 60)
atas_script_test(NAME test_weights_interop
  COMMAND ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/test_weights_interop.py
          $<TARGET_FILE:atas_convert>
  TIMEOUT 120)
atas_script_test(NAME test_fuzz_safetensors
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/fuzz_safetensors.sh
  TIMEOUT 120)
set_tests_properties(test_fuzz_safetensors PROPERTIES LABELS fuzz)
atas_script_test(NAME test_hf_export COMMAND bash ${PROJECT_SOURCE_DIR}/tests/test_hf_export.sh TIMEOUT 300)
