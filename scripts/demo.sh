#!/usr/bin/env bash
# Runs the demo on the embedded default (the built-in generator, no broker):
# builds in release, then `fraud-detector demo` with any extra arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
cargo run --locked --release -- demo "$@"
