#!/usr/bin/env bash
# A whole ATAS step on an EVA02 student (docs/eva02.md): atas_mpi on a small EVA02 (the
# EVA02-B-16 preset with tiny dims: family EVA02, eps 1e-6) dumps step 1 (weights, inputs,
# losses, gradients) and tools/ref/check_dump.py recomputes it with the float64 EVA02
# reference (tools/ref/eva_ref.py): losses and every gradient within 1e-4 relative; also
# with only the last block training.
set -euo pipefail
B=${ATAS_BINARY_DIR:?}; S=${ATAS_SOURCE_DIR:?}; PY=${ATAS_PYTHON:-/usr/bin/python3}
$PY -c "import torch, h5py" 2>/dev/null || { echo "SKIP: no torch/h5py"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
bash "$S/tests/make_test_corpus.sh" "$T/corpus.h5"
run() { # name, extra --set args...
  local name=$1; shift
  "$B/atas_mpi" "$S/configs/tiny.cfg" --set "data.corpus=\"$T/corpus.h5\"" --set "run.dir=\"$T/runs\"" \
    --set "run.name=\"$name\"" --set run.steps=3 --set optim.warmup_steps=1 \
    --set 'model.preset="EVA02-B-16"' --set model.mlp=170 --set model.ln_eps=1e-6 "$@" \
    --dump-step 1 "$T/$name" >"$T/$name.log" 2>&1 || { cat "$T/$name.log"; exit 1; }
  grep -q "w1|w2 out" "$T/$name.log" || { echo "FAIL: $name did not build an EVA02 pass"; exit 1; }
  echo "== $name"
  $PY "$S/tools/ref/check_dump.py" "$T/$name/step-00000001.h5"
}
run eva_default
run eva_last_block --set model.unlocked_blocks=1 --set 'loss.g2l.pool="teacher_weighted"'
echo "test_eva_dump: all checks passed"
