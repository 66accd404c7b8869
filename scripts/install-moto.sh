#!/usr/bin/env bash
# Installs moto in server mode (local S3, DynamoDB, SES for the tests) into
# .venv-moto/ and prints the path of a launcher that runs it one request at a
# time (scripts/lib/moto_atomic.py says why); it takes moto_server's options.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pip-venv.sh
version="${FD_MOTO_VERSION:-5.2.5}"
venv=.venv-moto
if [ ! -x "$venv/bin/moto_server" ]; then
    pip_install "$venv" "moto[server]==$version"
fi
launcher="$venv/bin/moto_server_atomic"
cat > "$launcher" <<EOF
#!/usr/bin/env bash
exec "$PWD/$venv/bin/python" "$PWD/scripts/lib/moto_atomic.py" "\$@"
EOF
chmod +x "$launcher"
echo "$PWD/$launcher"
