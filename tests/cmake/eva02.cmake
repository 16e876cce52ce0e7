# EVA02-CLIP backbones (docs/eva02.md)
atas_c_test(NAME test_eva_torch SOURCES test_eva_torch.c TIMEOUT 600)
atas_c_test(NAME test_eva_weights SOURCES test_eva_weights.c)
atas_script_test(NAME test_eva_interop
  COMMAND ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/test_eva_interop.py
          $<TARGET_FILE:atas_embed> $<TARGET_FILE:atas_convert>
  TIMEOUT 120)
# the rotary op against timm's own RotaryEmbeddingCat (build/pydeps-timm; skips without it)
atas_script_test(NAME test_eva_timm
  COMMAND ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/test_eva_timm.py $<TARGET_FILE:op_driver>
          $<TARGET_FILE:atas_embed>
  TIMEOUT 120)
# a whole dumped ATAS step on an EVA02 student against the float64 reference
atas_script_test(NAME test_eva_dump COMMAND bash ${PROJECT_SOURCE_DIR}/tests/test_eva_dump.sh TIMEOUT 300)
