#!/usr/bin/env bash
# Builds atas with CUDA and packs a self-contained bundle that runs on a machine with only the
# CUDA driver (and cuBLAS / NCCL from its toolkit): no MPI, HDF5, libconfig, OpenBLAS needed, any
# glibc. Output: .gpu/atas-bundle.tar.xz (git-ignored; the device tool carries it with `.gpu`).
#   tools/gpu_bundle.sh [--build DIR] [--out TAR] [--cpu-ok] [--no-build]
#     --build DIR  build tree (default build-cuda; configured here with -DATAS_WITH_CUDA=ON and
#                  CMAKE_CUDA_ARCHITECTURES=${ATAS_CUDA_ARCH:-90} when it has no CMakeCache.txt)
#     --out TAR    bundle to write (default .gpu/atas-bundle.tar.xz)
#     --cpu-ok     accept a build without CUDA (a machine without nvcc: the bundle's CPU path)
#     --no-build   pack what DIR holds, do not run the build
# Layout of the bundle (atas-bundle/, docs/gpu.md):
#   bin/         launchers: each runs libexec/<name> through the carried glibc loader
#                (lib/glibc/ld-linux-x86-64.so.2 --library-path ...); atas-env.sh sets the Open
#                MPI / PMIx relocation variables; atas-hostlibs links the machine's libcuda,
#                cuBLAS and NCCL into hostlib/; atas-ldd lists what a program loads, and from where
#   libexec/     the ELF programs: atas_mpi atas_bench atas_pack atas_inspect atas_config
#                atas_convert atas_embed test_backend_parity test_model_parity test_bf16_storage, Open MPI's mpirun (orterun), orted,
#                ompi_info
#   lib/glibc/   the loader, libc, libm, ... of this machine (the programs never use the host's)
#   lib/         every other shared library (HDF5, libconfig, jansson, png, jpeg, OpenBLAS,
#                gfortran, quadmath, gomp, cudart, libstdc++, Open MPI, PMIx, hwloc, libevent)
#   lib/openmpi/ lib/pmix/   MCA component plugins; share/openmpi share/pmix etc/: data files
#   lib/stub/    an empty libnccl.so.2, only for a build that links NCCL without calling it
#                (since dist.backend = "nccl" the programs call NCCL: the GPU machine's is used)
#   share/atas/  configs, a 16-image corpus, gpu_check.sh; BUNDLE.txt: versions and sizes
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=build-cuda OUTTAR=.gpu/atas-bundle.tar.xz CPU_OK=0 DO_BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --out) OUTTAR=$2; shift 2 ;;
    --cpu-ok) CPU_OK=1; shift ;;
    --no-build) DO_BUILD=0; shift ;;
    -h|--help) sed -n 2,9p "$0"; exit 0 ;;
    *) echo "gpu_bundle: unknown argument '$1' (--help)" >&2; exit 2 ;;
  esac
done
say() { echo "gpu_bundle: $*"; }
die() { echo "gpu_bundle: $*" >&2; exit 1; }
[ "$(uname -m)" = x86_64 ] || die "only x86_64 is supported (the loader is ld-linux-x86-64.so.2)"

APPS=(atas_mpi atas_bench atas_pack atas_inspect atas_config atas_convert atas_embed)
# ---- 1. the build
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  [ "$DO_BUILD" = 1 ] || die "$BUILD has no CMakeCache.txt (drop --no-build)"
  cuda=ON
  command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || cuda=OFF
  [ "$cuda" = ON ] || [ "$CPU_OK" = 1 ] || die "no nvcc here: a CUDA build is impossible (--cpu-ok packs a CPU build)"
  say "configuring $BUILD (ATAS_WITH_CUDA=$cuda)"
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DATAS_WITH_CUDA=$cuda \
    -DCMAKE_CUDA_ARCHITECTURES="${ATAS_CUDA_ARCH:-90}" >"$BUILD.configure.log" 2>&1 ||
    die "configure failed, see $BUILD.configure.log"
