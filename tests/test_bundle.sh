#!/usr/bin/env bash
# The GPU bundle, built and used on this machine with its own MPI / HDF5 / libconfig / OpenBLAS
# (and every other library the bundle carries) hidden: tools/gpu_bundle.sh builds a CUDA tree in
# $ATAS_BINARY_DIR/bundle-cuda (a CPU tree where there is no nvcc) and packs it; the unpacked copy
# then runs its own gpu_check.sh inside a private mount namespace where those libraries, Open MPI's
# directories and programs are empty, with a bare environment. The CPU steps must pass, the CUDA
# steps skip (no GPU here); the ranks' /proc/PID/maps and LD_DEBUG=libs show only bundle paths.
set -euo pipefail
SRC=${ATAS_SOURCE_DIR:?} BIN=${ATAS_BINARY_DIR:?}
W=$BIN/bundle-test
rm -rf "$W" && mkdir -p "$W"
fail() { echo "test_bundle: FAIL: $*" >&2; exit 1; }

# ---- 1. build and pack (ATAS_BUNDLE_TAR=FILE: use that bundle instead, for a quick rerun)
if [ -n "${ATAS_BUNDLE_TAR:-}" ]; then
  cp "$ATAS_BUNDLE_TAR" "$W/atas-bundle.tar.xz"
elif command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then
  PATH=$PATH:/usr/local/cuda/bin "$SRC/tools/gpu_bundle.sh" --build "$BIN/bundle-cuda" --out "$W/atas-bundle.tar.xz"
else
  echo "test_bundle: no nvcc here, packing a CPU build"
  "$SRC/tools/gpu_bundle.sh" --build "$BIN/bundle-cuda" --cpu-ok --out "$W/atas-bundle.tar.xz"
fi
mkdir -p "$W/u" && tar -C "$W/u" -xJf "$W/atas-bundle.tar.xz"
B=$W/u/atas-bundle
[ -x "$B/share/atas/gpu_check.sh" ] || fail "the bundle has no share/atas/gpu_check.sh"

