# Hostile files, full disks and silent corruption (issue 14): damaged checkpoints fall
# back with the reason named, a full disk (small tmpfs; SKIP 77 without root) is exit 1.
foreach(case checkpoint_corrupt full_disk full_disk_metrics)
  atas_script_test(NAME hostile_${case}
    COMMAND ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/hostile/test_hostile_ckpt.py ${case}
    LABELS hostile TIMEOUT 300)
endforeach()
foreach(case sizes corpus files parsing)
  atas_script_test(NAME hostile_${case}
    COMMAND ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/hostile/test_hostile_files.py ${case}
    LABELS hostile TIMEOUT 300)
endforeach()
# libFuzzer runs (clang; skip 77 without it) of the readers of hostile files
foreach(target config corpus ckpt)
  atas_script_test(NAME hostile_fuzz_${target}
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/hostile/fuzz_readers.sh ${target}
    LABELS "hostile;fuzz" TIMEOUT 600)
endforeach()
atas_c_test(NAME hostile_fast_exp_nan SOURCES hostile/test_fast_exp_nan.c LABELS hostile TIMEOUT 30)
