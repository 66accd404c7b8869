#!/usr/bin/env bash
# Runs the demo on the embedded default (the built-in generator, no broker):
# builds in release, installs ONNX Runtime (from the PyPI wheel), then runs
# `fraud-detector demo` with the committed model and any extra arguments.
# FD_MODEL= (empty) runs the rules alone.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
FD_ONNXRUNTIME="$PWD/$(scripts/install-onnxruntime.sh)"
export FD_ONNXRUNTIME
export FD_MODEL="${FD_MODEL-models/fraud-gbt-v1.onnx}"
if [ -z "$FD_MODEL" ]; then unset FD_MODEL; fi
cargo run --locked --release -- demo "$@"
