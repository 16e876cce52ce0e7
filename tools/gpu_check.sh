#!/usr/bin/env bash
# The GPU check, in one call, on a machine that has only the CUDA driver (+ toolkit): unpacks the
# bundle of tools/gpu_bundle.sh, prints the machine's facts, and runs each step time-limited,
# logged to $OUT/NN_step.log, with a summary table at the end ($OUT/summary.txt):
#   facts, libs, isolation       glibc / driver / device, what the programs load and from where
#   parity_cpu, parity_cuda      the op parity harness (every op of "cuda" against "cpu")
#   parity_cuda_bf16, _tf32      the same with cuda at precision bf16 (cuBLAS FAST_16BF, the fused
#                                attention of flash_attn.cu) / tf32, against cpu fp32 within the
#                                precision bounds (docs/backend.md "Precision")
#   tools                        atas_inspect on the carried corpus, atas_config on the check config
#   train_cpu, train_cuda, cmp_cuda_cpu
#                                atas_mpi on configs/tiny.cfg, 10 steps, on each backend; losses
#                                agree within 1e-4 relative (tools/gpu/compare_losses.awk)
#   mpi2_cpu, mpi2_cuda          mpirun -n 2 from the bundle (on one GPU the two ranks share it,
#                                ATAS_SHARE_GPU=1, dist.backend = "mpi"); losses against the 1-rank
#                                cpu run
#   nccl1                        one rank with dist.backend = "nccl"; losses against the cpu run
#   nccl2                        two ranks with dist.backend = "nccl": with >= 2 GPUs a run compared
#                                with the cpu run; with one GPU the two refusals (ranks > GPUs
#                                without ATAS_SHARE_GPU; NCCL cannot share a GPU)
#   train_cpu30, drift_cuda_bf16 tiny for 30 steps: cuda at bf16 against cpu at fp32, the total loss
#                                within the documented bf16 drift bound (1e-2 relative)
#   The cuda runs print bytes_h2d / bytes_d2h per step from their metrics.
#   vitb16_cuda                  atas_mpi, ViT-B/16 shape, random init, 2 steps: the phase table
#   memcheck_parity, memcheck_train, memcheck_parity_bf16
#                                compute-sanitizer memcheck: parity harness, 1 training step, the
#                                parity harness at bf16 (the fused attention kernels)
#   bench_ops_bf16, bench_ops_bf16_noflash
#                                atas_bench --ops-only at bf16, with the fused attention and with
#                                ATAS_NO_FLASH=1 (the chunked path): which is faster at T = 197..4097
#   bench_cuda, bench_cpu        atas_bench: per-op table, ViT-B/16 fwd+bwd (cpu: --quick only); cuda
#                                ends with the full ATAS step of configs/vitb16.cfg and vitl14.cfg
#                                (bf16: images/s, MFU, device memory, op calls, phase table)
#   bench_step_nostore           the vitl14.cfg step again with ATAS_BF16_STORAGE=0: bf16 storage's gain
# Where no GPU can be used the CUDA steps are SKIPPED (the programs exit 77, or say there is no
# CUDA device) and the CPU steps still run. Exit status: 0 when no step FAILED.
# usage: bash tools/gpu_check.sh [--bundle TAR|DIR] [--only step,step...] [--quick]
#   --bundle  default: .gpu/atas-bundle.tar.xz next to this script's tools/ (the repo's), or the
#             bundle this script sits in (atas-bundle/share/atas/gpu_check.sh)
#   --quick   skip the benchmarks and vitb16 (the CTest on a machine without a GPU)
# The whole check keeps within BUDGET_S seconds (default 570, for the device tool's 600 s): a step
# gets at most what is left, and summary.txt is rewritten after every step.
# env: OUT (logs, summary, metrics; default /tmp/gpu_check), WORK (the unpacked bundle and the runs
#      with their checkpoints, kept out of OUT; default $OUT.work),
#      ATAS_CUDA_LIBDIRS (where the machine's cuBLAS / NCCL / libcuda are, when not found),
#      ATAS_CHECK_SETS (more --set options for every atas_mpi run: the emulated dry run of
#      tests/test_gpu_check_emu.sh sets run.peak_tflops, as an 8192^3 gemm_peak takes hours there)
set -u
HERE=$(cd "$(dirname "$0")" && pwd -P)
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd -P)
WORK=${WORK:-$OUT.work}
mkdir -p "$WORK" 2>/dev/null || WORK=$(mktemp -d "${TMPDIR:-/tmp}/atas-gpu-check.XXXXXX")
WORK=$(cd "$WORK" && pwd -P)
BUNDLE_ARG="" ONLY="" QUICK=0
START_S=$(date +%s) BUDGET_S=${BUDGET_S:-570}
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) BUNDLE_ARG=$2; shift 2 ;;
    --only) ONLY=",$2,"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    -h|--help) sed -n 2,24p "$0"; exit 0 ;;
    *) echo "gpu_check: unknown argument '$1' (--help)" >&2; exit 2 ;;
  esac
