# region-classification eval (atas_eval, src/infer): pooling vs references, the metric,
# end to end on synthetic COCO data, 1 vs 2 ranks, bad inputs, eval during training.
add_executable(eval_pool_driver eval/eval_pool_driver.c)
target_link_libraries(eval_pool_driver PRIVATE atas)
atas_script_test(NAME test_eval_pool
  COMMAND ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/eval/test_eval_pool.py $<TARGET_FILE:eval_pool_driver>
  TIMEOUT 120)
atas_c_test(NAME test_eval_metric SOURCES eval/test_eval_metric.c TIMEOUT 60)
atas_script_test(NAME test_eval
  COMMAND ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/eval/test_eval.py $<TARGET_FILE:atas_eval>
  TIMEOUT 300)
atas_script_test(NAME test_eval_train
  COMMAND ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/eval/test_eval_train.py $<TARGET_FILE:atas_eval>
  TIMEOUT 600)
# the same end-to-end eval on EVA02 weights (timm and BAAI layouts) against tools/ref/eva_ref.py
atas_script_test(NAME test_eval_eva
  COMMAND ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/eval/test_eval_eva.py $<TARGET_FILE:atas_eval>
  TIMEOUT 300)
