#!/usr/bin/env bash
# Runs jobs/atas_train.sbatch on a real single-node Slurm (tools/slurm_local.sh).
#
#   tests/test_slurm.sh basic  MPI_RANKS      2 MPI ranks via the template (srun --mpi=pmix),
#                                              jobs/atas_scaling.sbatch at 1 and 2 ranks,
#                                              then the requeue path (mock exits 3, then 0)
#   tests/test_slurm.sh signal                --signal=USR1@300 reaches the ranks, they exit 3,
#                                              the job requeues and finishes (20-40 s: slurmctld
#                                              checks time limits every 30 s)
#   tests/test_slurm.sh train  BIN CONFIG [ARGS...]
#                                             BIN CONFIG ARGS through the template, 2 tasks;
#                                             must exit 0 (e.g. atas_mpi configs/tiny.cfg)
#   tests/test_slurm.sh start  PATTERN BIN CONFIG [ARGS...]
#                                             the same until the job's log shows PATTERN, then
#                                             scancel (ATAS_SLURM_START_LOG: a copy of the log)
#
# Exit 0 pass, 1 fail, 77 skip (Slurm cannot start here: not root, not installed).
# Env: ATAS_SOURCE_DIR, ATAS_BINARY_DIR (set by CTest), ATAS_SLURM_TEST_DIR (cluster state,
# default $ATAS_BINARY_DIR/slurm-test), ATAS_SLURM_TEST_NTASKS (default 2),
# ATAS_SLURM_KEEP=1 leaves the cluster running afterwards (debugging), ATAS_SLURM_REQUIRED=1
# turns "Slurm failed to start" into a failure instead of a skip (a not-root machine still skips).
set -uo pipefail

src="${ATAS_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}"
bdir="${ATAS_BINARY_DIR:-$src/build}"
ntasks="${ATAS_SLURM_TEST_NTASKS:-2}"
mode="${1:-}"; shift || true

say() { echo "test_slurm: [$(date +%T)] $*"; }
skip() { say "SKIP: $*"; exit 77; }

