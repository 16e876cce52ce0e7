#!/usr/bin/env bash
# A trained checkpoint exported by atas_convert loads in Hugging Face transformers
# (CLIPVisionModelWithProjection, from config.json + model.safetensors) and computes
# the same image embeddings as the independent reference on the OpenCLIP export.
set -euo pipefail
B=${ATAS_BINARY_DIR:?}; S=${ATAS_SOURCE_DIR:?}; PY=${ATAS_PYTHON:-/usr/bin/python3}
export PYTHONPATH=$B/pydeps-hf:$B/pydeps${PYTHONPATH:+:$PYTHONPATH}
$PY -c "import transformers, safetensors, torch" 2>/dev/null || { echo "SKIP: transformers not installed (tools/setup.sh)"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
bash "$S/tests/make_test_corpus.sh" "$T/corpus.h5"
"$B/atas_mpi" "$S/configs/tiny.cfg" --set "data.corpus=\"$T/corpus.h5\"" --set "run.dir=\"$T/runs\"" \
  --set run.steps=3 --set optim.warmup_steps=1 >"$T/train.log" 2>&1 || { cat "$T/train.log"; exit 1; }
ck=$T/runs/tiny/checkpoints/ckpt-00000003.h5
"$B/atas_convert" "$ck" --which teacher --to openclip -o "$T/oc.safetensors"
"$B/atas_convert" "$ck" --which teacher --to hf -o "$T/hf"
$PY "$S/tools/ref/check_hf_export.py" "$T/oc.safetensors" "$T/hf"
