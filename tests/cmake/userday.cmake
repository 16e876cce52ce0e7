# A user's day (issue 13): protected run directories, Ctrl-C on one rank and under
# mpirun, metrics and schedule on resume, one error message on many ranks, --help and
# --version everywhere, the metrics plot.
foreach(case run_dir sigint sigint_mpirun resume_metrics resume_schedule messages help_version observe)
  atas_script_test(NAME runs_${case}
    COMMAND ${ATAS_PYTHON} ${PROJECT_SOURCE_DIR}/tests/train/test_runs.py ${case}
    LABELS trainer TIMEOUT 180)
endforeach()
# tools/plot_metrics.py on a real run's metrics.jsonl, with and without eval records.
atas_script_test(NAME test_plot_metrics TIMEOUT 120
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/test_plot_metrics.sh)
