#!/usr/bin/env bash
# Every shipped recipe resolves unchanged on 1, 8 and 64 ranks (atas_config --world N), and the
# derived numbers it prints follow the rule of docs/training.md, recomputed here independently:
#   images/step B = groups_per_rank x N x group_images; steps = ceil(epochs x corpus / B);
#   peak lr = lr x sqrt(B / lr_scale_ref_images); warm-up = max(1, round(warmup_fraction x steps)).
# The config printed on stdout loads again, at that world size, to the same global batch.
set -euo pipefail
BIN=$1; SRC=$2; PY=${ATAS_PYTHON:-/usr/bin/python3}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
CORPUS=118287
for cfg in vitb16 vitl14 vitl14_336 ablation_g2l_frozen ablation_no_l2l; do
  for n in 1 8 64; do
    "$BIN" "$SRC/configs/$cfg.cfg" --world "$n" --corpus-images $CORPUS >"$T/out.cfg" 2>"$T/recipe.txt" \
      || { echo "FAIL: $cfg at --world $n:"; cat "$T/recipe.txt"; exit 1; }
    "$BIN" "$T/out.cfg" --world "$n" >"$T/out2.cfg" 2>/dev/null || { echo "FAIL: $cfg resolved at $n does not load"; exit 1; }
    cmp -s "$T/out.cfg" "$T/out2.cfg" || { echo "FAIL: $cfg resolved at $n is not a fixed point"; exit 1; }
    $PY - "$T/recipe.txt" "$T/out.cfg" "$n" "$CORPUS" "$cfg" <<'PYEOF'
import math, re, sys
recipe, resolved, n, corpus, name = open(sys.argv[1]).read(), open(sys.argv[2]).read(), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def val(key):  # the resolved config: "  key = value;" inside its group
    grp, k = key.rsplit(".", 1)
    m = re.search(r"^%s = \{(.*?)^\};" % grp.split(".")[0], resolved, re.S | re.M)
    m2 = re.search(r"^\s*%s = ([^;]+);" % k, m.group(1), re.M)
    return m2.group(1).strip().strip('"')
gpr = 1  # the shipped recipes state 1 group per rank
n_img = int(val("batch.group_images")); epochs = int(val("run.epochs"))
lr, ref, rule, frac = float(val("optim.lr")), float(val("optim.lr_scale_ref_images")), val("optim.lr_scale_rule"), float(val("optim.warmup_fraction"))
B = gpr * n * n_img
steps = math.ceil(epochs * corpus / B)
peak = lr * (math.sqrt(B / ref) if rule == "sqrt" else B / ref)
warm = max(1, round(frac * steps))
assert int(val("batch.groups")) == gpr * n, (name, n, val("batch.groups"))
m = re.search(r"recipe on (\d+) rank\(s\): global batch (\d+) group\(s\) x (\d+) images = (\d+) images per step", recipe)
assert m and int(m.group(1)) == n and int(m.group(4)) == B, (name, n, recipe)
m = re.search(r"recipe: (\d+) steps = ([\d.]+) epoch", recipe); assert m and int(m.group(1)) == steps, (name, n, recipe, steps)
m = re.search(r"recipe: peak lr ([\d.e+-]+) ", recipe); assert m and abs(float(m.group(1)) - peak) <= 1e-3 * peak, (name, n, recipe, peak)
m = re.search(r"recipe: warm-up (\d+) steps = ([\d.]+)% of the run", recipe)
assert m and int(m.group(1)) == warm and abs(float(m.group(2)) - 100 * warm / steps) < 0.06, (name, n, recipe, warm)
assert rule == "sqrt" and frac > 0, (name, "the shipped recipes use the sqrt rule and a warm-up fraction")
print("%-20s %2d ranks: %5d images/step, %5d steps, peak lr %.3g, warm-up %d steps (%.1f%%)" % (name, n, B, steps, peak, warm, 100.0 * warm / steps))
PYEOF
  done
