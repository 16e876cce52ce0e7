#!/usr/bin/env bash
# tools/quickstart.sh as a user runs it (minus the install): real photographs only, the
# initial and the trained model in labelled rows of the feature picture, progress printed,
# and no warning of the quickstart's own making.
set -euo pipefail
B=${ATAS_BINARY_DIR:?}; S=${ATAS_SOURCE_DIR:?}; PY=${ATAS_PYTHON:-/usr/bin/python3}
[ -d /usr/share/backgrounds/mate/nature ] || { echo "SKIP: mate-backgrounds not installed (tools/setup.sh)"; exit 77; }
PYTHONPATH=$B/pydeps $PY -c "import matplotlib, h5py, safetensors" 2>/dev/null || { echo "SKIP: no matplotlib/h5py/safetensors"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
QUICKSTART_SETUP=0 QUICKSTART_BIN="$B" QUICKSTART_OUT="$T" QUICKSTART_STEPS=20 bash "$S/tools/quickstart.sh" >"$T/log" 2>&1 \
  || { tail -n 30 "$T/log"; echo "FAIL: quickstart exit $?"; exit 1; }
fail() { echo "FAIL: $*"; tail -n 30 "$T/log"; exit 1; }
! grep -i "warning" "$T/log" || fail "the quickstart printed warnings"
for k in 2 3 4 5; do grep -q "^quickstart: $k/5 " "$T/log" || fail "no progress line $k/5"; done
grep -q "^quickstart: 3/5 training 20 steps" "$T/log" || fail "training step not announced"
# a second run replaces the first (no refusal, no warning)
QUICKSTART_SETUP=0 QUICKSTART_BIN="$B" QUICKSTART_OUT="$T" QUICKSTART_STEPS=20 bash "$S/tools/quickstart.sh" >"$T/log2" 2>&1 \
  || { tail -n 20 "$T/log2"; fail "second quickstart exit $?"; }
! grep -i "warning" "$T/log2" || fail "the second quickstart printed warnings"
$PY - "$T" <<'PY'
import os, sys
import h5py
import matplotlib.image as im
t = sys.argv[1]
with h5py.File(os.path.join(t, "demo_photos.h5"), "r") as f:
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["names"][:]]
photos = sorted(os.listdir("/usr/share/backgrounds/mate/nature"))
assert sorted(os.path.basename(n) for n in names) == photos, ("corpus is not the nature photographs", names)
with h5py.File(os.path.join(t, "quickstart", "embeddings_initial.h5"), "r") as a, \
        h5py.File(os.path.join(t, "quickstart", "embeddings.h5"), "r") as b:
    da, db = a["dense"][()], b["dense"][()]
    assert da.shape == db.shape and abs(da - db).max() > 1e-3, "initial and trained maps do not differ"
img = im.imread(os.path.join(t, "quickstart", "features.png"))
# 3 rows (image, trained, initial) x 6 columns at 2.2 x 2.3 in, 100 dpi
assert img.shape[0] == 690 and img.shape[1] == 1320, img.shape
assert img[..., :3].std() > 0.05, "blank picture"
print("test_quickstart: %d photographs, initial vs trained picture %dx%d" % (len(names), img.shape[1], img.shape[0]))
PY
grep -q 'label "trained' "$S/tools/quickstart.sh" && grep -q 'other-label "initial' "$S/tools/quickstart.sh" \
  || fail "rows are not labelled"
echo "test_quickstart: ok"
