#!/usr/bin/env bash
# The quickstart: install + build, pack a demo corpus of real photographs (the nature
# photographs of Debian's mate-backgrounds), train the tiny config on 2 MPI ranks, export the
# encoder to safetensors (OpenCLIP and Hugging Face layouts), embed the photographs with the
# initial and the trained model and picture both dense feature maps, row above row.
# Everything lands in runs/quickstart/ (a previous quickstart run there is replaced).
#   tools/quickstart.sh [--set key=value ...]   (extra arguments go to atas_mpi)
# For tests: QUICKSTART_SETUP=0 skips setup.sh, QUICKSTART_BIN (build/), QUICKSTART_OUT (runs),
# QUICKSTART_STEPS (300).
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
cd "$(dirname "$0")/.."
say() { echo "quickstart: $*"; }
if [ "${QUICKSTART_SETUP:-1}" != 0 ]; then
  say "1/5 installing and building (tools/setup.sh)"
  tools/setup.sh
fi
B=${QUICKSTART_BIN:-build}
OUT=${QUICKSTART_OUT:-runs}
R=$OUT/quickstart
STEPS=${QUICKSTART_STEPS:-300}
CORPUS=$OUT/demo_photos.h5
[ "$OUT" != runs ] || CORPUS=data/demo.h5
PHOTOS=/usr/share/backgrounds/mate/nature
say "2/5 packing the photographs of $PHOTOS into $CORPUS"
mkdir -p "$(dirname "$CORPUS")"
$B/atas_pack -q --size 256 -o "$CORPUS" "$PHOTOS"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
say "3/5 training $STEPS steps on 2 ranks (the initial weights are dumped at step 0)"
# run.threads = 0: the node's cores shared by the ranks; --overwrite: a fresh quickstart each time
mpirun -n 2 --oversubscribe $B/atas_mpi configs/tiny.cfg --overwrite --set "run.dir=\"$OUT\"" \
  --set 'run.name="quickstart"' --set "data.corpus=\"$CORPUS\"" --set run.steps=$STEPS --set run.threads=0 --set run.log_every=50 \
  --set checkpoint.every=100 --dump-step 0 $R/initial "$@"
ck=$(ls $R/checkpoints/ckpt-*.h5 | tail -n 1)
say "4/5 exporting $ck (OpenCLIP and Hugging Face layouts) and plotting the metrics"
# the recipe's export is the student; alpha 1: a random init has no pretrained weights to ensemble with
$B/atas_convert "$ck" --alpha 1 -o $R/export_openclip.safetensors --to openclip
$B/atas_convert "$ck" --alpha 1 -o $R/export_hf --to hf
/usr/bin/python3 tools/plot_metrics.py $R/metrics.jsonl $R/metrics.png
say "5/5 embedding the photographs with the initial and the trained model"
# the initial model: the student of the step-0 dump (docs/dump.md), as safetensors
PYTHONPATH=$B/pydeps /usr/bin/python3 - $R/initial/step-00000000.h5 $R/initial.safetensors <<'PY'
import sys
import h5py
import numpy as np
from safetensors.numpy import save_file
with h5py.File(sys.argv[1], "r") as f:
    save_file({k: np.ascontiguousarray(f["student"][k][()]) for k in f["student"]}, sys.argv[2],
              metadata={"format": "pt"})
PY
$B/atas_embed -q --weights $R/initial.safetensors --heads 4 --act quickgelu --resolution 128 \
  --corpus $CORPUS -o $R/embeddings_initial.h5
$B/atas_embed -q --weights "$ck" --resolution 128 --corpus $CORPUS -o $R/embeddings.h5
/usr/bin/python3 tools/plot_features.py $R/embeddings.h5 $CORPUS $R/features.png \
  --other $R/embeddings_initial.h5 --label "trained ($STEPS steps)" --other-label "initial (random)" \
  --title "dense features of the tiny ViT before and after ATAS (3 principal components as RGB, shared basis)"
say "metrics in $R/metrics.jsonl (pictured in $R/metrics.png), exports in $R/export_*,"
say "dense embeddings in $R/embeddings*.h5, initial vs trained pictured in $R/features.png"