# ---- the cluster: own state directory, short enough for Unix socket paths
export ATAS_SLURM_DIR="${ATAS_SLURM_TEST_DIR:-$bdir/slurm-test}"
if [ ${#ATAS_SLURM_DIR} -gt 60 ]; then ATAS_SLURM_DIR="$(mktemp -d /tmp/atas-slurm.XXXXXX)"; fi
work=""

cleanup() {
    if [ "${ATAS_SLURM_KEEP:-0}" != 1 ]; then
        "$src/tools/slurm_local.sh" stop >/dev/null 2>&1
    fi
    [ -n "$work" ] && [ "${ATAS_SLURM_KEEP:-0}" != 1 ] && rm -rf "$work"
}

fail() {
    say "FAIL: $*"
    [ -n "$work" ] && for f in "$work"/*.out "$work"/*.log; do
        [ -f "$f" ] && { echo "---- $f"; tail -n 40 "$f"; }
    done
    echo "---- slurmctld/slurmd log tails ($ATAS_SLURM_DIR/log)"
    tail -n 15 "$ATAS_SLURM_DIR/log/slurmctld.log" "$ATAS_SLURM_DIR/log/slurmd.log" 2>/dev/null
    exit 1
}

start_slurm() {
    local out rc errf
    errf="$(mktemp /tmp/atas-slurm-start.XXXXXX)"
    # Always a fresh cluster: one left over by a killed run may still hold its jobs.
    "$src/tools/slurm_local.sh" stop >/dev/null 2>&1
    out="$("$src/tools/slurm_local.sh" start 2>"$errf")"; rc=$?
    local why; why="$(cat "$errf")"; rm -f "$errf"
    if [ $rc -eq 77 ]; then skip "$why"; fi
    if [ $rc -ne 0 ]; then
        echo "$why"
        # A machine where the daemons cannot run at all (containers without the
        # needed privileges) is a skip, not a failure of atas - unless the caller
        # says Slurm must work here (CI images that install it).
        [ "${ATAS_SLURM_REQUIRED:-0}" = 1 ] && fail "tools/slurm_local.sh start failed (exit $rc)"
        skip "tools/slurm_local.sh start failed (exit $rc)"
    fi
    eval "$out" # export SLURM_CONF=...
    [ -n "${SLURM_CONF:-}" ] || fail "slurm_local.sh printed no SLURM_CONF"
    trap cleanup EXIT
    work="$(mktemp -d "$bdir/slurm-work.XXXXXX")"
    # The test node has no GPUs: the job script is the template minus its GPU request.
    sed '/^#SBATCH --gpus/d' "$src/jobs/atas_train.sbatch" >"$work/job.sbatch"
    grep -q '^srun --mpi=' "$work/job.sbatch" || fail "template has no srun line"
    sed '/^#SBATCH --gpus/d' "$src/jobs/atas_scaling.sbatch" >"$work/scaling.sbatch"
}

# submit NAME TIME_MIN [ENV=VALUE ...] -- [job args]: runs the generated job script with
# `sbatch --wait` (bounded) and sets $rc (the job's exit code) and $jobid. With
# SUBMIT_POLL=1 it polls scontrol every 0.5 s instead (sbatch --wait checks only every
# few seconds; the slow signal test saves that time).
submit() {
    local name="$1" tmin="$2"; shift 2
    local envs=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
    [ "${1:-}" = "--" ] && shift
    local extra=()
    # More tasks than CPUs stay pending unless the allocation may overcommit.
    [ "$ntasks" -gt "$(nproc)" ] && extra+=(--overcommit)
    [ "${SUBMIT_POLL:-0}" = 1 ] || extra+=(--wait)
    local out
    out="$(cd "$work" && env "${envs[@]}" timeout 150 sbatch --parsable \
        --job-name="$name" --output="$work/$name.out" --chdir="$work" \
        --nodes=1 --ntasks-per-node="$ntasks" --cpus-per-task=1 --time="$tmin" "${extra[@]}" \
        "$work/job.sbatch" "$@")"
    rc=$?
    jobid="${out%%;*}"; jobid="${jobid%%$'\n'*}"
    [ "$rc" -eq 124 ] && fail "$name: sbatch --wait did not return within 150 s (job $jobid)"
    if [ "${SUBMIT_POLL:-0}" = 1 ]; then
        [ "$rc" -eq 0 ] || fail "$name: sbatch failed ($rc)"
        local i st=""
        for ((i = 0; i < 300; i++)); do
            st="$(job_field "$jobid" JobState)"
            case "$st" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED|BOOT_FAIL|DEADLINE) break ;; esac
            sleep 0.5
        done
        local ec
        ec="$(job_field "$jobid" ExitCode)"
        case "$st" in COMPLETED|FAILED) rc="${ec%%:*}" ;; *) fail "$name: job $jobid ended as '$st' (ExitCode $ec)" ;; esac
    fi
    say "$name: job $jobid exit $rc"
}

job_field() { # jobid Field -> value from scontrol show job
    scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1
}

test_ranks() { # MPI_RANKS: the template runs it as ATAS_BIN under srun --mpi=pmix
    local prog="$1"
    [ -x "$prog" ] || fail "mpi_ranks program '$prog' is not executable"
    submit ranks 10 ATAS_BIN="$prog" ATAS_CONFIG=some.cfg -- --set run.name=x
    [ "$rc" -eq 0 ] || fail "ranks: job exit $rc, expected 0"
    local f="$work/ranks.out" r
    for ((r = 0; r < ntasks; r++)); do
        # The template must pass CONFIG --resume auto and the job's own arguments.
        grep -q "^rank $r/$ntasks local $r/$ntasks host .* args some.cfg --resume auto --set run.name=x\$" "$f" \
            || fail "ranks: no line for rank $r/$ntasks (local $r/$ntasks) with the expected arguments"
    done
    [ "$(grep -c '^rank ' "$f")" -eq "$ntasks" ] || fail "ranks: expected exactly $ntasks rank lines"
    grep -q "$ntasks tasks, 1 threads each" "$f" || fail "ranks: OMP_NUM_THREADS not taken from SLURM_CPUS_PER_TASK"
    say "ranks: $ntasks ranks under srun --mpi=pmix, local ranks consistent"
}

test_scaling() { # MPI_RANKS as the benchmark: each count gets its own log with K ranks
    local prog="$1" k r
    out="$(cd "$work" && ATAS_SCALING_CMD="$prog --bench k={K}" ATAS_SCALING_GROUPS_PER_RANK=3 \
        timeout 150 sbatch --wait --parsable \
        --output="$work/scaling.out" --chdir="$work" --nodes=1 --ntasks-per-node="$ntasks" \
        --cpus-per-task=1 --time=10 "$work/scaling.sbatch" extra "groups={G}")"
    rc=$?
    [ "$rc" -eq 0 ] || fail "scaling: job exit $rc"
    jobid="${out%%;*}"
    local counts="" ; k=1
    while [ "$k" -lt "$ntasks" ]; do counts="$counts $k"; k=$((k * 2)); done
    counts="$counts $ntasks"
    for k in $counts; do
        local f="$work/scaling-$jobid/ranks-$k.log"
        [ -f "$f" ] || fail "scaling: no log $f"
        [ "$(grep -c "^rank [0-9]*/$k local .* args --bench k=$k extra groups=$((3 * k))\$" "$f")" -eq "$k" ] \
            || fail "scaling: $f does not hold $k rank lines with the benchmark's arguments"
    done
    say "scaling: counts$counts each ran with their rank count"
}

# Exit codes that must not requeue: a usage error without ATAS_CONFIG (no Slurm needed),
# a failure code (5) passed through, and exit 3 once ATAS_MAX_REQUEUES is reached.
test_codes() {
    local prog="$1" msg
    msg="$(env -u ATAS_CONFIG bash "$work/job.sbatch" 2>&1)"; rc=$?
    [ "$rc" -eq 2 ] && [[ "$msg" == *"set ATAS_CONFIG"* ]] || fail "codes: no ATAS_CONFIG gave exit $rc: $msg"
    SUBMIT_POLL=1 submit code5 10 ATAS_BIN="$prog" ATAS_TEST_EXIT=5 ATAS_CONFIG=c.cfg --
    [ "$rc" -eq 5 ] || fail "code5: job exit $rc, expected 5 passed through"
    ! grep -q requeueing "$work/code5.out" && [ "$(job_field "$jobid" Restarts)" = 0 ] \
        || fail "code5: exit 5 must not requeue"
    SUBMIT_POLL=1 submit cap 10 ATAS_BIN="$prog" ATAS_TEST_EXIT=3 ATAS_MAX_REQUEUES=0 ATAS_CONFIG=c.cfg --
    [ "$rc" -eq 3 ] || fail "cap: job exit $rc, expected 3"
    grep -q "not requeueing" "$work/cap.out" && [ "$(job_field "$jobid" Restarts)" = 0 ] \
        || fail "cap: ATAS_MAX_REQUEUES=0 must stop the requeue"
    say "codes: missing config -> 2, exit 5 passed through, requeue cap honoured"
}

# A stand-in for atas_mpi: every run appends "restart R rank P start" to runs.log. On the
# first run (no marker yet) every rank waits for SIGUSR1, notes it, and exits 3 as atas_mpi
# does after its checkpoint; later runs exit 0 at once. Slurm signals every process of the
# step, so the helper sleep ignores USR1: otherwise it could die first and end the wait
# before the shell's own USR1 arrives.
write_mock() {
    cat >"$work/mock.sh" <<EOF
#!/bin/bash
log="$work/runs.log"
echo "restart \${SLURM_RESTART_COUNT:-0} rank \$SLURM_PROCID start" >>"\$log"
[ -e "$work/marker" ] && exit 0
(trap '' USR1; exec sleep 90) &
sp=\$!
trap 'echo "restart \${SLURM_RESTART_COUNT:-0} rank \$SLURM_PROCID got USR1" >>"\$log"
      [ "\$SLURM_PROCID" = 0 ] && touch "$work/marker"; kill \$sp; exit 3' USR1
echo "restart \${SLURM_RESTART_COUNT:-0} rank \$SLURM_PROCID waiting" >>"\$log"
wait \$sp
echo "restart \${SLURM_RESTART_COUNT:-0} rank \$SLURM_PROCID no USR1 within 90 s" >>"\$log"; exit 9
EOF
    chmod +x "$work/mock.sh"
}

# Requeue: the template sees exit 3, calls scontrol requeue; the same job id runs again
# (Restarts=1, log appended) and its second run's exit 0 is what the caller gets.
check_requeued() { # name
    local name="$1" f="$work/$1.out" r
    [ "$rc" -eq 0 ] || fail "$name: the job returned $rc, expected 0 from the second run"
    for ((r = 0; r < ntasks; r++)); do
        grep -q "^restart 0 rank $r got USR1" "$work/runs.log" || fail "$name: rank $r did not get USR1"
        grep -q "^restart 1 rank $r start" "$work/runs.log" || fail "$name: rank $r did not run again"
    done
    grep -q "requeueing job $jobid" "$f" || fail "$name: the template did not requeue after exit 3 (was the batch shell killed?)"
    [ "$(grep -c "(restart 0)" "$f")" -eq 1 ] && [ "$(grep -c "(restart 1)" "$f")" -eq 1 ] \
        || fail "$name: expected one run with restart 0 and one with restart 1 in the appended log"
    grep -q " exited with 3 at" "$f" && grep -q " exited with 0 at" "$f" \
        || fail "$name: expected exit 3 then exit 0"
    local n
    n="$(job_field "$jobid" Restarts)"
    [ "$n" = 1 ] || fail "$name: scontrol shows Restarts=$n, expected 1"
    [ "$(job_field "$jobid" JobState)" = COMPLETED ] || fail "$name: final state $(job_field "$jobid" JobState)"
    say "$name: USR1 reached all $ntasks ranks, exit 3 -> scontrol requeue -> same job ran again (Restarts=1) -> exit 0"
}

# What a time limit does, triggered by hand: `scancel --signal=USR1` signals the steps
# (not the batch shell) exactly as --signal=USR1@300 does. sbatch --wait must follow the
# job through the requeue and return the second run's exit code.
test_requeue() {
    write_mock
    ( submit requeue 10 ATAS_BIN="$work/mock.sh" ATAS_CONFIG=run.cfg -- >/dev/null
      echo "$rc $jobid" >"$work/requeue.rc" ) &
    local bg=$! i waiting=0 id=""
    for ((i = 0; i < 120; i++)); do # until every rank of the first run waits for USR1
        waiting="$(grep -c '^restart 0 rank .* waiting' "$work/runs.log" 2>/dev/null)"
        [ "${waiting:-0}" -ge "$ntasks" ] && break
        sleep 0.25
    done
    id="$(squeue -h -n requeue -o %i | head -n1)"
    [ "${waiting:-0}" -ge "$ntasks" ] && [ -n "$id" ] || { kill "$bg"; fail "requeue: the ranks did not start within 30 s"; }
    scancel --signal=USR1 "$id" || fail "requeue: scancel --signal=USR1 failed"
    wait "$bg"
    [ -s "$work/requeue.rc" ] || fail "requeue: no result from sbatch --wait"
    read -r rc jobid <"$work/requeue.rc"
    say "requeue: job $jobid exit $rc (sbatch --wait)"
    check_requeued requeue
}

# The timer itself: --signal=USR1@300 with a 5-minute limit puts the job inside the window
# from its start, so slurmctld's next time-limit sweep (every 30 s) sends USR1 to the steps.
test_signal() {
    write_mock
    SUBMIT_POLL=1 submit signal 5 ATAS_BIN="$work/mock.sh" ATAS_CONFIG=run.cfg --
    check_requeued signal
}

test_train() { # BIN CONFIG [ARGS...]: a real program through the template; must exit 0
    local prog="$1" cfg="$2"; shift 2
    case "$cfg" in /*) ;; *) cfg="$PWD/$cfg" ;; esac
    case "$prog" in /*) ;; */*) prog="$PWD/$prog" ;; esac # a bare name is looked up in PATH
    submit train 10 ATAS_BIN="$prog" ATAS_CONFIG="$cfg" -- "$@"
    [ "$rc" -eq 0 ] || fail "train: $prog exited $rc"
    say "train: $prog $cfg ran with $ntasks ranks under Slurm"
}

