# Distributed trainer (atas_mpi) end to end: world sizes, signals and resume, damaged
# checkpoints, dead/stuck ranks, bad input, metrics, non-finite steps. Each case makes
# its own synthetic corpus and run directory under /tmp (removed when it passes).
foreach(case world_sizes staged_backend signal_resume resume_other_world damaged_checkpoint rank_killed
             rank_stuck bad_input metrics nonfinite elapsed_resume)
  atas_script_test(NAME train_${case}
    COMMAND ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/train/test_trainer.py ${case}
    LABELS trainer TIMEOUT 120)
endforeach()

# Ranks on one GPU (ATAS_SHARE_GPU) and the NCCL bootstrap's refusals, on a stand-in backend
add_executable(test_dist_devices ${PROJECT_SOURCE_DIR}/tests/dist/test_dist_devices.c)
target_link_libraries(test_dist_devices PRIVATE atas)
target_include_directories(test_dist_devices PRIVATE ${PROJECT_SOURCE_DIR}/tests ${PROJECT_SOURCE_DIR}/src)
atas_script_test(NAME dist_devices COMMAND ${MPIEXEC_EXECUTABLE} --oversubscribe -n 3 $<TARGET_FILE:test_dist_devices>
  LABELS trainer TIMEOUT 60)

# The trainer object driven from C: the API against atas_mpi, resume through the API
atas_c_test(NAME test_trainer_api SOURCES train/test_trainer_api.c LABELS trainer TIMEOUT 180)
target_link_libraries(test_trainer_api PRIVATE PkgConfig::JANSSON)

# The parameter-agreement check on backend memory: a fingerprint, not a download
add_executable(test_agree_device ${PROJECT_SOURCE_DIR}/tests/dist/test_agree_device.c)
target_link_libraries(test_agree_device PRIVATE atas)
target_include_directories(test_agree_device PRIVATE ${PROJECT_SOURCE_DIR}/tests)
atas_script_test(NAME dist_agree_device COMMAND ${MPIEXEC_EXECUTABLE} --oversubscribe -n 3 $<TARGET_FILE:test_agree_device>
  LABELS trainer TIMEOUT 60)

# bf16 (CPU emulation) against fp32 on tiny.cfg, 30 steps: the loss drift is non-zero and
# within the bound of docs/results/bf16_drift_cpu.md
atas_script_test(NAME train_precision_drift
  COMMAND ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/train/test_precision_drift.py
  LABELS trainer TIMEOUT 300)
