#!/usr/bin/env bash
# Build llama.cpp's llama-server into .venv/bin, from the llama.cpp source inside the sdist
# of the llama-cpp-python version installed in .venv. Safe to re-run: skipped when the
# binary for that version and these flags is already there.
#
# Why: llama-cpp-python's own server decodes one request at a time; llama-server batches
# the calls of several slots and caches evaluated prompts, which makes a local Step two to
# three times faster on two cores (docs/local_model.md). Same llama.cpp, same portable CPU
# flags as .ci/setup.sh uses for llama-cpp-python (the native build segfaults here).
# Takes about 5 minutes on two cores. evolviz falls back to llama-cpp-python's server
# when the binary is missing, so EVOLVIZ_SKIP_LLAMA_SERVER=1 skips this step.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${EVOLVIZ_SKIP_LLAMA_SERVER:-}" = 1 ]; then
    echo "build-llama-server: skipped (EVOLVIZ_SKIP_LLAMA_SERVER=1)"
    exit 0
fi

PY=.venv/bin/python
VERSION=$("$PY" -c "import importlib.metadata as m; print(m.version('llama-cpp-python'))")
FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_BF16=OFF"
STAMP=".venv/bin/llama-server.built"
WANT="llama-cpp-python $VERSION $FLAGS"
if [ -x .venv/bin/llama-server ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$WANT" ]; then
    echo "build-llama-server: up to date ($WANT)"
    exit 0
fi

CMAKE=$(command -v cmake || true)
if [ -z "$CMAKE" ]; then
    .venv/bin/pip install -q cmake
    CMAKE=.venv/bin/cmake
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "build-llama-server: fetching the llama-cpp-python $VERSION sdist"
.venv/bin/pip download -q --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$WORK"
tar -xzf "$WORK"/llama_cpp_python-*.tar.gz -C "$WORK"
SRC=$(echo "$WORK"/llama_cpp_python-*/vendor/llama.cpp)
[ -f "$SRC/tools/server/CMakeLists.txt" ] || {
    echo "build-llama-server: $SRC has no tools/server; this llama-cpp-python sdist does not ship llama-server's source" >&2
    exit 1
}

echo "build-llama-server: building llama-server (about 5 minutes on two cores)"
# shellcheck disable=SC2086  # FLAGS is a list of arguments
"$CMAKE" -S "$SRC" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release $FLAGS \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
    -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF > "$WORK/cmake.log" 2>&1 \
    || { tail -30 "$WORK/cmake.log" >&2; exit 1; }
"$CMAKE" --build "$WORK/build" --target llama-server -j "$(nproc)" > "$WORK/build.log" 2>&1 \
    || { tail -30 "$WORK/build.log" >&2; exit 1; }

install -m 755 "$WORK/build/bin/llama-server" .venv/bin/llama-server
echo "$WANT" > "$STAMP"
echo "build-llama-server: ok (.venv/bin/llama-server, $WANT)"
