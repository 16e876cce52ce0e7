#!/usr/bin/env bash
# The CUDA backend's check on a GPU machine, in one call, from the repo root:
#   1. nvidia-smi;
#   2. the parity harness: every op of "cuda" against "cpu" (tests/test_backend_parity.c);
#   3. atas_bench --backend cuda (per-op table, ViT-B/16 fwd+bwd, %peak vs cublasSgemm);
#   4. the parity harness under compute-sanitizer memcheck (where the runtime allows it).
# It runs the binaries that tools/gpu_bundle.sh packed into .gpu/ (built on the dev
# machine; carry .gpu), with cuBLAS found on this machine. If they cannot start here
# (missing libraries, glibc), it rebuilds the two programs with this machine's nvcc + cc
# from the sources, linking the carried OpenBLAS. Logs go to $OUT (or /tmp/gpu_check).
# Exit status: 0 when the parity harness passed.
# usage: tools/gpu_check.sh [--build-only]   (--build-only: just the fallback build, any machine)
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
ARCH=${ATAS_CUDA_ARCH:-90}

# ---- cuBLAS: the toolkit's, the system's, or PyTorch's wheels
find_cublas() {
  local d
  for d in ${CUDA_HOME:-/nonexistent}/lib64 /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
           /usr/local/cuda-13*/lib64 /usr/local/cuda-13*/lib /usr/local/cuda-13*/targets/x86_64-linux/lib \
           /usr/lib/x86_64-linux-gnu; do
    [ -e "$d/libcublas.so.13" ] && [ -e "$d/libcublasLt.so.13" ] && { echo "$d"; return; }
  done
  local f
  f=$(ldconfig -p 2>/dev/null | awk '/libcublas\.so\.13 /{print $NF; exit}')
  [ -n "$f" ] && { dirname "$f"; return; }
  for py in python3 /opt/torch/.venv/bin/python3; do
    d=$($py -c 'import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))' 2>/dev/null) || continue
    f=$(find "$d/nvidia" -maxdepth 4 -name 'libcublas.so.13' 2>/dev/null | head -1)
    [ -n "$f" ] && { dirname "$f"; return; }
  done
}

# ---- fallback: core + backends (+ model for the bench) straight from the sources
fallback_build() {
  local B=/tmp/atas-gpu-build NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
  rm -rf "$B" && mkdir -p "$B/obj" "$B/bin"
  local cflags="-std=gnu11 -O3 -march=x86-64-v3 -fopenmp -DNDEBUG -DATAS_WITH_CUDA=1 -Iinclude -Isrc -Itests -I.gpu/include -DATAS_SOURCE_DIR_DEFAULT=\"$ROOT\""
  local s objs=()
  for s in src/core/*.c src/backend/*.c src/backend/cpu/*.c src/backend/cuda/*.c src/model/*.c \
           src/backend/cuda/*.cu; do
    objs+=("$B/obj/$(echo "$s" | tr / _).o")
  done
  printf '%s\n' src/core/*.c src/backend/*.c src/backend/cpu/*.c src/backend/cuda/*.c src/model/*.c |
    xargs -P 16 -I{} sh -c "cc $cflags -c {} -o $B/obj/\$(echo {} | tr / _).o" || return 1
  for s in src/backend/cuda/*.cu; do
    echo "$s"
  done | xargs -P 16 -I{} sh -c "'$NVCC' -O3 -std=c++17 -gencode arch=compute_$ARCH,code=sm_$ARCH -DNDEBUG -DATAS_WITH_CUDA=1 -Iinclude -Isrc -c {} -o $B/obj/\$(echo {} | tr / _).o" || return 1
  local libs="-L.gpu/lib ${CUBLAS_DIR:+-L$CUBLAS_DIR} -l:libopenblas.so.0 -l:libcublas.so.13 -l:libcublasLt.so.13 -l:libcudart.so.13 -lgomp -lstdc++ -lm -lpthread -ldl"
  cc $cflags tests/test_backend_parity.c "${objs[@]}" $libs -o "$B/bin/test_backend_parity_cpu" || return 1
  cc $cflags src/apps/atas_bench.c "${objs[@]}" $libs -o "$B/bin/atas_bench" || return 1
  BIN=$B/bin
}

CUBLAS_DIR=$(find_cublas)
if [ "${1:-}" = "--build-only" ]; then
  CUBLAS_DIR=${CUBLAS_DIR:-/usr/local/cuda/lib64}
  fallback_build && echo "gpu_check: fallback build OK in $BIN" && exit 0
  echo "gpu_check: fallback build FAILED"; exit 1
fi

echo "== nvidia-smi"
nvidia-smi 2>&1 | tee "$OUT/nvidia-smi.txt"
echo "== cuBLAS from: ${CUBLAS_DIR:-NOT FOUND}"
export LD_LIBRARY_PATH="$ROOT/.gpu/lib${CUBLAS_DIR:+:$CUBLAS_DIR}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-8} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-8}

BIN=$ROOT/.gpu/bin
if [ ! -x "$BIN/test_backend_parity_cpu" ] || ldd "$BIN/test_backend_parity_cpu" 2>&1 | grep -q 'not found' ||
   ! "$BIN/test_backend_parity_cpu" cpu >"$OUT/parity_cpu.txt" 2>&1; then
  echo "== carried binaries cannot run here:"
  ldd "$BIN/test_backend_parity_cpu" 2>&1 | grep -i 'not found'
  tail -3 "$OUT/parity_cpu.txt" 2>/dev/null
  echo "== fallback build with $(command -v nvcc || echo /usr/local/cuda/bin/nvcc)"
  fallback_build 2>&1 | tail -20 || { echo "gpu_check: fallback build FAILED"; exit 2; }
fi
echo "== binaries: $BIN"

echo "== parity: cuda against cpu"
timeout 300 "$BIN/test_backend_parity_cpu" cuda 2>&1 | tee "$OUT/parity_cuda.txt"
prc=${PIPESTATUS[0]}
echo "== parity exit status: $prc (0 pass, 77 no usable device, else failures)"

echo "== atas_bench --backend cuda"
timeout 300 "$BIN/atas_bench" --backend cuda --reps 5 2>&1 | tee "$OUT/bench_cuda.txt"
echo "== bench exit status: ${PIPESTATUS[0]}"

if command -v compute-sanitizer >/dev/null 2>&1; then
  echo "== compute-sanitizer memcheck on the parity harness"
  timeout 240 compute-sanitizer --tool memcheck --error-exitcode 9 \
    "$BIN/test_backend_parity_cpu" cuda >"$OUT/memcheck.txt" 2>&1
  echo "== memcheck exit status: $? (0 clean, 9 errors found, 124 timeout)"
  grep -E 'ERROR SUMMARY|Invalid|Error|not supported' "$OUT/memcheck.txt" | head -20
fi
echo "== gpu_check: parity $( [ "$prc" = 0 ] && echo PASSED || echo FAILED )"
exit "$prc"
