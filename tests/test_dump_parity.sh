#!/usr/bin/env bash
# Whole-step parity: atas_mpi dumps a step (weights, inputs, losses, gradients) and
# an independent PyTorch implementation (tools/ref/check_dump.py) recomputes it,
# for several loss modes and a partly frozen student. fp32 vs float64, 1e-4 relative.
set -euo pipefail
B=${ATAS_BINARY_DIR:?}; S=${ATAS_SOURCE_DIR:?}; PY=${ATAS_PYTHON:-/usr/bin/python3}
$PY -c "import torch, h5py" 2>/dev/null || { echo "SKIP: no torch/h5py"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
bash "$S/tests/make_test_corpus.sh" "$T/corpus.h5"
run() { # name, extra --set args...
  local name=$1; shift
  "$B/atas_mpi" "$S/configs/tiny.cfg" --set "data.corpus=\"$T/corpus.h5\"" --set "run.dir=\"$T/runs\"" \
    --set "run.name=\"$name\"" --set run.steps=3 --set optim.warmup_steps=1 "$@" \
    --dump-step 1 "$T/$name" >"$T/$name.log" 2>&1 || { cat "$T/$name.log"; exit 1; }
  # the derived recipe is printed at start (global batch, steps, peak lr, warm-up)
  grep -q "recipe on 1 rank(s): global batch 2 group(s) x 4 images = 8 images per step" "$T/$name.log" &&
    grep -q "recipe: peak lr" "$T/$name.log" && grep -q "recipe: warm-up 1 steps" "$T/$name.log" ||
    { echo "no recipe lines in the log"; cat "$T/$name.log"; exit 1; }
  echo "== $name"
  $PY "$S/tools/ref/check_dump.py" "$T/$name/step-00000001.h5"
}
run default
run modes --set 'loss.g2l.pool="teacher_weighted"' --set 'loss.l2l.form="similarity"' \
    --set 'loss.g2g.form="infonce"' --set 'loss.g2l.form="infonce"' --set loss.g2l.weight=0.5
run raw --set 'loss.g2l.pool="mean_raw"' --set loss.l2l.weight=0
run frozen --set model.unlocked_blocks=1 --set loss.g2g.weight=0 --set 'mosaic.grids=[4]'
run embeddings --set model.train_embeddings=true --set model.train_head=true --set data.resolution=48
