#!/usr/bin/env bash
# The job templates hand srun the CPUs per task (Slurm >= 22.05 no longer passes the job's
# --cpus-per-task on to srun: every rank would get one CPU while OMP_NUM_THREADS says
# more) and load ATAS_MODULES before it. Runs the templates with bash, with stand-ins for
# srun and module that record their arguments; the real-Slurm runs are test_slurm*.
set -euo pipefail
S=${ATAS_SOURCE_DIR:?}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
mkdir "$T/bin"
cat >"$T/bin/srun" <<'SH'
#!/bin/bash
echo "srun $*" >>"$ATAS_TEST_CALLS"
SH
cat >"$T/bin/module" <<'SH'
#!/bin/bash
echo "module $*" >>"$ATAS_TEST_CALLS"
SH
chmod +x "$T/bin/srun" "$T/bin/module"
export PATH="$T/bin:$PATH" ATAS_TEST_CALLS="$T/calls" SLURM_CPUS_PER_TASK=6 SLURM_NTASKS=2 SLURM_JOB_NUM_NODES=1
fail() { echo "FAIL: $*"; cat "$T/calls" 2>/dev/null; exit 1; }

ATAS_CONFIG=c.cfg ATAS_BIN=/x/atas_mpi ATAS_MODULES="gcc/12 openmpi/4.1" bash "$S/jobs/atas_train.sbatch" --set a=1 \
  >/dev/null 2>&1 || fail "atas_train.sbatch exit $?"
[ "$(sed -n 1p "$T/calls")" = "module load gcc/12 openmpi/4.1" ] || fail "train: module load first"
grep -qx "srun --mpi=pmix --cpus-per-task=6 /x/atas_mpi c.cfg --resume auto --set a=1" "$T/calls" \
  || fail "train: srun without --cpus-per-task=6"
grep -q "^##SBATCH --account=<ACCOUNT>" "$S/jobs/atas_train.sbatch" && grep -q "^##SBATCH --partition=<PARTITION>" "$S/jobs/atas_train.sbatch" \
  || fail "train: account/partition placeholders"
rm "$T/calls"
(cd "$T" && ATAS_SCALING_CMD="/x/bench {K}" ATAS_SCALING_OUT="$T/sc" bash "$S/jobs/atas_scaling.sbatch" >/dev/null 2>&1) \
  || fail "atas_scaling.sbatch exit $?"
[ "$(grep -c -- "--cpus-per-task=6 /x/bench" "$T/calls")" -eq 2 ] || fail "scaling: srun without --cpus-per-task=6 at 1 and 2 ranks"
grep -q "^##SBATCH --account=<ACCOUNT>" "$S/jobs/atas_scaling.sbatch" || fail "scaling: account placeholder"
echo "test_jobs_template: srun gets --cpus-per-task, modules load first"