# START PATTERN BIN CONFIG [ARGS...]: a real program through the template until its log
# shows PATTERN (training has started), then the job is cancelled. For the shipped
# configs, whose steps take minutes on a CPU test node: this shows that the template,
# srun and the config reach the first step at this world size, not that it trains.
test_start() {
    local pattern="$1" prog="$2" cfg="$3"; shift 3
    case "$cfg" in /*) ;; *) cfg="$PWD/$cfg" ;; esac
    case "$prog" in /*) ;; */*) prog="$PWD/$prog" ;; esac
    local extra=() out i st="" f="$work/start.out"
    [ "$ntasks" -gt "$(nproc)" ] && extra+=(--overcommit)
    out="$(cd "$work" && env ATAS_BIN="$prog" ATAS_CONFIG="$cfg" timeout 60 sbatch --parsable \
        --job-name=start --output="$f" --chdir="$work" --nodes=1 --ntasks-per-node="$ntasks" \
        --cpus-per-task=1 --time=10 "${extra[@]}" "$work/job.sbatch" "$@")" || fail "start: sbatch failed"
    jobid="${out%%;*}"; jobid="${jobid%%$'\n'*}"
    for ((i = 0; i < 600; i++)); do # 300 s
        grep -q -- "$pattern" "$f" 2>/dev/null && break
        st="$(job_field "$jobid" JobState)"
        case "$st" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED|BOOT_FAIL|DEADLINE)
            fail "start: job $jobid ended as '$st' before its log showed '$pattern'" ;;
        esac
        sleep 0.5
    done
    grep -q -- "$pattern" "$f" 2>/dev/null || { scancel "$jobid"; fail "start: no '$pattern' in the log within 300 s"; }
    say "start: job $jobid reached '$pattern'; cancelling it"
    scancel "$jobid" || fail "start: scancel failed"
    for ((i = 0; i < 240; i++)); do
        st="$(job_field "$jobid" JobState)"
        case "$st" in COMPLETED|FAILED|CANCELLED|TIMEOUT|"") break ;; esac
        sleep 0.5
    done
    case "$st" in COMPLETED|FAILED|CANCELLED|TIMEOUT|"") ;; *) fail "start: job $jobid still '$st' 120 s after scancel" ;; esac
    cp "$f" "${ATAS_SLURM_START_LOG:-/dev/null}" 2>/dev/null || true
    say "start: $prog $cfg started with $ntasks ranks under Slurm"
}

case "$mode" in
    basic)  [ $# -eq 1 ] || { echo "usage: $0 basic MPI_RANKS" >&2; exit 2; }
            start_slurm; test_ranks "$1"; test_scaling "$1"; test_codes "$1"; test_requeue ;;
    signal) start_slurm; test_signal ;;
    train)  [ $# -ge 2 ] || { echo "usage: $0 train BIN CONFIG [ARGS...]" >&2; exit 2; }
            start_slurm; test_train "$@" ;;
    start)  [ $# -ge 3 ] || { echo "usage: $0 start PATTERN BIN CONFIG [ARGS...]" >&2; exit 2; }
            start_slurm; test_start "$@" ;;
    *) echo "usage: $0 basic MPI_RANKS | signal | train BIN CONFIG [ARGS...] | start PATTERN BIN CONFIG [ARGS...]" >&2; exit 2 ;;
esac
say "PASS"
