# Run config: schema, shipped configs, round trip, errors, --set, docs up to date.
atas_c_test(NAME test_config SOURCES test_config.c TIMEOUT 60)
# The atas_config program from the shell (exit status, messages, resolved output).
atas_script_test(NAME test_config_cli
  COMMAND sh ${PROJECT_SOURCE_DIR}/tests/config_cli.sh $<TARGET_FILE:atas_config> ${PROJECT_SOURCE_DIR}
  TIMEOUT 30)
# Regenerate configs/README.md from the schema: cmake --build build --target config_docs
add_custom_target(config_docs COMMAND atas_config --docs ${PROJECT_SOURCE_DIR}/configs/README.md
  DEPENDS atas_config COMMENT "Regenerating configs/README.md from the config schema")
