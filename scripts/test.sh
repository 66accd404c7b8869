#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every test
# (units, integration tests, doc tests, and each bench once as a smoke run).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
cargo test --locked --all-targets "$@"
cargo test --locked --doc