# ---- 2. what to hide: every library the bundle carries (glibc aside: the host's own programs need
# it; the maps below prove the ranks use the carried one), Open MPI / PMIx / HDF5 / OpenBLAS
# directories, configuration and programs
L=/usr/lib/x86_64-linux-gnu
hide_files=() hide_dirs=()
for f in "$B"/lib/*.so*; do
  n=$(basename "$f")
  for d in $L /lib/x86_64-linux-gnu /usr/lib /usr/local/lib; do
    if [ -e "$d/$n" ]; then hide_files+=("$(readlink -f "$d/$n")"); fi
  done
done
for d in $L/openmpi $L/pmix2 $L/hdf5 $L/openblas-openmp $L/openblas-pthread $L/blas $L/lapack \
         $L/hwloc /etc/openmpi /usr/share/openmpi /usr/share/hwloc; do
  if [ -d "$d" ]; then hide_dirs+=("$d"); fi
done
for p in mpirun mpiexec orterun orted ompi_info mpicc h5dump h5ls; do
  f=$(command -v $p 2>/dev/null || true)
  if [ -n "$f" ]; then hide_files+=("$(readlink -f "$f")"); fi
done
mapfile -t hide_files < <(printf '%s\n' "${hide_files[@]}" | sort -u)
echo "test_bundle: hiding ${#hide_files[@]} files and ${#hide_dirs[@]} directories"

# ---- 3. the run, in a private mount namespace with a bare environment
if ! unshare --mount true 2>/dev/null; then
  echo "test_bundle: unshare --mount is not permitted here (needs root or user namespaces): skipped" >&2
  exit 77
fi
cat >"$W/inner.sh" <<EOF
set -u
for f in ${hide_files[*]}; do mount --bind /dev/null "\$f" || exit 91; done
for d in ${hide_dirs[*]}; do mount -t tmpfs -o size=1m,mode=0755 none "\$d" || exit 90; done
# negative control: the host's own build of atas can no longer start
if "$BIN/atas_config" --docs >/dev/null 2>&1; then echo "the host's libraries are still reachable"; exit 92; fi
if command -v mpirun >/dev/null && mpirun --version >/dev/null 2>&1; then echo "the host's mpirun still runs"; exit 93; fi
# what the carried loader loads for a program, and from where
"$B/bin/atas-hostlibs" >/dev/null
LD_DEBUG=libs "$B/bin/atas_mpi" --help 2>"$W/ld_debug.txt" >/dev/null || exit 94
OUT="$W/out" bash "$B/share/atas/gpu_check.sh" --bundle "$B" --quick
EOF
rc=0
env -i PATH=/usr/bin:/bin HOME="${HOME:-/root}" LANG=C \
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 BUDGET_S=1500 OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 \
  unshare --mount --propagation private bash "$W/inner.sh" || rc=$?
case $rc in
  90|91) fail "could not hide the system libraries (mount in the namespace failed)" ;;
  92|93) fail "hiding did not work: the host's build or mpirun still starts" ;;
  94) fail "LD_DEBUG run of atas_mpi --help failed: $(tail -3 "$W/ld_debug.txt")" ;;
esac
S=$W/out/summary.txt
[ -f "$S" ] || fail "gpu_check.sh wrote no summary (exit $rc)"

# ---- 4. the verdict: CPU steps passed, CUDA steps skipped with their reasons, nothing failed
res() { awk -v s="$1" '$1 == s {print $2}' "$S"; }
for s in libs parity_cpu tools train_cpu mpi2_cpu isolation; do
  [ "$(res $s)" = PASS ] || fail "step $s: '$(res $s)' (expected PASS; $S)"
done
for s in parity_cuda train_cuda cmp_cuda_cpu mpi2_cuda nccl1 nccl2 memcheck_parity memcheck_train; do
  r=$(res $s)
  if [ -e /dev/nvidia0 ]; then [ "$r" = PASS ] || [ "$r" = SKIPPED ] || fail "step $s: $r"
  else [ "$r" = SKIPPED ] || fail "step $s: '$r' on a machine without a GPU (expected SKIPPED)"; fi
done
"$B/bin/atas_config" --docs | grep 'dist\.backend' >/dev/null || fail "the bundled atas_config has no dist.backend key"
grep -q FAIL "$S" && fail "a step failed: $(grep FAIL "$S")"
[ $rc = 0 ] || fail "gpu_check.sh exited $rc"

# ---- 5. isolation, twice over: ranks' maps (checked by gpu_check's isolation step: re-checked
# here) and the loader's own trace of every library it opened
awk -f "$B/share/atas/gpu/check_maps.awk" -v bundle="$B" "$W"/out/maps_mpi2_cpu.* >"$W/maps_check.txt" ||
  fail "a rank mapped a library from outside the bundle: $(grep HOST "$W/maps_check.txt")"
grep -q 'lib/glibc/libc.so.6' "$W/maps_check.txt" || fail "the ranks did not map the carried libc"
# (the trace also holds the launcher's own bash, dirname... with the host's libc: keep the
# libraries initialised for the process whose program is the bundle's atas_mpi)
opened=$(awk '/calling init: / { buf[$1] = buf[$1] $NF "\n"; if (prog[$1]) print $NF }
              /initialize program: / { prog[$1] = ($NF ~ /\/bin\/atas_mpi$/); if (prog[$1]) printf "%s", buf[$1]; buf[$1] = "" }' \
          "$W/ld_debug.txt" | sort -u)
[ -n "$opened" ] || fail "LD_DEBUG=libs traced no library: $(head -3 "$W/ld_debug.txt")"
outside=$(echo "$opened" | grep -v "^$B/" | grep -Ev '/lib(cuda|cublas|cublasLt|nccl|nvidia-)[^/]*$' || true)
[ -z "$outside" ] || fail "atas_mpi initialised libraries from outside the bundle: $outside"
for n in lib/glibc/libc.so.6 lib/libmpi.so.40 lib/libhdf5_openmpi.so.103 lib/libconfig.so.9 lib/libopenblas.so.0 lib/libjansson.so.4 lib/openmpi/mca_btl_vader.so; do
  grep -qx "$B/$n" <<<"$opened" || fail "LD_DEBUG: atas_mpi did not initialise the bundle's $n"
done
echo "test_bundle: $(echo "$opened" | wc -l) libraries initialised by atas_mpi (MPI_Init included), all from the bundle (or the machine's cuBLAS)"
cat "$S"
echo "test_bundle: PASS"