fi
if grep -q '^ATAS_WITH_CUDA:BOOL=ON' "$BUILD/CMakeCache.txt"; then WITH_CUDA=1; else WITH_CUDA=0; fi
[ "$WITH_CUDA" = 1 ] || [ "$CPU_OK" = 1 ] || die "$BUILD is not a CUDA build (ATAS_WITH_CUDA=ON), or pass --cpu-ok"
if [ "$DO_BUILD" = 1 ]; then
  say "building ${APPS[*]} test_backend_parity_cpu test_model_parity_staged test_bf16_storage in $BUILD (long the first time on few cores)"
  # regenerate first: make reads its target list before the build checks the CMake files, so a
  # target added since the last configure would be "no rule to make target"
  cmake "$BUILD" >>"$BUILD.configure.log" 2>&1 || die "re-configure failed, see $BUILD.configure.log"
  cmake --build "$BUILD" -j"${ATAS_BUILD_JOBS:-2}" --target "${APPS[@]}" test_backend_parity_cpu test_model_parity_staged test_bf16_storage ||
    die "build failed in $BUILD"
fi

# ---- 2. the programs
BUNDLE_NAME=atas-bundle
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/atas-bundle.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
B=$STAGE/$BUNDLE_NAME
mkdir -p "$B"/{bin,libexec,lib/glibc,lib/openmpi,lib/pmix,lib/hwloc,lib/stub,hostlib,share/openmpi,share/pmix,etc/openmpi,share/atas}
ELF=()
for a in "${APPS[@]}"; do cp "$BUILD/$a" "$B/libexec/$a"; ELF+=("$BUILD/$a"); done
cp "$BUILD/tests/test_backend_parity_cpu" "$B/libexec/test_backend_parity"
ELF+=("$BUILD/tests/test_backend_parity_cpu")
[ -f "$BUILD/tests/test_model_parity_staged" ] ||
  die "$BUILD has no tests/test_model_parity_staged (configured before it existed): drop --no-build or rebuild"
cp "$BUILD/tests/test_model_parity_staged" "$B/libexec/test_model_parity"
ELF+=("$BUILD/tests/test_model_parity_staged")
[ -f "$BUILD/tests/test_bf16_storage" ] ||
  die "$BUILD has no tests/test_bf16_storage (configured before it existed): drop --no-build or rebuild"
cp "$BUILD/tests/test_bf16_storage" "$B/libexec/test_bf16_storage"
ELF+=("$BUILD/tests/test_bf16_storage")
# the CUDA backend module: the programs load it with dlopen (from lib/, the carried
# loader's directory's parent; docs/backend.md), and it brings the CUDA runtime
if [ -f "$BUILD/libatas_cuda.so" ]; then cp "$BUILD/libatas_cuda.so" "$B/lib/libatas_cuda.so"; ELF+=("$BUILD/libatas_cuda.so"); fi

# ---- 3. the Open MPI runtime (Open MPI 4.x: orterun/orted, PMIx as a separate library)
ORTERUN=$(readlink -f "$(command -v orterun || command -v mpirun)") || die "no mpirun here"
ompi_path() { ompi_info --path all 2>/dev/null | awk -F': ' -v k="$1" '$1 ~ "^ *"k"$" {print $2; exit}'; }
PKGLIBDIR=$(ompi_path Pkglibdir); PKGDATADIR=$(ompi_path Pkgdatadir); SYSCONFDIR=$(ompi_path Sysconfdir)
[ -d "$PKGLIBDIR" ] || die "cannot find Open MPI's component directory (ompi_info --path all)"
cp "$ORTERUN" "$B/libexec/mpirun"; ELF+=("$ORTERUN")
for p in orted ompi_info; do
  f=$(readlink -f "$(command -v $p)") || die "no $p here"
  cp "$f" "$B/libexec/$p"; ELF+=("$f")
