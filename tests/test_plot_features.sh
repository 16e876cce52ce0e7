#!/usr/bin/env bash
# tools/plot_features.py turns atas_embed's dense maps into a PNG (PCA -> RGB), with a
# second file's maps projected on the same basis.
set -euo pipefail
B=${ATAS_BINARY_DIR:?}; S=${ATAS_SOURCE_DIR:?}; PY=${ATAS_PYTHON:-/usr/bin/python3}
$PY -c "import matplotlib, h5py" 2>/dev/null || { echo "SKIP: no matplotlib/h5py"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
bash "$S/tests/make_test_corpus.sh" "$T/c.h5" 64
"$B/atas_mpi" "$S/configs/tiny.cfg" --set "data.corpus=\"$T/c.h5\"" --set "run.dir=\"$T/runs\"" \
  --set run.steps=2 --set optim.warmup_steps=1 >/dev/null
ck=$T/runs/tiny/checkpoints/ckpt-00000002.h5
"$B/atas_embed" -q --weights "$ck" --which student --corpus "$T/c.h5" -o "$T/s.h5"
"$B/atas_embed" -q --weights "$ck" --which teacher --corpus "$T/c.h5" -o "$T/t.h5"
$PY "$S/tools/plot_features.py" "$T/s.h5" "$T/c.h5" "$T/f.png" --other "$T/t.h5" --max 4
$PY - "$T/f.png" <<'PY'
import sys
import matplotlib.image as im
a = im.imread(sys.argv[1])
assert a.ndim == 3 and a.shape[0] > 200 and a.shape[1] > 400, a.shape
assert a[..., :3].std() > 0.01, "blank figure"
print("test_plot_features: %dx%d PNG" % (a.shape[1], a.shape[0]))
PY