done
# the user-facing docs agree with the configs: every `atas_pack --size S` the README and jobs/README
# show packs a corpus every shipped recipe accepts (S >= max(view, largest cell)) at the path they read
need=0; path=""
for cfg in vitb16 vitl14 vitl14_336 ablation_g2l_frozen ablation_no_l2l; do
  "$BIN" "$SRC/configs/$cfg.cfg" >"$T/r.cfg" 2>/dev/null
  side=$($PY - "$T/r.cfg" <<'PYEOF'
import re, sys
t = open(sys.argv[1]).read()
res = int(re.search(r"^\s*resolution = (\d+);", t, re.M).group(1))
canvas = int(re.search(r"^\s*canvas = (\d+);", t, re.M).group(1))
grids = [int(x) for x in re.search(r"^\s*grids = \[([^\]]*)\];", t, re.M).group(1).split(",")]
corpus = re.search(r'^\s*corpus = "([^"]*)";', t, re.M).group(1)
print(max(res, canvas // min(grids)), corpus)
PYEOF
)
  s=${side% *}; c=${side#* }
  [ "$s" -gt "$need" ] && need=$s
  [ -z "$path" ] && path=$c
  [ "$c" = "$path" ] || { echo "FAIL: $cfg reads $c, others $path"; exit 1; }
done
for doc in README.md jobs/README.md; do
  n=0
  while read -r size out; do
    n=$((n + 1))
    [ "$size" -ge "$need" ] || { echo "FAIL: $doc packs at --size $size; the shipped configs need >= $need"; exit 1; }
    [ "$out" = "$path" ] || { echo "FAIL: $doc packs to $out; the shipped configs read $path"; exit 1; }
  done < <(grep -o 'atas_pack --size [0-9]* -o [^ ]*' "$SRC/$doc" | awk '{print $3, $5}')
  [ "$n" -ge 1 ] || { echo "FAIL: $doc shows no atas_pack --size"; exit 1; }
done
echo "docs pack at >= $need px into $path, as the configs need"
# the method is described in the repository: no pointer to a note outside it
if grep -rn "ATAS-METHOD\|/work/shared" "$SRC/README.md" "$SRC/docs" "$SRC/configs" "$SRC/jobs" >"$T/ptr.txt"; then
  echo "FAIL: pointers outside the repository:"; cat "$T/ptr.txt"; exit 1
fi
# tiny: the fixed-global-batch test config; 1 and 2 ranks keep its batch of 2 groups, other world
# sizes round it up (batch.round_up) and say so; without round_up, 3 ranks is an error that says
# how to state a per-rank batch
for w in 1 2; do
  "$BIN" "$SRC/configs/tiny.cfg" --world $w >"$T/tiny.txt" 2>&1 || { echo "FAIL: tiny on $w ranks"; exit 1; }
  grep -q "global batch 2 group(s)" "$T/tiny.txt" || { echo "FAIL: tiny on $w ranks: $(grep recipe "$T/tiny.txt")"; exit 1; }
  if grep -q "rounded up" "$T/tiny.txt"; then echo "FAIL: tiny on $w ranks rounded"; exit 1; fi
done
for w in 3 8 64; do
  "$BIN" "$SRC/configs/tiny.cfg" --world $w >"$T/tiny.txt" 2>&1 || { echo "FAIL: tiny on $w ranks: $(cat "$T/tiny.txt")"; exit 1; }
  grep -q "global batch $w group(s)" "$T/tiny.txt" || { echo "FAIL: tiny on $w ranks: $(grep recipe "$T/tiny.txt")"; exit 1; }
  grep -q "batch.groups = 2 rounded up to $w, a multiple of $w rank(s) (batch.round_up)" "$T/tiny.txt" ||
    { echo "FAIL: tiny on $w ranks: no rounding note"; exit 1; }
  grep -q "^  groups = $w;" "$T/tiny.txt" || { echo "FAIL: tiny on $w ranks: resolved groups"; exit 1; }
done
if "$BIN" "$SRC/configs/tiny.cfg" --set batch.round_up=false --world 3 >/dev/null 2>"$T/err.txt"; then
  echo "FAIL: tiny on 3 ranks accepted without round_up"; exit 1; fi
grep -q "batch.groups_per_rank" "$T/err.txt" || { echo "FAIL: message: $(cat "$T/err.txt")"; exit 1; }
echo "recipes_world: all checks passed"
