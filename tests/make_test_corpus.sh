#!/usr/bin/env bash
# A small corpus of real photographs (Debian's MATE wallpapers) for trainer tests;
# falls back to generated images when the package is absent.
# usage: OUT.h5 [SIZE] [MIN_IMAGES]: with MIN_IMAGES, generated images top the
# photographs up to at least that many (a shipped config's batch on several ranks).
set -euo pipefail
B=${ATAS_BINARY_DIR:?}; OUT=$1; SIZE=${2:-128}; MIN=${3:-0}
SRC=/usr/share/backgrounds/mate
if [ ! -d "$SRC" ]; then
  SRC=$(mktemp -d); "$B/tests/make_test_images" "$SRC/imgs" 20 >/dev/null; SRC=$SRC/imgs
fi
inputs=("$SRC")
if [ "$MIN" -gt 0 ]; then
  have=$(find "$SRC" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) | wc -l)
  if [ "$have" -lt "$MIN" ]; then
    gen=$(mktemp -d); trap 'rm -rf "$gen"' EXIT
    "$B/tests/make_test_images" "$gen/imgs" $((MIN - have + 8)) >/dev/null  # + files it makes unreadable
    inputs+=("$gen/imgs")
  fi
fi
"$B/atas_pack" --size "$SIZE" -o "$OUT" "${inputs[@]}" >/dev/null
