#!/usr/bin/env bash
# The quickstart: install + build, pack a demo corpus of real photographs, train
# the tiny config on 2 MPI ranks, and export the encoder to safetensors (OpenCLIP
# and Hugging Face layouts), embeds the corpus with it and plots the dense feature maps.
# Everything lands in runs/quickstart/.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
[ -f data/demo.h5 ] || tools/make_demo_corpus.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
mpirun -n 2 --oversubscribe build/atas_mpi configs/tiny.cfg --set 'run.name="quickstart"' "$@"
ck=$(ls runs/quickstart/checkpoints/ckpt-*.h5 | tail -n 1)
build/atas_convert "$ck" --which teacher -o runs/quickstart/export_openclip.safetensors --to openclip
build/atas_convert "$ck" --which teacher -o runs/quickstart/export_hf --to hf
build/atas_embed -q --weights "$ck" --which teacher --corpus data/demo.h5 -o runs/quickstart/embeddings.h5
/usr/bin/python3 tools/plot_features.py runs/quickstart/embeddings.h5 data/demo.h5 runs/quickstart/features.png
echo "quickstart: metrics in runs/quickstart/metrics.jsonl, exports in runs/quickstart/export_*,"
echo "            dense embeddings in runs/quickstart/embeddings.h5, pictured in runs/quickstart/features.png"
