#!/usr/bin/env bash
# Builds libFuzzer targets for the config loader, the corpus reader and the checkpoint
# reader with clang (the whole library instrumented with ASan+UBSan) and runs TARGET for
# a bounded number of inputs from valid seeds (fixed seed: the same inputs every run).
# usage: fuzz_readers.sh config|corpus|ckpt [RUNS]. Exit 77 without clang/libFuzzer.
set -euo pipefail
T=${1:?config|corpus|ckpt}
RUNS=${2:-${ATAS_FUZZ_RUNS:-3000}}
SRC=${ATAS_SOURCE_DIR:?}
BIN=${ATAS_BINARY_DIR:?}/fuzz_readers
PY=${ATAS_PYTHON:-/usr/bin/python3}
command -v clang >/dev/null || { echo "skip: clang not installed"; exit 77; }
clang -fsanitize=fuzzer -x c - -o /dev/null 2>/dev/null <<<'int LLVMFuzzerTestOneInput(const char*d,long n){return 0;}' \
  || { echo "skip: clang has no libFuzzer runtime"; exit 77; }
mkdir -p "$BIN/obj"
H5=$(pkg-config --cflags hdf5-openmpi 2>/dev/null || echo "-I/usr/include/hdf5/openmpi")
H5L=$(pkg-config --libs hdf5-openmpi 2>/dev/null || echo "-L/usr/lib/x86_64-linux-gnu/hdf5/openmpi -lhdf5")
MPI_C=$(mpicc --showme:compile) MPI_L=$(mpicc --showme:link)
PK="libconfig jansson libpng"
CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined $(for d in "$SRC"/include/*/; do printf -- "-I%s " "$d"; done) -I$SRC/src \
  -I/usr/include/x86_64-linux-gnu/openblas-openmp -I/usr/include/openblas $H5 $MPI_C $(pkg-config --cflags $PK) -fopenmp"
# the library once for all three targets (one lock: the three tests may start together)
(
  flock 9
  if [ ! -f "$BIN/libatas_fuzz.a" ] || [ -n "$(find "$SRC/src" "$SRC/include" -newer "$BIN/libatas_fuzz.a" -name '*.[ch]' | head -1)" ]; then
    rm -f "$BIN"/obj/*.o
    find "$SRC/src" -name '*.c' ! -path '*/apps/*' ! -path '*/cuda/*' -print0 |
      xargs -0 -n 4 -P 2 sh -c 'for f; do o="'"$BIN"'/obj/$(echo "$f" | tr / _).o"; clang '"$CFLAGS"' -DATAS_SOURCE_DIR_DEFAULT=\"'"$SRC"'\" -c "$f" -o "$o" || exit 1; done' sh \
      2>"$BIN/build.log" || { tail -30 "$BIN/build.log"; exit 1; }
    rm -f "$BIN/libatas_fuzz.a" && ar rcs "$BIN/libatas_fuzz.a" "$BIN"/obj/*.o
  fi
) 9>"$BIN/.lock"
DEF=$(echo "$T" | tr a-z A-Z)
OPENBLAS=$(ls /usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so 2>/dev/null || echo "-lopenblas")
clang $CFLAGS -fsanitize=fuzzer -DFUZZ_$DEF "$SRC/tests/hostile/fuzz_readers.c" "$BIN/libatas_fuzz.a" \
  $H5L $MPI_L $(pkg-config --libs $PK) -ljpeg -lz $OPENBLAS -lm -lpthread -o "$BIN/fuzz_$T" 2>>"$BIN/build.log" \
  || { tail -30 "$BIN/build.log"; exit 1; }
# seeds: valid files (and near-misses) of the kind
rm -rf "$BIN/seeds_$T" && mkdir -p "$BIN/seeds_$T"
"$PY" - "$T" "$BIN/seeds_$T" "$SRC" <<'PY'
import os, sys, numpy as np, h5py
t, d, src = sys.argv[1:4]
if t == "config":
    for n in ("tiny.cfg",):
        open(os.path.join(d, n), "wb").write(open(os.path.join(src, "configs", n), "rb").read())
    open(os.path.join(d, "small"), "w").write('run = { steps = 5; seed = 1L; };\nmosaic = { grids = [2, 4]; };\n')
    open(os.path.join(d, "bad"), "w").write('model = { layers = 123456789012345678901234; preset = "x"; };\n')
elif t == "corpus":
    for i, (n, s) in enumerate(((2, 8), (1, 4))):
        p = os.path.join(d, "c%d.h5" % i)
        with h5py.File(p, "w", libver="earliest") as f:
            f.attrs["format"] = np.bytes_("atas-corpus"); f.attrs["version"] = np.int64(1)
            f.attrs["size"] = np.int64(s); f.attrs["count"] = np.int64(n)
            f.create_dataset("images", data=np.arange(n * s * s * 3, dtype=np.uint8).reshape(n, s, s, 3),
                             chunks=(1, s, s, 3), fletcher32=True)
            f.create_dataset("names", data=np.array([b"a.png"] * n, dtype="S8"))
else:
    p = os.path.join(d, "ck.h5")
    with h5py.File(p, "w", libver="earliest") as f:
        for k, v in dict(format=np.bytes_("atas-checkpoint"), act=np.bytes_("gelu")).items():
            f.attrs[k] = v
        for k, v in dict(format_version=2, patch=4, width=8, layers=1, heads=2, mlp=16, embed=4, grid=2).items():
            f.attrs[k] = np.int64(v)
        f.attrs["ln_eps"] = 1e-5
        f.create_dataset("student/visual.class_embedding", data=np.ones(8, np.float32), chunks=(8,), fletcher32=True)
PY
cd "$BIN"
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:fast_unwind_on_malloc=0:suppressions=$SRC/tools/asan.supp UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$SRC/tools/lsan.supp:print_suppressions=0:use_tls=0
# -error_exitcode: libFuzzer's default (77) would read as "skipped" to CTest
./fuzz_$T -runs="$RUNS" -max_len=8192 -rss_limit_mb=2048 -timeout=20 -seed=1 -error_exitcode=1 \
  "seeds_$T" >"fuzz_$T.log" 2>&1 || { tail -60 "fuzz_$T.log"; exit 1; }
tail -2 "fuzz_$T.log"
