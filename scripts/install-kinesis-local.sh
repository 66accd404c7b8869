#!/usr/bin/env bash
# Installs kinesis-local (kinesis-mock for Node: a local Kinesis Data Streams
# server for the tests) into .kinesis-local/ and prints the path of its
# main.js. Launch it with node; its TLS certificate server.json lies beside it:
#   KINESIS_MOCK_CERT_PATH=<dir>/server.json KINESIS_MOCK_PLAIN_PORT=<port> \
#   KINESIS_MOCK_TLS_PORT=<port> node <dir>/main.js
set -euo pipefail
cd "$(dirname "$0")/.."
version="${FD_KINESIS_LOCAL_VERSION:-0.6.2}"
dir=.kinesis-local
main="$dir/node_modules/kinesis-local/main.js"
if ! command -v node >/dev/null; then
    echo "install-kinesis-local.sh: node is needed (apt-get install nodejs npm)" >&2
    exit 1
fi
installed="$(node -p "require('./$dir/node_modules/kinesis-local/package.json').version" 2>/dev/null || true)"
if [ "$installed" != "$version" ]; then
    mkdir -p "$dir"
    echo '*' > "$dir/.gitignore"
    [ -f "$dir/package.json" ] || echo '{"private": true}' > "$dir/package.json"
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "kinesis-local@$version" >&2
fi
echo "$PWD/$main"
