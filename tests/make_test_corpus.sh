#!/usr/bin/env bash
# A small corpus of real photographs (Debian's MATE wallpapers) for trainer tests;
# falls back to generated images when the package is absent. usage: OUT.h5 [SIZE]
set -euo pipefail
B=${ATAS_BINARY_DIR:?}; OUT=$1; SIZE=${2:-128}
SRC=/usr/share/backgrounds/mate
if [ ! -d "$SRC" ]; then
  SRC=$(mktemp -d); "$B/tests/make_test_images" "$SRC/imgs" 20 >/dev/null; SRC=$SRC/imgs
fi
"$B/atas_pack" --size "$SIZE" -o "$OUT" "$SRC" >/dev/null