done

# ---- the bundle
if [ -z "$BUNDLE_ARG" ]; then
  if [ -x "$HERE/../../bin/.launch" ]; then BUNDLE_ARG=$(cd "$HERE/../.." && pwd -P)
  else BUNDLE_ARG=$HERE/../.gpu/atas-bundle.tar.xz; fi
fi
if [ -d "$BUNDLE_ARG" ]; then
  B=$(cd "$BUNDLE_ARG" && pwd -P)
elif [ -f "$BUNDLE_ARG" ]; then
  U=$WORK/bundle
  rm -rf "$U" && mkdir -p "$U"
  t0=$(date +%s)
  if command -v xz >/dev/null; then tar -C "$U" -xJf "$BUNDLE_ARG"
  else python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$BUNDLE_ARG" "$U"  # no xz here
  fi || { echo "gpu_check: cannot unpack $BUNDLE_ARG into $U (needs xz or python3)" >&2; exit 1; }
  B=$(cd "$U/atas-bundle" && pwd -P)
  echo "gpu_check: unpacked $BUNDLE_ARG into $B in $(( $(date +%s) - t0 )) s"
else
  echo "gpu_check: no bundle at '$BUNDLE_ARG': build it with tools/gpu_bundle.sh (and carry .gpu)" >&2
  exit 1
fi
[ -x "$B/bin/.launch" ] || { echo "gpu_check: $B is not an atas bundle (no bin/.launch)" >&2; exit 1; }
BIN=$B/bin DATA=$B/share/atas
CMP=$DATA/gpu/compare_losses.awk
export PATH="$BIN:$PATH"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-4}
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
# containers often forbid the cross-memory-attach single copy; shared memory still works
export OMPI_MCA_btl_vader_single_copy_mechanism=none
SAN=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer /usr/local/cuda*/compute-sanitizer/compute-sanitizer 2>/dev/null | head -1)
RUNS=$WORK/runs
rm -rf "$RUNS" && mkdir -p "$RUNS"

# a GPU here? (then "no CUDA device" from a program is a failure, not a skip)
HAVE_GPU=0
NGPU=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ')
if [ "$NGPU" -gt 0 ] || [ -e /dev/nvidia0 ]; then HAVE_GPU=1; fi
# the machine's libcuda, cuBLAS, NCCL into the bundle's hostlib/ (every program needs cuBLAS)
"$BIN/atas-hostlibs" >"$OUT/hostlibs.txt" 2>&1

