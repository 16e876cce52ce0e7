#!/usr/bin/env bash
# Installs everything atas needs on Debian 12 (a no-op when present), then
# configures and builds into build/. Usage: tools/setup.sh [extra cmake args]
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake pkg-config git
      openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools
      libconfig-dev libopenblas-dev libopenblas-openmp-dev libjansson-dev
      libjpeg-dev libpng-dev libpcre2-dev zlib1g-dev
      python3 python3-pip python3-numpy python3-h5py python3-torch python3-matplotlib python3-pil
      gnuplot-nox mate-backgrounds slurm-wlm munge
      iproute2  # tools/netns_cluster.sh (nsenter, unshare: util-linux, always there)
      clang libclang-rt-14-dev)  # clang + libFuzzer runtime: tests/fuzz_safetensors.sh
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The reference safetensors package (PyPI) for the interoperability tests,
# kept inside build/ so the system Python stays untouched.
PYDEPS=build/pydeps
if ! PYTHONPATH=$PYDEPS /usr/bin/python3 -c "import safetensors" 2>/dev/null; then
  mkdir -p $PYDEPS
  /usr/bin/python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --target $PYDEPS "safetensors>=0.4,<0.6" \
    || echo "setup: warning: could not install the safetensors Python package; its interop tests will skip"
fi

# Hugging Face transformers, to prove that HF exports load there (test_hf_export).
# --no-deps: its dependencies come from Debian or are named here, so nothing shadows
# the numpy that Debian's torch and h5py were built against.
HFDEPS=build/pydeps-hf
if ! PYTHONPATH=$HFDEPS:$PYDEPS /usr/bin/python3 -c "import transformers" 2>/dev/null; then
  mkdir -p $HFDEPS
  /usr/bin/python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps --target $HFDEPS \
    "transformers==4.38.2" "tokenizers==0.15.2" "huggingface_hub==0.21.4" regex tqdm filelock fsspec \
    || echo "setup: warning: could not install transformers; test_hf_export will skip"
fi

# OpenCLIP's tokenizer and its vocabulary, the reference of test_tokenizer_openclip
# (--no-deps: only its tokenizer module is imported; torch stays Debian's).
OCDEPS=build/pydeps-openclip
if ! PYTHONPATH=$OCDEPS /usr/bin/python3 -c "import ftfy, regex; import os; assert os.path.exists('$OCDEPS/open_clip/tokenizer.py')" 2>/dev/null; then
  mkdir -p $OCDEPS
  /usr/bin/python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps --target $OCDEPS \
    "open_clip_torch==3.3.0" "ftfy==6.3.1" regex wcwidth \
    || echo "setup: warning: could not install open_clip_torch; test_tokenizer_openclip will skip"
fi

# timm, whose RotaryEmbeddingCat is the reference of test_eva_timm (docs/eva02.md); --no-deps:
# the test loads only timm/layers/pos_embed_sincos.py, torch stays Debian's.
TIMMDEPS=build/pydeps-timm
if [ ! -f $TIMMDEPS/timm/layers/pos_embed_sincos.py ]; then
  mkdir -p $TIMMDEPS
  /usr/bin/python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps --target $TIMMDEPS \
    "timm==1.0.15" || echo "setup: warning: could not install timm; test_eva_timm will skip"
fi

echo "setup: configuring (build-configure.log)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >build-configure.log 2>&1 || { cat build-configure.log; exit 1; }
# progress on one line; the whole output in build/build.log
echo "setup: building with $(nproc) jobs (build/build.log)"
if ! cmake --build build -j"$(nproc)" 2>&1 | tee build/build.log |
     awk 'match($0, /^\[ *[0-9]+%\]/) { p = substr($0, RSTART, RLENGTH); if (p != last) { printf "\rsetup: build %s", p; fflush(); last = p } }
          END { printf "\n" }'; then
  grep -E "error|Error" build/build.log | head -n 40
  echo "setup: the build failed (build/build.log)"
  exit 1
fi
n=$(grep -c "warning: " build/build.log || true)
[ "$n" -eq 0 ] || echo "setup: $n compiler warning(s) in build/build.log"
echo "setup: built into build/"
