#!/usr/bin/env bash
# The test command: set up (install + build), then run every CTest test.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cd build
ctest --output-on-failure -j2 --timeout 900 "$@"