# ---- steps: step NAME KIND TIMEOUT COMMAND (bash -c); KIND cpu | cuda | info
NAMES=() RESULTS=() SECS=() NOTES=()
n=0
NOTE=""
step() {
  local name=$1 kind=$2 limit=$3 cmd=$4 log rc t0 res
  if [ -n "$ONLY" ] && [[ $ONLY != *",$name,"* ]]; then return 0; fi
  n=$((n + 1))
  log=$OUT/$(printf '%02d' $n)_$name.log
  # the whole check keeps within BUDGET_S (the device tool's limit): later steps get what is left
  local left=$(( BUDGET_S - ($(date +%s) - START_S) ))
  if [ $left -lt 15 ]; then
    echo "== [$n] $name: SKIPPED (time budget of ${BUDGET_S}s spent)" | tee "$log"
    NAMES+=("$name") RESULTS+=(SKIPPED) SECS+=(0) NOTES+=("time budget of ${BUDGET_S}s spent")
    summary; return 0
  fi
  [ "$limit" -gt $((left - 5)) ] && limit=$((left - 5))
  echo "== [$n] $name ($kind, limit ${limit}s): $cmd" | tee "$log"
  rm -f "$OUT/note"
  t0=$(date +%s.%N)
  (export STEP_LOG=$log; timeout -k 15 "$limit" bash -c "$cmd") >>"$log" 2>&1
  rc=$?
  local secs; secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
  NOTE=$(cat "$OUT/note" 2>/dev/null)
  local nodev=0
  # (bad_input asks for "no CUDA device" on purpose: its own exit status decides)
  if [ "$kind" = cuda ] && [ "$name" != bad_input ] &&
    grep -Eq 'no CUDA device available|this build has no CUDA|no usable CUDA device' "$log"; then nodev=1; fi
  if [ $rc = 0 ]; then res=PASS
  elif [ $rc = 124 ] || [ $rc = 137 ]; then res=FAIL; NOTE="timed out after ${limit}s"
  elif [ $rc = 77 ] && [ -n "$NOTE" ]; then res=SKIPPED  # a skip this script decided, with its reason
  elif { [ $rc = 77 ] || [ $nodev = 1 ]; } && [ $HAVE_GPU = 1 ]; then
    # the machine has a GPU: a program that finds none is a failure, not a skip
    res=FAIL; NOTE="a GPU is present but: $(grep -Em1 'no CUDA device|no usable|unsupported|CUDA' "$log" | cut -c1-90)"
  elif [ $rc = 77 ]; then res=SKIPPED; NOTE="exit 77: $(tail -1 "$log" | cut -c1-70)"
  elif [ $nodev = 1 ]; then res=SKIPPED; NOTE="no usable CUDA device"
  else res=FAIL; NOTE=${NOTE:-"exit $rc, see $(basename "$log")"}
  fi
  [ "$kind" = info ] && [ $res = PASS ] && res=INFO
  echo "== [$n] $name: $res ($secs s) $NOTE" | tee -a "$log"
  tail -25 "$log" | sed -n '/^== \['"$n"'\] '"$name"':/!p' | tail -20 | sed 's/^/   | /'
  NAMES+=("$name") RESULTS+=("$res") SECS+=("$secs") NOTES+=("$NOTE")
  summary  # after every step, so that a check cut short still leaves its table
}
# summary: the table so far into $OUT/summary.txt (and the runs' metrics, small, next to the logs)
summary() {
  local m i
  mkdir -p "$OUT/metrics"
  for m in "$RUNS"/*/metrics.jsonl; do [ -f "$m" ] && cp "$m" "$OUT/metrics/$(basename "$(dirname "$m")").jsonl"; done
  {
    echo "# gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n): $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1 || true)"
    echo "# bundle $(sed -n 's/^commit: *//p' "$B/BUNDLE.txt"), host $(getconf GNU_LIBC_VERSION 2>/dev/null), GPU seen: $([ $HAVE_GPU = 1 ] && echo yes || echo no), logs in $OUT"
    printf '%-16s %-8s %8s  %s\n' step result seconds note
    for i in "${!NAMES[@]}"; do
      printf '%-16s %-8s %8s  %s\n' "${NAMES[$i]}" "${RESULTS[$i]}" "${SECS[$i]}" "${NOTES[$i]}"
    done
  } >"$OUT/summary.txt"
}
result_of() { local i; for i in "${!NAMES[@]}"; do [ "${NAMES[$i]}" = "$1" ] && echo "${RESULTS[$i]}"; done; }
# needs STEP...: a command that stops the step (exit 77) unless every STEP passed
needs() {
  local s r
  for s in "$@"; do
    r=$(result_of "$s")
    [ "$r" = PASS ] || { echo "{ echo '$s was ${r:-not run}' | tee '$OUT/note'; exit 77; }"; return; }
  done
  echo true
}

