# Faithful recipes: distinct mosaic cells, per-rank batch, warm-up fraction, lr rule (C),
# and every shipped recipe resolved at 1, 8 and 64 ranks against the documented rule.
atas_c_test(NAME test_recipes SOURCES test_recipes.c TIMEOUT 60)
atas_script_test(NAME test_recipes_world
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/recipes_world.sh $<TARGET_FILE:atas_config> ${PROJECT_SOURCE_DIR}
  TIMEOUT 60)
