#!/usr/bin/env bash
# Builds the libFuzzer target for the safetensors parser with clang and runs it
# for a bounded number of inputs from a generated seed corpus. Exit 77 (skip)
# when clang or its fuzzer runtime is not installed.
set -euo pipefail
SRC=${ATAS_SOURCE_DIR:?}
BIN=${ATAS_BINARY_DIR:?}/fuzz
command -v clang >/dev/null || { echo "skip: clang not installed"; exit 77; }
mkdir -p "$BIN"
JFLAGS=$(pkg-config --cflags --libs jansson)
if ! clang -g -O1 -fsanitize=fuzzer,address $(for d in "$SRC"/include/*/; do printf -- "-I%s " "$d"; done) \
    "$SRC/tests/fuzz_safetensors.c" "$SRC/src/io/safetensors.c" \
    "$SRC/src/core/status.c" "$SRC/src/core/log.c" "$SRC/src/core/alloc.c" \
    $JFLAGS -o "$BIN/fuzz_safetensors" 2>"$BIN/build.log"; then
  if grep -q "fuzzer" "$BIN/build.log" && ! clang -fsanitize=fuzzer -x c /dev/null -o /dev/null 2>/dev/null; then
    echo "skip: clang has no libFuzzer runtime"; exit 77
  fi
  cat "$BIN/build.log"; exit 1
fi
rm -rf "$BIN/corpus" && mkdir -p "$BIN/corpus"
# seeds: small valid files and near-misses, written without any third-party package
"${ATAS_PYTHON:-/usr/bin/python3}" - "$BIN/corpus" <<'PY'
import json, struct, sys, os
d = sys.argv[1]
def img(hdr, data):
    h = json.dumps(hdr).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data
seeds = {
  "empty": img({"__metadata__": {"format": "pt"}}, b""),
  "one": img({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8),
  "mixed": img({"a": {"dtype": "F16", "shape": [2, 2], "data_offsets": [8, 16]},
                "b": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]},
                "__metadata__": {"format": "pt"}}, bytes(range(16))),
  "bf16": img({"x": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}, b"\x80\x3f" * 3),
  "scalar": img({"s": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}}, b"\0\0\x80\x3f"),
  "overlap": img({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                  "v": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8),
}
for k, v in seeds.items():
    open(os.path.join(d, k), "wb").write(v)
PY
cd "$BIN"
# -error_exitcode: libFuzzer's default (77) would read as "skipped" to CTest
./fuzz_safetensors -runs=1000000 -max_len=4096 -rss_limit_mb=1024 -seed=1 -error_exitcode=1 \
  corpus >fuzz.log 2>&1 || { tail -40 fuzz.log; exit 1; }
tail -2 fuzz.log
