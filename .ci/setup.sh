#!/usr/bin/env bash
# Set up everything evolviz needs in ./.venv, from a fresh clone. Safe to re-run.
#
# - torch is pinned to 2.13.0: on these machines that takes a CPU build from local disk;
#   an unpinned torch would pull a multi-GB CUDA build.
# - llama-cpp-python (the embedded local model's server) is built from source without the
#   native CPU path: the native build segfaults in decode on these Xeons (AVX-512/AMX), and
#   the portable build runs everywhere at a small cost in speed.
# - `pip install -e .` also bundles the panel's front end (js/) with esbuild via npm.
# - llama.cpp's llama-server is built into .venv/bin from the same llama.cpp source
#   (.ci/build-llama-server.sh): it batches the local model's calls, a Step 2-3x faster.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
command -v npm >/dev/null || { echo "setup: npm is needed to build the panel (install Node.js)" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip

export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_BF16=OFF}"
.venv/bin/pip install -q "torch==2.13.0"
.venv/bin/pip install -q -e ".[dev]"
bash .ci/build-llama-server.sh
echo "setup: ok ($(.venv/bin/python --version), evolviz in .venv)"
