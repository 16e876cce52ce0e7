# text: CLIP's text tower, tokenizer and class embeddings (atas_text)
atas_script_test(NAME test_text_torch
  COMMAND ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/test_text_torch.py $<TARGET_FILE:atas_text>
  TIMEOUT 300)
# ids equal to OpenCLIP's own tokenizer (PyPI open_clip_torch in build/pydeps-openclip,
# installed by tools/setup.sh); skips (77) when that package is missing
atas_script_test(NAME test_tokenizer_openclip
  COMMAND ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/test_tokenizer_openclip.py $<TARGET_FILE:atas_text>
          ${PROJECT_BINARY_DIR}/pydeps-openclip
  TIMEOUT 300)
