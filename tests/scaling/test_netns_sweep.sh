#!/usr/bin/env bash
# The node sweep on the simulated cluster (run me through tools/netns_cluster.sh run 2):
# jobs/atas_sweep.sh submits jobs/atas_scaling.sbatch (its default program: atas_mpi) for 1
# and 2 nodes x 2 tasks, jobs/atas_sweep_collect.py turns the runs into the table and the PNG
# with the model's prediction; a damaged metrics.jsonl is refused by name.
# Env: ATAS_SWEEP_KEEP=DIR copies the sweep there (docs/results/scaling_netns.*).
set -uo pipefail
S="${ATAS_SOURCE_DIR:?}"; B="${ATAS_BINARY_DIR:?}"; PY="${ATAS_PYTHON:-/usr/bin/python3}"
N="$S/tools/netns_cluster.sh"
fail() { echo "FAIL: $*"; exit 1; }
[ -n "${ATAS_NETNS_DIR:-}" ] || fail "run me through tools/netns_cluster.sh run 2 $0"
# The slurmd see /tmp node-local (tools/netns_cluster.sh), so the jobs cannot reach a checkout
# or build that lives there: say so and skip (the MPI-only netns test still runs).
case "$(readlink -f "$S")/ $(readlink -f "$B")/" in
  /tmp/*|*" /tmp/"*) echo "SKIP: $S or $B is under /tmp, which the simulated nodes' jobs see node-local"; exit 77 ;;
esac
"$N" slurm-start || exit $?
# /tmp is node-local for the jobs: the work files go to the build directory (shared filesystem)
W="$(mktemp -d "$B/sweep-test.XXXXXX")"
trap 'rm -rf "$W"' EXIT
bash "$S/tests/make_test_corpus.sh" "$W/c.h5" 128 || fail "corpus"
# the test nodes have 2 CPUs and no GPUs
sed '/^#SBATCH --gpus/d; /^#SBATCH --exclusive/d; /^#SBATCH --cpus-per-task/d' "$S/jobs/atas_scaling.sbatch" >"$W/scaling.sbatch"
export ATAS_SBATCH="$N sbatch" ATAS_SCONTROL="$N scontrol" ATAS_SWEEP_TEMPLATE="$W/scaling.sbatch" ATAS_BIN="$B/atas_mpi"
export OMPI_MCA_btl=tcp,self OMPI_MCA_pml=ob1 OMPI_MCA_btl_tcp_if_include=198.18.0.0/24
cd "$W" || fail "cd"
load0="$(cut -d' ' -f1-3 /proc/loadavg)"
timeout 400 "$S/jobs/atas_sweep.sh" --config "$S/configs/tiny.cfg" --nodes 1,2 --tasks-per-node 2 --steps 14 \
    --all-counts --out "$W/sweep" --wait --set "data.corpus=\"$W/c.h5\"" --set run.threads=1 \
    --set optim.warmup_steps=1 -- --cpus-per-task=1 --time=10 || fail "atas_sweep.sh"
for want in "nodes-1:1 1 0" "nodes-1:2 1 0" "nodes-2:1 1 0" "nodes-2:2 1 0" "nodes-2:4 2 0"; do
    f="$W/sweep/${want%%:*}/counts.tsv"
    grep -q "^$(echo "${want#*:}" | tr ' ' '\t')\$" "$f" 2>/dev/null || {
        tail -n 20 "$W"/sweep/nodes-*/ranks-*.log "$W"/sweep/nodes-*/job-*.out; fail "$f has no line '${want#*:}'"; }
done
n=$(wc -l <"$W/sweep/nodes-2/runs/scale_4/metrics.jsonl")
[ "$n" -eq 14 ] || fail "4 ranks on 2 nodes: $n metric lines, expected 14"
grep -q "on 2 node(s)" "$W/sweep/nodes-2/job-"*.out || fail "the 4-rank count did not span 2 nodes"
"$PY" "$S/jobs/atas_sweep_collect.py" "$W/sweep" --device cpu --cores 2 --nodes-share-cores \
    --title "tiny.cfg on 2 simulated nodes (network namespaces, 2 shared cores)" >"$W/collect.out" 2>&1 \
    || { cat "$W/collect.out"; fail "collector"; }
cat "$W/collect.out"
[ "$(grep -cE '^ +[0-9]+ +[0-9]+ +[0-9.]+ ' "$W/sweep/scaling.txt")" -eq 5 ] || fail "scaling.txt: expected 5 measured rows"
grep -q "prediction error over 4 point" "$W/sweep/scaling.txt" || fail "scaling.txt: no prediction error line"
"$PY" -c "from PIL import Image; im = Image.open('$W/sweep/scaling.png'); assert im.size[0] > 800" \
    || fail "scaling.png is not a plot"
if [ -n "${ATAS_SWEEP_KEEP:-}" ]; then
    { cat "$W/sweep/scaling.txt"
      echo "# this machine: $(nproc) cores shared with other work; load average (1/5/15 min) $load0 before the sweep, $(cut -d' ' -f1-3 /proc/loadavg) after"
    } >"$ATAS_SWEEP_KEEP.txt"
    cp "$W/sweep/scaling.png" "$ATAS_SWEEP_KEEP.png"
fi
# bad input: a torn metrics line is named with its file, nothing written
m="$W/sweep/nodes-2/runs/scale_2/metrics.jsonl"
head -c 100 "$m" >"$m.tmp" && mv "$m.tmp" "$m"
rm -f "$W/sweep/scaling.txt"
out="$("$PY" "$S/jobs/atas_sweep_collect.py" "$W/sweep" --device cpu 2>&1)"; rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "scale_2/metrics.jsonl" || fail "torn metrics.jsonl: exit $rc, '$out'"
[ ! -e "$W/sweep/scaling.txt" ] || fail "torn metrics.jsonl: a table was written anyway"
echo "node sweep: 1 and 2 simulated nodes measured, collected next to the model; bad input refused"