# ---- facts
step facts info 60 "
  echo '# host';  uname -a; echo \"host glibc: \$(getconf GNU_LIBC_VERSION 2>/dev/null || ldd --version 2>&1 | head -1)\"
  echo \"cores: \$(nproc), memory: \$(awk '/MemTotal/ {printf \"%.0f GiB\", \$2 / 1048576}' /proc/meminfo)\"
  echo '# bundle'; cat '$B/BUNDLE.txt' | head -8
  echo \"carried loader: \$('$B/lib/glibc/ld-linux-x86-64.so.2' --version | head -1)\"
  echo '# GPU'; nvidia-smi 2>&1 | head -20
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1
  echo '# toolkit'; (nvcc --version || /usr/local/cuda/bin/nvcc --version) 2>&1 | tail -2
  echo \"compute-sanitizer: ${SAN:-not found}\"
  cat '$OUT/hostlibs.txt'"
# every library of every program resolves, from the bundle (or the machine's CUDA libraries)
step libs cpu 60 "
  fail=0
  for p in atas_mpi atas_bench atas_pack atas_inspect atas_config atas_convert atas_embed test_backend_parity test_model_parity test_bf16_storage mpirun orted; do
    l=\$('$BIN/atas-ldd' \$p 2>&1); r=\$?; echo \"# \$p\"; echo \"\$l\" | sed 's/ (0x.*//'
    if [ \$r != 0 ] || echo \"\$l\" | grep -Eq 'not found|error while loading'; then echo \"\$p: missing libraries\" >'$OUT/note'; fail=1; fi
  done
  exit \$fail"

step parity_cpu cpu 120 "'$BIN/test_backend_parity' cpu"
# the tools read the carried corpus (parallel HDF5) and resolve the ViT-B/16 check config
# (awk, not head: under pipefail a reader that leaves early can fail the writer with SIGPIPE)
step tools cpu 60 "set -o pipefail; '$BIN/atas_inspect' '$DATA/corpus.h5' && '$BIN/atas_config' '$DATA/gpu/check_vitb16.cfg' --set 'data.corpus=\"$DATA/corpus.h5\"' | awk 'NR <= 30'"
step parity_cuda cuda 300 "'$BIN/test_backend_parity' cuda"
step parity_cuda_bf16 cuda 300 "'$BIN/test_backend_parity' cuda bf16"
step parity_cuda_tf32 cuda 300 "'$BIN/test_backend_parity' cuda tf32"
# a whole ViT-B/16 (random init): global and dense embeddings against cpu fp32 by cosine, at fp32
# and at bf16 (issue 11: global >= 0.9999; tests/test_model_parity.c); then bf16 storage against
# fp32 storage through the GPU's own GEMM kernels (tests/test_bf16_storage.c, 8u)
step parity_model cuda 300 "'$BIN/test_model_parity' cuda fp32 && '$BIN/test_model_parity' cuda bf16 --images 4 &&
  grep -h 'global embeddings' \"\$STEP_LOG\" | tail -1 | sed 's/^/bf16 /' >'$OUT/note' && '$BIN/test_bf16_storage' cuda"

# ---- a tiny training run on each backend, compared
TINY="$DATA/configs/tiny.cfg"
tiny() { # tiny NAME BACKEND STEPS [extra --set ...]
  local name=$1 be=$2 steps=$3; shift 3
  echo "'$BIN/atas_mpi' '$TINY' --set 'run.dir=\"$RUNS\"' --set 'run.name=\"$name\"' --set 'run.backend=\"$be\"' --set run.steps=$steps --set 'data.corpus=\"$DATA/corpus.h5\"' --set checkpoint.every=0 --set 'run.precision=\"fp32\"' ${ATAS_CHECK_SETS:-} $*"
}
cmp_losses() { # cmp_losses RUN_A RUN_B: every loss of every step within 1e-4 relative
  echo "awk -f '$CMP' -v tol=1e-4 -v note='$OUT/note' '$RUNS/$1/metrics.jsonl' '$RUNS/$2/metrics.jsonl'"
}
# xfer RUN: the host <-> device bytes of every step of a run (its metrics.jsonl)
xfer() {
  echo "{ echo '# bytes per step (h2d, d2h) of $1:'; grep -o '^{\"step\": [0-9]*\\|\"bytes_[hd]2[hd]\": [0-9]*' '$RUNS/$1/metrics.jsonl' | paste -d' ' - - -; }"
}
step train_cpu cpu 300 "$(tiny train_cpu cpu 10)"
step train_cuda cuda 300 "$(tiny train_cuda cuda 10) && $(xfer train_cuda)"
step cmp_cuda_cpu cuda 30 "$(needs train_cpu train_cuda) && $(cmp_losses train_cuda train_cpu)"
# bf16 on the GPU against fp32 on the CPU, 30 steps: the total loss within the drift bound the
# CPU emulation documents (docs/results/bf16_drift_cpu.md, train_precision_drift: 1e-2)
step train_cpu30 cpu 300 "$(tiny train_cpu30 cpu 30)"
step drift_cuda_bf16 cuda 300 "$(tiny drift_bf16 cuda 30 --set 'run.precision=\"bf16\"') && $(needs train_cpu30) && awk -f '$CMP' -v tol=1e-2 -v keys=total -v note='$OUT/note' '$RUNS/drift_bf16/metrics.jsonl' '$RUNS/train_cpu30/metrics.jsonl'"

