#!/usr/bin/env bash
# The GPU check's dry run: the bundle that test_bundle built (fixture gpu_bundle) runs its own
# gpu_check.sh with the CUDA backend replaced by cudaemu (ATAS_CUDA_LIB, docs/cudaemu.md), so every
# CUDA step of the check - op parity at fp32/bf16/tf32, the tiny cuda run against cpu and its
# transfer counters, bf16 drift, two MPI ranks sharing one device, NCCL with one rank and the
# two-rank refusals, no GPU and out of GPU memory - runs end to end here, and a mistake in the script or the bundle shows before
# a lent GPU's 15 minutes are spent on it. Every step named below must PASS but isolation, which
# must FAIL naming the emulation library and nothing else: the ranks load it from the build tree,
# so this is the isolation check's negative control (test_bundle holds its positive side). What the emulation
# cannot stand in for (speed, compute-sanitizer, the ViT-B/16 step) stays for the GPU.
set -euo pipefail
BIN=${ATAS_BINARY_DIR:?}
B=$BIN/bundle-test/u/atas-bundle
EMU=${ATAS_CUDAEMU_LIB:?}
fail() { echo "test_gpu_check_emu: FAIL: $*" >&2; exit 1; }
[ -x "$B/share/atas/gpu_check.sh" ] || { echo "no unpacked bundle at $B (test_bundle makes it)"; exit 77; }
[ -f "$EMU" ] || { echo "no cudaemu library at $EMU"; exit 77; }
if [ -e /dev/nvidia0 ]; then echo "a GPU is here: its real check is tools/gpu_check.sh"; exit 77; fi
[ -f "$B/lib/libatas_cuda.so" ] || { echo "the bundle has no CUDA module (a CPU-only build)"; exit 77; }

W=$BIN/gpu-check-emu
rm -rf "$W" && mkdir -p "$W"
steps=libs,parity_cpu,tools,parity_cuda,parity_cuda_bf16,parity_cuda_tf32,parity_model,train_cpu,train_cuda,cmp_cuda_cpu
steps=$steps,train_cpu30,drift_cuda_bf16,mpi2_cpu,mpi2_cuda,isolation,nccl1,nccl2,bad_input
rc=0
# run.peak_tflops: the trainer's 8192^3 gemm_peak would take hours on the emulated GEMM.
# CUDAEMU_MEM_MB: a 16 GiB device, so bad_input's 64 GB model fails on the device's limit
# before the emulation asks the host for the memory
OUT=$W/out WORK=$W/work BUDGET_S=900 ATAS_CUDA_LIB=$EMU ATAS_CHECK_SETS="--set run.peak_tflops=1000" CUDAEMU_MEM_MB=16384 \
  OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 bash "$B/share/atas/gpu_check.sh" --bundle "$B" --quick --only "$steps" || rc=$?
S=$W/out/summary.txt
[ -f "$S" ] || fail "gpu_check.sh wrote no summary (exit $rc)"
cat "$S"
IFS=, read -r -a want <<<"$steps"
for s in "${want[@]}"; do
  r=$(awk -v s="$s" '$1 == s {print $2}' "$S")
  [ "$s" = isolation ] && continue
  [ "$r" = PASS ] || fail "step $s: '${r:-not run}' (expected PASS under cudaemu; $S and $W/out/*_$s.log)"
