# A user's day (issue 13): protected run directories, Ctrl-C on one rank and under
# mpirun, metrics and schedule on resume, one error message on many ranks, --help and
# --version everywhere, the metrics plot.
foreach(case run_dir sigint sigint_mpirun resume_metrics resume_schedule messages help_version observe)
  atas_script_test(NAME runs_${case}
    COMMAND ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/train/test_runs.py ${case}
    LABELS trainer TIMEOUT 180)
endforeach()
# Ctrl-C under srun on the local Slurm (skips with 77 where Slurm cannot start).
atas_script_test(NAME runs_sigint_srun TIMEOUT 240
  COMMAND ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/train/test_runs.py sigint_srun)
set_tests_properties(runs_sigint_srun PROPERTIES RESOURCE_LOCK atas_slurm)
# tools/plot_metrics.py on a real run's metrics.jsonl, with and without eval records.
atas_script_test(NAME test_plot_metrics TIMEOUT 120
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/test_plot_metrics.sh)
# The job templates pass --cpus-per-task to srun and load ATAS_MODULES (stand-in srun).
atas_script_test(NAME test_jobs_template TIMEOUT 60
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/test_jobs_template.sh)
# tools/quickstart.sh end to end (20 steps, no install): real photographs, initial vs trained
# picture, progress, no warnings.
atas_script_test(NAME test_quickstart TIMEOUT 300
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/test_quickstart.sh)