# ---- two ranks through the bundle's Open MPI; maps of a running rank show where its libraries
# came from (the isolation step checks them)
mpi2() { # mpi2 NAME BACKEND [extra --set ...]; ranks may share a GPU (ATAS_SHARE_GPU=1)
  local name=$1 be=$2; shift 2
  cat <<EOF
ATAS_SHARE_GPU=1 '$BIN/mpirun' -x ATAS_SHARE_GPU --oversubscribe --bind-to none -n 2 $(tiny "$name" "$be" 10 "$@") &
mp=\$!
got=0
for i in \$(seq 1 600); do
  for pid in \$(for d in /proc/[0-9]*; do c=\$(tr '\\0' ' ' <\$d/cmdline 2>/dev/null) && [[ \$c == *'$B/libexec/atas_mpi '* && \$c != *check_maps* ]] && echo \${d#/proc/}; done); do
    if [ ! -f '$OUT/maps_$name.'\$pid ] && cp /proc/\$pid/maps '$OUT/maps_$name.'\$pid 2>/dev/null && grep -q libmpi '$OUT/maps_$name.'\$pid; then got=\$((got + 1)); fi
  done
  [ \$got -ge 2 ] && break
  kill -0 \$mp 2>/dev/null || break
  sleep 0.2
done
wait \$mp
EOF
}
step mpi2_cpu cpu 300 "$(mpi2 mpi2_cpu cpu) && $(needs train_cpu) && $(cmp_losses mpi2_cpu train_cpu)"
step mpi2_cuda cuda 300 "$(mpi2 mpi2_cuda cuda --set 'dist.backend=\"mpi\"') && $(xfer mpi2_cuda) && $(needs train_cpu) && $(cmp_losses mpi2_cuda train_cpu)"
step isolation cpu 30 "awk -f '$DATA/gpu/check_maps.awk' -v bundle='$B' -v note='$OUT/note' '$OUT'/maps_mpi2_*.* 2>/dev/null ||
  { ls '$OUT'/maps_mpi2_* >/dev/null 2>&1 || { echo 'exit 77: no rank maps were captured' | tee '$OUT/note'; exit 77; }; exit 1; }"

# ---- NCCL with one rank: only once the trainer has dist.backend (issue 10)
if "$BIN/atas_config" --docs 2>/dev/null | grep 'dist\.backend' >/dev/null; then
  step nccl1 cuda 300 "$(tiny nccl1 cuda 10 --set 'dist.backend=\"nccl\"') && $(xfer nccl1) && $(needs train_cpu) && $(cmp_losses nccl1 train_cpu)"
  # ATAS_CHECK_NGPU: the GPUs nccl2 plans for (the emulated check's 2-GPU rehearsal); else nvidia-smi's count
  if [ "${ATAS_CHECK_NGPU:-$NGPU}" -ge 2 ]; then
    step nccl2 cuda 300 "'$BIN/mpirun' --oversubscribe --bind-to none -n 2 $(tiny nccl2 cuda 10 --set 'dist.backend=\"nccl\"') && $(xfer nccl2) && $(needs train_cpu) && $(cmp_losses nccl2 train_cpu)"
  else
    # one GPU: two ranks are refused (no ATAS_SHARE_GPU), and with sharing NCCL is refused by name
    # (NCCL itself rejects two ranks on one device); each refusal must be one clear message
    step nccl2 cuda 120 "
      '$BIN/mpirun' --oversubscribe --bind-to none -n 2 $(tiny nccl2_noshare cuda 10 --set 'dist.backend=\"nccl\"') >'$WORK/nccl2_a.txt' 2>&1 && { cat '$WORK/nccl2_a.txt'; echo 'two ranks on one GPU were not refused' | tee '$OUT/note'; exit 1; }
      cat '$WORK/nccl2_a.txt'
      grep -q 'each rank needs its own GPU' '$WORK/nccl2_a.txt' || { echo 'no clear refusal of 2 ranks on 1 GPU' | tee '$OUT/note'; exit 1; }
      ATAS_SHARE_GPU=1 '$BIN/mpirun' -x ATAS_SHARE_GPU --oversubscribe --bind-to none -n 2 $(tiny nccl2_share cuda 10 --set 'dist.backend=\"nccl\"') >'$WORK/nccl2_b.txt' 2>&1 && { cat '$WORK/nccl2_b.txt'; echo 'NCCL on a shared GPU was not refused' | tee '$OUT/note'; exit 1; }
      cat '$WORK/nccl2_b.txt'
      grep -q 'NCCL needs one GPU per rank' '$WORK/nccl2_b.txt' || { echo 'no clear refusal of NCCL on a shared GPU' | tee '$OUT/note'; exit 1; }
      echo 'one GPU: both refusals clear (a 2-rank NCCL run needs 2 GPUs)' >'$OUT/note'; exit 0"
  fi
else
  step nccl1 cuda 10 "echo 'NCCL path not implemented yet (issue 10)' | tee '$OUT/note'; exit 77"
fi

# ---- bad input on the GPU machine (issue 10): no visible GPU, and a model too big for any GPU
# (16e9 parameters: 64 GB a copy, so the student's gradients or the teacher do not fit on an
# 80 or 141 GB device; each cudaMalloc fails at once). Each: exit 1 and one message naming
# rank, host, device and what was asked. tests/train/test_cudaemu_faults.py holds the rest
# (a resume that runs out of memory leaves the run directory as it was, one rank of two, NCCL
# hangs and failures) on the emulated device.
BIG="--set model.width=8192 --set model.layers=20 --set model.heads=64 --set model.mlp=32768"
step bad_input cuda 90 "
  CUDA_VISIBLE_DEVICES= $(tiny bad_nogpu cuda 6) >'$WORK/bad_nogpu.txt' 2>&1; rc=\$?
  grep -i 'error' '$WORK/bad_nogpu.txt' | head -3
  [ \$rc = 1 ] && grep -q 'no CUDA device available to rank 0 of 1 on host' '$WORK/bad_nogpu.txt' ||
    { tail -5 '$WORK/bad_nogpu.txt'; echo \"no GPU: exit \$rc without the message\" | tee '$OUT/note'; exit 1; }
  $(tiny bad_oom cuda 6 "$BIG") >'$WORK/bad_oom.txt' 2>&1; rc=\$?
  grep -q 'no CUDA device available' '$WORK/bad_oom.txt' && { echo 'no usable CUDA device here' | tee '$OUT/note'; exit 77; }
  grep -i 'error' '$WORK/bad_oom.txt' | head -3
  [ \$rc = 1 ] && grep -Eq 'out of GPU memory: [0-9]+ bytes .* on GPU [0-9]+ of host .* \\(rank 0 of 1\\), which has' '$WORK/bad_oom.txt' ||
    { tail -5 '$WORK/bad_oom.txt'; echo \"out of GPU memory: exit \$rc without the message\" | tee '$OUT/note'; exit 1; }
  echo 'no GPU, out of GPU memory: exit 1 and one clear message each' >'$OUT/note'"

# ---- a ViT-B/16 training step: its phase table (and transfer counters once metrics have them)
if [ $QUICK = 0 ]; then
  step vitb16_cuda cuda 400 "'$BIN/atas_mpi' '$DATA/gpu/check_vitb16.cfg' --set 'run.dir=\"$RUNS\"' --set 'data.corpus=\"$DATA/corpus.h5\"' ${ATAS_CHECK_SETS:-} || exit
    m='$RUNS/vitb16_check/metrics.jsonl'
    if grep -q bytes_h2d \"\$m\"; then grep -o '^{\"step\": [0-9]*\\|\"bytes_[hd]2[hd]\": [0-9.e+]*' \"\$m\" | paste -d' ' - - -
    else echo 'no transfer counters (bytes_h2d / bytes_d2h) in metrics.jsonl yet (issue 10)'; fi"
fi

# ---- compute-sanitizer memcheck (exit 9 on any error it finds)
if [ -n "$SAN" ]; then
  MC="'$SAN' --tool memcheck --target-processes all --error-exitcode 9"
  # the sanitizer's injected library may need a newer libstdc++/glibc than the bundle's: then the
  # same run once more through the host's loader (ATAS_BUNDLE_HOST_GLIBC=1)
  san() {
    echo "$MC $1; rc=\$?
      if [ \$rc != 0 ] && [ \$rc != 9 ] && [ \$rc != 77 ] && ! grep -q 'ERROR SUMMARY: [1-9]' \"\$STEP_LOG\"; then
        echo '== again with the host glibc loader'; rm -rf '$RUNS'/memcheck_train; ATAS_BUNDLE_HOST_GLIBC=1 $MC $1; rc=\$?; fi
      [ \$rc = 77 ] || grep -E 'ERROR SUMMARY' \"\$STEP_LOG\" | tail -1 >'$OUT/note'; exit \$rc"
  }
  # limits that leave the benchmarks after them their time (memcheck slows kernels 10-100x): a
  # memcheck step cut short FAILs "timed out", and a second call runs it alone (--only)
  step memcheck_parity cuda 180 "$(san "'$BIN/test_backend_parity' cuda")"
  # run.peak_tflops: no 8192^3 gemm_peak under the sanitizer
  step memcheck_train cuda 120 "$(san "$(tiny memcheck_train cuda 1 --set run.peak_tflops=1000)")"
  # the fused bf16 attention (flash_attn.cu: shared tiles, wmma) runs only at bf16
  step memcheck_parity_bf16 cuda 180 "$(san "'$BIN/test_backend_parity' cuda bf16")"
else
  step memcheck_parity cuda 5 "echo 'compute-sanitizer not found on this machine' | tee '$OUT/note'; exit 77"
  step memcheck_train cuda 5 "echo 'compute-sanitizer not found on this machine' | tee '$OUT/note'; exit 77"
  step memcheck_parity_bf16 cuda 5 "echo 'compute-sanitizer not found on this machine' | tee '$OUT/note'; exit 77"
fi

# ---- speed: per-op table and ViT-B/16 forward+backward (last: docs/results/ has earlier numbers)
if [ $QUICK = 0 ]; then
  # the op table at bf16 with the fused attention and, the same run, without it (the chunked
  # path on bf16 GEMMs): the attention rows say whether flash_attn.cu earns its place
  step bench_ops_bf16 cuda 150 "'$BIN/atas_bench' --backend cuda --precision bf16 --ops-only --no-torch --reps 5"
  step bench_ops_bf16_noflash cuda 150 "ATAS_NO_FLASH=1 '$BIN/atas_bench' --backend cuda --precision bf16 --ops-only --no-torch --reps 5"
  # ATAS_SOURCE_DIR: the step rows read the bundle's configs/
  step bench_cuda cuda 400 "ATAS_SOURCE_DIR='$DATA' '$BIN/atas_bench' --backend cuda --no-torch --reps 5"
  # the same ViT-L/14 step with the block GEMMs on fp32 buffers: what bf16 storage gains
  step bench_step_nostore cuda 120 "ATAS_BF16_STORAGE=0 ATAS_SOURCE_DIR='$DATA' '$BIN/atas_bench' --backend cuda --precision bf16 --no-torch --step '$DATA/configs/vitl14.cfg' --steps 3"
  # the CPU's numbers are in docs/results already: last, with what time is left
  step bench_cpu cpu 300 "'$BIN/atas_bench' --quick --no-torch --reps 2"
fi

# ---- summary
summary
echo
cat "$OUT/summary.txt"
for r in "${RESULTS[@]}"; do [ "$r" = FAIL ] && exit 1; done
exit 0
