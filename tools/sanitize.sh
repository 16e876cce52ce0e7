#!/usr/bin/env bash
# The sanitizer job: the whole CTest suite built with AddressSanitizer + UBSan (CUDA off,
# UBSan halting on the first error, leaks checked for our code - third-party leaks from
# MPI/HDF5/OpenMP are suppressed by tools/lsan.supp), in its own build dir. The libFuzzer
# runs of the config, corpus, checkpoint and safetensors readers are CTest tests (label
# fuzz) of the normal suite; they instrument themselves and are not repeated here. Test
# timeouts are 6x longer in this build (tests/CMakeLists.txt).
# Run alone:  tools/sanitize.sh [ctest args]      (tools/test.sh runs it after the suite)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${ATAS_ASAN_BUILD:-build-asan}
mkdir -p "$B"
for d in build/pydeps*; do [ -e "$d" ] && ln -sfn "$PWD/$d" "$B/$(basename "$d")"; done
# cudaemu off: its tests need the CUDA build (they skip without it), and its fibers switch
# stacks by hand, which ASan does not follow
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATAS_WITH_CUDA=OFF -DATAS_CUDAEMU=OFF -DATAS_SANITIZE=ON \
  >"$B/configure.log" 2>&1 || { cat "$B/configure.log"; exit 1; }
cmake --build "$B" -j"$(nproc)" >"$B/build.log" 2>&1 || { grep -E "error" "$B/build.log" | head -40; exit 1; }
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:fast_unwind_on_malloc=0:suppressions=$PWD/tools/asan.supp
# use_tls=0: LSan crashes suspending threads with dynamic TLS (glibc 2.36 + GCC 12)
export LSAN_OPTIONS=suppressions=$PWD/tools/lsan.supp:print_suppressions=0:use_tls=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
cd "$B"
# -E test_slurm: the Slurm job templates are shell, covered by the normal suite; a second
# local Slurm cluster on the same ports is not worth the flakiness. -LE bundle: packaging
# (a second CUDA tree), no code of ours runs there that the suite does not run already.
# -E scaling_netns: namespace/Slurm plumbing around 120-step reference runs with fixed time
# limits; the same atas_mpi code runs under ASan in the train_* and runs_* tests.
ctest --output-on-failure -j2 --timeout 1800 -LE 'fuzz|bundle' -E '^(test_slurm|scaling_netns)' "$@"
