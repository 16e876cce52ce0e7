atas_c_test(NAME test_schedule SOURCES test_schedule.c)
atas_script_test(NAME test_dump_parity COMMAND bash ${PROJECT_SOURCE_DIR}/tests/test_dump_parity.sh TIMEOUT 600)
