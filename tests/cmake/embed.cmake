# embed (io): atas_embed against the PyTorch reference, 1 vs 2 ranks, bad inputs.
atas_script_test(NAME test_embed
  COMMAND ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/test_embed.py
          $<TARGET_FILE:atas_embed> $<TARGET_FILE:atas_convert> $<TARGET_FILE:atas_pack>
  TIMEOUT 120)
atas_script_test(NAME test_plot_features COMMAND bash ${PROJECT_SOURCE_DIR}/tests/test_plot_features.sh TIMEOUT 120)
