#!/usr/bin/env bash
# Installs moto in server mode (local S3, DynamoDB, SES for the tests) into
# .venv-moto/ and prints the path of its `moto_server` program.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pip-venv.sh
version="${FD_MOTO_VERSION:-5.2.5}"
venv=.venv-moto
if [ ! -x "$venv/bin/moto_server" ]; then
    pip_install "$venv" "moto[server]==$version"
fi
echo "$PWD/$venv/bin/moto_server"