done
# Components that need a fabric library (UCX, libfabric, verbs, PSM, netlink) or OpenSHMEM stay
# behind: a GPU node in a single-node check uses shared memory / TCP, and a component whose
# library is missing would print a load warning on every start.
skip_re='lib(ucp|ucs|uct|ucm|fabric|ibverbs|rdmacm|psm|psm2|psm_infinipath|infinipath|nl-3|nl-route-3|efa|oshmem|jvm)\.'
ncomp=0
for f in "$PKGLIBDIR"/*.so; do
  deps=$(ldd "$f" 2>/dev/null || true)  # (not piped into grep -q: pipefail + SIGPIPE)
  if grep -Eq "$skip_re" <<<"$deps"; then continue; fi
  case "$(basename "$f")" in mca_spml_*|mca_sshmem_*|mca_atomic_*|mca_memheap_*|mca_scoll_*) continue ;; esac
  cp "$f" "$B/lib/openmpi/"; ELF+=("$f"); ncomp=$((ncomp + 1))
done
cp -r "$PKGDATADIR"/. "$B/share/openmpi/"
if [ -d "$SYSCONFDIR" ]; then cp -r "$SYSCONFDIR"/. "$B/etc/openmpi/"; fi
PMIXLIB=$(ldd "$PKGLIBDIR"/mca_pmix_ext3x.so 2>/dev/null | awk '$1 ~ /^libpmix\.so/ {print $3}')
if [ -n "$PMIXLIB" ]; then
  pdir=$(dirname "$(readlink -f "$PMIXLIB")")
  for d in "$pdir/pmix" "$(dirname "$pdir")/lib/pmix"; do
    [ -d "$d" ] || continue
    for f in "$d"/*.so; do cp "$f" "$B/lib/pmix/"; ELF+=("$f"); done
    break
  done
  for d in "$(dirname "$pdir")/share"; do
    if [ -d "$d/pmix" ]; then cp -r "$d/pmix"/. "$B/share/pmix/"; fi
    if [ -f "$d/pmix-mca-params.conf" ]; then cp "$d/pmix-mca-params.conf" "$B/etc/"; fi
  done
fi

# ---- 4. every shared library they load; glibc apart, so that the carried loader uses it
GLIBC_RE='^(ld-linux-x86-64\.so\.2|libc\.so\.6|libm\.so\.6|libmvec\.so\.1|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libresolv\.so\.2|libutil\.so\.1|libanl\.so\.1|libnss_[a-z]+\.so\.2|libBrokenLocale\.so\.1)$'
# from the GPU machine: the driver, cuBLAS (~700 MB), NCCL (~220 MB)
HOST_RE='^(linux-vdso\.so|libcuda\.so|libnvidia-|libcublas\.so|libcublasLt\.so|libnccl\.so)'
declare -A seen=()
libs_of() { ldd "$1" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3} $1 ~ /^\// && $1 ~ /ld-linux/ {print "ld-linux-x86-64.so.2", $1}'; }
missing=""
for e in "${ELF[@]}"; do
  deps=$(ldd "$e" 2>/dev/null || true)
  if grep -q 'not found' <<<"$deps"; then
    missing+=" $(basename "$e"):$(awk '/not found/ {print $1}' <<<"$deps" | tr '\n' ',')"
  fi
  while read -r name path; do
    [ -n "${seen[$name]:-}" ] && continue
    seen[$name]=1
    if [[ $name =~ $HOST_RE ]]; then continue; fi
    if [[ $name =~ $GLIBC_RE ]]; then cp -L "$path" "$B/lib/glibc/$name"; else cp -L "$path" "$B/lib/$name"; fi
  done < <(libs_of "$e")
done
[ -z "$missing" ] || die "libraries not found:$missing"
# glibc's pieces that are loaded by name at run time (NSS for user/host lookups by Open MPI)
GLIBC_DIR=$(dirname "$(ldd "$BUILD/atas_config" | awk '$1 == "libc.so.6" {print $3}')")
for n in libnss_files.so.2 libnss_dns.so.2 libresolv.so.2 libmvec.so.1 libutil.so.1 libanl.so.1; do
  if [ -e "$GLIBC_DIR/$n" ] && [ ! -e "$B/lib/glibc/$n" ]; then cp -L "$GLIBC_DIR/$n" "$B/lib/glibc/$n"; fi
done
[ -f "$B/lib/glibc/ld-linux-x86-64.so.2" ] || cp -L /lib64/ld-linux-x86-64.so.2 "$B/lib/glibc/"
GLIBC_VERSION=$(getconf GNU_LIBC_VERSION 2>/dev/null || echo "glibc ?")

# NCCL is on the link line; the programs call it (dist.backend = "nccl"), so the GPU machine must
# have libnccl.so.2. Only a build that links it without calling it (an older tree) gets an empty
# library of the same soname, so that its programs start where the machine has no NCCL.
if [ "$WITH_CUDA" = 1 ] && grep -q libnccl <(for e in "${ELF[@]:0:8}"; do ldd "$e"; done); then
  syms=$(nm -D --undefined-only "${ELF[@]:0:8}" 2>/dev/null || true)
  if grep -q ' nccl' <<<"$syms"; then
    say "the programs call NCCL: no stub (the GPU machine must have libnccl.so.2)"
  else
    echo 'int atas_nccl_stub_unused;' | cc -shared -fPIC -x c - -Wl,-soname,libnccl.so.2 -o "$B/lib/stub/libnccl.so.2"
  fi
fi

# ---- 5. launchers
cat >"$B/bin/atas-env.sh" <<'EOF'
# Sourced by every launcher: where the bundle is and how Open MPI / PMIx find their parts.
ATAS_BUNDLE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
export ATAS_BUNDLE
export ATAS_BUNDLE_LIBPATH="$ATAS_BUNDLE/lib/glibc:$ATAS_BUNDLE/lib:$ATAS_BUNDLE/hostlib:$ATAS_BUNDLE/lib/stub"
export OPAL_PREFIX=$ATAS_BUNDLE OPAL_EXEC_PREFIX=$ATAS_BUNDLE OPAL_BINDIR=$ATAS_BUNDLE/bin \
  OPAL_SBINDIR=$ATAS_BUNDLE/bin OPAL_LIBEXECDIR=$ATAS_BUNDLE/libexec OPAL_LIBDIR=$ATAS_BUNDLE/lib \
  OPAL_PKGLIBDIR=$ATAS_BUNDLE/lib/openmpi OPAL_DATAROOTDIR=$ATAS_BUNDLE/share \
  OPAL_DATADIR=$ATAS_BUNDLE/share OPAL_PKGDATADIR=$ATAS_BUNDLE/share/openmpi \
  OPAL_SYSCONFDIR=$ATAS_BUNDLE/etc/openmpi OPAL_INCLUDEDIR=$ATAS_BUNDLE/include \
  OPAL_PKGINCLUDEDIR=$ATAS_BUNDLE/include
export OMPI_MCA_mca_base_component_path=$ATAS_BUNDLE/lib/openmpi
export OMPI_MCA_orte_launch_agent=$ATAS_BUNDLE/bin/orted
export PMIX_PREFIX=$ATAS_BUNDLE PMIX_LIBDIR=$ATAS_BUNDLE/lib PMIX_PKGLIBDIR=$ATAS_BUNDLE/lib/pmix \
  PMIX_DATADIR=$ATAS_BUNDLE/share PMIX_PKGDATADIR=$ATAS_BUNDLE/share/pmix \
  PMIX_SYSCONFDIR=$ATAS_BUNDLE/etc
export PMIX_MCA_mca_base_component_path=$ATAS_BUNDLE/lib/pmix
export HWLOC_PLUGINS_PATH=$ATAS_BUNDLE/lib/hwloc
case ":$PATH:" in *":$ATAS_BUNDLE/bin:"*) ;; *) export PATH="$ATAS_BUNDLE/bin:$PATH" ;; esac
EOF
cat >"$B/bin/.launch" <<'EOF'
#!/usr/bin/env bash
# Runs libexec/<name of this file> with the bundle's own glibc loader and libraries, so neither
# the host's glibc nor its libraries matter. ATAS_BUNDLE_HOST_GLIBC=1: use the host's loader
# instead (needs a host glibc at least as new as the bundle's; see BUNDLE.txt).
. "$(dirname "$(readlink -f "$0")")/atas-env.sh"
n=$(basename "$0")
if [ "${ATAS_BUNDLE_HOST_GLIBC:-0}" = 1 ]; then
  export LD_LIBRARY_PATH="${ATAS_BUNDLE_LIBPATH#*:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  exec "$ATAS_BUNDLE/libexec/$n" "$@"
fi
exec "$ATAS_BUNDLE/lib/glibc/ld-linux-x86-64.so.2" --inhibit-cache --library-path "$ATAS_BUNDLE_LIBPATH" \
  --argv0 "$0" "$ATAS_BUNDLE/libexec/$n" "$@"
EOF
chmod +x "$B/bin/.launch"
ln -s mpirun "$B/libexec/orterun"; ln -s mpirun "$B/libexec/mpiexec"
for p in "$B"/libexec/*; do ln -s .launch "$B/bin/$(basename "$p")"; done
cat >"$B/bin/atas-ldd" <<'EOF'
#!/usr/bin/env bash
# atas-ldd PROGRAM: the libraries PROGRAM (a bundle program name) loads, resolved by the carried
# loader exactly as the launchers run it.
. "$(dirname "$(readlink -f "$0")")/atas-env.sh"
exec "$ATAS_BUNDLE/lib/glibc/ld-linux-x86-64.so.2" --inhibit-cache --library-path "$ATAS_BUNDLE_LIBPATH" \
  --list "$ATAS_BUNDLE/libexec/${1:?usage: atas-ldd PROGRAM}"
EOF
cat >"$B/bin/atas-hostlibs" <<'EOF'
#!/usr/bin/env bash
# atas-hostlibs: links the GPU machine's driver (libcuda, libnvidia-*), cuBLAS/cuBLASLt 13 and
# NCCL 2 into hostlib/ (the launchers search it after lib/) and prints where each came from.
# Search order: $ATAS_CUDA_LIBDIRS (colon-separated), $CUDA_HOME, /usr/local/cuda*, the system's
# library directories and ldconfig's cache, then pip's nvidia-* wheels of any python3.
. "$(dirname "$(readlink -f "$0")")/atas-env.sh"
H=$ATAS_BUNDLE/hostlib
rm -rf "$H" && mkdir -p "$H"
dirs=()
IFS=: read -r -a extra <<<"${ATAS_CUDA_LIBDIRS:-}"
for d in "${extra[@]}" ${CUDA_HOME:+$CUDA_HOME/lib64 $CUDA_HOME/lib $CUDA_HOME/targets/x86_64-linux/lib} \
         /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib \
         /usr/local/cuda-1[3-9]*/lib64 /usr/local/cuda-1[3-9]*/lib /usr/local/cuda-1[3-9]*/targets/x86_64-linux/lib \
         /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib/wsl/lib /usr/local/nvidia/lib64 /usr/local/lib; do
  [ -d "$d" ] && dirs+=("$d")
