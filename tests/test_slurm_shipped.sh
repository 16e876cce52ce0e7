#!/usr/bin/env bash
# The headline path with a SHIPPED config (issue 10): configs/vitb16.cfg as it is, 2 ranks
# through jobs/atas_train.sbatch on the local Slurm (srun --mpi=pmix). The test sets only
# what a site sets (the corpus, the run directory) and what this node lacks: pretrained
# weights (random init) and a GPU (run.backend = "cpu"). The job runs until rank 0 has
# logged the first training step of ViT-B/16 (16 views at 224 px + one 960-px mosaic per
# rank: about a minute and a half on 2 cores), then it is cancelled; the log must show the
# recipe resolved for 2 ranks.
set -euo pipefail
B=${ATAS_BINARY_DIR:?}; S=${ATAS_SOURCE_DIR:?}
T=$(mktemp -d "$B/shipped.XXXXXX"); trap 'rm -rf "$T"' EXIT
# 2 ranks x 16 images per group, at the mosaic's largest cell (960 / 2 = 480 px)
bash "$S/tests/make_test_corpus.sh" "$T/corpus.h5" 480 32
export ATAS_SLURM_START_LOG="$T/job.log"
rc=0
bash "$S/tests/test_slurm.sh" start 'step      1/' "$B/atas_mpi" "$S/configs/vitb16.cfg" \
  --set "data.corpus=\"$T/corpus.h5\"" --set "run.dir=\"$T/runs\"" \
  --set 'model.weights=""' --set 'run.backend="cpu"' || rc=$?
[ "$rc" -eq 0 ] || exit "$rc" # 77: no Slurm here (skip)
L="$T/job.log"
fail() { echo "FAIL: $*"; sed -n '1,200p' "$L"; exit 1; }
grep -q 'recipe on 2 rank(s): global batch 2 group(s) x 16 images = 32 images per step' "$L" \
  || fail "the recipe is not resolved for 2 ranks (batch.groups_per_rank = 1)"
grep -q 'peak lr 1.414e-05 = optim.lr 1e-05 x sqrt(32 / 16)' "$L" || fail "peak lr not scaled by sqrt(32/16)"
grep -q 'optim.warmup_fraction = 0.025' "$L" || fail "warm-up not derived from optim.warmup_fraction"
grep -q 'model 768x16, 12 layers' "$L" || fail "not the ViT-B/16 shape"
line=$(grep -m1 'step      1/' "$L")
echo "$line" | grep -Eq 'g2l [0-9.]+ +l2l [0-9.]+ +g2g -?[0-9.]+ +total [0-9.]+' || fail "first step's losses: $line"
echo "test_slurm_shipped: configs/vitb16.cfg started on 2 Slurm ranks: $line"
