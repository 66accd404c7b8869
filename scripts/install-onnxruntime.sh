#!/usr/bin/env bash
# Installs the ONNX Runtime shared library from the PyPI `onnxruntime` wheel
# into .venv-ort/ (no compiler, no download by the Rust build) and prints its
# path. The detector finds it there by itself, or through FD_ONNXRUNTIME.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pip-venv.sh
version="${FD_ONNXRUNTIME_VERSION:-1.22.1}"
venv=.venv-ort
if ! ls "$venv"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* >/dev/null 2>&1; then
    pip_install "$venv" "onnxruntime==$version"
fi
ls "$venv"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* | head -n 1
