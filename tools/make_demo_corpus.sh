#!/usr/bin/env bash
# Builds the quickstart corpus from real photographs: the Debian wallpapers of
# mate-backgrounds (its nature photographs; installed by tools/setup.sh), or any folder you name.
#   tools/make_demo_corpus.sh [IMAGE_DIR] [-o data/demo.h5] [--size 256] [-n RANKS]
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=/usr/share/backgrounds/mate/nature OUT=data/demo.h5 SIZE=256 RANKS=1
while [ $# -gt 0 ]; do
  case "$1" in
    -o) OUT=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    -n) RANKS=$2; shift 2 ;;
    -h|--help) sed -n 2,4p "$0"; exit 0 ;;
    *) SRC=$1; shift ;;
  esac
done
if [ ! -d "$SRC" ]; then
  echo "make_demo_corpus: $SRC does not exist (install mate-backgrounds: apt-get install mate-backgrounds, or name a folder of JPEG/PNG files)" >&2
  exit 1
fi
[ -x build/atas_pack ] || { echo "make_demo_corpus: build first (tools/setup.sh)" >&2; exit 1; }
mkdir -p "$(dirname "$OUT")"
if [ "$RANKS" -gt 1 ]; then
  mpirun --oversubscribe -n "$RANKS" build/atas_pack --size "$SIZE" -o "$OUT" "$SRC"
else
  build/atas_pack --size "$SIZE" -o "$OUT" "$SRC"
fi
build/atas_inspect "$OUT"
