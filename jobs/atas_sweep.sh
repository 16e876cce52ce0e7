#!/usr/bin/env bash
# Node sweep on your cluster: one jobs/atas_scaling.sbatch job per node count (1, 2, 4, ...),
# each running atas_mpi on the FULL allocation (and, with --all-counts, at 1, 2, 4 ... ranks
# inside it) for a few steps with a fixed batch per rank (weak scaling). Then
#   python3 jobs/atas_sweep_collect.py SWEEP_DIR     -> table + PNG, measured next to the model
#
#   jobs/atas_sweep.sh --config configs/vitl14.cfg [--nodes 1,2,4,8] [--tasks-per-node 8]
#                      [--steps 30] [--groups-per-rank 1] [--out sweep-DATE] [--all-counts]
#                      [--set KEY=VALUE ...] [--wait] [-- extra sbatch arguments (account, partition ...)]
#
# Every job writes SWEEP_DIR/nodes-N/{ranks-K.log, counts.tsv, runs/scale_K/metrics.jsonl};
# SWEEP_DIR/sweep.json records what was asked. The first --skip steps (collector, default 5)
# are warm-up and left out. ATAS_SBATCH replaces the sbatch command (tests use the simulated
# cluster of tools/netns_cluster.sh; ATAS_SCONTROL likewise for --wait), ATAS_SWEEP_TEMPLATE the job script (default
# jobs/atas_scaling.sbatch). --set goes to atas_mpi. docs/scaling.md.
set -uo pipefail

say() { echo "atas_sweep: $*" >&2; }
usage() { sed -n '2,17p' "$0" >&2; exit 2; }
here="$(cd "$(dirname "$0")/.." && pwd)"
config="" nodes="1,2,4,8" tpn=8 steps=30 gpr=1 out="sweep-$(date +%Y%m%d-%H%M%S)" all=0 wait=0 sets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --config) config="${2:?}"; shift 2 ;;
        --nodes) nodes="${2:?}"; shift 2 ;;
        --tasks-per-node) tpn="${2:?}"; shift 2 ;;
        --steps) steps="${2:?}"; shift 2 ;;
        --groups-per-rank) gpr="${2:?}"; shift 2 ;;
        --out) out="${2:?}"; shift 2 ;;
        --all-counts) all=1; shift ;;
        --set) sets+=(--set "${2:?}"); shift 2 ;;
        --wait) wait=1; shift ;;
        --) shift; break ;;
        -h|--help) usage ;;
        *) say "unknown argument '$1'"; usage ;;
    esac
done
[ -n "$config" ] || { say "--config is required (the run configuration to measure)"; exit 2; }
[ -f "$config" ] || { say "--config $config: no such file"; exit 2; }
for v in "$tpn" "$steps" "$gpr"; do
    case "$v" in ''|*[!0-9]*|0) say "--tasks-per-node, --steps, --groups-per-rank take positive integers (got '$v')"; exit 2 ;; esac
done
case "$nodes" in ''|*[!0-9,]*) say "--nodes takes comma-separated node counts (got '$nodes')"; exit 2 ;; esac
[ "$steps" -gt 5 ] || say "warning: $steps steps leave little after the warm-up the collector skips (5)"
mkdir -p "$out" || { say "cannot create $out"; exit 1; }
out="$(cd "$out" && pwd)"
config="$(cd "$(dirname "$config")" && pwd)/$(basename "$config")"
# shellcheck disable=SC2206 # a command with arguments, word-split on purpose
sb=(${ATAS_SBATCH:-sbatch})
cat >"$out/sweep.json" <<JSON
{"config": "$config", "nodes": [${nodes}], "tasks_per_node": $tpn, "steps": $steps,
 "groups_per_rank": $gpr, "all_counts": $all, "submitted": "$(date -u +%FT%TZ)", "jobs": {}}
JSON
jobs=()
for n in ${nodes//,/ }; do
    k=$((n * tpn))
    counts="$k"; [ "$all" = 1 ] && counts=""
    d="$out/nodes-$n"
    mkdir -p "$d"
    # sbatch exports this environment to the job: the template's inputs
    jid="$(ATAS_CONFIG="$config" ATAS_SCALING_OUT="$d" ATAS_SCALING_STEPS="$steps" \
        ATAS_SCALING_GROUPS_PER_RANK="$gpr" ATAS_SCALING_RANKS="$counts" \
        "${sb[@]}" --parsable --nodes="$n" --ntasks-per-node="$tpn" --job-name="atas-sweep-$n" \
        --output="$d/job-%j.out" "$@" "${ATAS_SWEEP_TEMPLATE:-$here/jobs/atas_scaling.sbatch}" "${sets[@]}")" \
        || { say "sbatch failed for $n node(s)"; exit 1; }
    jid="${jid%%;*}"
    say "$n node(s) x $tpn tasks: job $jid -> $d"
    jobs+=("$jid")
    echo "$jid" >"$d/jobid"
done
if [ "$wait" = 1 ]; then
    # shellcheck disable=SC2206 # as ATAS_SBATCH
    sc=(${ATAS_SCONTROL:-scontrol})
    for j in "${jobs[@]}"; do
        while :; do
            st="$("${sc[@]}" show job "$j" 2>/dev/null | tr ' ' '\n' | sed -n 's/^JobState=//p')"
            case "$st" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|"") break ;; esac
            sleep 2
        done
        say "job $j: ${st:-gone}"
    done
fi
say "when the jobs are done: python3 $here/jobs/atas_sweep_collect.py $out"
