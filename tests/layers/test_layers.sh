#!/usr/bin/env bash
# The layer order (README "Layout"), enforced: tools/check_layers.py passes on the tree
# and fails, naming file:line, on a copy with a layer reaching up; a layer's include
# path does not even contain a higher layer's headers; the backend and model tests
# link neither MPI nor HDF5; no program links the CUDA runtime, and in a CUDA build
# the module libatas_cuda.so is found and loaded (here: it then finds no GPU).
set -uo pipefail
SRC=${ATAS_SOURCE_DIR:?}; B=${ATAS_BINARY_DIR:?}; PY=${ATAS_PYTHON:-python3}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$PY" "$SRC/tools/check_layers.py" "$SRC" || fail "the tree breaks the layer order"
# a copy where the model layer includes the trainer's header and io a private train header
cp -r "$SRC/src" "$SRC/include" "$T/"
sed -i '1i #include "atas/train.h"' "$T/src/model/vit_config.c"
sed -i '1i #include "train/config_internal.h"' "$T/src/io/weights_read.c"
if "$PY" "$SRC/tools/check_layers.py" "$T" > "$T/out.txt"; then fail "check_layers accepted a model file including atas/train.h"; fi
grep -q 'src/model/vit_config.c:1: layer model includes "atas/train.h" of the higher layer train' "$T/out.txt" ||
  fail "message: $(cat "$T/out.txt")"
grep -q 'src/io/weights_read.c:1: layer io includes "train/config_internal.h", a private header of layer train' "$T/out.txt" ||
  fail "message: $(cat "$T/out.txt")"
echo "check_layers: passes on the tree, names both injected violations"

# the compiler itself: the model layer's include path has core, backend and model only
INC="-I$SRC/include/core -I$SRC/include/backend -I$SRC/include/model"
printf '#include "atas/vit.h"\nint main(void){return 0;}\n' > "$T/ok.c"
printf '#include "atas/train.h"\nint main(void){return 0;}\n' > "$T/up.c"
cc -fsyntax-only $INC "$T/ok.c" || fail "a model-level file does not compile with the model include path"
if cc -fsyntax-only $INC "$T/up.c" 2>/dev/null; then fail "atas/train.h found on the model layer's include path"; fi
echo "include paths: a model-level file cannot see atas/train.h"

libs() { ldd "$1" | grep -oE 'lib(mpi|hdf5[a-z_]*|cudart|cublas|cublasLt|nccl)\.so' | sort -u | tr '\n' ' '; }
for t in tests/test_backend_parity_cpu tests/test_ops_grad tests/test_vit_grad tests/test_vit_config; do
  [ -x "$B/$t" ] || fail "$t not built"
  l=$(libs "$B/$t"); [ -z "$l" ] || fail "$t (backend / model layer) links $l"
done
echo "backend and model tests link no MPI, HDF5 or CUDA"
for p in atas_mpi atas_bench atas_embed atas_eval atas_text atas_pack; do
  l=$(libs "$B/$p" | grep -oE 'lib(cudart|cublas|cublasLt|nccl)\.so' || true)
  [ -z "$l" ] || fail "$p links the CUDA libraries: $l"
done
echo "programs link no CUDA library"

if grep -q '^ATAS_WITH_CUDA:BOOL=ON' "$B/CMakeCache.txt"; then
  [ -f "$B/libatas_cuda.so" ] || fail "CUDA build without $B/libatas_cuda.so"
  # grep without -q reads to the end: -q leaves at the first match, and under pipefail the
  # writer's SIGPIPE (ldd still printing) failed the check now and then
  ldd "$B/libatas_cuda.so" | grep 'libcudart' >/dev/null || fail "the module does not link the CUDA runtime"
  out=$("$B/tests/test_backend_parity_cpu" cuda 2>&1); rc=$?
  if [ $rc -eq 77 ]; then
    # no GPU here: the module must have loaded and then found no device
    echo "$out" | grep -q "no CUDA device" || fail "cuda without a GPU: $out"
    ATAS_CUDA_LIB=/nonexistent/libatas_cuda.so "$B/tests/test_backend_parity_cpu" cuda > "$T/miss.txt" 2>&1
    grep -q "cannot load the CUDA backend module libatas_cuda.so (/nonexistent/libatas_cuda.so" "$T/miss.txt" ||
      fail "a missing module: $(cat "$T/miss.txt")"
    echo "cuda module: found and loaded; no GPU here; a missing module is named"
  else
    [ $rc -eq 0 ] || fail "cuda parity failed: $out"
    echo "cuda module: loaded, parity passed on the GPU"
  fi
fi
echo "test_layers: all checks passed"
