#!/usr/bin/env bash
# The test command: set up (install + build), run every CTest test, then the sanitizer
# job (tools/sanitize.sh: the suite again under ASan+UBSan in build-asan; ATAS_NO_SANITIZE=1
# skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
(cd build && ctest --output-on-failure -j2 --timeout 900 "$@")
if [ -z "${ATAS_NO_SANITIZE:-}" ]; then tools/sanitize.sh "$@"; fi
