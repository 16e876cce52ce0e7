#!/usr/bin/env bash
# tools/plot_metrics.py: a real run's metrics.jsonl as a PNG (losses, lr, images/s), with
# an eval panel once records carry "eval"; a damaged file is refused by line.
set -euo pipefail
B=${ATAS_BINARY_DIR:?}; S=${ATAS_SOURCE_DIR:?}; PY=${ATAS_PYTHON:-/usr/bin/python3}
$PY -c "import matplotlib" 2>/dev/null || { echo "SKIP: no matplotlib"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
bash "$S/tests/make_test_corpus.sh" "$T/c.h5" 64
"$B/atas_mpi" "$S/configs/tiny.cfg" --set "data.corpus=\"$T/c.h5\"" --set "run.dir=\"$T/runs\"" \
  --set run.steps=12 --set optim.warmup_steps=3 >/dev/null
M=$T/runs/tiny/metrics.jsonl
$PY "$S/tools/plot_metrics.py" "$M" "$T/a.png"
cp "$M" "$T/e.jsonl"
echo '{"step": 5, "eval": {"rois.thing.macc1": 0.31, "rois.stuff.macc1": 0.22}}' >>"$T/e.jsonl"
echo '{"step": 11, "eval": {"rois.thing.macc1": 0.41, "rois.stuff.macc1": 0.27}}' >>"$T/e.jsonl"
$PY "$S/tools/plot_metrics.py" "$T/e.jsonl" "$T/b.png" | grep -q "12 training record(s), 2 eval record(s)"
$PY - "$T/a.png" "$T/b.png" <<'PY'
import sys
import matplotlib.image as im
a, b = im.imread(sys.argv[1]), im.imread(sys.argv[2])
assert a.ndim == 3 and a.shape[1] > 800 and a.shape[0] > 700, a.shape
assert a[..., :3].std() > 0.02, "blank figure"
# the eval panel makes the figure one panel (2.6 in at 110 dpi) taller
assert abs((b.shape[0] - a.shape[0]) - 286) <= 2, (a.shape, b.shape)
print("test_plot_metrics: %dx%d and %dx%d PNG" % (a.shape[1], a.shape[0], b.shape[1], b.shape[0]))
PY
# a damaged line in the middle is named; a missing file too
sed '3s/.*/{"step": 2, oops/' "$M" >"$T/bad.jsonl"
if $PY "$S/tools/plot_metrics.py" "$T/bad.jsonl" "$T/c.png" 2>"$T/err"; then echo "FAIL: bad line accepted"; exit 1; fi
grep -q "bad.jsonl:3: not JSON" "$T/err" || { echo "FAIL: message: $(cat "$T/err")"; exit 1; }
if $PY "$S/tools/plot_metrics.py" "$T/none.jsonl" "$T/c.png" 2>"$T/err"; then echo "FAIL: missing file accepted"; exit 1; fi
grep -q "none.jsonl: No such file" "$T/err" || { echo "FAIL: message: $(cat "$T/err")"; exit 1; }
[ ! -e "$T/c.png" ] || { echo "FAIL: a PNG was written for bad input"; exit 1; }
echo "test_plot_metrics: ok"
