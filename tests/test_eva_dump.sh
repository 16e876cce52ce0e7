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

# A checkpoint of an EVA02 run says so (family, the preset's eps 1e-6 with model.ln_eps left at
# 0), and the export and embedding tools read it as EVA02: checkpoint -> OpenCLIP/timm layout
# safetensors -> atas_embed, and atas_embed straight from the checkpoint, give the same maps.
"$B/atas_mpi" "$S/configs/tiny.cfg" --set "data.corpus=\"$T/corpus.h5\"" --set "run.dir=\"$T/runs\"" \
  --set 'run.name="eva_ckpt"' --set run.steps=2 --set optim.warmup_steps=1 \
  --set 'model.preset="EVA02-B-16"' --set model.mlp=170 >"$T/eva_ckpt.log" 2>&1 || { cat "$T/eva_ckpt.log"; exit 1; }
CK=$(ls "$T"/runs/eva_ckpt/checkpoints/ckpt-*.h5 | tail -1)
$PY - "$CK" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    fam = f.attrs["family"]; fam = fam.decode() if isinstance(fam, bytes) else fam
    eps = float(f.attrs["ln_eps"])
assert fam == "eva02", f"family attribute {fam!r}, expected 'eva02'"
assert abs(eps - 1e-6) < 1e-12, f"ln_eps {eps}, expected the EVA02 preset's 1e-6"
print("ok   checkpoint: family eva02, ln_eps 1e-6 from the preset")
PY
"$B/atas_convert" "$CK" --to openclip -o "$T/eva_export.safetensors" >"$T/conv.log" 2>&1 || { cat "$T/conv.log"; exit 1; }
"$B/atas_embed" --weights "$CK" --corpus "$T/corpus.h5" --resolution 64 -o "$T/emb_ckpt.h5" -q >"$T/e1.log" 2>&1 || { cat "$T/e1.log"; exit 1; }
"$B/atas_embed" --weights "$T/eva_export.safetensors" --corpus "$T/corpus.h5" --resolution 64 -o "$T/emb_st.h5" -q >"$T/e2.log" 2>&1 || { cat "$T/e2.log"; exit 1; }
$PY - "$T/emb_ckpt.h5" "$T/emb_st.h5" <<'PY'
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
for k in ("global", "dense"):
    x, y = a[k][...], b[k][...]
    err = np.abs(x - y).max() / max(np.abs(y).max(), 1e-6)
    assert err < 1e-6, f"{k}: checkpoint and its export differ by {err:.2e}"
    print(f"ok   {k}: checkpoint and its OpenCLIP/timm export agree ({err:.1e})")
PY
echo "test_eva_dump: all checks passed"
