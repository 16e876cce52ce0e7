#!/usr/bin/env bash
# atas_mpi itself through jobs/atas_train.sbatch on the local Slurm: srun --mpi=pmix,
# 2 ranks, the tiny config on a corpus of real photographs; then checks the run's output.
set -euo pipefail
B=${ATAS_BINARY_DIR:?}; S=${ATAS_SOURCE_DIR:?}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
bash "$S/tests/make_test_corpus.sh" "$T/corpus.h5"
bash "$S/tests/test_slurm.sh" train "$B/atas_mpi" "$S/configs/tiny.cfg" \
  --set "data.corpus=\"$T/corpus.h5\"" --set "run.dir=\"$T/runs\"" --set run.steps=4 \
  --set optim.warmup_steps=1 --set run.threads=1
rc=$?
[ -f "$T/runs/tiny/checkpoints/ckpt-00000004.h5.done" ] || { echo "FAIL: no final checkpoint"; exit 1; }
n=$(wc -l <"$T/runs/tiny/metrics.jsonl")
[ "$n" -eq 4 ] || { echo "FAIL: metrics.jsonl has $n lines, expected 4"; exit 1; }
grep -q '"world_size"' /dev/null || true
ws=$(${ATAS_PYTHON:-/usr/bin/python3} -c "import h5py,sys; print(int(h5py.File(sys.argv[1],'r').attrs['world_size']))" \
     "$T/runs/tiny/checkpoints/ckpt-00000004.h5")
[ "$ws" -eq 2 ] || { echo "FAIL: checkpoint written by $ws rank(s), expected 2"; exit 1; }
echo "test_slurm_train: atas_mpi trained 4 steps on 2 Slurm ranks (rc $rc)"