done
while read -r f; do dirs+=("$(dirname "$f")"); done < <(/sbin/ldconfig -p 2>/dev/null | awk '/lib(cuda|cublas|nccl)\.so/ {print $NF}')
for py in python3 /opt/*/.venv/bin/python3; do
  d=$("$py" -c 'import nvidia, os; print(list(nvidia.__path__)[0])' 2>/dev/null) || continue
  while read -r f; do dirs+=("$(dirname "$f")"); done < <(find "$d" -maxdepth 3 -name 'lib*.so*' 2>/dev/null)
done
link() { # link NAME: the first directory holding NAME
  local d
  for d in "${dirs[@]}"; do
    if [ -e "$d/$1" ]; then ln -sf "$(readlink -f "$d/$1")" "$H/$1"; echo "  $1 -> $(readlink -f "$d/$1")"; return 0; fi
  done
  echo "  $1: NOT FOUND"; return 1
}
echo "atas-hostlibs: libraries from this machine, in $H"
link libcuda.so.1
for d in "${dirs[@]}"; do  # the rest of the driver, next to libcuda (loaded by name by libcuda)
  if [ -e "$d/libcuda.so.1" ]; then
    for f in "$d"/libnvidia-*.so.[0-9]*; do [ -e "$f" ] && ln -sf "$(readlink -f "$f")" "$H/$(basename "$f")"; done
    break
  fi
done
link libcublas.so.13; link libcublasLt.so.13
link libnccl.so.2 || echo "  (no NCCL here: dist.backend = \"nccl\" cannot run; lib/stub/libnccl.so.2 stands in only for builds that call no NCCL function)"
exit 0
EOF
chmod +x "$B/bin/atas-ldd" "$B/bin/atas-hostlibs"

# ---- 6. data for the check: configs, a 16-image corpus (real photographs when available)
mkdir -p "$B/share/atas/configs"
cp -r configs/. "$B/share/atas/configs/"
cp tools/gpu_check.sh "$B/share/atas/gpu_check.sh"
cp -r tools/gpu "$B/share/atas/gpu"
CORPUS_SRC=/usr/share/backgrounds/mate
imgs=$(mktemp -d)
if [ -d "$CORPUS_SRC" ]; then
  find "$CORPUS_SRC" -type f \( -name '*.jpg' -o -name '*.png' \) | sort | awk 'NR <= 16' >"$imgs/list.txt"
else
  [ -x "$BUILD/tests/make_test_images" ] || cmake --build "$BUILD" --target make_test_images >/dev/null
  "$BUILD/tests/make_test_images" "$imgs/gen" 16 >/dev/null
  find "$imgs/gen" -type f | sort >"$imgs/list.txt"
fi
"$BUILD/atas_pack" -q --size 224 -o "$B/share/atas/corpus.h5" "$imgs/list.txt" >/dev/null ||
  die "atas_pack failed on $imgs/list.txt"
rm -rf "$imgs" "$B/share/atas/corpus.h5.report.txt"

# ---- 7. manifest, pack
{
  echo "atas bundle"
  echo "built:      $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n)"
  echo "commit:     $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' (+ local changes)')"
  echo "build:      $BUILD, ATAS_WITH_CUDA=$WITH_CUDA, CUDA arch $(awk -F= '/^CMAKE_CUDA_ARCHITECTURES:/ {print $2}' "$BUILD/CMakeCache.txt")"
  echo "nvcc:       $( (nvcc --version 2>/dev/null || /usr/local/cuda/bin/nvcc --version 2>/dev/null) | tail -1)"
  echo "glibc:      $GLIBC_VERSION (carried: lib/glibc)"
  echo "open mpi:   $(ompi_info --parsable --version 2>/dev/null | head -1), $ncomp components"
  echo "from host:  libcuda, libnvidia-*, libcublas.so.13, libcublasLt.so.13, libnccl.so.2 (bin/atas-hostlibs)"
  echo
  echo "sizes (KiB, uncompressed):"
  (cd "$B" && du -sk libexec lib/glibc lib/openmpi lib/pmix share/openmpi share/atas etc | sed 's/^/  /')
  echo "  $(cd "$B" && find lib -maxdepth 1 -type f -printf '%s\n' | awk '{s+=$1} END {printf "%d\tlib (other shared libraries)", s/1024}')"
  echo
  echo "largest shared libraries (KiB):"
  # awk, not head: head leaves early, and under pipefail sort's SIGPIPE (once the list outgrows
  # the pipe's 64 KiB) ended the whole script with status 141 and no message
  (cd "$B" && find lib -type f -printf '%s %p\n' | sort -rn | awk 'NR <= 12 {printf "  %8d  %s\n", $1/1024, $2}')
} >"$B/BUNDLE.txt"
mkdir -p "$(dirname "$OUTTAR")"
# the loose layout of earlier versions (.gpu/bin, lib, include) would travel too: gone
if [ "$OUTTAR" = .gpu/atas-bundle.tar.xz ]; then rm -rf .gpu/bin .gpu/lib .gpu/include; fi
say "compressing (xz -9)"
tar -C "$STAGE" -cf - "$BUNDLE_NAME" | xz -9 -T1 >"$OUTTAR.tmp"
mv "$OUTTAR.tmp" "$OUTTAR"
raw=$(du -sm "$B" | cut -f1)
size=$(du -m "$OUTTAR" | cut -f1)
cat "$B/BUNDLE.txt"
say "$OUTTAR: ${size} MiB compressed (${raw} MiB unpacked)"
[ "$size" -le 55 ] || die "$OUTTAR is ${size} MiB: too large to travel with the tree (64 MiB in all)"