done
[ "$(awk '$1 == "isolation" {print $2}' "$S")" = FAIL ] || fail "isolation did not notice the ranks' emulation library from outside the bundle"
host=$({ grep -h '^HOST' "$W"/out/*_isolation.log || true; } | sort -u)
[ "$host" = "HOST (not allowed)   $(readlink -f "$EMU")" ] || fail "isolation named other libraries than $EMU: $host"
[ $rc = 1 ] || fail "gpu_check.sh exited $rc (expected 1: the isolation step's failure)"
# nccl2 as a node of two GPUs runs it (CUDAEMU_DEVICES=2, the emulated NCCL between the ranks):
# a 2-rank NCCL training run against the 1-rank cpu run within 1e-4
OUT=$W/out2 WORK=$W/work2 BUDGET_S=300 ATAS_CUDA_LIB=$EMU ATAS_CHECK_SETS="--set run.peak_tflops=1000" \
  CUDAEMU_DEVICES=2 ATAS_CHECK_NGPU=2 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
  bash "$B/share/atas/gpu_check.sh" --bundle "$B" --quick --only train_cpu,nccl2 >"$W/nccl2_2gpu.txt" 2>&1 ||
  fail "gpu_check.sh --only train_cpu,nccl2 on 2 emulated GPUs exited $?: $(tail -5 "$W/nccl2_2gpu.txt")"
r=$(awk '$1 == "nccl2" {print $2}' "$W/out2/summary.txt")
[ "$r" = PASS ] || fail "nccl2 on 2 emulated GPUs: '${r:-not run}' ($W/out2)"
grep -q 'worst loss error' "$W/out2/summary.txt" || fail "nccl2 on 2 emulated GPUs compared no losses: $(cat "$W/out2/summary.txt")"
# the cuda run's transfer counters came through: inputs up, a few bytes of metrics down
grep -q '"bytes_h2d": [1-9]' "$W/work/runs/train_cuda/metrics.jsonl" || fail "train_cuda has no bytes_h2d in its metrics"
d2h=$({ grep -o '"bytes_d2h": [0-9]*' "$W/work/runs/train_cuda/metrics.jsonl" || true; } | awk 'NR == 1 {print $2}')
[ "${d2h:-99999}" -le 4096 ] || fail "train_cuda step 0 copied $d2h bytes device -> host (expected a few KiB at most)"
# the benchmark's CUDA tables (the check's bench steps run them at full size on a GPU), here at
# --quick size: the op table at fp32 and at bf16 with and without the fused attention, the tiny
# models, and the ATAS step row with its phase table
bench() { # bench NAME ARGS...: the bundle's atas_bench on the emulated device, into $W/bench_NAME.txt
  local name=$1; shift
  ATAS_CUDA_LIB=$EMU OMP_NUM_THREADS=2 "$B/bin/atas_bench" "$@" >"$W/bench_$name.txt" 2>&1 ||
    fail "atas_bench $* exited $?: $(tail -3 "$W/bench_$name.txt")"
}
bench fp32 --backend cuda --quick --no-torch --reps 1
bench bf16 --backend cuda --precision bf16 --quick --ops-only --no-torch --reps 1
ATAS_NO_FLASH=1 bench bf16_noflash --backend cuda --precision bf16 --quick --ops-only --no-torch --reps 1
bench step --step "$B/share/atas/configs/tiny.cfg" --backend cuda --steps 1 --set run.peak_tflops=1000
ATAS_BF16_STORAGE=0 bench step_nostore --step "$B/share/atas/configs/tiny.cfg" --backend cuda --steps 1 \
  --set run.peak_tflops=1000
for f in fp32 bf16 bf16_noflash; do
  for op in linear_fwd add_layernorm_fwd attention_fwd attention_bwd clip_adamw_ema_fwd; do
    grep -q "^$op " "$W/bench_$f.txt" || fail "the $f op table has no $op row ($W/bench_$f.txt)"
  done
done
grep -q '^tiny-eva .* dense ' "$W/bench_fp32.txt" || fail "no tiny-eva dense row ($W/bench_fp32.txt)"
for g in fc1 fc2; do # the GEMM on fp32 and on bf16 buffers (bf16 only)
  grep -Eq "^  tiny +$g +[0-9]+ +[0-9]+ +[0-9]+ +[0-9.e+-]+ +[0-9.e+-]+ " "$W/bench_bf16.txt" ||
    fail "no gemm_rate row for $g at bf16 ($W/bench_bf16.txt)"
done
! grep -q "linear_fwd's GEMM on fp32 buffers" "$W/bench_fp32.txt" || fail "the fp32 table has the bf16 buffer rows"
grep -Eq '^tiny +bf16 +1 .* dev +[1-9][0-9]*$' "$W/bench_step.txt" || fail "no step row with its op calls ($W/bench_step.txt)"
grep -q '^  backward ' "$W/bench_step.txt" || fail "the step row has no phase table ($W/bench_step.txt)"
# the results page (tools/gpu/report.py, run here on what a GPU check brings back): this check's
# output, with the --quick bench tables standing in for the GPU's full ones and the speed criteria
# pointed at their shapes, so every criterion's parsing runs
SRC=${ATAS_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
R=$W/report_in
rm -rf "$R" && cp -r "$W/out" "$R"
cp "$W/bench_bf16.txt" "$R/90_bench_ops_bf16.log"
cp "$W/bench_bf16_noflash.txt" "$R/91_bench_ops_bf16_noflash.log"
cp "$W/bench_step.txt" "$R/92_bench_cuda.log"
cp "$W/bench_step_nostore.txt" "$R/93_bench_step_nostore.log"
python3 "$SRC/tools/gpu/report.py" "$R" --attention "B2 T17 H4 hd16" --step-model tiny -o "$W/report.md" >/dev/null ||
  fail "tools/gpu/report.py failed on $R"
for want in '^\| tiny on cuda against cpu, 10 steps: every loss \| [0-9.e+-]+ \(PASS\) \| <= 1e-4 relative \| MET \|$' \
  '^\| host->device bytes per step = the inputs .* \| MET \|$' \
  '^\| device->host bytes per step .* \| max [0-9]+ \| <= 4096 \| MET \|$' \
  '^\| no GPU / out of GPU memory: one clear message \| PASS.* \| MET \|$' \
  '^\| ViT-B/16 global embeddings, random weights, bf16 against cpu fp32 \| 0\.9999[0-9]+ \| >= 0\.9999 \| MET \|$' \
  '^\| fused attention forward, B2 T17 H4 hd16 \(bf16\) \| [0-9.]+ TFLOP/s \(unfused: [0-9.]+\) \|' \
  '^\| tiny ATAS step MFU \| [0-9.]+% \|' \
  '^\| tiny ATAS step MFU without bf16 storage \(ATAS_BF16_STORAGE=0\) \| [0-9.]+% \|' '^\| a ViT-B/16 training step \| NOT RUN \| PASS \| NOT RUN \|$'; do
  grep -Eq "$want" "$W/report.md" || fail "the results page has no line /$want/ ($W/report.md)"
done
echo "test_gpu_check_emu: PASS"
