# text: CLIP's text tower, tokenizer and class embeddings (atas_text)
atas_script_test(NAME test_text_torch
  COMMAND ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/test_text_torch.py $<TARGET_FILE:atas_text>
  TIMEOUT 300)
