#!/usr/bin/env bash
# Packs what the GPU check needs into .gpu/ (git-ignored) so that it can be carried to a
# bare CUDA machine that lacks this project's dev packages:
#   .gpu/bin/      test_backend_parity_cpu, atas_bench (built here, CUDA on)
#   .gpu/lib/      every shared library they load that is not glibc/libgcc or cuBLAS
#                  (libopenblas + libgfortran/libquadmath, libgomp, libcudart, libstdc++)
#   .gpu/include/  cblas.h + openblas_config.h, for tools/gpu_check.sh's fallback build
# cuBLAS / cuBLASLt (~700 MB) are NOT carried: gpu_check.sh finds them on the machine.
# usage: tools/gpu_bundle.sh [build-dir]      (default: build; it must have ATAS_WITH_CUDA=ON)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BINS=("$BUILD/tests/test_backend_parity_cpu" "$BUILD/atas_bench")
grep -q '^ATAS_WITH_CUDA:BOOL=ON' "$BUILD/CMakeCache.txt" ||
  { echo "gpu_bundle: $BUILD is not a CUDA build (ATAS_WITH_CUDA=ON)" >&2; exit 1; }
cmake --build "$BUILD" -j2 --target test_backend_parity_cpu atas_bench >/dev/null
EXCL="$(git rev-parse --git-path info/exclude)"
mkdir -p "$(dirname "$EXCL")"
grep -qx '/.gpu/' "$EXCL" 2>/dev/null || echo '/.gpu/' >>"$EXCL"
rm -rf .gpu && mkdir -p .gpu/bin .gpu/lib .gpu/include
cp "${BINS[@]}" .gpu/bin/
# system libraries every Linux has (glibc, libgcc), and cuBLAS (found on the GPU machine)
skip='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libgcc_s\.so|libcublas)'
for b in "${BINS[@]}"; do
  ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r name path; do
  if [[ $name =~ $skip ]]; then continue; fi
  cp -L "$path" ".gpu/lib/$name"
done

inc=$(dirname "$(echo '#include <cblas.h>' | cc -H -E -x c - -I/usr/include/x86_64-linux-gnu 2>&1 >/dev/null | grep -m1 'cblas.h' | awk '{print $2}')")
cp "$inc/cblas.h" "$inc/openblas_config.h" .gpu/include/
echo "gpu_bundle: .gpu holds:"
ls -la .gpu/bin .gpu/lib
size=$(du -sm .gpu | cut -f1)
echo "gpu_bundle: .gpu is ${size} MiB (the device tool carries at most 64 MiB with the tree)"
[ "$size" -le 60 ] || { echo "gpu_bundle: too large to carry" >&2; exit 1; }
